"""Engine, sessions and schema migration for the store.

`open_store(url)` gives a ready `Store`: the engine (SQLite in WAL mode with foreign keys and a
busy timeout, or PostgreSQL through psycopg 3), a session factory, and the schema migrated to the
newest Alembic revision. Schema changes happen only through migrations, never `create_all`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from yecai.store import schema  # noqa: F401  (every table known before the first session)

MIGRATIONS = Path(__file__).parent / "migrations"


# Owner only: the store holds password hashes, session CSRF tokens and encrypted secrets.
PRIVATE = 0o600


def private_file(path: Path) -> None:
    """Create `path` mode 0600 if it is missing, and take group/other access away if it is not.

    SQLite creates the -wal and -shm files with the mode of the database file, so a private
    database keeps its siblings private too; they are tightened as well in case an older yecai
    (or another tool) left them readable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if each.stat().st_mode & 0o077:
                each.chmod(PRIVATE)
        except FileNotFoundError:
            continue


SQLITE_SYNCHRONOUS = "NORMAL"  # the store's every-day setting
SQLITE_DURABLE = "FULL"  # the WAL is synced at each commit: it survives a power loss


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (console, reports) run while a sync writes; busy_timeout waits for locks
    # instead of failing at once when the scheduler and a manual run overlap.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # NORMAL: a commit survives a crash of the process, not a power loss (WAL is synced at each
    # checkpoint). What a sender is told is stored commits with FULL (`Store.durable_transaction`).
    cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and not path.startswith("file:"):
            private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Any constant: the advisory lock every yecai process takes while migrating PostgreSQL.
_MIGRATION_LOCK = 0x79656361  # "yeca"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent), all or nothing, one process at a time.

    A process killed mid-migration (the chaos test kills workers at random, including while they
    start) must leave the old schema, not half a new one: on PostgreSQL DDL is transactional and
    an advisory lock keeps `serve` and workers starting together from migrating twice. Python's
    sqlite3 runs CREATE TABLE outside any transaction it has not begun itself, so SQLite gets its
    own connection in autocommit mode with an explicit BEGIN IMMEDIATE around the whole upgrade
    (which also makes a second process wait, then find the schema current).
    """
    url = engine.url.render_as_string(hide_password=False)
    config = alembic_config(url)
    if engine.dialect.name == "sqlite":
        own = create_engine(url, connect_args={"check_same_thread": False, "isolation_level": None})
        event.listen(own, "connect", _sqlite_pragmas)
        try:
            with own.connect() as connection:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
        finally:
            own.dispose()
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass(slots=True)
class Store:
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def durable_transaction(self) -> Iterator[Session]:
        """A unit of work whose commit survives a power loss: what an acknowledgement rests on.

        On SQLite the commit runs with synchronous=FULL (the WAL synced before COMMIT returns),
        on one connection set for it and set back after; a caller that commits many events at
        once pays the sync once. PostgreSQL's commits are synced already (synchronous_commit).
        """
        if self.engine.dialect.name != "sqlite":
            with self.transaction() as session:
                yield session
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f"PRAGMA synchronous={SQLITE_DURABLE}")
            connection.commit()  # (no transaction in SQLite: ends SQLAlchemy's autobegun one)
            try:
                with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                    yield session
            finally:
                connection.exec_driver_sql(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
                connection.commit()

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, upgrade: bool = True) -> Store:
    engine = make_engine(url)
    if upgrade:
        migrate(engine)
    return Store(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
