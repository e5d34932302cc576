"""A migration that dies half-way leaves the old schema, and the next start migrates cleanly.

The chaos test found this: a worker SIGKILLed while creating the tables of a fresh SQLite store
left tables without an `alembic_version` row, and every later start failed with "table bindings
already exists". Here a failure is injected at the CREATE TABLE of `postings`, on both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect

from yecai.store import db
from yecai.store.db import make_engine, migrate, open_store


class Interrupted(Exception):
    pass


def test_a_failed_migration_leaves_nothing_behind(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_create_engine = db.create_engine

    def failing_engine(*args: Any, **kwargs: Any) -> Engine:
        engine = real_create_engine(*args, **kwargs)

        @event.listens_for(engine, "before_cursor_execute")
        def interrupt(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
            if statement.lstrip().upper().startswith("CREATE TABLE POSTINGS"):
                raise Interrupted("killed while migrating")

        return engine

    monkeypatch.setattr(db, "create_engine", failing_engine)
    engine = make_engine(store_url)
    try:
        with pytest.raises(Interrupted):
            migrate(engine)
    finally:
        engine.dispose()
    monkeypatch.setattr(db, "create_engine", real_create_engine)

    probe = make_engine(store_url)
    try:
        assert inspect(probe).get_table_names() == []  # neither tables nor alembic_version
    finally:
        probe.dispose()
    store = open_store(store_url)
    try:
        tables = set(inspect(store.engine).get_table_names())
        assert {"alembic_version", "records", "documents", "postings", "posting_lines"} <= tables
    finally:
        store.close()
