"""Planning a few projects at a time (`plan_postings(chunk_documents=…)`, issue 15): the postings,
payloads and document lines stored are exactly one plan's — only their order in the store differs —
under every aggregation that keeps a voucher within one project; what is unmapped is reported once
per value; rule sets whose vouchers may span projects are planned whole. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select

from tests.support.pulled import pull_and_validate
from yecai import jsonutil
from yecai.domain.documents import CostRecord
from yecai.mapping.interface import PlannableDocument
from yecai.mapping.rules import Aggregation, MappingTable, RuleSet, default_mapping, default_rule_set
from yecai.store.db import Store
from yecai.store.tables import Document, Posting, PostingLine
from yecai.sync import planning

SKIPPED = {"id", "created_at", "updated_at"}


@pytest.fixture
def seeded(store: Store) -> tuple[Store, MappingTable, int]:
    """Five projects' costs pulled and validated, suppliers mapped; how many cost documents."""
    pull_and_validate(store, projects=5, seed=11)
    with store.transaction() as session:
        rows = [
            jsonutil.loads(d)
            for (d,) in session.execute(select(Document.data).where(Document.kind == "cost_record"))
        ]
    names = sorted({name for row in rows if (name := row.get("supplier_name"))})
    suppliers = {name: f"VEN{n:04d}" for n, name in enumerate(names, start=1)}
    return store, default_mapping().model_copy(update={"suppliers": suppliers}), len(rows)


def _stored(store: Store) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Every posting by key (ids and timestamps left out) and every line by its posting's key."""
    with store.transaction() as session:
        postings = sorted(
            (
                {c.name: getattr(p, c.name) for c in Posting.__table__.columns if c.name not in SKIPPED}
                for p in session.scalars(select(Posting))
            ),
            key=lambda p: p["posting_key"],
        )
        lines = sorted(
            tuple(row)
            for row in session.execute(
                select(
                    Posting.posting_key,
                    PostingLine.document_id,
                    PostingLine.rule_set,
                    PostingLine.line_no,
                    PostingLine.amount,
                    PostingLine.active,
                ).join(Posting, Posting.id == PostingLine.posting_id)
            )
        )
    return postings, lines


def _clear(store: Store) -> None:
    with store.transaction() as session:
        session.execute(delete(PostingLine))
        session.execute(delete(Posting))


def _plan(
    store: Store, rules: RuleSet, mapping: MappingTable, chunk: int | None
) -> tuple[planning.PlanResult, int]:
    calls: list[None] = []
    result = planning.plan_postings(
        store,
        rules=rules,
        mapping=mapping,
        source_connection="pm",
        kingdee_connection="kd",
        chunk_documents=chunk,
        stored=lambda: calls.append(None),
    )
    return result, len(calls)


def _unmapped(result: planning.PlanResult) -> list[tuple[str, str, tuple[int, ...]]]:
    return sorted((u.kind, u.value, tuple(sorted(u.document_ids))) for u in result.unmapped)


@pytest.mark.parametrize(
    "aggregation",
    [
        Aggregation.PROJECT_CATEGORY_DAY,
        Aggregation.PROJECT_DAY,
        Aggregation.PROJECT_CATEGORY_MONTH,
        Aggregation.PER_DOCUMENT,
    ],
)
def test_parts_store_what_one_plan_stores(
    seeded: tuple[Store, MappingTable, int], aggregation: Aggregation
) -> None:
    store, mapping, documents = seeded
    rules = default_rule_set().model_copy(update={"aggregation": aggregation})
    whole, calls = _plan(store, rules, mapping, None)
    assert calls == 1
    expected = _stored(store)
    _clear(store)
    parts, calls = _plan(store, rules, mapping, documents // 10)
    assert calls >= 3  # five projects: a part of about a tenth of the documents, then twice as many …
    assert _stored(store) == expected
    assert (parts.documents, parts.planned, parts.already_bound) == (whole.documents, whole.planned, 0)
    assert parts.planned == len(expected[0]) > 10
    assert sorted(parts.zero_groups) == sorted(whole.zero_groups)
    # planned again in parts: nothing new, every document already bound
    again, _calls = _plan(store, rules, mapping, documents // 10)
    assert (again.planned, again.documents) == (0, 0)
    assert _stored(store) == expected


def test_an_unmapped_value_is_reported_once_with_every_part_s_documents(
    seeded: tuple[Store, MappingTable, int],
) -> None:
    store, mapping, documents = seeded
    # one category left without a rule: every project's documents of it are held back
    full = default_rule_set()
    category = next(iter(full.categories))
    rules = full.model_copy(
        update={"categories": {k: v for k, v in full.categories.items() if k != category}}
    )
    whole, _calls = _plan(store, rules, mapping, None)
    expected = _stored(store)
    _clear(store)
    parts, calls = _plan(store, rules, mapping, documents // 10)
    assert calls >= 3
    assert _stored(store) == expected
    assert len(parts.unmapped) == len(whole.unmapped) >= 1
    assert _unmapped(parts) == _unmapped(whole)
    assert sum(len(u.document_ids) for u in parts.unmapped if u.value == str(category)) > 0


def test_vouchers_that_may_span_projects_are_planned_whole(seeded: tuple[Store, MappingTable, int]) -> None:
    store, mapping, documents = seeded
    rules = default_rule_set().model_copy(update={"aggregation": Aggregation.PERIOD})
    assert not planning.plans_by_project(rules)
    whole, calls = _plan(store, rules, mapping, documents // 10)
    assert calls == 1
    assert whole.planned >= 1


def _document(n: int, project: str) -> PlannableDocument:
    model = CostRecord.model_construct(project_code=project, amount=Decimal(n))
    return PlannableDocument(n, "v1", model)


@given(st.lists(st.sampled_from("ABCDEFG"), max_size=60), st.integers(1, 20))
def test_parts_are_whole_projects_in_order(projects: list[str], size: int) -> None:
    documents = [_document(n, p) for n, p in enumerate(projects)]
    parts = planning.by_projects(documents, size)
    assert all(parts) if documents else parts == [[]]
    # every document once; within a part, in the documents' own order
    assert sorted(d.document_id for part in parts for d in part) == list(range(len(documents)))
    for part in parts:
        ids = [d.document_id for d in part]
        assert ids == sorted(ids)
    # a project in one part only; every part but the last holds at least `size` documents
    owner = {d.model.project_code: n for n, part in enumerate(parts) for d in part}
    assert all(owner[d.model.project_code] == n for n, part in enumerate(parts) for d in part)
    # part k holds at least size × 2^k documents (but the last), and could not have ended sooner:
    # without the project it took last it is short of that
    first_seen = {p: n for n, p in reversed(list(enumerate(projects)))}
    for number, part in enumerate(parts[:-1]):
        assert len(part) >= size * 2**number
        last = max({d.model.project_code for d in part}, key=first_seen.__getitem__)
        assert len([d for d in part if d.model.project_code != last]) < size * 2**number
