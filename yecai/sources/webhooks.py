"""Webhooks of source systems: how an event is signed, checked and read (no storage here).

A source pushes JSON events signed with an HMAC over a template of a timestamp and the raw body;
`WebhookSpec` describes one system's variant (header names, template, digest, tolerance, where the
event id, type and data are, and which stream each event type feeds). `verify` refuses forged or
stale deliveries; `yecai.sync.webhooks.receive` stores what passes.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookEventSpec(_Spec):
    stream: str
    deleted: bool = False  # the event removes the record (a tombstone)


class WebhookSpec(_Spec):
    """How the system signs the events it pushes, and which stream each event type feeds."""

    secret: str
    signature_header: str = "X-Signature"
    signature_prefix: str = "sha256="
    timestamp_header: str | None = "X-Timestamp"
    template: str = "{timestamp}.{body}"  # fields: {timestamp} {body} (the raw body as text)
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    tolerance_seconds: float = Field(300, gt=0)  # refuse stale or future timestamps (replays)
    event_id_header: str | None = None  # else event_id_path in the body
    event_id_path: str = "event_id"
    event_type_path: str = "event_type"
    data_path: str = "data"
    events: dict[str, WebhookEventSpec]


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    """What to answer the sender: HTTP status, outcome and a bilingual message."""

    status: int
    outcome: str  # stored | unchanged | duplicate | ignored | refused | invalid | retry
    zh: str
    en: str
    event_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "event_id": self.event_id, "message": f"{self.zh} / {self.en}"}


# Whole seconds (or milliseconds), ASCII digits only: float() would take "nan" — which compares
# as inside any window — "inf", "1e9", "١٧٠٠…" and surrounding blanks. 15 digits cover milliseconds.
_TIMESTAMP = re.compile(r"[0-9]{1,15}", re.ASCII)


def _expected_signature(spec: WebhookSpec, timestamp: str, body: bytes) -> str:
    message = spec.template.format(timestamp=timestamp, body=body.decode("utf-8", errors="replace"))
    digest = hmac.new(spec.secret.encode("utf-8"), message.encode("utf-8"), spec.algorithm).digest()
    text = digest.hex() if spec.encoding == "hex" else base64.b64encode(digest).decode("ascii")
    return spec.signature_prefix + text


def sign(spec: WebhookSpec, timestamp: str, body: bytes) -> str:
    """The signature header value a sender following `spec` puts on `body` (for tests, tools)."""
    return _expected_signature(spec, timestamp, body)


def verify(spec: WebhookSpec, headers: Mapping[str, str], body: bytes, now: float) -> WebhookReceipt | None:
    """None when the delivery is authentic and fresh; else the refusal to answer."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = ""
    if spec.timestamp_header:
        timestamp = lower.get(spec.timestamp_header.lower(), "")
        if not _TIMESTAMP.fullmatch(timestamp):
            return WebhookReceipt(
                401,
                "refused",
                "缺少或无效的时间戳（应为整数秒或毫秒）",
                "missing or invalid timestamp (whole seconds or milliseconds expected)",
            )
        sent = int(timestamp)
        if sent > 10**11:  # milliseconds
            sent //= 1000
        if abs(now - sent) > spec.tolerance_seconds:
            return WebhookReceipt(
                401,
                "refused",
                f"时间戳超出允许范围（±{spec.tolerance_seconds:.0f} 秒），疑似重放",
                f"timestamp outside the ±{spec.tolerance_seconds:.0f} s window; possible replay",
            )
    given = lower.get(spec.signature_header.lower(), "")
    # Bytes, not str: compare_digest raises on a str with non-ASCII characters, and the header is
    # whatever an unauthenticated caller sent. surrogatepass: even a lone surrogate compares.
    expected = _expected_signature(spec, timestamp, body).encode("utf-8")
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected):
        return WebhookReceipt(401, "refused", "签名校验失败", "signature verification failed")
    return None


# Defaults of the YECAI_WEBHOOK_MAX_BODY_BYTES / YECAI_WEBHOOK_MAX_DEPTH settings: real events are
# a few kilobytes and a handful of levels deep.
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64


def too_large(max_body_bytes: int) -> WebhookReceipt:
    """The 413 for a body over the limit (the web route answers it before reading further)."""
    return WebhookReceipt(
        413,
        "refused",
        f"事件过大（上限 {max_body_bytes} 字节）",
        f"the event is too large (the limit is {max_body_bytes} bytes)",
    )
