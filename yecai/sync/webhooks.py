"""Receiving webhooks: de-duplicate and durably stage pushed events before acknowledging.

Nothing lost, nothing doubled: a delivery is checked first (`inspect`: size, signature, JSON,
event id and type — pure CPU, no database); then `store_deliveries` writes any number of checked
deliveries in one transaction. Each event id is claimed with INSERT … ON CONFLICT DO NOTHING
RETURNING: an id that is not returned was stored before and is answered "duplicate", storing
nothing; the records the claimed events carry are staged in the same transaction, and only after
its commit does the caller answer 2xx. A record is new ("stored") exactly when it differs from the
latest version of its source key, else "unchanged"; a race with another writer on a source key
runs the transaction again, never answering "duplicate" for an event that was not stored. A
deletion event stages a tombstone. Replaying a whole delivery log is therefore safe.

A batch that fails for any other reason is stored again one delivery at a time, so a bad event
gets its own error and never fails the good ones beside it. `receive` is the one-event path.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yecai import jsonutil
from yecai.sources.connector import Connector
from yecai.sources.paging import dig, dotted
from yecai.sources.rest import RestStream
from yecai.sources.webhooks import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DEPTH,
    WebhookReceipt,
    too_large,
    verify,
)
from yecai.store.base import utc_now
from yecai.store.db import Store
from yecai.store.webhook_tables import WebhookEvent
from yecai.sync.intake import stage_items, staged_in_retry


@dataclass(frozen=True, slots=True)
class Delivery:
    """An authentic, well-formed event, ready to store (what `inspect` lets through)."""

    connection: str
    event_id: str
    event_type: str
    body_hash: str
    stream: RestStream | None = None  # the stream the event type feeds; None: logged, not staged
    item: dict[str, Any] | None = None  # the record to stage (a tombstone for a deletion)


def _duplicate(event_id: str) -> WebhookReceipt:
    # 2xx, not an error: the sender must stop redelivering an event that is already stored.
    return WebhookReceipt(200, "duplicate", "重复事件，已存储过", "duplicate event, already stored", event_id)


def _retry(event_id: str) -> WebhookReceipt:
    # Still losing a race after several tries: nothing was stored, so the sender must deliver again.
    return WebhookReceipt(
        503,
        "retry",
        "同一记录正被并发写入，事件未存储；请稍后重发",
        "the same record is being written concurrently; the event was not stored, deliver it again",
        event_id,
    )


def inspect(
    connector: Connector,
    *,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Delivery | WebhookReceipt:
    """The delivery to store, or the refusal to answer; touches no database.

    `max_body_bytes` and `max_depth` bound what a sender can make us parse (the web app passes
    the YECAI_WEBHOOK_* settings); a body beyond them is refused with 413 or 400, never parsed.
    """
    spec = connector.webhooks
    if spec is None:
        return WebhookReceipt(
            404, "refused", "该连接未启用 Webhook", "webhooks are not enabled for this connection"
        )
    if len(body) > max_body_bytes:
        return too_large(max_body_bytes)
    refusal = verify(spec, headers, body, time.time() if now is None else now)
    if refusal is not None:
        return refusal
    try:
        event = jsonutil.loads_untrusted(body, max_depth=max_depth)
    except jsonutil.UntrustedJSONError as refused:
        return WebhookReceipt(400, "invalid", refused.zh, refused.en)
    except ValueError:
        return WebhookReceipt(400, "invalid", "事件不是有效的 JSON", "the event is not valid JSON")
    if not isinstance(event, dict):
        return WebhookReceipt(400, "invalid", "事件应为 JSON 对象", "the event must be a JSON object")
    if spec.event_id_header:
        wanted = spec.event_id_header.lower()
        event_id = next((v for k, v in headers.items() if k.lower() == wanted), None)
    else:
        event_id = dig(event, dotted(spec.event_id_path))
    event_type = dig(event, dotted(spec.event_type_path))
    if not event_id or not isinstance(event_type, str):
        return WebhookReceipt(400, "invalid", "事件缺少 ID 或类型", "the event lacks an id or a type")
    event_id = str(event_id)
    body_hash = hashlib.sha256(body).hexdigest()
    target = spec.events.get(event_type)
    if target is None:
        return Delivery(connector.connection, event_id, event_type, body_hash)
    data = dig(event, dotted(spec.data_path))
    if not isinstance(data, dict):
        return WebhookReceipt(400, "invalid", "事件缺少数据对象", "the event lacks its data object", event_id)
    binding = connector.streams[target.stream]
    item = dict(data)
    if target.deleted:
        assert binding.deleted_field is not None  # the connector spec guarantees it
        item[binding.deleted_field] = True
    return Delivery(connector.connection, event_id, event_type, body_hash, binding.stream, item)


_CLAIMED = ("connection", "event_id", "event_type", "outcome", "body_hash")


def _arrays(names: Sequence[str], types: Sequence[Any], rows: Sequence[dict[str, Any]]) -> Any:
    """PostgreSQL: the rows as one `unnest` of column arrays — one short statement whatever the
    batch size, parsed and planned once, instead of a multi-row VALUES of thousands of parameters."""
    columns = [
        cast(bindparam(f"_{name}", [row[name] for row in rows], type_=ARRAY(kind)), ARRAY(kind))
        for name, kind in zip(names, types, strict=True)
    ]
    return func.unnest(*columns).table_valued(*names).render_derived()


def _claim(session: Session, deliveries: Sequence[Delivery]) -> dict[tuple[str, str], int]:
    """Insert the events' rows unless their ids are stored; the new rows' ids by (connection, id).

    An id another transaction holds uncommitted waits for it (PostgreSQL) or for the write lock
    (SQLite), then counts as stored: the claim is the de-duplication, settled in the database.
    """
    table = WebhookEvent.__table__
    now = utc_now()
    rows = [
        {
            "connection": d.connection,
            "event_id": d.event_id,
            "event_type": d.event_type,
            # staged events get their final outcome and record below, in the same transaction
            "outcome": "ignored" if d.stream is None else "stored",
            "body_hash": d.body_hash,
        }
        for d in deliveries
    ]
    returned = (table.c.id, table.c.connection, table.c.event_id)
    if session.get_bind().dialect.name == "postgresql":
        source = _arrays(_CLAIMED, [Text] * len(_CLAIMED), rows)
        statement: Any = (
            postgresql.insert(table)
            .from_select(
                [*_CLAIMED, "received_at"],
                select(*(source.c[name] for name in _CLAIMED), literal(now, table.c.received_at.type)),
            )
            .on_conflict_do_nothing(index_elements=["connection", "event_id"])
            .returning(*returned)
        )
        found = session.execute(statement)
    else:
        statement = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=["connection", "event_id"])
            .returning(*returned)
        )
        found = session.execute(statement, [{**row, "received_at": now} for row in rows])
    return {(c, e): i for i, c, e in found}


def _settle(session: Session, changes: Sequence[dict[str, Any]]) -> None:
    """Give staged events their outcome and record (rows claimed earlier in the transaction)."""
    table = WebhookEvent.__table__
    if session.get_bind().dialect.name == "postgresql":
        source = _arrays(("row", "outcome", "record"), (BigInteger, Text, BigInteger), changes)
        session.execute(
            update(table)
            .where(table.c.id == source.c.row)
            .values(outcome=source.c.outcome, record_id=source.c.record)
        )
        return
    session.execute(
        update(table)
        .where(table.c.id == bindparam("row"))
        .values(outcome=bindparam("outcome"), record_id=bindparam("record")),
        changes,
    )


def _store_batch(store: Store, deliveries: Sequence[Delivery]) -> list[str]:
    """One transaction for the whole batch; each delivery's outcome, in order."""
    outcomes = ["duplicate"] * len(deliveries)
    first: dict[tuple[str, str], int] = {}  # a redelivery inside the batch is its own duplicate
    for place, delivery in enumerate(deliveries):
        first.setdefault((delivery.connection, delivery.event_id), place)
    # claimed in key order: two processes claiming overlapping ids wait for each other in the
    # same order, never in a circle (a deadlock would cost the batch its one-transaction path)
    unique = [deliveries[first[key]] for key in sorted(first)]
    with store.durable_transaction() as session:  # 2xx follows: synced to disk, not only written
        claimed = _claim(session, unique) if unique else {}
        # by connection and stream, in arrival order: later events of a key compare with earlier ones
        groups: dict[tuple[str, str], list[int]] = {}
        for key, place in first.items():
            if key not in claimed:
                continue
            delivery = deliveries[place]
            if delivery.stream is None:
                outcomes[place] = "ignored"
                continue
            groups.setdefault((delivery.connection, delivery.stream.name), []).append(place)
        changes: list[dict[str, Any]] = []
        for (connection, _stream), places in groups.items():
            stream = deliveries[places[0]].stream
            assert stream is not None
            staged = stage_items(
                session,
                connection=connection,
                stream=stream,
                items=[deliveries[p].item or {} for p in places],
            )
            for place, (record_id, _key, _digest) in zip(places, staged, strict=True):
                delivery = deliveries[place]
                # new exactly when it differs from the key's latest version (a deletion, a value
                # changed back and a re-creation after a deletion all do)
                outcomes[place] = "stored" if record_id is not None else "unchanged"
                changes.append(
                    {
                        "row": claimed[(delivery.connection, delivery.event_id)],
                        "outcome": outcomes[place],
                        "record": record_id,
                    }
                )
        if changes:
            _settle(session, changes)
    return outcomes


_MESSAGES = {
    "stored": ("事件已存储", "event stored"),
    "unchanged": ("事件已存储（记录内容未变）", "event stored (record content unchanged)"),
}


def _receipt(delivery: Delivery, outcome: str) -> WebhookReceipt:
    if outcome == "duplicate":
        return _duplicate(delivery.event_id)
    if outcome == "ignored":
        zh = f"事件类型 {delivery.event_type} 无需处理，已记录"
        en = f"event type {delivery.event_type} is not used; logged"
    else:
        zh, en = _MESSAGES[outcome]
    return WebhookReceipt(200, outcome, zh, en, delivery.event_id)


def store_deliveries(store: Store, deliveries: Sequence[Delivery]) -> list[WebhookReceipt | Exception]:
    """Store the deliveries in one transaction; per delivery its receipt, or the error it raised.

    Each receipt is given only after the commit. A race lost — another writer staging the same
    source key first — rolls the transaction back and runs it again, when it compares with the
    version the other stored. Any other failure, or a race still lost, is retried one delivery
    at a time, so only the delivery that fails gets the error (or the 503 to deliver again).
    """
    if not deliveries:
        return []
    try:
        outcomes = staged_in_retry(lambda: _store_batch(store, deliveries))
    except Exception as exc:
        if len(deliveries) == 1:
            return [_retry(deliveries[0].event_id) if isinstance(exc, IntegrityError) else exc]
        # each delivery on its own: its own transaction says which one it was
        return [answer for delivery in deliveries for answer in store_deliveries(store, [delivery])]
    return [_receipt(d, o) for d, o in zip(deliveries, outcomes, strict=True)]


def receive(
    store: Store,
    connector: Connector,
    *,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> WebhookReceipt:
    """Verify and store one pushed event in a transaction of its own (the unbatched path)."""
    checked = inspect(
        connector, headers=headers, body=body, now=now, max_body_bytes=max_body_bytes, max_depth=max_depth
    )
    if isinstance(checked, WebhookReceipt):
        return checked
    (answer,) = store_deliveries(store, [checked])
    if isinstance(answer, Exception):
        raise answer
    return answer
