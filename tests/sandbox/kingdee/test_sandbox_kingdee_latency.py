"""The latency model: a call is answered `latency_ms + per_record_ms × records` after it is admitted,
the emulator's own work included — its CPU is slept off against the model, not added on top (so
the emulator's speed is not what a benchmark measures). Driven with a fake clock: no timing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from yecai import jsonutil
from yecai.sandbox.kingdee import app
from yecai.sandbox.kingdee.faults import FaultInjector, FaultSettings
from yecai.sandbox.kingdee.services import WireReply, WireRequest

SAVE = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.BatchSave"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


class _Site:
    """Stands in for KingdeeSandbox: its work takes `work` seconds on the fake clock."""

    def __init__(self, clock: _Clock, work: float) -> None:
        self.clock, self.work = clock, work

    def handle(self, wire: WireRequest) -> WireReply:
        self.clock.now += self.work
        return WireReply(200, '{"Result":{"ResponseStatus":{"IsSuccess":true}}}')

    def drop_sessions(self) -> None:  # pragma: no cover - no session loss drawn here
        pass


def _answer(monkeypatch: pytest.MonkeyPatch, settings: FaultSettings, work: float, records: int) -> _Clock:
    clock = _Clock()
    monkeypatch.setattr(app, "_clock", clock)
    monkeypatch.setattr(app, "_sleep", clock.sleep)
    injector = FaultInjector(settings)
    body = jsonutil.dumps({"formid": "GL_VOUCHER", "data": {"Model": [{"n": i} for i in range(records)]}})
    wire = WireRequest(url="http://kd/", path="/", headers={}, body=body.encode())
    site: Any = _Site(clock, work)
    asyncio.run(app._handle_with_faults(site, injector, injector.decide(SAVE), wire, body.encode()))
    return clock


@pytest.mark.parametrize(
    ("work", "expected_total"),
    [
        (0.0, 0.300),  # an idle emulator: the whole model is slept
        (0.120, 0.300),  # 120 ms of work is part of the 250 ms per-record time
        (0.400, 0.450),  # work beyond the model shows: the call is late, never early
    ],
)
def test_the_answer_comes_when_the_model_says(
    monkeypatch: pytest.MonkeyPatch, work: float, expected_total: float
) -> None:
    clock = _answer(monkeypatch, FaultSettings(latency_ms=50, per_record_ms=5), work, records=50)
    assert clock.now - 100.0 == pytest.approx(expected_total)
    assert clock.slept[0] == pytest.approx(0.050)  # the fixed part still comes before the work


def test_a_hang_does_not_eat_the_modelled_time(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = FaultSettings(latency_ms=50, per_record_ms=5, timeout_rate=1.0, hang_seconds=2.0, seed=1)
    clock = _answer(monkeypatch, settings, work=0.010, records=10)
    # 50 ms, the 2 s hang, then the work and what is left of 50 ms + 10 × 5 ms
    assert clock.now - 100.0 == pytest.approx(2.100)


def test_no_latency_no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _answer(monkeypatch, FaultSettings(), work=0.030, records=3)
    assert clock.slept == []
    assert clock.now - 100.0 == pytest.approx(0.030)
