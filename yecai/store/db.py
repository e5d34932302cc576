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
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from yecai.errors import ConfigurationError
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
    # first: the switch to WAL below takes a lock, and two processes opening a fresh database at
    # once must wait for each other there rather than fail with "database is locked"
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL lets readers (console, reports) run while a sync writes; busy_timeout waits for locks
    # instead of failing at once when the scheduler and a manual run overlap.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
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


def code_heads() -> tuple[str, ...]:
    """The newest revision(s) this yecai's migrations know."""
    return tuple(ScriptDirectory(str(MIGRATIONS)).get_heads())


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def database_revisions(connection: Connection) -> tuple[str, ...]:
    """The revision(s) the database is at (empty: never migrated)."""
    return tuple(MigrationContext.configure(connection).get_current_heads())


class SchemaAhead(ConfigurationError):
    """The database was migrated by a newer yecai: this one does not know its revision."""

    def __init__(self, revisions: tuple[str, ...]) -> None:
        at = ", ".join(revisions)
        super().__init__(
            f"数据库结构版本 {at} 比本程序新（由更新版本的 yecai 升级过）：请安装该版本或更新的 yecai，不要用旧版本打开",
            f"the database schema ({at}) is newer than this yecai (a newer release migrated it): "
            "install that release or a later one; an older yecai must not open it",
        )


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What `migrate` did: the revisions before and after (equal: nothing to do)."""

    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _upgrade_locked(connection: Connection, config: Config) -> Upgrade:
    """Upgrade on `connection`, which holds the migration lock; refuse a schema from the future."""
    before = database_revisions(connection)
    unknown = tuple(revision for revision in before if revision not in known_revisions())
    if unknown:
        raise SchemaAhead(unknown)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return Upgrade(before, database_revisions(connection))


def migrate(engine: Engine) -> Upgrade:
    """Bring the schema to the newest revision (idempotent), all or nothing, one process at a time.

    The one path every upgrade takes: `open_store` (the embedded default migrates on open) and
    `yecai db upgrade`. A process killed mid-migration (the chaos test kills workers at random,
    including while they start) must leave the old schema, not half a new one, and two processes
    starting together must not both migrate:

    - PostgreSQL: DDL is transactional; the migration's own transaction first takes an advisory
      lock on a fixed key (`pg_advisory_xact_lock`, held to its commit or rollback, so a killed
      process never leaves it held), then reads the revision: the second process waits, then finds
      the schema current.
    - SQLite: Python's sqlite3 runs CREATE TABLE outside any transaction it has not begun itself,
      so the upgrade runs on a connection of its own in autocommit mode inside an explicit
      BEGIN IMMEDIATE: the database's write lock, which a second process waits for (busy_timeout)
      before it reads the revision.

    A database at a revision this yecai does not know was migrated by a newer release: refused
    with `SchemaAhead` before anything is touched.
    """
    url = engine.url.render_as_string(hide_password=False)
    config = alembic_config(url)
    if engine.dialect.name == "sqlite":
        own = create_engine(url, connect_args={"check_same_thread": False, "isolation_level": None})
        event.listen(own, "connect", _sqlite_pragmas)
        try:
            with own.connect() as connection:
                # SQLite's own procedure for schema changes (lang_altertable.html): foreign keys
                # off — a batch migration copies a table, drops the old one and renames the copy,
                # and with them on, dropping a table that rows of others refer to fails (a store
                # with data in it, e.g. one written by v0.1.0) — then checked before the commit.
                # The pragma is a no-op inside a transaction: set first, on this connection only.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                done = _upgrade_locked(connection, config)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:  # raising leaves the old schema: closing the connection rolls back
                    raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
                connection.commit()
        finally:
            own.dispose()
        return done
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        return _upgrade_locked(connection, config)


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
