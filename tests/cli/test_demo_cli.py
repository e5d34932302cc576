"""`yecai demo`: exits 0 with equal totals, and a second run posts nothing twice and says so."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from yecai.cli.main import app
from yecai.demo import run_demo
from yecai.domain.money import money_sum
from yecai.sandbox.pm.data import generate
from yecai.store.db import open_store
from yecai.store.tables import Posting

pytestmark = pytest.mark.slow


def row(output: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}\s*│\s*([-\d,./ ]+?)\s*│", output)
    assert match, f"{label!r} not in output:\n{output}"
    return match.group(1).strip()


def test_demo_twice(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["demo", "--projects", "3", "--workdir", str(tmp_path / "demo")]
    first = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    dataset = generate(projects=3, months=1, seed=42)
    total = f"{money_sum(r.amount for r in dataset.all_cost_records):,.2f}"
    assert row(first.output, "借方合计 debit total (Kingdee)") == total
    assert row(first.output, "贷方合计 credit total (Kingdee)") == total
    assert row(first.output, "与源系统差额 difference against the source") == "0.00"
    assert row(first.output, "源系统成本记录 source records") == f"{len(dataset.all_cost_records):,}"
    vouchers = row(first.output, "金蝶中的凭证 vouchers in Kingdee")
    assert int(vouchers.replace(",", "")) > 0

    second = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert second.exit_code == 0, second.output
    assert row(second.output, "本次过账 vouchers posted this run") == "0"
    assert row(second.output, "金蝶中的凭证 vouchers in Kingdee") == vouchers
    assert "未重复过账" in second.output
    assert "nothing posted twice" in second.output


def test_demo_on_postgresql_with_settings_from_the_environment(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YECAI_DATABASE_URL", pg_url)
    monkeypatch.setenv("YECAI_KINGDEE_BATCH_SIZE", "7")
    result = run_demo(workdir=tmp_path / "demo", projects=2)
    assert result.ok
    vouchers = result.report.check.vouchers
    assert result.report.send.calls == math.ceil(vouchers / 7)
    assert not (tmp_path / "demo" / "yecai.sqlite").exists()
    store = open_store(pg_url)
    try:
        with store.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Posting)) == vouchers
    finally:
        store.close()
