"""A correction re-plans with the context planning used (defect 5 of issue 13).

A 小企业会计准则 project books its cost to 工程施工 (4401.*); the same account numbers mean
something else on the CAS chart (5401.01 is 主营业务成本 in the small-enterprise chart). When the
source changes a posted cost, the rewritten voucher, and the re-post after a reversal, must stay
on 4401.* — so the correction needs the Project document (and every other related document,
history and project name) that planning passes, not a bare context.

The Kingdee side is a recorded-shape stand-in: the accounts of the small-enterprise chart are not
in sandbox.kingdee's seeded chart, and what is under test here is planning, not the save.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import select

from yecai import jsonutil
from yecai.domain.documents import AccountingStandard, CostRecord, Project
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.keys import key_token
from yecai.mapping.rules import RuleSet, default_mapping, default_rule_set
from yecai.store.db import Store
from yecai.store.tables import Document, Posting, Record
from yecai.sync import corrections, planning


class RecordedKingdee:
    """Answers the one query corrections ask of Kingdee: a voucher's status and 凭证字号."""

    def __init__(self, status: str) -> None:
        self.status = status

    def execute_bill_query(
        self, form_id: str, fields: list[str], condition: str, **_: Any
    ) -> list[list[Any]]:
        row = {
            "FVOUCHERID": 101,
            "FDocumentStatus": self.status,
            "FVOUCHERGROUPID.FName": "记",
            "FVOUCHERGROUPNO": "12",
            "FYEAR": 2026,
            "FPERIOD": 10,
        }
        return [[row.get(name) for name in fields]]


def add_document(store: Store, kind: str, key: str, model: Project | CostRecord, revision: int = 1) -> None:
    data = model.model_dump(mode="json", exclude_none=True)
    with store.transaction() as session:
        record = Record(
            connection="pm",
            stream=f"{kind}s",
            source_key=key,
            revision=revision,
            content_hash=jsonutil.content_hash(data),
            payload=jsonutil.dumps(data),
            status="valid",
        )
        session.add(record)
        session.flush()
        session.add(
            Document(
                record_id=record.id,
                connection="pm",
                kind=kind,
                source_key=key,
                version=record.content_hash,
                project_code="XM9",
                business_date=dt.date(2026, 10, 5),
                category="labour" if kind == "cost_record" else None,
                amount=getattr(model, "amount", None),
                data=jsonutil.dumps(data),
            )
        )


def cost(amount: str) -> CostRecord:
    return CostRecord(
        source_key="C-1",
        project_code="XM9",
        category="labour",
        business_date=dt.date(2026, 10, 5),
        amount=Decimal(amount),
        supplier_name="上海宏达劳务分包有限公司",
    )


def debit_accounts(posting: Posting) -> set[str]:
    return {
        line["FACCOUNTID"]["FNumber"]
        for line in jsonutil.loads(posting.payload)["FEntity"]
        if Decimal(str(line["FDEBIT"])) != 0
    }


def plan(store: Store, rules: RuleSet) -> planning.PlanResult:
    return planning.plan_postings(
        store, rules=rules, mapping=default_mapping(), source_connection="pm", kingdee_connection="kd"
    )


def posted_small_enterprise_cost(store: Store, rules: RuleSet) -> None:
    """A small-enterprise project's cost, planned and posted; then the source changes it."""
    project = Project(code="XM9", name="小企业示范项目", accounting_standard=AccountingStandard.SMALL)
    add_document(store, "project", "XM9", project)
    add_document(store, "cost_record", "C-1", cost("1000.00"))
    assert plan(store, rules).planned == 1
    with store.transaction() as session:
        posting = session.scalars(select(Posting)).one()
        assert debit_accounts(posting) == {"4401.01.01"}  # planning itself gets it right
        posting.state, posting.kingdee_id, posting.kingdee_status = "posted", "101", "A"
    add_document(store, "cost_record", "C-1", cost("1200.00"), revision=2)


def correct(store: Store, rules: RuleSet, status: str) -> corrections.CorrectionResult:
    return corrections.plan_corrections(
        store,
        cast(KingdeeClient, RecordedKingdee(status)),
        rules=rules,
        mapping=default_mapping(),
        source_connection="pm",
        kingdee_connection="kd",
        today=dt.date(2026, 10, 20),
    )


def test_an_update_of_a_small_enterprise_cost_stays_on_its_chart(store: Store) -> None:
    rules = default_rule_set()
    posted_small_enterprise_cost(store, rules)
    result = correct(store, rules, status="A")  # not audited: rewritten in place
    assert result.updates == 1
    with store.transaction() as session:
        update = session.scalars(select(Posting).where(Posting.kind == "update")).one()
        assert debit_accounts(update) == {"4401.01.01"}
        assert update.debit_total == Decimal("1200.00")


def test_a_reversal_and_re_post_of_a_small_enterprise_cost_stay_on_its_chart(store: Store) -> None:
    rules = default_rule_set()
    posted_small_enterprise_cost(store, rules)
    assert correct(store, rules, status="C").reversals == 1  # audited: 红字冲销
    with store.transaction() as session:
        reversal = session.scalars(select(Posting).where(Posting.kind == "reversal")).one()
        reversal.state = "posted"
    assert corrections.finalize(store, kingdee_connection="kd") == 1
    assert plan(store, rules).planned == 1  # the current version posts afresh
    with store.transaction() as session:
        reversal = session.scalars(select(Posting).where(Posting.kind == "reversal")).one()
        fresh = session.scalars(
            select(Posting).where(Posting.kind == "posting", Posting.state == "planned")
        ).one()
        assert {line["FACCOUNTID"]["FNumber"] for line in jsonutil.loads(reversal.payload)["FEntity"]} == {
            "4401.01.01",
            "2202.02",
        }
        assert debit_accounts(fresh) == {"4401.01.01"}
        assert fresh.debit_total == Decimal("1200.00")


@pytest.mark.parametrize("key_field", ["bill_no", "summary"])
def test_a_reversal_cites_the_voucher_it_reverses(store: Store, key_field: str) -> None:
    """红字冲销 摘要: 冲销 + the original's 期间 凭证字号 (as Kingdee numbers it now) + its 摘要."""
    rules = rules_with_key(key_field)
    posted_small_enterprise_cost(store, rules)
    assert correct(store, rules, status="C").reversals == 1
    with store.transaction() as session:
        original = session.scalars(select(Posting).where(Posting.kind == "posting")).one()
        reversal = session.scalars(select(Posting).where(Posting.kind == "reversal")).one()
        assert original.kingdee_number == "2026-10 记-0012"  # read from Kingdee when correcting
        before = [line["FEXPLANATION"] for line in jsonutil.loads(original.payload)["FEntity"]]
        after = [line["FEXPLANATION"] for line in jsonutil.loads(reversal.payload)["FEntity"]]
        assert "2026-10 记-0012" in (reversal.note or "")
    old_token, new_token = key_token(original.posting_key), key_token(reversal.posting_key)
    for text, reversed_text in zip(before, after, strict=True):
        human = text.replace(old_token, "").strip()
        assert reversed_text.startswith(f"冲销 2026-10 记-0012 {human}")
        assert old_token not in reversed_text
        assert (new_token in reversed_text) == (key_field == "summary")


def rules_with_key(key_field: str) -> RuleSet:
    rules = default_rule_set()
    return rules.model_copy(update={"kingdee": rules.kingdee.model_copy(update={"key_field": key_field})})


def test_the_reversal_of_a_rewritten_voucher_is_a_new_voucher(store: Store) -> None:
    """An update's payload names the voucher it rewrote (FVOUCHERID); its reversal must not."""
    rules = default_rule_set()
    posted_small_enterprise_cost(store, rules)
    assert correct(store, rules, status="A").updates == 1
    with store.transaction() as session:
        update = session.scalars(select(Posting).where(Posting.kind == "update")).one()
        assert jsonutil.loads(update.payload)["FVOUCHERID"] == 101
        update.state, update.kingdee_id, update.kingdee_status = "posted", "101", "A"
    assert corrections.finalize(store, kingdee_connection="kd") == 1
    add_document(store, "cost_record", "C-1", cost("1300.00"), revision=3)
    assert correct(store, rules, status="C").reversals == 1
    with store.transaction() as session:
        reversal = session.scalars(select(Posting).where(Posting.kind == "reversal")).one()
        payload = jsonutil.loads(reversal.payload)
    assert "FVOUCHERID" not in payload  # saved as a new voucher beside the one it reverses
    assert payload["FBillNo"] == reversal.kingdee_key != update.kingdee_key
