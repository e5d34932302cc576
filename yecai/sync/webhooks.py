"""Receiving webhooks: de-duplicate and durably stage pushed events before acknowledging.

Nothing lost, nothing doubled: the delivery is verified first (`yecai.sources.webhooks.verify`);
then the event id is looked up — a redelivered event is answered "duplicate" and stores nothing;
otherwise the event row and the record it carries are committed in one transaction, and only then
does the caller answer 2xx. The record is new ("stored") exactly when it differs from the latest
version of its source key, else "unchanged"; a race with another writer is run again, never
answered "duplicate" for an event that was not stored. A deletion event stages a tombstone. Replaying a whole delivery log is
therefore safe.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yecai import jsonutil
from yecai.sources.connector import Connector
from yecai.sources.paging import dig, dotted
from yecai.sources.webhooks import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DEPTH,
    WebhookReceipt,
    too_large,
    verify,
)
from yecai.store.db import Store
from yecai.store.webhook_tables import WebhookEvent
from yecai.sync.intake import stage_items, staged_in_retry


def _duplicate(event_id: str) -> WebhookReceipt:
    # 2xx, not an error: the sender must stop redelivering an event that is already stored.
    return WebhookReceipt(200, "duplicate", "重复事件，已存储过", "duplicate event, already stored", event_id)


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
    """Verify and store one pushed event; the answer says what the sender should be told.

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
    lower = {k.lower(): v for k, v in headers.items()}
    event_id = (
        lower.get(spec.event_id_header.lower())
        if spec.event_id_header
        else dig(event, dotted(spec.event_id_path))
    )
    event_type = dig(event, dotted(spec.event_type_path))
    if not event_id or not isinstance(event_type, str):
        return WebhookReceipt(400, "invalid", "事件缺少 ID 或类型", "the event lacks an id or a type")
    event_id = str(event_id)
    body_hash = hashlib.sha256(body).hexdigest()
    target = spec.events.get(event_type)
    data = dig(event, dotted(spec.data_path))
    if target is not None and not isinstance(data, dict):
        return WebhookReceipt(400, "invalid", "事件缺少数据对象", "the event lacks its data object", event_id)

    def attempt() -> tuple[str, int | None]:
        with store.transaction() as session:
            seen = session.scalar(
                select(WebhookEvent.id).where(
                    WebhookEvent.connection == connector.connection, WebhookEvent.event_id == event_id
                )
            )
            if seen is not None:
                return "duplicate", None
            record_id = None
            outcome = "ignored"
            if target is not None:
                assert isinstance(data, dict)
                binding = connector.streams[target.stream]
                item = dict(data)
                if target.deleted:
                    assert binding.deleted_field is not None  # the connector spec guarantees it
                    item[binding.deleted_field] = True
                ((record_id, _key, _digest),) = stage_items(
                    session, connection=connector.connection, stream=binding.stream, items=[item]
                )
                # new exactly when it differs from the key's latest version (a deletion, a value
                # changed back and a re-creation after a deletion all do)
                outcome = "stored" if record_id is not None else "unchanged"
            session.add(
                WebhookEvent(
                    connection=connector.connection,
                    event_id=event_id,
                    event_type=event_type,
                    outcome=outcome,
                    body_hash=body_hash,
                    record_id=record_id,
                )
            )
            return outcome, record_id

    try:
        # A race lost — the same event delivered twice at once, or another event of the same
        # source key staged first — rolls the transaction back; run again, the event is then
        # found a duplicate, or compared with the version the other delivery stored.
        outcome, _record = staged_in_retry(attempt)
    except IntegrityError:
        # Still losing after several tries: nothing was stored, so the sender must deliver again.
        return WebhookReceipt(
            503,
            "retry",
            "同一记录正被并发写入，事件未存储；请稍后重发",
            "the same record is being written concurrently; the event was not stored, deliver it again",
            event_id,
        )
    if outcome == "duplicate":
        return _duplicate(event_id)
    messages = {
        "stored": ("事件已存储", "event stored"),
        "unchanged": ("事件已存储（记录内容未变）", "event stored (record content unchanged)"),
        "ignored": (
            f"事件类型 {event_type} 无需处理，已记录",
            f"event type {event_type} is not used; logged",
        ),
    }
    zh, en = messages[outcome]
    return WebhookReceipt(200, outcome, zh, en, event_id)
