"""The alert dispatcher: the hook that turns job events into messages on the configured channels.

For each event it renders the message once per language, computes the de-duplication key and,
for every channel whose filter wants the event, lets the store decide (duplicate, rate-limited or
send) and records what happened. Sending is synchronous within the emitting thread, bounded by
each channel's timeout; nothing a channel or the store does ever raises into the job.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from yecai.alerts import deliveries
from yecai.alerts.channels import AlertChannel, AlertSendError
from yecai.alerts.config import ChannelSet, ChannelSource
from yecai.alerts.deliveries import Delivery
from yecai.alerts.messages import AlertText, Language, dedupe_key, render, severity_of
from yecai.observability.events import AlertHooks
from yecai.secrets import redact
from yecai.store.clock import utcnow
from yecai.store.db import Store

log = logging.getLogger("yecai.alerts")

HOOK_NAME = "channels"
ERROR_LIMIT = 2000


class AlertDispatcher:
    """`(event, payload) -> None`, registered on the alert hooks of a runtime."""

    def __init__(
        self,
        store: Store,
        channels: Sequence[AlertChannel] | ChannelSource,
        *,
        secrets: Sequence[str] = (),
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        if callable(channels):
            self._source: ChannelSource = channels
        else:
            fixed = ChannelSet(list(channels))
            self._source = lambda: fixed
        self._extra_secrets = list(secrets)  # values to redact beyond the channels' own
        self._clock = clock

    def register(self, hooks: AlertHooks, name: str = HOOK_NAME) -> AlertDispatcher:
        hooks.register(name, self)
        return self

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        try:
            self.dispatch(event, payload)
        except Exception:
            log.exception("告警分发出错 / alert dispatch failed for %s", event)

    def dispatch(
        self, event: str, payload: Mapping[str, Any], *, only: str | None = None, force: bool = False
    ) -> list[Delivery]:
        """Deliver to every channel that wants the event (`only`: that channel; `force`: ignore its
        event filter). Returns the recorded deliveries; failures are recorded, not raised."""
        found = self._source()
        secrets = [*found.secrets, *self._extra_secrets]
        for channel in found.channels:
            secrets.extend(channel.secret_values())
        severity = severity_of(event)
        key = dedupe_key(event, payload)
        now = self._clock()
        texts: dict[Language, AlertText] = {}
        results = []
        for channel in found.channels:
            if only is not None and channel.name != only:
                continue
            if not force and not channel.policy.wants(event, severity):
                continue
            language = channel.policy.language
            if language not in texts:
                texts[language] = render(event, payload, language=language, secrets=secrets, now=now)
            try:
                results.append(self._deliver(channel, texts[language], key, secrets))
            except Exception:
                # The store failed us: this channel is skipped, the next still gets its chance.
                log.exception(
                    "告警通道 %s 记录失败 / alert channel %s: cannot record", channel.name, channel.name
                )
        return results

    def _deliver(self, channel: AlertChannel, text: AlertText, key: str, secrets: list[str]) -> Delivery:
        policy = channel.policy
        decision = deliveries.reserve(
            self.store,
            channel=channel.name,
            event=text.event,
            dedupe_key=key,
            title=text.title,
            body=text.plain(),
            now=self._clock(),
            dedupe_minutes=policy.dedupe_minutes,
            max_per_hour=policy.max_per_hour,
        )
        if decision.status != deliveries.SENDING:
            log.info("告警 %s 未发往 %s：%s / alert not sent", text.event, channel.name, decision.status)
            return decision
        status, error = "sent", None
        try:
            channel.send(text)
        except AlertSendError as exc:
            # The channels word their errors themselves and never quote a remote body.
            status, error = "failed", redact(str(exc), secrets)[:ERROR_LIMIT]
        except Exception as exc:
            # Anything else may carry what a server said (an exception's text is anyone's): what
            # is stored, and later shown to finance and auditors, is the type in fixed words.
            status = "failed"
            kind = type(exc).__name__
            error = f"告警通道内部错误（{kind}）/ alert channel failed internally ({kind})"
        if error:
            log.warning(
                "告警通道 %s 发送失败 / alert channel %s failed: %s", channel.name, channel.name, error
            )
        deliveries.settle(self.store, decision.id, status=status, error=error)
        return Delivery(
            decision.id,
            decision.channel,
            decision.event,
            decision.dedupe_key,
            status,
            decision.title,
            decision.body,
            error,
            decision.at,
        )

    def test(self, channel: str, *, who: str = "-") -> Delivery | None:
        """Send a test alert through one channel, whatever its event filter (None: no such channel).
        Each test is its own problem (a fresh key), but the hourly limit still applies."""
        results = self.dispatch(
            "alert.test",
            {"channel": channel, "by": who, "nonce": uuid.uuid4().hex[:8]},
            only=channel,
            force=True,
        )
        return results[0] if results else None
