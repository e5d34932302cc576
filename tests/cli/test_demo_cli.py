"""`yecai demo`: every default rule set, cost totals equal the source's, the trial balance balances
and the P&L shows revenue; a second run posts nothing twice and says so."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from yecai.cli.main import app
from yecai.demo import run_demo
from yecai.domain.money import money_sum
from yecai.mapping.rules import default_job_rule_sets
from yecai.sandbox.pm.data import generate
from yecai.store.db import open_store
from yecai.store.tables import Posting

pytestmark = pytest.mark.slow


def row(output: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}\s*│\s*([-\d,./ ]+?)\s*│", output)
    assert match, f"{label!r} not in output:\n{output}"
    return match.group(1).strip()


def money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def test_demo_twice(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["demo", "--projects", "3", "--workdir", str(tmp_path / "demo")]
    first = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    dataset = generate(projects=3, months=1, seed=42)
    total = f"{money_sum(r.amount for r in dataset.all_cost_records):,.2f}"
    assert row(first.output, "成本凭证借方 cost vouchers debit") == total
    assert row(first.output, "源系统成本合计 source cost total") == total
    assert row(first.output, "与源系统差额 difference against the source") == "0.00"
    assert row(first.output, "源系统成本记录 source records") == f"{len(dataset.all_cost_records):,}"
    assert row(first.output, "规则集 rule sets") == str(len(default_job_rule_sets()))
    # every rule set posts: Kingdee holds more than the cost vouchers, and its totals balance
    debit = row(first.output, "借方合计 debit total (Kingdee)")
    assert debit == row(first.output, "贷方合计 credit total (Kingdee)")
    assert money(debit) > money(total)
    vouchers = row(first.output, "金蝶中的凭证 vouchers in Kingdee")
    assert int(vouchers.replace(",", "")) > 0
    # the trial balance read back from Kingdee balances, and the P&L has revenue and a margin
    movement = re.search(r"本期发生额 movement\s*│\s*([\d,.]+)\s*│\s*([\d,.]+)\s*│", first.output)
    assert movement, first.output
    assert movement.group(1) == movement.group(2) == debit
    assert re.search(r"试算平衡 balanced\s*│\s*是 yes\s*│", first.output), first.output
    revenue = money(row(first.output, "营业收入 revenue"))
    cost = money(row(first.output, "营业成本 cost of sales"))
    assert revenue > 0
    assert cost > 0
    assert money(row(first.output, "毛利 gross margin")) == revenue - cost - money(
        row(first.output, "税金及附加 taxes and surcharges")
    )
    # the workspace names the same rule sets and streams the demo ran
    space = yaml.safe_load((tmp_path / "demo" / "yecai.yaml").read_text(encoding="utf-8"))
    job = space["syncs"]["demo"]
    assert job["rule_sets"] == list(default_job_rule_sets())
    assert job["streams"][0] == "projects"
    assert {"cost_records", "contracts", "invoices", "payment_requests", "progress_reports"} <= set(
        job["streams"]
    )

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
    assert result.trial_balance.balanced
    assert result.pnl.revenue > 0
    vouchers = result.report.check.vouchers
    bills = result.report.send.posted - vouchers  # 付款申请单 (CN_PAYAPPLY), batched apart
    assert bills > 0
    assert result.report.send.calls == math.ceil(vouchers / 7) + math.ceil(bills / 7)
    assert not (tmp_path / "demo" / "yecai.sqlite").exists()
    store = open_store(pg_url)
    try:
        with store.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Posting)) == vouchers + bills
    finally:
        store.close()
