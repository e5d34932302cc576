"""PostgreSQL: a large import looks each key up through the unique index, whatever the statistics.

Before issue 15 the duplicate check of every chunk (`stored_versions`) sent an `IN (…)` list of
500 keys; on a table filled by the import itself, without statistics, PostgreSQL filtered
source_key row by row through ix_records_content_hash, and the import grew quadratic (100k rows:
two minutes, a million: hours). These tests assert the plan, not a time: the lookup of a chunk's
keys must be an index scan of the (connection, stream, source_key, revision) unique index, on a
200k-row store and on one that has never been analysed.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from yecai.files import import_file
from yecai.store.db import Store, open_store
from yecai.store.staging import stored_versions, versions_query

UNIQUE = "uq_records_connection"
ROWS = 200_000


def _ledger(path: Path, rows: int) -> list[str]:
    keys = [f"CB{n:08d}" for n in range(1, rows + 1)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["单据编号", "项目编码", "成本类别", "业务日期", "摘要", "金额"])
        for n, key in enumerate(keys):
            out.writerow(
                [
                    key,
                    f"XM2026{n % 50 + 1:03d}",
                    ("材料费", "人工费", "机械使用费")[n % 3],
                    "2026-10-05",
                    "钢筋",
                    f"{n % 997 + 1}.50",
                ]
            )
    return keys


def _keyed_scan(plan: str) -> bool:
    """The unique index scanned *by* source_key (an index condition), not filtered by it row by row:
    an `IN` list on a table without statistics plans the index on (connection, stream) alone with
    `Filter: source_key = ANY(…)`, which reads every row of the stream for every chunk."""
    lines = plan.splitlines()
    scans = [n for n, line in enumerate(lines) if f"Index Scan using {UNIQUE}" in line]
    conditions = [line for line in lines if "Index Cond" in line and "source_key" in line]
    filtered = [line for line in lines if "Filter" in line and "source_key" in line]
    return bool(scans) and bool(conditions) and not filtered


def _plan(store: Store, keys: list[str]) -> str:
    with store.transaction() as session:
        statement, params = versions_query(session, connection="file", stream="cost", keys=keys)
        rows = session.execute(text(f"EXPLAIN {statement.text}"), params)  # type: ignore[attr-defined]
        return "\n".join(row[0] for row in rows)


def _generate(session: Any, connection: str, stream: str, prefix: str, count: int) -> None:
    """`count` valid records `prefix1`, `prefix2` … of the stream, inserted by the server itself."""
    session.execute(
        text(
            "INSERT INTO records (connection, stream, source_key, content_hash, revision, payload, "
            "status, received_at) SELECT :connection, :stream, :prefix || n, md5(n::text), 1, '{}', "
            "'valid', now() FROM generate_series(1, :count) AS n"
        ),
        {"connection": connection, "stream": stream, "prefix": prefix, "count": count},
    )


@pytest.mark.slow
def test_a_200k_row_import_looks_keys_up_through_the_unique_index(pg_url: str, tmp_path: Path) -> None:
    keys = _ledger(tmp_path / "ledger.csv", ROWS)
    store = open_store(pg_url)
    try:
        result = import_file(store, tmp_path / "ledger.csv", kind="cost", chunk_rows=20_000)
        assert result.counts.imported == ROWS
        chunk = keys[ROWS // 2 : ROWS // 2 + 5000]  # a chunk's worth of keys, all stored
        plan = _plan(store, chunk)
        assert _keyed_scan(plan), plan
        assert "ix_records_content_hash" not in plan, plan
        assert "Seq Scan on records" not in plan, plan
        with store.transaction() as session:
            found = stored_versions(session, connection="file", stream="cost", keys=chunk)
        assert sorted(found) == sorted(chunk)
        assert all(len(versions) == 1 and versions[0].revision == 1 for versions in found.values())
    finally:
        store.close()


def test_the_lookup_uses_the_unique_index_before_any_statistics(pg_url: str, tmp_path: Path) -> None:
    store = open_store(pg_url)
    try:
        with store.transaction() as session:
            # rows PostgreSQL has no statistics of (never analysed): the planner must not guess
            _generate(session, "file", "cost", "K", 20000)
            analysed = session.scalar(
                text("SELECT count(*) FROM pg_stats WHERE tablename = 'records' AND attname = 'source_key'")
            )
        assert analysed == 0
        plan = _plan(store, [f"K{n}" for n in range(1, 501)])
        assert _keyed_scan(plan), plan
        assert "ix_records_content_hash" not in plan, plan
        # the check itself tells the two apart: the plan of an IN list on these rows fails it
        with store.transaction() as session:
            old = "\n".join(
                row[0]
                for row in session.execute(
                    text(
                        "EXPLAIN SELECT id FROM records WHERE connection = 'file' AND stream = 'cost' "
                        "AND source_key IN ('K1', 'K2', 'K3', 'K4', 'K5') ORDER BY source_key, revision"
                    )
                )
            )
        assert not _keyed_scan(old), old
    finally:
        store.close()


def test_the_lookup_uses_the_unique_index_after_statistics_older_than_the_stream(
    pg_url: str, tmp_path: Path
) -> None:
    """The nightly job pulls projects, then cost records: autovacuum may analyse `records` in between,
    when the cost stream has no rows. With those statistics every index on (connection, stream, …)
    looks equally selective; a full status index was then chosen and every stored cost record
    filtered for every key (a 24,000-record pull: 13–30 s instead of 3). Migration 0015 made it
    partial (staged records only), so it cannot serve this lookup at all."""
    store = open_store(pg_url)
    try:
        with store.transaction() as session:
            _generate(session, "pm", "projects", "P", 200)
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE records")
            connection.commit()
        with store.transaction() as session:
            _generate(session, "pm", "cost_records", "C", 20000)
            # Which of two equally cheap-looking indexes the planner takes is not ours to count on:
            # the unique index must be the only full one that starts with (connection, stream).
            full = session.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'records' "
                    "AND indexdef LIKE '%(connection, stream%' AND indexdef NOT LIKE '% WHERE %'"
                )
            ).all()
        assert [name for name, _ in full] == [UNIQUE], full
        with store.transaction() as session:
            statement, params = versions_query(
                session, connection="pm", stream="cost_records", keys=[f"C{n}" for n in range(1, 201)]
            )
            plan = "\n".join(
                row[0]
                for row in session.execute(text(f"EXPLAIN {statement.text}"), params)  # type: ignore[attr-defined]
            )
        assert _keyed_scan(plan), plan
        assert "ix_records_status" not in plan, plan
    finally:
        store.close()


def test_a_key_asked_for_twice_lists_its_versions_once(store: Store) -> None:
    with store.transaction() as session:
        session.execute(
            text(
                "INSERT INTO records (connection, stream, source_key, content_hash, revision, payload, status, "
                "received_at) VALUES ('file', 'cost', 'K1', 'a', 1, '{}', 'valid', CURRENT_TIMESTAMP), "
                "('file', 'cost', 'K1', 'b', 2, '{}', 'valid', CURRENT_TIMESTAMP)"
            )
        )
    with store.transaction() as session:
        found = stored_versions(session, connection="file", stream="cost", keys=["K1", "K2", "K1"])
    assert [(v.revision, v.content_hash) for v in found["K1"]] == [(1, "a"), (2, "b")]
    assert "K2" not in found
