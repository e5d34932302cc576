"""Restoring a backup: checked first, into an empty database, then marked for the next sync.

The file's manifest and every member's sha256 are verified before any database is touched; a
backup made by a newer yecai (a schema revision this code does not know) or of the other database
kind is refused. The target must hold no rows (`force` replaces what it holds). SQLite: the copy
is moved into place (stale -wal/-shm removed first, or SQLite would replay them onto it).
PostgreSQL: `pg_restore` in one transaction. Then the postings that may be in Kingdee without the
restored database knowing are marked to be looked up by key before anything is sent
(`yecai.sync.restored`), and the schema revision is compared with the code's.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, create_engine, func, inspect, select, table
from sqlalchemy.engine import Engine

from yecai.errors import ConfigurationError, DataError
from yecai.ops import postgres
from yecai.ops.backup import (
    OLD_KEY_ENV,
    OLD_KEY_FILE,
    database_kind,
    postings_by_state,
    revision_of,
    server_major,
    sqlite_path,
)
from yecai.ops.container import KEY_MEMBER, OLD_KEY_MEMBER, Manifest, read_manifest, unpack
from yecai.secrets import KEY_ENV
from yecai.store.db import alembic_config, private_file
from yecai.sync import restored

# States whose outcome in Kingdee the restored database cannot know (looked up by key next sync).
IN_FLIGHT = ("sent", "uncertain")


@dataclass(slots=True)
class RestoreResult:
    manifest: Manifest
    target: str  # the database restored into (password hidden)
    revision: str | None
    head: str
    postings: dict[str, int] = field(default_factory=dict)  # state → count, as restored
    marked: list[str] = field(default_factory=list)  # Kingdee connections looked up before sending
    key: str = "absent"  # absent | written | same | kept_env | replaced
    key_path: Path | None = None
    lookup_days: int = restored.LOOKUP_DAYS
    old_key: dict[str, str] = field(default_factory=dict)  # secret.key.old → its action, when in the backup

    @property
    def behind(self) -> bool:
        return self.revision != self.head

    @property
    def in_flight(self) -> int:
        return sum(self.postings.get(state, 0) for state in IN_FLIGHT)


def code_head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def check_revision_known(manifest: Manifest) -> None:
    """A backup from a newer yecai holds a schema this code cannot run on: refuse it up front."""
    if manifest.schema_revision is None:
        raise DataError(
            "备份中的数据库没有业财表结构（不是业财的存储）",
            "the database in the backup has no yecai schema (not a yecai store)",
        )
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        known = script.get_revision(manifest.schema_revision) is not None
    except CommandError:
        known = False
    if not known:
        raise DataError(
            f"备份来自更新的业财 {manifest.yecai_version}（表结构版本 {manifest.schema_revision} 本版本不认识）："
            f"请先安装业财 {manifest.yecai_version} 或更新版本再恢复",
            f"the backup comes from a newer yecai {manifest.yecai_version} (schema revision "
            f"{manifest.schema_revision} is unknown to this version): install yecai {manifest.yecai_version} "
            "or newer, then restore",
        )


def rows_held(engine: Engine) -> dict[str, int]:
    """Table → rows, for every table that holds any (the schema's own version table aside)."""
    held: dict[str, int] = {}
    with engine.connect() as connection:
        for name in inspect(connection).get_table_names():
            if name == "alembic_version":
                continue
            count = connection.execute(select(func.count()).select_from(table(name))).scalar_one()
            if count:
                held[name] = int(count)
    return held


def _refuse_non_empty(target: str, held: dict[str, int]) -> DataError:
    shown = ", ".join(f"{name} {count}" for name, count in sorted(held.items(), key=lambda x: -x[1])[:5])
    return DataError(
        f"目标数据库 {target} 不是空的（{shown} 行……）：恢复只写入空数据库。请换一个空库，"
        "或确认要覆盖其中全部数据后加 --force",
        f"the target database {target} is not empty ({shown} rows …): a restore writes only into an empty "
        "database. Use an empty one, or add --force to replace everything it holds",
    )


def _sqlite_rows(path: Path) -> dict[str, int]:
    if not path.exists() or path.stat().st_size == 0:
        return {}
    engine = create_engine(f"sqlite:///{path}")
    try:
        return rows_held(engine)
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """What a restore does with one key of the backup: its file, the action and the bytes to write."""

    file: str  # secret.key | secret.key.old
    action: str  # absent | written | same | kept_env | replaced
    key: bytes | None = None  # to write (written, replaced)


def _plan_one(name: str, key: bytes, workdir: Path, force: bool, env_name: str) -> KeyPlan:
    env = os.environ.get(env_name) if os.environ.get(KEY_ENV) else None
    if os.environ.get(KEY_ENV):  # keys from the environment: the files are not used
        return KeyPlan(name, "same" if (env or "").encode("ascii") == key else "kept_env")
    path = workdir / name
    if not path.exists():
        return KeyPlan(name, "written", key)
    if path.read_bytes().strip() == key:
        return KeyPlan(name, "same")
    if not force:
        raise DataError(
            f"{path} 已有另一把密钥：恢复不会覆盖它（覆盖后用它加密的密钥将无法解密）。"
            "确认要换成备份中的密钥请加 --force（原文件会改名保留）",
            f"{path} holds a different key: a restore does not overwrite it (secrets encrypted with it "
            "would become unreadable). Add --force to use the backup's key (the old file is kept, renamed)",
        )
    return KeyPlan(name, "replaced", key)


def _plan_keys(manifest: Manifest, unpacked: Path, workdir: Path, force: bool) -> list[KeyPlan]:
    """What to do with the backup's keys, decided before any database is touched."""
    if not manifest.includes_key:
        return [KeyPlan(KEY_MEMBER, "absent")]
    plans = [_plan_one(KEY_MEMBER, (unpacked / KEY_MEMBER).read_bytes().strip(), workdir, force, KEY_ENV)]
    if OLD_KEY_MEMBER in manifest.members:
        old = (unpacked / OLD_KEY_MEMBER).read_bytes().strip()
        plans.append(_plan_one(OLD_KEY_FILE, old, workdir, force, OLD_KEY_ENV))
    return plans


def _write_key(workdir: Path, name: str, key: bytes, replace: bool) -> Path:
    path = workdir / name
    workdir.mkdir(parents=True, exist_ok=True)
    if replace and path.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path.rename(path.with_name(f"{name}.before-restore-{stamp}"))
    partial = path.with_name(f".{name}.partial-{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    os.replace(partial, path)
    return path


def _restore_sqlite(copy: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    os.replace(copy, staged)  # unpacked beside the target (`_scratch`): a rename, not a copy
    os.chmod(staged, 0o600)
    # a -wal left beside the old database would be replayed onto the restored one: gone first
    for sibling in (Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}-journal")):
        sibling.unlink(missing_ok=True)
    os.replace(staged, target)
    private_file(target)


def _dump_major(manifest: Manifest) -> int:
    """The major version of the pg_dump that made the file ("pg_dump 15.20" → 15): pg_restore must match."""
    parts = manifest.tool.split()
    if len(parts) >= 2 and parts[0] == "pg_dump" and parts[1].split(".")[0].isdigit():
        return int(parts[1].split(".")[0])
    return 0


def _restore_postgres(dump: Path, url: str, manifest: Manifest) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            major, _version = server_major(connection)
        dumped = _dump_major(manifest)
        tool = postgres.find_tool("pg_restore", at_least=max(major, dumped))
        with engine.begin() as connection:
            # empty already, or replaced with --force: whatever tables are here go, then the dump
            existing = MetaData()
            existing.reflect(connection)
            existing.drop_all(connection)
    finally:
        engine.dispose()
    postgres.run_tool(
        tool, ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", str(dump)], url
    )


def restore_backup(
    path: Path,
    store_url: str,
    workdir: Path,
    *,
    force: bool = False,
    lookup_days: int = restored.LOOKUP_DAYS,
) -> RestoreResult:
    """Restore the backup file at `path` into the store at `store_url` (see the module docstring)."""
    kind = database_kind(store_url)
    manifest = read_manifest(path)
    shown = store_url
    if manifest.database != kind:
        raise DataError(
            f"备份是 {manifest.database} 数据库的，目标是 {kind}：只能恢复到同类数据库",
            f"the backup is of a {manifest.database} database and the target is {kind}: restore into the "
            "same kind",
        )
    check_revision_known(manifest)
    with tempfile.TemporaryDirectory(prefix=".yecai-restore-", dir=_scratch(kind, store_url)) as tmp:
        unpacked = Path(tmp)
        os.chmod(unpacked, 0o700)
        unpack(path, unpacked)  # every checksum verified before anything is touched
        key_plans = _plan_keys(manifest, unpacked, workdir, force)
        copy = unpacked / manifest.database_member
        if kind == "sqlite":
            target = sqlite_path(store_url)
            shown = str(target)
            held = _sqlite_rows(target)
            if held and not force:
                raise _refuse_non_empty(shown, held)
            _restore_sqlite(copy, target)
        else:
            engine = create_engine(store_url)
            shown = engine.url.render_as_string(hide_password=True)
            try:
                held = rows_held(engine)
            finally:
                engine.dispose()
            if held and not force:
                raise _refuse_non_empty(shown, held)
            _restore_postgres(copy, store_url, manifest)
    written = {
        plan.file: _write_key(workdir, plan.file, plan.key, plan.action == "replaced")
        for plan in key_plans
        if plan.key is not None
    }
    engine = create_engine(store_url)
    try:
        with engine.begin() as connection:
            revision = revision_of(connection)
            states = postings_by_state(connection)
            marked = restored.mark_restored(
                connection, created_at=manifest.created_at, source=path.name, lookup_days=lookup_days
            )
    finally:
        engine.dispose()
    if revision != manifest.schema_revision:
        raise ConfigurationError(
            f"恢复后的表结构版本 {revision} 与备份清单 {manifest.schema_revision} 不符",
            f"the restored schema revision {revision} differs from the manifest's {manifest.schema_revision}",
        )
    return RestoreResult(
        manifest,
        shown,
        revision,
        code_head(),
        states,
        marked,
        key_plans[0].action,
        written.get(KEY_MEMBER),
        lookup_days,
        {plan.file: plan.action for plan in key_plans[1:]},
    )


def _scratch(kind: str, store_url: str) -> str | None:
    """Unpack next to the SQLite database (one rename into place); PostgreSQL: the system's temp."""
    if kind != "sqlite":
        return None
    folder = sqlite_path(store_url).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)
