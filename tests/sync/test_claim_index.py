"""A sender's claim reads the planned postings from their own index (migration 0016, issue 15).

Late in a run most postings are sent or saved. With only the (connection, state) index PostgreSQL
walked the primary key from the lowest id and filtered out every posting already sent — a claim
read ~9,000 rows and took 11 ms in a 13,299-voucher run. The claim's plan must use
`ix_postings_planned` (planned postings only, in id order); asserted on the plan, not on a time.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from yecai.store.db import open_store
from yecai.sync.sending import claim_query

pytestmark = pytest.mark.postgres


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
        # As psycopg runs it after five executions: prepared, with a generic plan (a value bound
        # would not be seen by the planner; a partial index is usable only if its predicate's value
        # is written into the statement). Any value left bound is passed as a parameter here.
        compiled = claim_query("kd", 3, "GL_VOUCHER", 50).compile(
            dialect=postgresql.dialect(paramstyle="numeric_dollar"),
            compile_kwargs={"render_postcompile": True},
        )
        bound = [repr(compiled.params[name]) for name in compiled.positiontup or ()]
        execute = f"EXECUTE claim({', '.join(bound)})" if bound else "EXECUTE claim"
        with store.engine.connect() as connection:
            connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            connection.exec_driver_sql(f"PREPARE claim AS {compiled.string}")
            plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN ANALYZE {execute}"))
            taken = connection.exec_driver_sql(execute).all()
            connection.rollback()
        assert "ix_postings_planned" in plan, plan
        assert "Rows Removed by Filter" not in plan, plan  # nothing sent is read past
        assert [row.id for row in taken] == list(range(9001, 9051))  # the oldest planned, in order
    finally:
        store.close()
