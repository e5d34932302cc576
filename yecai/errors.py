"""Error taxonomy: every failure says what happens next and whose move it is.

`Action` is what yecai does with the failed unit of work (retry it, fail it for a person, skip
it, or treat its outcome as unknown until Kingdee is asked). `Fault` tells the user what to fix:
configuration, data, the remote system, or nothing (transient). Messages are Chinese first with
English beside, and carry the identifiers needed to find the thing (invariant 5 in docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    RETRY = "retry"  # safe to try again later; nothing was changed remotely
    FAIL = "fail"  # a person must act; retrying cannot help
    SKIP = "skip"  # nothing to do (e.g. already present)
    UNCERTAIN = "uncertain"  # a write may or may not have happened: look it up before resending


class Fault(StrEnum):
    CONFIGURATION = "configuration"  # fix connection, mapping table or rule set
    DATA = "data"  # fix the source record
    REMOTE = "remote"  # the other system refused or failed
    TRANSIENT = "transient"  # wait for the retry


@dataclass(frozen=True, slots=True)
class Context:
    """Identifiers that locate a failure (all optional; filled in as far as known)."""

    connection: str | None = None
    stream: str | None = None
    source_key: str | None = None
    form_id: str | None = None
    posting_key: str | None = None

    def describe(self) -> str:
        parts = [f"{name}={value}" for name, value in self._items() if value]
        return " ".join(parts)

    def _items(self) -> list[tuple[str, str | None]]:
        return [
            ("connection", self.connection),
            ("stream", self.stream),
            ("source_key", self.source_key),
            ("form", self.form_id),
            ("posting_key", self.posting_key),
        ]


@dataclass(slots=True)
class YecaiError(Exception):
    """Base error: bilingual message, next action, fault owner and locating context."""

    zh: str
    en: str
    action: Action = Action.FAIL
    fault: Fault = Fault.REMOTE
    context: Context = field(default_factory=Context)

    def __post_init__(self) -> None:
        Exception.__init__(self, str(self))

    def __str__(self) -> str:
        where = self.context.describe()
        return f"{self.zh} / {self.en}" + (f" [{where}]" if where else "")


class ConfigurationError(YecaiError):
    """Settings, mapping tables or rule sets are wrong or incomplete."""

    def __init__(self, zh: str, en: str, context: Context | None = None) -> None:
        super().__init__(zh, en, Action.FAIL, Fault.CONFIGURATION, context or Context())


class DataError(YecaiError):
    """What a person entered or a source sent is wrong: fix the data, then try again."""

    def __init__(self, zh: str, en: str, context: Context | None = None) -> None:
        super().__init__(zh, en, Action.FAIL, Fault.DATA, context or Context())
