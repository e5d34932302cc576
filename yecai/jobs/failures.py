"""What a failed job run says: the bilingual text, action and fault of its `YecaiError`, and whether
another attempt can help.

Errors that name a person's fix (configuration or data, action `fail`) go to dead letters at once;
everything else — transient, remote, uncertain, unexpected — is retried with backoff first.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from yecai.errors import Action, Fault, YecaiError


@dataclass(frozen=True, slots=True)
class JobFailure:
    zh: str
    en: str
    action: str
    fault: str
    error_type: str
    context: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, exc: BaseException, job: str) -> JobFailure:
        if isinstance(exc, YecaiError):
            context = {
                name: value
                for name, value in (
                    ("connection", exc.context.connection),
                    ("stream", exc.context.stream),
                    ("source_key", exc.context.source_key),
                    ("form", exc.context.form_id),
                    ("posting_key", exc.context.posting_key),
                )
                if value
            }
            return cls(exc.zh, exc.en, str(exc.action), str(exc.fault), type(exc).__name__, context)
        # Not one of ours: most likely a database or network hiccup below the taxonomy; retry it,
        # and if it persists the dead letter names the exception type.
        detail = f"{type(exc).__name__}: {exc}"[:1000]
        return cls(
            f"作业 {job} 意外出错：{detail}",
            f"job {job} failed unexpectedly: {detail}",
            str(Action.RETRY),
            str(Fault.TRANSIENT),
            type(exc).__name__,
        )

    @property
    def retryable(self) -> bool:
        if self.action in (Action.RETRY, Action.UNCERTAIN):
            return True
        return self.action == Action.FAIL and self.fault in (Fault.REMOTE, Fault.TRANSIENT)

    @property
    def connection(self) -> str | None:
        return self.context.get("connection")

    def text(self) -> str:
        where = " ".join(f"{k}={v}" for k, v in self.context.items())
        return f"{self.zh} / {self.en}" + (f" [{where}]" if where else "")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobFailure:
        return cls(
            **{k: data[k] for k in ("zh", "en", "action", "fault", "error_type")},
            context=data.get("context") or {},
        )


def backoff(
    attempt: int, *, base: float, cap: float, jitter: float, rng: random.Random | None = None
) -> float:
    """Delay before attempt `attempt + 1`: base × 2^(attempt−1), capped, with a random share
    (`jitter` of it) so that jobs failing together do not come back together."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    draw = (rng or random).random()
    return delay * (1 - jitter) + delay * jitter * draw
