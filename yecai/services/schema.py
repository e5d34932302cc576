"""The store's schema against the code: is it behind, current or ahead, and bringing it up to date.

What `yecai db check` and `yecai db upgrade` call (and `yecai doctor` may). Upgrading goes
through `yecai.store.db.migrate`, the one locked path `open_store` takes too, so an operator's
upgrade and a worker starting at the same moment never both migrate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from alembic.script import ScriptDirectory
from sqlalchemy.exc import OperationalError

from yecai.errors import ConfigurationError
from yecai.store.db import (
    MIGRATIONS,
    Store,
    Upgrade,
    code_heads,
    database_revisions,
    known_revisions,
    migrate,
)


class SchemaState(StrEnum):
    CURRENT = "current"  # at the code's newest revision
    BEHIND = "behind"  # older (or never migrated): `yecai db upgrade`
    AHEAD = "ahead"  # a newer yecai migrated it: this release must not write to it


@dataclass(frozen=True, slots=True)
class SchemaReport:
    state: SchemaState
    database: tuple[str, ...]  # the database's revision(s); empty: never migrated
    code: tuple[str, ...]  # this yecai's newest revision(s)
    pending: tuple[str, ...]  # revisions an upgrade would apply, oldest first, with their titles

    @property
    def zh(self) -> str:
        at = ", ".join(self.database) or "空库"
        head = ", ".join(self.code)
        if self.state is SchemaState.CURRENT:
            return f"数据库结构为最新（版本 {head}）"
        if self.state is SchemaState.BEHIND:
            return (
                f"数据库结构落后（{at} → {head}，待执行 {len(self.pending)} 个迁移）："
                "先备份，停止 worker，再运行 yecai db upgrade"
            )
        return (
            f"数据库结构（{at}）比本程序（{head}）新，由更新版本的 yecai 升级过：请使用该版本或更新的 yecai"
        )

    @property
    def en(self) -> str:
        at = ", ".join(self.database) or "empty"
        head = ", ".join(self.code)
        if self.state is SchemaState.CURRENT:
            return f"the schema is current (revision {head})"
        if self.state is SchemaState.BEHIND:
            return (
                f"the schema is behind ({at} → {head}, {len(self.pending)} migrations to apply): "
                "back up, stop the workers, then run yecai db upgrade"
            )
        return (
            f"the schema ({at}) is ahead of this yecai ({head}): a newer release migrated it; "
            "run that release or a later one"
        )


def _pending(database: tuple[str, ...]) -> tuple[str, ...]:
    scripts = ScriptDirectory(str(MIGRATIONS))
    lower = database[0] if len(database) == 1 else ("base" if not database else None)
    if lower is None:  # several heads in the database: not something yecai's migrations make
        return ()
    steps = reversed(list(scripts.iterate_revisions("heads", lower)))
    return tuple(f"{step.revision} {(step.doc or '').splitlines()[0]}" for step in steps)


def _unreachable(store: Store, exc: OperationalError) -> ConfigurationError:
    where = store.engine.url.render_as_string(hide_password=True)
    reason = str(exc.orig or exc).strip().splitlines()[0]
    return ConfigurationError(
        f"无法连接数据库 {where}：{reason}；请检查 YECAI_DATABASE_URL / --database-url 与数据库服务",
        f"cannot reach the database {where}: {reason}; check YECAI_DATABASE_URL / --database-url and the server",
    )


def check_schema(store: Store) -> SchemaReport:
    """Where the store's schema stands against this yecai's migrations (reads only)."""
    try:
        with store.engine.connect() as connection:
            database = database_revisions(connection)
    except OperationalError as exc:
        raise _unreachable(store, exc) from exc
    code = code_heads()
    if any(revision not in known_revisions() for revision in database):
        return SchemaReport(SchemaState.AHEAD, database, code, ())
    if set(database) == set(code):
        return SchemaReport(SchemaState.CURRENT, database, code, ())
    return SchemaReport(SchemaState.BEHIND, database, code, _pending(database))


def upgrade_schema(store: Store) -> Upgrade:
    """Apply every pending migration under the migration lock (SchemaAhead if from a newer yecai)."""
    try:
        return migrate(store.engine)
    except OperationalError as exc:
        if "connect" not in str(exc).lower():
            raise
        raise _unreachable(store, exc) from exc
