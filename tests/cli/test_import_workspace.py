"""Issue 14 item 2, the leftover: `yecai import` finds its workspace like every other command.

It used to build its settings directly, so run from a folder below the workspace it made a store of
its own in that folder's `.yecai/`, which `serve`, `sync` and the console never read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.spreadsheets import GOOD, sheet_rows, write_xlsx
from yecai.cli.main import app
from yecai.files import list_mappings
from yecai.store.db import open_store


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("YECAI_WORKDIR", "YECAI_WORKSPACE", "YECAI_DATABASE_URL", "YECAI_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def _installation(root: Path) -> tuple[Path, Path]:
    """A workspace at `root` and a cost ledger in a folder below it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "yecai.yaml").write_text("connections: {}\n", encoding="utf-8")
    below = root / "台账" / "十月"
    below.mkdir(parents=True)
    header, rows, _ = GOOD["cost"]
    return root / "yecai.yaml", write_xlsx(below / "成本台账.xlsx", sheet_rows(header, rows))


def test_import_from_below_uses_the_workspace_store_and_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, ledger = _installation(tmp_path)
    monkeypatch.chdir(ledger.parent)
    result = CliRunner().invoke(
        app,
        ["import", ledger.name, "--kind", "cost", "--save-template", "月度成本"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert f"工作区 workspace: {workspace}" in result.output  # the one line, as every command says it
    assert (tmp_path / ".yecai" / "yecai.sqlite").exists()  # the store `serve` and `sync` read
    assert not (ledger.parent / ".yecai").exists()  # no store of its own where it was run
    assert not (tmp_path / ".yecai" / "secret.key").exists()  # an import needs no encryption key
    store = open_store(f"sqlite:///{tmp_path / '.yecai' / 'yecai.sqlite'}")
    try:
        assert [m.name for m in list_mappings(store)] == ["月度成本"]
    finally:
        store.close()
    # the saved column templates are found the same way, with the same common options
    listed = CliRunner().invoke(app, ["column-templates", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "月度成本" in listed.output


def test_import_takes_the_common_workspace_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace, ledger = _installation(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(
        app, ["import", str(ledger), "--kind", "cost", "--workspace", str(workspace)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert f"工作区 workspace: {workspace}（--workspace" in result.output
    assert (tmp_path / "site" / ".yecai" / "yecai.sqlite").exists()
    assert not (elsewhere / ".yecai").exists()
