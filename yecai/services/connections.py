"""Connections as people see them: address, stored secret names, health; "test connection"; secrets.

One place for what the JSON API and the console show about each connection of the workspace —
never a secret's value, only which names are stored (encrypted at rest). `test_connection` makes
one harmless read (the chart of accounts, the first stream) and reports the outcome instead of
raising. Storing or deleting a secret writes the audit log (the value never enters it).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

from yecai.auth import audit
from yecai.auth.principal import Principal
from yecai.errors import DataError, YecaiError
from yecai.secrets import SecretBox
from yecai.services import health
from yecai.store.db import Store
from yecai.workspace import AlertConnection, KingdeeConnection, SourceConnection, Workspace

SECRET_NAME_MAX = 80


# "will retry" belongs to the job queue, which does retry; a person's one-off try (测试连接, a CLI
# command) does not, so it says what to do instead
_RETRY_ZH = re.compile(r"[，,；;]?\s*稍后重试")
_RETRY_EN = re.compile(r"[;,]?\s*will retry")
DO_ZH = "；请确认对方服务已启动、地址可达，然后再试一次"
DO_EN = "; check that the server is running and reachable, then try again"


def without_retry(zh: str, en: str) -> tuple[str, str]:
    """An error's two texts as a one-off try reports them: no promise to retry, what to do instead."""
    if not (_RETRY_ZH.search(zh) or _RETRY_EN.search(en)):
        return zh, en
    return _RETRY_ZH.sub("", zh) + DO_ZH, _RETRY_EN.sub("", en) + DO_EN


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    name: str
    kind: str
    address: str | None
    stored_secrets: list[str]
    paused: bool
    paused_reason: str | None
    consecutive_failures: int
    last_success_at: dt.datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ConnectionTest:
    connection: str
    ok: bool
    message_zh: str
    message_en: str
    seconds: float


def _address(c: SourceConnection | KingdeeConnection | AlertConnection) -> str | None:
    if isinstance(c, KingdeeConnection):
        return c.server_url
    if isinstance(c, AlertConnection):
        # a robot's URL carries its key: show the platform (and SMTP host), never the URL
        return c.host or c.channel
    return c.base_url or c.connector


def connection_rows(store: Store, space: Workspace, secrets: SecretBox) -> list[ConnectionRow]:
    states = health.all_health(store)
    rows: list[ConnectionRow] = []
    for name, c in space.connections.items():
        state = states.get(name)
        rows.append(
            ConnectionRow(
                name=name,
                kind=c.kind,
                address=_address(c),
                stored_secrets=secrets.names(name),
                paused=bool(state and state.paused),
                paused_reason=state.paused_reason if state else None,
                consecutive_failures=state.consecutive_failures if state else 0,
                last_success_at=state.last_success_at if state else None,
                last_error=state.last_error if state else None,
            )
        )
    return rows


def test_connection(
    space: Workspace, secrets: SecretBox, name: str, *, store: Store | None = None
) -> ConnectionTest:
    """One read through the connection; KeyError when the workspace has no such connection.

    With `store`, the outcome is recorded in the connection's health, so the health column and
    the test never disagree.
    """
    if name not in space.connections:
        raise KeyError(name)
    result = _try_connection(space, secrets, name)
    if store is not None:
        health.record_test(store, name, ok=result.ok, message=f"{result.message_zh} / {result.message_en}")
    return result


def _try_connection(space: Workspace, secrets: SecretBox, name: str) -> ConnectionTest:
    c = space.connections[name]
    started = time.perf_counter()

    def outcome(ok: bool, zh: str, en: str) -> ConnectionTest:
        return ConnectionTest(name, ok, zh, en, round(time.perf_counter() - started, 3))

    try:
        if isinstance(c, KingdeeConnection):
            with space.kingdee(name, secrets) as client:
                rows = client.execute_bill_query("BD_Account", ["FNumber"], limit=1)
                detail = f"科目读取正常 chart readable ({len(rows)} row)"
        elif isinstance(c, SourceConnection):
            connector = space.source(name, secrets)
            binding = next(iter(connector.streams.values()))
            if connector.pulls:
                source = connector.source()
                try:  # one request to the first stream proves address, credentials and format
                    source.get(binding.stream.path, dict(binding.stream.params), stream=binding.stream.name)
                finally:
                    source.close()
                detail = f"已读取 {binding.stream.name} / read {binding.stream.name}"
            else:  # pushed or imported: nothing to call, the connector opening is the test
                detail = f"配置有效（{c.source_kind}，无需拉取）/ configuration valid ({c.source_kind}, not pulled)"
        else:
            detail = "配置有效 configuration valid"
    except YecaiError as exc:
        return outcome(False, *without_retry(exc.zh, exc.en))
    except Exception as exc:  # a network failure is the answer to "test connection", not a server error
        return outcome(False, f"连接失败：{exc}", f"cannot connect: {exc}")
    return outcome(True, detail, detail)


def _check_key(key: str) -> None:
    if not key or not key.replace("_", "").isalnum() or len(key) > SECRET_NAME_MAX:
        raise DataError(
            "密钥名只能含字母、数字和下划线", "a secret name has letters, digits and underscores only"
        )


def set_secret(
    store: Store,
    secrets: SecretBox,
    space: Workspace | None,
    *,
    connection: str,
    key: str,
    value: str,
    by: Principal,
) -> bool:
    """Store a secret encrypted; returns whether one of that name existed before. Without a
    workspace (the CLI, before yecai.yaml is written) the connection name is not checked."""
    if space is not None and connection not in space.connections:
        raise DataError(f"工作区中没有连接 {connection}", f"the workspace has no connection {connection}")
    _check_key(key)
    if not value:
        raise DataError("密钥值不能为空", "a secret value may not be empty")
    existed = key in secrets.names(connection)
    secrets.set(connection, key, value)
    audit.log(
        store,
        by,
        action="secret.set",
        target_type="connection",
        target_id=f"{connection}.{key}",
        before={"stored": existed},
        after={"stored": True},
    )
    return existed


def delete_secret(store: Store, secrets: SecretBox, *, connection: str, key: str, by: Principal) -> bool:
    """Delete a stored secret; False when there was none."""
    removed = secrets.delete(connection, key)
    if removed:
        audit.log(
            store,
            by,
            action="secret.delete",
            target_type="connection",
            target_id=f"{connection}.{key}",
            before={"stored": True},
            after={"stored": False},
        )
    return removed
