"""`yecai postings list / approve / replay / skip` on the store: the commands accountants use.

Postings are written straight into the store here (the engine that makes them is tested end to
end elsewhere); these tests check each command's effect, its messages and its exit codes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from yecai.cli.main import app
from yecai.services import postings as service
from yecai.store.db import Store
from yecai.store.tables import Posting


def add(store: Store, key: str, state: str, rule_set: str = "cost_actuals") -> int:
    with store.transaction() as session:
        posting = Posting(
            posting_key=key,
            connection="kd",
            rule_set=rule_set,
            form_id="GL_VOUCHER",
            group_key=f"P1|labour|{key}",
            business_date=dt.date(2026, 11, 2),
            state=state,
            debit_total=Decimal("100.00"),
            credit_total=Decimal("100.00"),
            payload="{}",
            attempts=3 if state == "dead" else 0,
        )
        session.add(posting)
        session.flush()
        return posting.id


@pytest.fixture
def cli(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("YECAI_DATABASE_URL", store_url)
    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path / "work"))
    return CliRunner()


def run(cli: CliRunner, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["postings", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_list_by_state_and_unknown_state(cli: CliRunner, store: Store) -> None:
    dead = add(store, "a" * 20, "dead")
    add(store, "b" * 20, "posted")
    code, out = run(cli, "list", "--state", "dead")
    assert code == 0, out
    assert f"│ {dead} " in out
    assert "dead 1" in out  # counts by state in the title
    assert "posted 1" in out
    code, out = run(cli, "list", "--state", "lost")
    assert code == 2
    assert "未知状态 lost" in out


def test_list_names_rule_sets_and_states_in_words(cli: CliRunner, store: Store) -> None:
    # issue 14, item 4: the accountant reads 实际成本 and 已过账, not cost_actuals and posted alone
    add(store, "e" * 20, "posted")
    add(store, "f" * 20, "awaiting_approval", "month_end")
    code, out = run(cli, "list")
    assert code == 0, out
    assert "实际成本 actual costs" in out
    assert "月末结转 month-end close" in out
    assert "已过账 posted" in out
    assert "待审批 awaiting approval" in out
    assert "cost_actuals" not in out
    assert "awaiting_approval" not in out


def test_approve_replay_and_skip(cli: CliRunner, store: Store) -> None:
    waiting = [add(store, f"{n:020d}", "awaiting_approval", "valuation") for n in range(3)]
    other = add(store, "c" * 20, "awaiting_approval", "revenue")
    code, out = run(cli, "approve", "--rule-set", "valuation", "--who", "会计 王芳")
    assert code == 0, out
    with store.transaction() as session:
        states = {p.id: (p.state, p.approved_by) for p in session.scalars(select(Posting))}
    assert all(states[i] == ("planned", "会计 王芳") for i in waiting)
    assert states[other][0] == "awaiting_approval"

    dead = add(store, "d" * 20, "dead")
    code, out = run(cli, "replay", str(dead))
    assert code == 0, out
    assert "→ uncertain" in out  # it was tried: looked up in Kingdee before anything is resent
    code, out = run(cli, "replay", str(dead))
    assert code == 1
    assert "不能重放" in out

    code, out = run(cli, "skip", str(other), "--reason", "重复录入", "--who", "会计")
    assert code == 0, out
    assert service.list_postings(store, state="skipped")[0].message == "会计: 重复录入"
    posted = add(store, "e" * 20, "posted")
    code, out = run(cli, "skip", str(posted), "--reason", "x")
    assert code == 1
    assert "cannot be skipped" in out
