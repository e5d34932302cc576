"""The dispatcher on SQLite and PostgreSQL: de-duplication and the hourly limit held in the store
(also between two dispatchers — two processes — sharing it, concurrently), failures recorded and
never raised into the emitting job, the events and severity filters, redaction before anything
reaches a receiver, and the list of recent deliveries."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.support.receivers import FakeRobot
from yecai.alerts import AlertDispatcher, ChannelPolicy, ChannelSet, DingTalkRobot, recent_deliveries
from yecai.alerts.channels import AlertSendError
from yecai.alerts.messages import AlertText
from yecai.alerts.outbound import AllowedHost, OutboundPolicy
from yecai.observability.events import AlertHooks
from yecai.store.db import Store, open_store

# The fake robot listens on 127.0.0.1 over http: allowed explicitly, as a workspace would.
LOCAL = OutboundPolicy((AllowedHost("127.0.0.1", private=True, http=True),))
T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class RecordingChannel:
    """An in-memory channel: keeps what it was asked to send; can be told to fail."""

    platform = "test"

    def __init__(
        self, name: str, policy: ChannelPolicy | None = None, *, fail: Exception | None = None
    ) -> None:
        self.name = name
        self.policy = policy or ChannelPolicy()
        self.fail = fail
        self.sent: list[AlertText] = []
        self._lock = threading.Lock()

    def send(self, alert: AlertText) -> None:
        if self.fail is not None:
            raise self.fail
        with self._lock:
            self.sent.append(alert)

    def secret_values(self) -> list[str]:
        return []


def statuses(store: Store, channel: str | None = None) -> list[str]:
    return [d.status for d in reversed(recent_deliveries(store, limit=500, channel=channel))]


DEAD = {"job": "books", "dead_letter_id": 1, "error_zh": "出错", "error_en": "failed", "fault": "data"}


def test_the_same_problem_is_sent_once_per_window(store: Store) -> None:
    clock = Clock()
    channel = RecordingChannel("ops", ChannelPolicy(dedupe_minutes=30))
    dispatcher = AlertDispatcher(store, [channel], clock=clock)
    dispatcher("job.dead", DEAD)
    clock.advance(minutes=10)
    dispatcher("job.dead", {**DEAD, "dead_letter_id": 2})  # same job: the same problem
    dispatcher("job.dead", {**DEAD, "job": "other"})  # another job: another problem
    clock.advance(minutes=21)  # 31 minutes after the first
    dispatcher("job.dead", DEAD)
    assert statuses(store) == ["sent", "duplicate", "sent", "sent"]
    assert len(channel.sent) == 3
    [first, duplicate, *_] = list(reversed(recent_deliveries(store)))
    assert first.dedupe_key == duplicate.dedupe_key == "job.dead|job=books"
    assert duplicate.error is None


def test_a_failed_send_does_not_hide_the_next_report(store: Store) -> None:
    clock = Clock()
    channel = RecordingChannel("ops", fail=AlertSendError("拒绝", "refused"))
    dispatcher = AlertDispatcher(store, [channel], clock=clock)
    dispatcher("job.dead", DEAD)
    channel.fail = None
    clock.advance(minutes=1)
    dispatcher("job.dead", DEAD)
    assert statuses(store) == ["failed", "sent"]
    failed = recent_deliveries(store)[-1]
    assert failed.error == "拒绝 / refused"


def test_hourly_limit_counts_attempts_and_recovers(store: Store) -> None:
    clock = Clock()
    channel = RecordingChannel("ops", ChannelPolicy(max_per_hour=3))
    dispatcher = AlertDispatcher(store, [channel], clock=clock)
    for number in range(5):
        dispatcher("job.dead", {**DEAD, "job": f"job{number}"})
        clock.advance(minutes=1)
    assert statuses(store) == ["sent", "sent", "sent", "rate_limited", "rate_limited"]
    clock.advance(minutes=57)  # the first of the three is now more than an hour old
    dispatcher("job.dead", {**DEAD, "job": "late"})
    assert statuses(store)[-1] == "sent"
    assert len(channel.sent) == 4


def test_limits_are_per_channel(store: Store) -> None:
    quiet = RecordingChannel("quiet", ChannelPolicy(max_per_hour=1))
    loud = RecordingChannel("loud", ChannelPolicy(max_per_hour=10))
    dispatcher = AlertDispatcher(store, [quiet, loud], clock=Clock())
    for number in range(3):
        dispatcher("job.dead", {**DEAD, "job": f"job{number}"})
    assert statuses(store, "quiet") == ["sent", "rate_limited", "rate_limited"]
    assert statuses(store, "loud") == ["sent", "sent", "sent"]


def test_two_dispatchers_sharing_a_store_agree(store_url: str) -> None:
    """Two processes (own engines, own channel objects) see each other's deliveries."""
    first_store, second_store = open_store(store_url), open_store(store_url)
    try:
        clock = Clock()
        a, b = (
            RecordingChannel("ops", ChannelPolicy(max_per_hour=2)),
            RecordingChannel("ops", ChannelPolicy(max_per_hour=2)),
        )
        one, two = (
            AlertDispatcher(first_store, [a], clock=clock),
            AlertDispatcher(second_store, [b], clock=clock),
        )
        one("job.dead", DEAD)
        two("job.dead", DEAD)  # a duplicate of what the other process sent
        two("job.dead", {**DEAD, "job": "x"})
        one("job.dead", {**DEAD, "job": "y"})  # over the limit of 2 for the channel
        assert statuses(first_store) == ["sent", "duplicate", "sent", "rate_limited"]
        assert (len(a.sent), len(b.sent)) == (1, 1)
    finally:
        first_store.close()
        second_store.close()


def test_concurrent_dispatchers_send_once(store_url: str) -> None:
    """Eight threads over two engines report the same problem at once: exactly one message; and
    ten different problems at once against a limit of three: exactly three messages."""
    stores = [open_store(store_url), open_store(store_url)]
    try:
        channels = [RecordingChannel("ops", ChannelPolicy(max_per_hour=3)) for _ in stores]
        dispatchers = [AlertDispatcher(s, [c]) for s, c in zip(stores, channels, strict=True)]
        barrier = threading.Barrier(8)

        def report(index: int, payload: dict[str, Any]) -> None:
            barrier.wait()
            dispatchers[index % 2]("job.dead", payload)

        threads = [threading.Thread(target=report, args=(i, DEAD)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses(stores[0])) == ["duplicate"] * 7 + ["sent"]

        barrier = threading.Barrier(8)
        threads = [threading.Thread(target=report, args=(i, {**DEAD, "job": f"j{i}"})) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # one was sent in the first round: two more fit in the hour
        assert statuses(stores[0]).count("sent") == 3
        assert statuses(stores[0]).count("rate_limited") == 6
        assert sum(len(c.sent) for c in channels) == 3
    finally:
        for opened in stores:
            opened.close()


def test_failures_never_reach_the_emitting_job(store: Store) -> None:
    hooks = AlertHooks()
    # not an AlertSendError: its text could be anything a server said, so it is not stored
    broken = RecordingChannel("broken", fail=RuntimeError("boom admin_password=hunter2"))
    working = RecordingChannel("working")
    AlertDispatcher(store, [broken, working]).register(hooks)

    def exploding_source() -> ChannelSet:
        raise RuntimeError("cannot read the workspace")

    AlertDispatcher(store, exploding_source).register(hooks, "exploding")
    hooks.emit("job.dead", DEAD)  # must not raise
    assert statuses(store, "broken") == ["failed"]
    assert statuses(store, "working") == ["sent"]
    assert recent_deliveries(store, channel="broken")[0].error == (
        "告警通道内部错误（RuntimeError）/ alert channel failed internally (RuntimeError)"
    )


class GoneStore:
    """A store whose database went away: every transaction fails."""

    def transaction(self) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))


def test_a_failing_store_is_logged_not_raised() -> None:
    channel = RecordingChannel("ops")
    hooks = AlertHooks()
    AlertDispatcher(GoneStore(), [channel]).register(hooks)  # type: ignore[arg-type]
    hooks.emit("job.dead", DEAD)  # must not raise
    AlertDispatcher(GoneStore(), [channel])("job.dead", DEAD)  # type: ignore[arg-type]
    assert channel.sent == []  # nothing is sent that could not be recorded (and so de-duplicated)


def test_events_and_severity_filters(store: Store) -> None:
    kingdee_only = RecordingChannel("kd-team", ChannelPolicy(events=("kingdee",)))
    serious = RecordingChannel("managers", ChannelPolicy(min_severity="error"))
    wildcard = RecordingChannel("runs", ChannelPolicy(events=("run.*", "job.dead")))
    dispatcher = AlertDispatcher(store, [kingdee_only, serious, wildcard])
    dispatcher("kingdee.error", {"connection": "kd", "form": "GL_VOUCHER", "msg_code": 11})
    dispatcher("job.retrying", {"job": "books", "attempt": 1})  # info
    dispatcher("run.stalled", {"job": "books"})  # warning
    dispatcher("job.dead", DEAD)  # error
    assert [a.event for a in kingdee_only.sent] == ["kingdee.error"]
    assert [a.event for a in serious.sent] == ["kingdee.error", "job.dead"]
    assert [a.event for a in wildcard.sent] == ["run.stalled", "job.dead"]


def test_the_test_alert_ignores_filters_but_not_the_limit(store: Store) -> None:
    channel = RecordingChannel("ops", ChannelPolicy(events=("kingdee",), max_per_hour=2))
    dispatcher = AlertDispatcher(store, [channel])
    first, second, third = (dispatcher.test("ops", who="阿明") for _ in range(3))
    assert first is not None
    assert second is not None
    assert third is not None
    assert (first.status, second.status, third.status) == ("sent", "sent", "rate_limited")
    assert first.dedupe_key != second.dedupe_key
    assert "操作人 by: 阿明" in channel.sent[0].lines
    assert dispatcher.test("nope") is None


@pytest.fixture
def dingtalk() -> Iterator[FakeRobot]:
    robot = FakeRobot("dingtalk", secret="SEC-signing-secret-42").start()
    yield robot
    robot.stop()


def test_secrets_never_reach_the_receiver_or_the_store(store: Store, dingtalk: FakeRobot) -> None:
    kingdee_secret = "kd-app-secret-0042"
    channel = DingTalkRobot(
        "ding", ChannelPolicy(), webhook_url=dingtalk.url, secret="SEC-signing-secret-42", outbound=LOCAL
    )
    dispatcher = AlertDispatcher(store, [channel], secrets=[kingdee_secret])
    dispatcher(
        "run.failed",
        {
            "job": "books",
            "connection": "kd",
            "error_zh": f"登录失败 AppSecret={kingdee_secret}",
            "error_en": f"login refused, secret {kingdee_secret}; robot {dingtalk.url}",
            "app_secret": "a-key-that-is-dropped",
            "password": "hunter2-password",
        },
    )
    assert dingtalk.refusals == []
    [text] = dingtalk.texts()
    for secret in (
        kingdee_secret,
        "a-key-that-is-dropped",
        "hunter2-password",
        dingtalk.token,
        "SEC-signing-secret-42",
    ):
        assert secret not in text
        assert all(secret not in (d.body or "") + d.title for d in recent_deliveries(store))
    assert "***" in text


def test_send_errors_are_stored_redacted(store: Store, dingtalk: FakeRobot) -> None:
    dingtalk.mode = "refuse"
    channel = DingTalkRobot(
        "ding", ChannelPolicy(), webhook_url=dingtalk.url, secret="SEC-signing-secret-42", outbound=LOCAL
    )
    AlertDispatcher(store, [channel])("job.dead", DEAD)
    [delivery] = recent_deliveries(store)
    assert delivery.status == "failed"
    assert delivery.error is not None
    assert "130101" in delivery.error
    assert dingtalk.token not in delivery.error


def test_recent_deliveries_newest_first_and_by_channel(store: Store) -> None:
    clock = Clock()
    dispatcher = AlertDispatcher(store, [RecordingChannel("a"), RecordingChannel("b")], clock=clock)
    for number in range(3):
        dispatcher("job.dead", {**DEAD, "job": f"j{number}"})
        clock.advance(minutes=1)
    newest = recent_deliveries(store, limit=2)
    assert [d.title for d in newest] == [newest[0].title] * 2
    assert [d.dedupe_key for d in newest] == ["job.dead|job=j2"] * 2
    assert {d.channel for d in recent_deliveries(store, channel="a")} == {"a"}
    assert len(recent_deliveries(store, channel="a")) == 3
    assert recent_deliveries(store)[0].at == T0 + dt.timedelta(minutes=2)
