"""sandbox.kingdee's faults, and what yecai's Kingdee client makes of each of them.

Every fault of the issue: error pages, throttling, hangs that commit late, answers lost after the
commit, forced session loss, the concurrency limit, latency per call and per record; set at start
or changed at runtime through the admin endpoint. No timing assertions: each test checks what the
client decides (retry, fail, uncertain) and what the data centre holds afterwards.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from k3cloud_webapi_sdk.main import K3CloudApiSdk

from tests.support.kingdee_calls import pay_apply
from yecai.demo import identity_of
from yecai.errors import Action
from yecai.kingdee.client import KingdeeClient, KingdeeError
from yecai.sandbox.kingdee import start_sandbox
from yecai.sandbox.kingdee.app import _records
from yecai.sandbox.kingdee.faults import FaultInjector, FaultSettings
from yecai.sandbox.kingdee.services import WireReply

pytestmark = pytest.mark.slow


def voucher(amount: str, token: str) -> dict[str, Any]:
    """Cash paid for a management expense, marked with `token` so it can be found again."""
    line = {
        "FCURRENCYID": {"FNumber": "PRE001"},
        "FEXCHANGERATETYPE": {"FNumber": "HLTX01_SYS"},
        "FEXCHANGERATE": 1,
    }
    return {
        "FAccountBookID": {"FNumber": "001"},
        "FDate": "2026-10-15",
        "FVOUCHERGROUPID": {"FNumber": "PRE001"},
        "FEntity": [
            {
                **line,
                "FEXPLANATION": f"报销 {token}",
                "FACCOUNTID": {"FNumber": "6602"},
                "FDetailID": {"FDETAILID__FFLEX5": {"FNumber": "BM02"}},
                "FDEBIT": Decimal(amount),
                "FCREDIT": 0,
            },
            {
                **line,
                "FEXPLANATION": f"报销 {token}",
                "FACCOUNTID": {"FNumber": "1001"},
                "FDEBIT": 0,
                "FCREDIT": Decimal(amount),
            },
        ],
    }


class Site:
    def __init__(self, data_dir: Path, faults: FaultSettings) -> None:
        self.server, self.credentials = start_sandbox(data_dir, faults=faults)
        self.base = self.server.base_url

    def client(self, **kwargs: Any) -> KingdeeClient:
        return KingdeeClient(str(self.credentials["server_url"]), identity_of(self.credentials), **kwargs)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.base}/admin/faults", json=changes)
        assert response.status_code == 200, response.text
        return response.json()["settings"]

    def counts(self) -> dict[str, int]:
        return httpx.get(f"{self.base}/admin/faults").json()["counts"]

    def vouchers_with(self, token: str) -> list[list[Any]]:
        with self.client() as client:
            return client.execute_bill_query(
                "GL_VOUCHER", ["FVOUCHERID", "FBillNo"], f"FEXPLANATION like '%{token}%'"
            )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    running = Site(tmp_path / "kd", FaultSettings(seed=7))
    try:
        yield running
    finally:
        running.server.stop()


def test_error_pages_are_retried_for_reads_and_uncertain_for_writes(site: Site) -> None:
    site.set_faults(fail_rate=1.0)
    with site.client() as client:
        with pytest.raises(KingdeeError) as read:
            client.execute_bill_query("BD_Account", ["FNumber"])
        assert read.value.action is Action.RETRY
        assert site.counts()["failed"] == 3  # the client tried three times
        with pytest.raises(KingdeeError) as write:
            client.batch_save("GL_VOUCHER", [voucher("10.00", "T-FAIL")])
        assert write.value.action is Action.UNCERTAIN
    site.set_faults(fail_rate=0.0)
    assert site.vouchers_with("T-FAIL") == []  # the page came before anything ran


def test_throttling_refuses_the_whole_call(site: Site) -> None:
    site.set_faults(throttle_rate=1.0)
    with site.client() as client, pytest.raises(KingdeeError) as caught:
        client.batch_save("GL_VOUCHER", [voucher("11.00", "T-THROTTLE")])
    assert (caught.value.action, caught.value.msg_code) == (Action.RETRY, 14)
    site.set_faults(throttle_rate=0.0)
    assert site.vouchers_with("T-THROTTLE") == []


def test_an_answer_lost_after_commit_is_uncertain_and_the_voucher_exists(site: Site) -> None:
    site.set_faults(drop_after_commit_rate=1.0)
    with site.client() as client:
        with pytest.raises(KingdeeError) as caught:
            client.batch_save("GL_VOUCHER", [voucher("12.00", "T-DROP")])
        assert caught.value.action is Action.UNCERTAIN
        assert client.execute_bill_query(
            "BD_Account", ["FNumber"], "FNumber = '1001' and FAcctTblId.FNumber = 'KMB001'"
        ) == [["1001"]]  # reads pass
    site.set_faults(drop_after_commit_rate=0.0)
    assert len(site.vouchers_with("T-DROP")) == 2  # committed: one voucher, two lines
    assert site.counts()["dropped_after_commit"] == 1


def test_the_official_sdk_sees_a_broken_answer_too(site: Site) -> None:
    site.set_faults(drop_after_commit_rate=1.0)
    c = site.credentials
    sdk = K3CloudApiSdk(c["server_url"], timeout=10)
    sdk.InitConfig(
        c["acct_id"], c["user_name"], c["app_id"], c["app_secret"], c["server_url"], c["lcid"], c["org_num"]
    )
    model = json.loads(json.dumps(voucher("13.00", "T-SDK"), default=str))
    with pytest.raises(Exception, match=r"(?i)connection|broken|incomplete"):
        sdk.Save("GL_VOUCHER", {"Model": model})
    site.set_faults(drop_after_commit_rate=0.0)
    assert len(site.vouchers_with("T-SDK")) == 2


def test_a_hung_call_times_out_and_commits_late(site: Site) -> None:
    site.set_faults(timeout_rate=1.0, hang_seconds=3.0)
    with (
        site.client(timeout=httpx.Timeout(0.5, connect=5.0)) as client,
        pytest.raises(KingdeeError) as caught,
    ):
        client.batch_save("GL_VOUCHER", [voucher("14.00", "T-HANG")])
    assert caught.value.action is Action.UNCERTAIN
    site.set_faults(timeout_rate=0.0)
    assert site.vouchers_with("T-HANG") == []  # not yet: the server is still "working"
    deadline = time.monotonic() + 20
    while not site.vouchers_with("T-HANG"):
        assert time.monotonic() < deadline, "the hung call never committed"
        time.sleep(0.2)
    assert len(site.vouchers_with("T-HANG")) == 2


def test_forced_session_loss_is_invisible_to_a_signed_client(site: Site) -> None:
    site.set_faults(session_loss_every=2)
    with site.client() as client:
        for n in range(6):
            client.batch_save("GL_VOUCHER", [voucher(f"{n + 1}.00", f"T-SESSION-{n}")])
    calls = httpx.get(f"{site.base}/admin/calls").json()
    logins = [c for c in calls if c["auth"] == "signature"]
    assert len(logins) >= 3  # a new session after every loss, transparently
    assert site.counts()["sessions_lost"] == 3


def test_the_concurrency_limit_queues_calls(site: Site) -> None:
    site.set_faults(max_concurrency=1, latency_ms=50)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with site.client() as client:
                client.execute_bill_query("BD_Account", ["FNumber"])
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert site.counts()["peak_concurrency"] == 1


def test_admin_endpoint_validates_changes(site: Site) -> None:
    assert httpx.post(f"{site.base}/admin/faults", json={"fail_rate": 2}).status_code == 400
    assert httpx.post(f"{site.base}/admin/faults", json={"no_such": 1}).status_code == 400
    assert httpx.post(f"{site.base}/admin/faults", content=b"[1]").status_code == 400
    settings = site.set_faults(latency_ms=5, per_record_ms=1.5)
    assert (settings["latency_ms"], settings["per_record_ms"]) == (5, 1.5)


def test_same_seed_same_faults() -> None:
    def run(seed: int) -> list[tuple[bool, ...]]:
        injector = FaultInjector(
            FaultSettings(fail_rate=0.3, throttle_rate=0.2, drop_after_commit_rate=0.4, seed=seed)
        )
        return [
            (d.fail, d.throttle, d.drop_after_commit)
            for d in (
                injector.decide("Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.BatchSave")
                for _ in range(200)
            )
        ]

    assert run(1) == run(1)
    assert run(1) != run(2)
    fails = sum(f for f, _, _ in run(3))
    assert 30 < fails < 90  # about 30 % of 200


def test_reads_are_never_dropped_after_commit() -> None:
    injector = FaultInjector(FaultSettings(drop_after_commit_rate=1.0))
    assert not injector.decide(
        "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery"
    ).drop_after_commit
    assert injector.decide("Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.save").drop_after_commit


def test_per_record_latency_counts_packages_and_rows() -> None:
    ok = WireReply(200, "{}")
    assert _records(json.dumps({"formid": "GL_VOUCHER", "data": {"Model": [{}, {}, {}]}}).encode(), ok) == 3
    assert _records(json.dumps({"formid": "GL_VOUCHER", "data": json.dumps({"Model": {}})}).encode(), ok) == 1
    assert _records(b'{"data": {"FormId": "BD_Account"}}', WireReply(200, "[[1],[2],[3],[4],[5]]")) == 5
    assert _records(b"not json", ok) == 1


@pytest.mark.parametrize(
    "bad",
    [{"fail_rate": -0.1}, {"throttle_rate": 1.5}, {"latency_ms": -1}, {"session_loss_every": -2}],
)
def test_fault_settings_refuse_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"between 0 and 1|negative"):
        FaultSettings(**bad)


def test_web_page_lists_vouchers(site: Site) -> None:
    with site.client() as client:
        client.batch_save("GL_VOUCHER", [voucher("15.00", "<b>T-WEB</b>")])
    page = httpx.get(f"{site.base}/forms/GL_VOUCHER").text
    assert "&lt;b&gt;T-WEB&lt;/b&gt;" in page  # escaped, never injected
    assert "15.00" in page
    assert "6602" in page
    overview = httpx.get(f"{site.base}/").text
    assert "GL_VOUCHER" in overview
    assert "BD_Account" in overview
    assert httpx.get(f"{site.base}/forms/NO_SUCH").status_code == 404


def test_admin_locks_and_periods(site: Site) -> None:
    with site.client() as client:
        number = client.save("CN_PAYAPPLY", pay_apply("10.00")).packages[0].number
        assert number
        assert (
            httpx.post(
                f"{site.base}/admin/locks", json={"form_id": "CN_PAYAPPLY", "number": number}
            ).status_code
            == 200
        )
        assert client.submit("CN_PAYAPPLY", numbers=[number]).packages[0].msg_code == 13
        assert httpx.delete(f"{site.base}/admin/locks/CN_PAYAPPLY/{number}").json() == {"unlocked": True}
        assert client.submit("CN_PAYAPPLY", numbers=[number]).ok
        assert (
            httpx.post(f"{site.base}/admin/periods/close", json={"year": 2026, "period": 10}).status_code
            == 200
        )
        assert not client.save("GL_VOUCHER", voucher("1.00", "T-CLOSED")).ok
        assert (
            httpx.post(f"{site.base}/admin/periods/open", json={"year": 2026, "period": 10}).status_code
            == 200
        )
        assert client.save("GL_VOUCHER", voucher("1.00", "T-OPEN")).ok
    assert httpx.post(f"{site.base}/admin/locks", json={"number": "x"}).status_code == 400


def test_one_client_is_safe_across_threads_under_session_loss(site: Site) -> None:
    site.set_faults(session_loss_every=3, max_concurrency=3)
    errors: list[BaseException] = []
    with site.client() as client:

        def work(worker: int) -> None:
            try:
                for n in range(5):
                    result = client.batch_save(
                        "GL_VOUCHER", [voucher(f"{worker + 1}.{n:02d}", f"T-PAR-{worker}-{n}")]
                    )
                    assert result.ok
                    client.execute_bill_query(
                        "BD_Account", ["FNumber"], "FNumber = '1001' and FAcctTblId.FNumber = 'KMB001'"
                    )
            except BaseException as exc:  # collected and re-raised in the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    site.set_faults(session_loss_every=0)
    for worker in range(8):
        for n in range(5):
            assert (
                len(site.vouchers_with(f"T-PAR-{worker}-{n} "))
                + len(site.vouchers_with(f"T-PAR-{worker}-{n}"))
                >= 2
            )
    assert site.counts()["sessions_lost"] > 5
