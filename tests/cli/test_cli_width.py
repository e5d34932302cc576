"""Issue 14 item 13: at 80 columns nothing the CLI prints is cut.

Tables showed "1,730,7…" for an amount and "YC6F15…" for a voucher number, `import --help` ended its
help texts in "…", and a command printed for copying could be wrapped. Every screen here is drawn
at COLUMNS=80, the width of a default terminal.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from yecai import labels
from yecai.cli.demo import _console_help
from yecai.cli.main import app
from yecai.store.db import Store
from yecai.store.tables import Posting

NARROW = {"COLUMNS": "80"}


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(_commands(sub, (*path, name)))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _written_ellipses(command: Any) -> int:
    """How many "…" the command's own texts hold (redis://… is written so, not cut)."""
    texts = [command.help or "", *(p.help or "" for p in command.params)]
    texts += [sub.help or "" for sub in getattr(command, "commands", {}).values()]
    return sum(text.count("…") for text in texts)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "yecai" for p, _ in COMMANDS])
def test_help_at_80_columns_cuts_no_text_and_no_option_name(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env=NARROW)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert result.output.count("…") <= _written_ellipses(command), result.output
    lines = result.output.splitlines()
    for param in command.params:
        for name in param.opts:
            if name.startswith("--"):
                assert any(f" {name} " in f"{line} " for line in lines), (name, result.output)


def _posting(store: Store, **values: Any) -> None:
    row = {
        "connection": "kd",
        "rule_set": "purchase_invoice",
        "form_id": "GL_VOUCHER",
        "group_key": "XM2026001|material|2026-10",
        "business_date": dt.date(2026, 10, 31),
        "credit_total": values["debit_total"],
        "payload": "{}",
        **values,
    }
    with store.transaction() as session:
        session.add(Posting(**row))


def test_postings_list_at_80_columns_shows_amounts_and_numbers_whole(
    store: Store, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YECAI_DATABASE_URL", store_url)
    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path / "work"))
    message = "金蝶拒绝：科目 5401.04 已禁用，请在映射表中改用其他科目 / Kingdee refused: account 5401.04 is forbidden"
    _posting(
        store,
        posting_key="k" * 40,
        state="posted",
        debit_total=Decimal("1730789.00"),
        kingdee_number="YC6F15A3B2C1D0E9F1",
    )
    _posting(
        store,
        posting_key="f" * 40,
        state="awaiting_approval",
        debit_total=Decimal("123456789.12"),
        error_message=message,
    )
    result = CliRunner().invoke(app, ["postings", "list"], env=NARROW)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "…" not in out
    assert "1,730,789.00" in out  # amounts and voucher numbers on one line, whole
    assert "123,456,789.12" in out
    assert "YC6F15A3B2C1D0E9F1" in out
    table = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert table
    assert max(len(line) for line in table) <= 80
    # states and rule sets in words (they may wrap at spaces, never cut): no raw codes
    assert "待审批" in out
    assert "awaiting" in out
    assert "approval" in out
    assert "awaiting_approval" not in out
    assert labels.label("rule_set", "purchase_invoice") in out
    assert "purchase_invoice" not in out
    # the message is whole too (it was cut at 80 characters): every word of it is there
    assert all(word in out for word in ("5401.04", "已禁用", "forbidden"))


def test_the_printed_serve_command_is_one_line_at_80_columns(tmp_path: Path) -> None:
    workspace = tmp_path / "a-rather-long-folder-name-for-the-demo" / ".yecai-demo" / "yecai.yaml"
    user = SimpleNamespace(
        username="admin", role=SimpleNamespace(value="admin"), password="x" * 20, projects=()
    )
    result = SimpleNamespace(users=[user], workspace=workspace)
    printed = io.StringIO()
    _console_help(Console(file=printed, width=80), result, workspace.parent)  # type: ignore[arg-type]
    command = f"yecai serve --workspace {workspace}"
    assert len(command) > 80
    assert any(line.strip() == command for line in printed.getvalue().splitlines()), printed.getvalue()
