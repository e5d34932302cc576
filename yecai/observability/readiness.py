"""Readiness checks behind /readyz: can this process do its work right now?

Three checks, each answering in Chinese and English what is wrong: the store answers `SELECT 1`;
its schema is at the newest Alembic revision this yecai knows (a store behind, or ahead of, the
code would fail mid-run); and, when jobs run distributed, Redis answers PING. Checks are plain
functions with their own short timeouts; the web layer runs them in threads under a deadline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import redis
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from yecai.store.db import Store, alembic_config

log = logging.getLogger("yecai.observability")

CHECK_SECONDS = 2.0  # Kubernetes probes default to a 1 s timeout; set theirs to 3 s or more


@dataclass(frozen=True, slots=True)
class Check:
    """One check's verdict; a failed one says what is wrong in both languages."""

    name: str
    status: str  # ok | failed | skipped
    zh: str = ""
    en: str = ""
    error: str | None = None  # the exception's class name (details go to the log, not the response)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_json(self) -> dict[str, str]:
        body = {"check": self.name, "zh": self.zh, "en": self.en}
        if self.error:
            body["error"] = self.error
        return body


def _failed(name: str, zh: str, en: str, exc: BaseException | None = None) -> Check:
    if exc is not None:
        log.warning("就绪检查 %s 失败 / readiness check %s failed: %s", name, name, exc)
    return Check(name, "failed", zh, en, type(exc).__name__ if exc is not None else None)


@cache
def newest_revisions() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this yecai (read once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


@cache
def known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(revision.revision for revision in script.walk_revisions())


def database_checks(store: Store) -> list[Check]:
    """The store answers, and its schema is the newest this code knows."""
    try:
        with store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:
        return [
            _failed(
                "database",
                "存储（数据库）无法连接或不应答：请检查数据库服务和 YECAI_DATABASE_URL",
                "the store (database) does not answer: check the database server and YECAI_DATABASE_URL",
                exc,
            ),
            Check("schema", "skipped"),
        ]
    newest = newest_revisions()
    if current == newest:
        return [Check("database", "ok"), Check("schema", "ok")]
    shown, wanted = ", ".join(sorted(current)) or "无 none", ", ".join(sorted(newest))
    if current <= known_revisions():
        schema = _failed(
            "schema",
            f"数据库结构版本落后（当前 {shown}，应为 {wanted}）：重启 yecai 即自动迁移",
            f"the database schema is behind (at {shown}, expected {wanted}): restart yecai to migrate it",
        )
    else:
        schema = _failed(
            "schema",
            f"数据库结构版本 {shown} 比本程序新（本程序为 {wanted}）：请升级 yecai",
            f"the database schema {shown} is newer than this yecai ({wanted}): upgrade yecai",
        )
    return [Check("database", "ok"), schema]


class RedisCheck:
    """PING the distributed queue's Redis, with short socket timeouts (one client, reused)."""

    def __init__(self, url: str, timeout: float = CHECK_SECONDS) -> None:
        self._client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)

    def __call__(self) -> Check:
        try:
            self._client.ping()
        except Exception as exc:
            return _failed(
                "redis",
                "Redis 队列无法连接或不应答：请检查 Redis 服务和 YECAI_QUEUE_URL",
                "the Redis queue does not answer: check the Redis server and YECAI_QUEUE_URL",
                exc,
            )
        return Check("redis", "ok")

    def close(self) -> None:
        self._client.close()
