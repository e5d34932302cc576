"""What every alert channel is: a name, a policy (which events, how often) and `send`.

The robots (`robots.py`) and email (`mail.py`) implement `AlertChannel`; the dispatcher only sees
this protocol. A refused or failed send raises `AlertSendError`, whose text the dispatcher stores
(redacted) in `alert_deliveries` — it never reaches the job that emitted the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from yecai.alerts.messages import AlertText, Language, at_least
from yecai.errors import Action, Fault, YecaiError


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """Which events a channel hears and how often it may speak."""

    events: tuple[str, ...] = ()  # names or prefixes ("kingdee", "job.dead", "run.*"); empty: all
    min_severity: str = "info"
    dedupe_minutes: int = 30
    max_per_hour: int = 20
    language: Language = "both"

    def wants(self, event: str, severity: str) -> bool:
        if not at_least(severity, self.min_severity):
            return False
        return not self.events or any(_matches(event, pattern) for pattern in self.events)


def _matches(event: str, pattern: str) -> bool:
    """`kingdee`, `kingdee.` and `kingdee.*` all match kingdee.error; `job.dead` matches itself."""
    stem = pattern.strip().removesuffix("*").removesuffix(".")
    return stem == "" or event == stem or event.startswith(stem + ".")


class AlertSendError(YecaiError):
    """A channel did not take the message (refused, unreachable, malformed answer)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(zh, en, Action.RETRY, Fault.REMOTE)


class AlertChannel(Protocol):
    name: str  # the connection's name in the workspace
    platform: str  # dingtalk | feishu | wecom | email
    policy: ChannelPolicy

    def send(self, alert: AlertText) -> None:
        """Deliver one alert or raise AlertSendError."""
        ...

    def secret_values(self) -> list[str]:
        """Every credential this channel holds, to be redacted from what is stored and shown."""
        ...
