"""Planning stores its postings with SQLAlchemy Core (issue 15): the rows are the ones the ORM stored.

The reference is the way `plan_postings` stored a plan before — a `Posting` object with its
`PostingLine`s per planned voucher, added to the session — kept here as the oracle. Both stores
plan the same seed documents; every column but ids and timestamps must agree, postings in the
same order, and each line on the same posting. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, select

from tests.support.pulled import pull_and_validate
from yecai import jsonutil
from yecai.domain.bills import Bill
from yecai.domain.documents import DOCUMENT_TYPES
from yecai.domain.posting_states import initial
from yecai.kingdee.keys import key_value
from yecai.kingdee.vouchers import voucher_model
from yecai.mapping import registry
from yecai.mapping.interface import PlannableDocument
from yecai.mapping.rules import MappingTable, RuleSet, default_mapping, default_rule_set
from yecai.store.db import Store
from yecai.store.inserts import insert_many_ignore
from yecai.store.tables import Document, Posting, PostingLine
from yecai.sync import planning

SKIPPED = {"id", "created_at", "updated_at"}


@pytest.fixture
def seeded(store: Store) -> tuple[Store, RuleSet, MappingTable]:
    """Two projects' costs pulled and validated as the nightly job does, suppliers bound."""
    pull_and_validate(store, projects=2, seed=7)
    rules = default_rule_set()
    with store.transaction() as session:
        names = sorted(
            {
                name
                for (data,) in session.execute(select(Document.data).where(Document.kind == "cost_record"))
                if (name := jsonutil.loads(data).get("supplier_name"))
            }
        )
    suppliers = {name: f"VEN{n:04d}" for n, name in enumerate(names, start=1)}
    return store, rules, default_mapping().model_copy(update={"suppliers": suppliers})


def orm_reference(store: Store, rules: RuleSet, mapping: MappingTable) -> None:
    """The plan stored as before issue 15: one ORM Posting and its lines per planned voucher."""
    target = planning.target_of(rules)
    with store.transaction() as session:
        latest = planning.latest_documents(session, "pm", rules.document)
        model = DOCUMENT_TYPES[rules.document]
        documents = [
            PlannableDocument(doc.id, doc.version, model.model_validate(jsonutil.loads(doc.data)))
            for doc in latest.values()
            if not doc.deleted
        ]
        amounts = {d.document_id: d.model.amount for d in documents}
        context = planning.planning_context(session, rules, source_connection="pm", kingdee_connection="kd")
        plan = registry.plan(documents, rules, mapping, context)
        codes = set(context.project_names) | {d.model.project_code for d in documents}
        books = planning.books_by_project(mapping, rules, codes)
        for planned in plan.postings:
            assert not isinstance(planned, Bill)
            (book,) = planning.voucher_books(planned, rules, books)
            posting = Posting(
                posting_key=planned.posting_key,
                connection="kd",
                rule_set=rules.name,
                form_id=rules.form_id,
                group_key=planned.group_key,
                business_date=planned.date,
                state=initial(approval=rules.approval),
                debit_total=planned.debit_total,
                credit_total=planned.credit_total,
                payload=jsonutil.dumps(voucher_model(planned, planning.target_of(rules, book))),
                attempts=0,
                key_field=target.key_field,
                kingdee_key=key_value(target.key_field, planned.posting_key),
            )
            seen: dict[int, int] = {}
            for number, line in enumerate(planned.lines, start=1):
                for doc_id in line.document_ids:
                    seen.setdefault(doc_id, number)
            posting.lines = [
                PostingLine(document_id=doc_id, rule_set=rules.name, line_no=line_no, amount=amounts[doc_id])
                for doc_id, line_no in seen.items()
            ]
            session.add(posting)


def stored(store: Store) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Every posting (in id order, ids and timestamps left out) and every line by its posting's key."""
    with store.transaction() as session:
        postings = [
            {c.name: getattr(p, c.name) for c in Posting.__table__.columns if c.name not in SKIPPED}
            for p in session.scalars(select(Posting).order_by(Posting.id))
        ]
        lines = [
            tuple(row)
            for row in session.execute(
                select(
                    Posting.posting_key,
                    PostingLine.document_id,
                    PostingLine.rule_set,
                    PostingLine.line_no,
                    PostingLine.amount,
                    PostingLine.active,
                )
                .join(Posting, Posting.id == PostingLine.posting_id)
                .order_by(PostingLine.id)
            )
        ]
    return postings, lines


def clear(store: Store) -> None:
    with store.transaction() as session:
        session.execute(delete(PostingLine))
        session.execute(delete(Posting))


def test_core_planning_stores_the_rows_the_orm_stored(seeded: tuple[Store, RuleSet, MappingTable]) -> None:
    store, rules, mapping = seeded
    orm_reference(store, rules, mapping)
    before = stored(store)
    clear(store)
    result = planning.plan_postings(
        store, rules=rules, mapping=mapping, source_connection="pm", kingdee_connection="kd"
    )
    after = stored(store)
    assert result.planned == len(before[0]) > 10
    assert not result.unmapped
    assert after == before
    assert all(isinstance(p["debit_total"], Decimal) and p["state"] == "planned" for p in after[0])
    again = planning.plan_postings(
        store, rules=rules, mapping=mapping, source_connection="pm", kingdee_connection="kd"
    )
    assert (again.planned, again.documents, again.already_bound) == (0, 0, len(after[1]))
    assert stored(store) == after


def test_latest_rows_are_the_latest_documents(seeded: tuple[Store, RuleSet, MappingTable]) -> None:
    store, _rules, _mapping = seeded
    with store.transaction() as session:
        first = session.scalars(select(Document).where(Document.kind == "cost_record").order_by(Document.id))
        older = first.first()
        assert older is not None
        # a newer version of the first cost, as a changed record would store it
        session.add(
            Document(
                record_id=older.record_id,
                connection=older.connection,
                kind=older.kind,
                source_key=older.source_key,
                version="v-newer",
                data=older.data,
            )
        )
    with store.transaction() as session:
        documents = planning.latest_documents(session, "pm", "cost_record")
        rows = planning.latest_rows(session, "pm", "cost_record")
        assert list(rows) == list(documents)  # the same keys in the same order
        assert [(r.id, r.version, r.deleted, r.data) for r in rows.values()] == [
            (d.id, d.version, d.deleted, d.data) for d in documents.values()
        ]
        assert rows[older.source_key].version == "v-newer"


def _posting_row(amount: str = "1.00", payload: str = "{}") -> dict[str, Any]:
    """A planned posting's columns but its key, as planning gives them to `insert_many_ignore`."""
    return {
        "connection": "kd",
        "rule_set": "r",
        "form_id": "GL_VOUCHER",
        "group_key": "g",
        "business_date": dt.date(2026, 10, 1),
        "debit_total": Decimal(amount),
        "credit_total": Decimal(amount),
        "payload": payload,
    }


def test_a_posting_stored_meanwhile_is_yielded_to(store: Store) -> None:
    row = {**_posting_row(), "state": "planned"}
    with store.transaction() as session:
        first = insert_many_ignore(session, Posting, [{**row, "posting_key": "a"}], ("id", "posting_key"))
    with store.transaction() as session:
        both = [{**row, "posting_key": key} for key in ("a", "b")]
        second = insert_many_ignore(session, Posting, both, ("id", "posting_key"))
    assert [key for _id, key in first] == ["a"]
    assert [key for _id, key in second] == ["b"]


def test_many_postings_go_in_in_order_with_their_defaults(store: Store) -> None:
    """PostgreSQL copies the rows into a temporary table and inserts them from it: the ids follow
    the rows' order, a key given twice in one call is inserted once, and what the rows leave out
    gets the model's defaults (state, attempts, stamps) as an INSERT would give them."""
    row = _posting_row("12.34", '{"摘要": "材料费"}')  # no state, attempts, kind or stamps
    keys = [f"k{n:04d}" for n in range(2500, 0, -1)]  # not in key order: the ids must follow the rows
    with store.transaction() as session:
        inserted = insert_many_ignore(
            session, Posting, [{**row, "posting_key": k} for k in [*keys, keys[0]]], ("id", "posting_key")
        )
        # two calls in one transaction (each its own temporary table)
        more = insert_many_ignore(session, Posting, [{**row, "posting_key": "z"}], ("id", "posting_key"))
    assert len(inserted) == len(keys)  # the key given twice went in once
    assert [key for _id, key in sorted(inserted)] == keys
    assert [key for _id, key in more] == ["z"]
    with store.transaction() as session:
        got = session.execute(
            select(
                Posting.state,
                Posting.attempts,
                Posting.kind,
                Posting.key_field,
                Posting.created_at,
                Posting.payload,
                Posting.debit_total,
            ).where(Posting.posting_key == keys[7])
        ).one()
    assert got[:4] == ("planned", 0, "posting", "summary")
    assert got.created_at is not None
    assert (got.payload, got.debit_total) == ('{"摘要": "材料费"}', Decimal("12.34"))
