"""Reading Kingdee's answers: envelopes, per-package results and the error carrying an outcome.

Business outcomes arrive in `Result.ResponseStatus` (also wrapped in `[[…]]` by
ExecuteBillQuery). A multi-package answer (BatchSave, or Submit/Audit/… on several bills) is split
per `DIndex`; call-level MsgCodes refuse the whole call and raise. What each MsgCode means is
decided by the table in `responses.py`, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yecai.errors import Context, YecaiError
from yecai.kingdee.responses import (
    CALL_LEVEL_CODES,
    DISCONNECTED_TAGS,
    NOT_CONFIRMED,
    Outcome,
    interpret,
    transport_outcome,
)


class KingdeeError(YecaiError):
    """A Kingdee call failed; `action` says whether to retry, fail, skip or look the write up."""

    def __init__(
        self,
        outcome: Outcome,
        detail: str = "",
        *,
        msg_code: int | None = None,
        context: Context | None = None,
    ) -> None:
        zh = outcome.zh + (f"：{detail}" if detail else "")
        en = outcome.en + (f": {detail}" if detail else "")
        super().__init__(zh, en, outcome.action, outcome.fault, context or Context())
        self.outcome = outcome  # its tag lets callers tell a lost connection from a refusal
        self.msg_code = msg_code
        self.detail = detail

    @property
    def disconnected(self) -> bool:
        """Contact with the data centre is lost (unreachable, session gone, login refused)."""
        return self.outcome.tag in DISCONNECTED_TAGS


@dataclass(frozen=True, slots=True)
class Message:
    field_name: str | None
    message: str
    index: int


@dataclass(slots=True)
class PackageResult:
    """The outcome of one data package (DIndex): a saved bill, or one bill of Submit/Audit/…"""

    index: int
    id: str | None = None
    number: str | None = None
    errors: list[Message] = field(default_factory=list)
    outcome: Outcome | None = None  # None when the package succeeded
    msg_code: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is None

    def describe(self) -> str:
        return "；".join(m.message for m in self.errors)


@dataclass(slots=True)
class SaveResult:
    """Per-package outcomes of a write, Kingdee's success messages and the raw answer."""

    packages: list[PackageResult]
    raw: Any
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.packages)


def status_of(body: Any) -> dict[str, Any] | None:
    """ResponseStatus from an envelope, also when wrapped in [[…]] (ExecuteBillQuery errors)."""
    while isinstance(body, list) and len(body) == 1:
        body = body[0]
    if isinstance(body, dict):
        result = body.get("Result")
        if isinstance(result, dict):
            status = result.get("ResponseStatus")
            if isinstance(status, dict):
                return status
    return None


def messages_of(items: Any) -> list[Message]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            out.append(
                Message(item.get("FieldName"), str(item.get("Message") or ""), int(item.get("DIndex") or 0))
            )
    return out


def raise_for_status(status: dict[str, Any] | None, context: Context) -> None:
    """Raise the outcome of a failed single-result answer (queries, View, reports)."""
    if status is None or status.get("IsSuccess", True):
        return
    text = "；".join(m.message for m in messages_of(status.get("Errors")))
    code = status.get("MsgCode")
    raise KingdeeError(interpret(code, text), text, msg_code=code, context=context)


def packages_of(raw: Any, count: int, context: Context) -> SaveResult:
    """Split a Save/BatchSave/Submit/Audit/… answer into `count` package outcomes."""
    status = status_of(raw)
    if status is None:
        raise KingdeeError(transport_outcome("malformed", write=True), str(raw)[:200], context=context)
    packages = [PackageResult(index=i) for i in range(count)]
    for entity in status.get("SuccessEntitys") or []:
        index = int(entity.get("DIndex") or 0)
        if 0 <= index < count:
            packages[index].id = None if entity.get("Id") is None else str(entity.get("Id"))
            packages[index].number = entity.get("Number")
    notes = [m.message for m in messages_of(status.get("SuccessMessages"))]
    if status.get("IsSuccess"):
        return SaveResult(packages, raw, notes)
    msg_code = status.get("MsgCode")
    errors = messages_of(status.get("Errors"))
    if msg_code in CALL_LEVEL_CODES:
        # Refused before any package ran (session, permission, throttling …): one error for all.
        text = "；".join(m.message for m in errors)
        raise KingdeeError(interpret(msg_code, text), text, msg_code=msg_code, context=context)
    by_index: dict[int, list[Message]] = {}
    for message in errors:
        by_index.setdefault(message.index, []).append(message)
    for package in packages:
        own = by_index.get(package.index)
        if own:
            package.errors = own
            package.msg_code = msg_code
            package.outcome = interpret(msg_code, "；".join(m.message for m in own))
        elif package.id is None:
            # Neither saved nor blamed: depending on the server the batch was rolled back or
            # this package was never reached — only a lookup can tell.
            package.outcome = NOT_CONFIRMED
    return SaveResult(packages, raw, notes)
