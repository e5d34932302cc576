"""Taking a backup: a consistent copy of the store, while a sync may be writing, in one file.

SQLite: the online backup API copies the database in one step from a read snapshot (WAL lets the
sync go on writing meanwhile), and the copy is checked with `PRAGMA quick_check`. PostgreSQL:
`pg_dump --format=custom` under a snapshot exported from a transaction that also reads the schema
revision and the postings' states, so the manifest describes exactly the data dumped. The secrets
key goes in only when asked (`include_key`): whoever holds the file then reads every stored secret.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url

from yecai import __version__
from yecai.errors import ConfigurationError
from yecai.ops import postgres
from yecai.ops.container import (
    KEY_MEMBER,
    OLD_KEY_MEMBER,
    POSTGRES_MEMBER,
    SQLITE_MEMBER,
    Manifest,
    write_container,
)
from yecai.secrets import KEY_ENV


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    manifest: Manifest
    size: int  # bytes of the backup file
    key_from: str | None  # where the included key came from (env var or file), None when left out


def database_kind(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"不支持备份 {name} 数据库（仅 SQLite 与 PostgreSQL）",
            f"backup of a {name} database is not supported (SQLite and PostgreSQL only)",
        )
    return name


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ConfigurationError(
            f"SQLite 数据库 {database!r} 不是文件，无法备份或恢复",
            f"the SQLite database {database!r} is not a file: it cannot be backed up or restored",
        )
    return Path(database)


def revision_of(connection: Connection) -> str | None:
    """The Alembic revision stored in the database (None: no schema yet)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def postings_by_state(connection: Connection) -> dict[str, int]:
    """How many postings are in each state (what was in flight is what a restore must resolve)."""
    if not inspect(connection).has_table("postings"):
        return {}
    rows = connection.execute(text("SELECT state, COUNT(*) FROM postings GROUP BY state"))
    return {str(state): int(count) for state, count in rows}


def read_key(workdir: Path) -> tuple[bytes, str] | None:
    """The secrets key as `yecai.secrets.load_key` finds it, and where — never creating one."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("ascii"), KEY_ENV
    path = workdir / "secret.key"
    if path.is_file():
        return path.read_bytes().strip(), str(path)
    return None


# A rotation's previous key (`yecai secrets rotate-key`) still decrypts what was not re-encrypted
# yet, and a backup taken before the rotation: it travels with the key when there is one.
OLD_KEY_ENV = "YECAI_SECRET_KEY_OLD"
OLD_KEY_FILE = "secret.key.old"


def read_old_key(workdir: Path) -> tuple[bytes, str] | None:
    """The previous key beside the key, as it is stored (environment or file), never created."""
    if os.environ.get(KEY_ENV):
        env = os.environ.get(OLD_KEY_ENV, "").strip()
        return (env.encode("ascii"), OLD_KEY_ENV) if env else None
    path = workdir / OLD_KEY_FILE
    if path.is_file() and path.read_bytes().strip():
        return path.read_bytes().strip(), str(path)
    return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _sqlite_copy(url: str, into: Path) -> Manifest:
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise ConfigurationError(
            f"SQLite 数据库 {source_path} 不存在，没有可备份的内容",
            f"the SQLite database {source_path} does not exist: there is nothing to back up",
        )
    source = sqlite3.connect(source_path, timeout=30)
    try:
        target = sqlite3.connect(into)
        try:
            # pages=-1: the whole database in one step, from one read snapshot — writers go on
            # (WAL), and the copy is the database as of one committed transaction
            source.backup(target, pages=-1)
            checked = target.execute("PRAGMA quick_check").fetchone()
        finally:
            target.close()
    finally:
        source.close()
    if not checked or checked[0] != "ok":
        raise ConfigurationError(
            f"SQLite 备份副本未通过 quick_check：{checked}", f"the SQLite copy failed quick_check: {checked}"
        )
    engine = create_engine(f"sqlite:///{into}")
    try:
        with engine.connect() as connection:
            revision, states = revision_of(connection), postings_by_state(connection)
    finally:
        engine.dispose()
    return Manifest(
        yecai_version=__version__,
        schema_revision=revision,
        database="sqlite",
        created_at=_now(),
        includes_key=False,
        tool=f"sqlite3 {sqlite3.sqlite_version} online backup API",
        postings=states,
    )


def server_major(connection: Connection) -> tuple[int, str]:
    number = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    version = str(connection.execute(text("SHOW server_version")).scalar_one()).split()[0]
    return number // 10000, version


def _postgres_copy(url: str, into: Path) -> Manifest:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            major, version = server_major(connection)
        tool = postgres.find_tool("pg_dump", at_least=major)
        # One snapshot for the manifest and the dump: this transaction exports it and stays open
        # until pg_dump has taken it up.
        frozen = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with frozen.connect() as connection:
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            revision, states = revision_of(connection), postings_by_state(connection)
            postgres.run_tool(tool, ["--format=custom", f"--snapshot={snapshot}", f"--file={into}"], url)
            connection.rollback()
    finally:
        engine.dispose()
    return Manifest(
        yecai_version=__version__,
        schema_revision=revision,
        database="postgresql",
        created_at=_now(),
        includes_key=False,
        tool=f"pg_dump {tool.version}",
        server_version=version,
        postings=states,
    )


def take_backup(store_url: str, workdir: Path, out: Path, *, include_key: bool = False) -> BackupResult:
    """Copy the store at `store_url` (and the key, if asked) into the backup file `out`, mode 0600."""
    kind = database_kind(store_url)
    key = read_key(workdir) if include_key else None
    if include_key and key is None:
        raise ConfigurationError(
            f"要求包含密钥，但既未设置 {KEY_ENV} 也没有 {workdir / 'secret.key'}",
            f"the key was asked for, but neither {KEY_ENV} is set nor {workdir / 'secret.key'} exists",
        )
    out = out.resolve()
    with tempfile.TemporaryDirectory(
        prefix=".yecai-backup-", dir=out.parent if out.parent.is_dir() else None
    ) as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o700)
        if kind == "sqlite":
            member = folder / SQLITE_MEMBER
            manifest = _sqlite_copy(store_url, member)
            members = {SQLITE_MEMBER: member}
        else:
            member = folder / POSTGRES_MEMBER
            manifest = _postgres_copy(store_url, member)
            members = {POSTGRES_MEMBER: member}
        if key is not None:
            keys = {KEY_MEMBER: key[0]}
            old_key = read_old_key(workdir)
            if old_key is not None:
                keys[OLD_KEY_MEMBER] = old_key[0]
            for name, value in keys.items():
                key_file = folder / name
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(value)
                members[name] = key_file
            manifest.includes_key = True
        write_container(out, manifest, members)
    return BackupResult(out, manifest, out.stat().st_size, key[1] if key else None)
