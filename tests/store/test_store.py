"""The store on SQLite and PostgreSQL: migrations match the tables, constraints hold, runs record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from yecai.store import runs
from yecai.store.db import Store, alembic_config, make_engine, migrate
from yecai.store.schema import metadata
from yecai.store.tables import Document, Posting, PostingLine, Record, Run


def test_migrations_match_the_tables(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []
    assert {"records", "documents", "postings", "posting_lines", "bindings", "runs", "stream_states"} <= set(
        inspect(store.engine).get_table_names()
    )


def test_migrate_is_idempotent(store: Store) -> None:
    migrate(store.engine)
    migrate(store.engine)


def test_each_revision_of_a_key_is_stored_once(store: Store) -> None:
    row = {"connection": "pm", "stream": "s", "source_key": "k", "content_hash": "h", "payload": "{}"}
    with store.transaction() as session:
        session.add(Record(**row, revision=1))
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(Record(**{**row, "content_hash": "h2"}, revision=1))  # a concurrent writer lost
    with store.transaction() as session:
        session.add(Record(**{**row, "content_hash": "h2"}, revision=2))  # a changed row is a new record
        session.add(Record(**row, revision=3))  # and so is a row changed back
        assert len(session.scalars(select(Record)).all()) == 3


def test_a_document_is_bound_once_per_rule_set(store: Store) -> None:
    with store.transaction() as session:
        record = Record(connection="pm", stream="s", source_key="k", content_hash="h", payload="{}")
        session.add(record)
        session.flush()
        doc = Document(
            record_id=record.id, connection="pm", kind="cost_record", source_key="k", version="h", data="{}"
        )
        session.add(doc)
        postings = [
            Posting(
                posting_key=f"key{i}",
                connection="kd",
                rule_set="r",
                form_id="GL_VOUCHER",
                group_key="g",
                business_date=dt.date(2026, 10, 5),
                debit_total=Decimal("1.00"),
                credit_total=Decimal("1.00"),
                payload="{}",
                attempts=0,
            )
            for i in range(2)
        ]
        session.add_all(postings)
        session.flush()
        session.add(
            PostingLine(
                posting_id=postings[0].id, document_id=doc.id, rule_set="r", line_no=1, amount=Decimal("1.00")
            )
        )
        ids = (postings[1].id, doc.id)
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(
            PostingLine(
                posting_id=ids[0], document_id=ids[1], rule_set="r", line_no=1, amount=Decimal("1.00")
            )
        )


def test_money_columns_keep_cents(store: Store) -> None:
    with store.transaction() as session:
        session.add(
            Posting(
                posting_key="money",
                connection="kd",
                rule_set="r",
                form_id="GL_VOUCHER",
                group_key="g",
                business_date=dt.date(2026, 10, 5),
                debit_total=Decimal("1234567890123.45"),
                credit_total=Decimal("0.10"),
                payload="{}",
                attempts=0,
            )
        )
    with store.transaction() as session:
        posting = session.scalars(select(Posting)).one()
        assert posting.debit_total == Decimal("1234567890123.45")
        assert posting.credit_total == Decimal("0.10")


def test_runs_are_recorded(store: Store) -> None:
    run_id = runs.start_run(store, kind="cost_sync", connection="pm")
    runs.finish_run(store, run_id=run_id, status="succeeded", counts={"posted": 3})
    with store.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        assert (run.status, run.counts["posted"]) == ("succeeded", 3)
        assert run.finished_at is not None
    with pytest.raises(LookupError):
        runs.finish_run(store, run_id=run_id + 99, status="x", counts={})


def test_migration_0010_numbers_the_stored_versions_of_each_key(store_url: str) -> None:
    """Records stored before revisions existed get 1, 2 … per key in the order they arrived."""
    engine = make_engine(store_url)
    try:
        with engine.begin() as connection:
            config = alembic_config(store_url)
            config.attributes["connection"] = connection
            command.upgrade(config, "0009")
            for key, digest in [("k", "h1"), ("j", "h1"), ("k", "h2"), ("k", "h3")]:
                connection.execute(
                    text(
                        "INSERT INTO records (connection, stream, source_key, content_hash, payload, status,"
                        " received_at) VALUES ('pm', 's', :key, :digest, '{}', 'valid', CURRENT_TIMESTAMP)"
                    ),
                    {"key": key, "digest": digest},
                )
        migrate(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT source_key, content_hash, revision, version FROM records ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [
            ("k", "h1", 1, None),
            ("j", "h1", 1, None),
            ("k", "h2", 2, None),
            ("k", "h3", 3, None),
        ]
    finally:
        engine.dispose()


def test_the_keyless_hash_lookup_uses_the_partial_index(store: Store) -> None:
    """Only keyless rows are in ix_records_content_hash (migration 0014); the one lookup by content
    hash (a re-export without a key column, `yecai.files.dedup`) still goes through it."""
    keyless = Record.source_key.like("row:%")
    query = select(Record.content_hash).where(
        Record.connection == "files", Record.stream == "cost", Record.content_hash.in_(["a", "b"]), keyless
    )
    with store.engine.connect() as connection:
        sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
        if store.engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")  # an empty table: no statistics
            plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql))
            definition = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_records_content_hash'"
            ).scalar_one()
        else:
            plan = "\n".join(row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            definition = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_records_content_hash'"
            ).scalar_one()
    assert "ix_records_content_hash" in plan, plan
    assert "row:%" in definition, definition  # partial: keyed rows stay out of it
