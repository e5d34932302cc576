"""The run's hot lookups read their own partial indexes, also as prepared statements (issue 15;
migrations 0015–0016). Asserted on the plans, not on times.

psycopg prepares a statement after five executions, and PostgreSQL may then run it with a generic
plan, which does not see bound values: a partial index (`state = 'planned'`, `status = 'staged'`)
is usable only if the value is written into the statement. Each lookup is planned here that way.

- A sender's claim: late in a run most postings are sent; through the primary key PostgreSQL read
  past every one of them (~9,000 rows, 11 ms a claim in a 13,299-voucher run).
- Validation's next batch of staged records: read in id order (the partial index of staged records
  is on the id), not the whole backlog sorted for every batch.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Select, text
from sqlalchemy.dialects import postgresql

from yecai.store.db import Store, open_store
from yecai.sync.intake import staged_query
from yecai.sync.sending import claim_query

pytestmark = pytest.mark.postgres


def _generic(store: Store, query: Select[Any]) -> tuple[str, list[Any]]:
    """The query's plan and rows, prepared and run with a generic plan (values left bound are
    passed as parameters)."""
    compiled = query.compile(
        dialect=postgresql.dialect(paramstyle="numeric_dollar"), compile_kwargs={"render_postcompile": True}
    )
    bound = [repr(compiled.params[name]) for name in compiled.positiontup or ()]
    execute = f"EXECUTE hot({', '.join(bound)})" if bound else "EXECUTE hot"
    with store.engine.connect() as connection:
        connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        connection.exec_driver_sql(f"PREPARE hot AS {compiled.string}")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN ANALYZE {execute}"))
        rows = list(connection.exec_driver_sql(execute).all())
        connection.rollback()
    return plan, rows


def test_a_claim_late_in_a_run_reads_the_planned_postings_index(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        with store.transaction() as session:
            session.execute(
                text(
                    "INSERT INTO postings (posting_key, connection, rule_set, form_id, group_key, business_date, "
                    "state, debit_total, credit_total, payload, attempts, kind, created_at, updated_at) "
                    "SELECT 'K' || g, 'kd', 'r', 'GL_VOUCHER', 'g', DATE '2026-10-01', "
                    "CASE WHEN g <= 9000 THEN 'saved' ELSE 'planned' END, 1, 1, '{}', 0, 'posting', now(), now() "
                    "FROM generate_series(1, 13299) AS g"
                )
            )
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE postings")
            connection.commit()
        plan, taken = _generic(store, claim_query("kd", 3, "GL_VOUCHER", 50))
        assert "ix_postings_planned" in plan, plan
        assert "Rows Removed by Filter" not in plan, plan  # nothing sent is read past
        assert [row.id for row in taken] == list(range(9001, 9051))  # the oldest planned, in order
    finally:
        store.close()


def test_validation_reads_the_staged_records_in_id_order(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        with store.transaction() as session:
            session.execute(
                text(
                    "INSERT INTO records (connection, stream, source_key, content_hash, revision, payload, status, "
                    "received_at) SELECT 'pm', 'cost_records', 'C' || g, 'h' || g, 1, '{}', "
                    "CASE WHEN g <= 10000 THEN 'valid' ELSE 'staged' END, now() FROM generate_series(1, 24000) AS g"
                )
            )
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE records")
            connection.commit()
        with store.transaction() as session:
            after = session.scalar(text("SELECT min(id) + 2000 FROM records WHERE status = 'staged'"))
        plan, rows = _generic(store, staged_query("pm", "cost_records", int(after), 1000))
        assert "Sort" not in plan, plan  # the backlog is not sorted for each batch
        ids = [row.id for row in rows]
        assert ids == sorted(ids)
        assert len(ids) == 1000
        assert ids[0] == after + 1
    finally:
        store.close()
