"""yecai's KingdeeClient against a running sandbox.kingdee: every operation, every login style.

Where `test_kingdee_client.py` checks recorded response shapes, this suite drives the whole
protocol over HTTP: saves and updates, the status machine, View, queries, Forbid/Enable, Allocate,
the account-balance report, metadata, async BatchSave, the three AuthService logins with session
expiry and re-login, lock conflicts (MsgCode 13) and closed periods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.kingdee_calls import balanced_voucher, line, pay_apply, voucher
from yecai.demo import identity_of
from yecai.errors import Action, Fault
from yecai.kingdee.auth import app_secret_login, password_login, sign_login
from yecai.kingdee.client import KingdeeClient, KingdeeError
from yecai.kingdee.vouchers import voucher_numbers
from yecai.sandbox.kingdee import SandboxSettings, start_sandbox
from yecai.sandbox.kingdee.datadir import password_credentials


class Clock:
    """The sandbox's clock, moved by the test (session expiry without sleeping)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 10, 15, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def client_clock() -> Clock:
    return Clock()


@pytest.fixture
def kingdee_site(tmp_path: Path, client_clock: Clock) -> Iterator[tuple[Any, dict[str, Any], Path]]:
    settings = SandboxSettings(async_pending_polls=2, clock=client_clock, session_idle_seconds=600)
    server, credentials = start_sandbox(tmp_path / "kd", settings=settings)
    try:
        yield server, credentials, tmp_path / "kd"
    finally:
        server.stop()


@pytest.fixture
def kd_client(kingdee_site: tuple[Any, dict[str, Any], Path]) -> Iterator[KingdeeClient]:
    _, credentials, _ = kingdee_site
    with KingdeeClient(credentials["server_url"], identity_of(credentials), poll_interval=0.01) as kingdee:
        yield kingdee


def test_save_update_and_return_fields(kd_client: KingdeeClient) -> None:
    saved = kd_client.save(
        "GL_VOUCHER", balanced_voucher(100, date="2026-10-15"), NeedReturnFields=["FVOUCHERGROUPNO"]
    )
    assert saved.ok
    voucher_id = saved.packages[0].id
    assert voucher_id
    updated = kd_client.save(
        "GL_VOUCHER",
        {**balanced_voucher(250, date="2026-10-16"), "FVOUCHERID": int(voucher_id)},
    )
    assert updated.ok
    assert updated.packages[0].id == voucher_id
    rows = kd_client.execute_bill_query("GL_VOUCHER", ["FDate", "FDEBITTOTAL"], f"FVOUCHERID = {voucher_id}")
    assert rows == [["2026-10-16T00:00:00", Decimal("250.00")]]


def test_batch_save_partial_success_and_async_mode(kd_client: KingdeeClient) -> None:
    bad = balanced_voucher(10, date="2026-10-15")
    bad["FEntity"][0]["FACCOUNTID"] = {"FNumber": "5401"}  # not a leaf
    result = kd_client.batch_save(
        "GL_VOUCHER", [balanced_voucher(1, date="2026-10-15"), bad, balanced_voucher(3, date="2026-10-15")]
    )
    assert [p.ok for p in result.packages] == [True, False, True]
    failed = result.packages[1]
    assert failed.outcome is not None
    assert (failed.outcome.action, failed.outcome.fault) == (Action.FAIL, Fault.CONFIGURATION)
    assert "明细科目" in failed.describe()
    queued = kd_client.batch_save("GL_VOUCHER", [balanced_voucher(4, date="2026-10-15")], async_mode=True)
    assert queued.ok
    assert queued.packages[0].number


def test_status_machine_through_the_client(kd_client: KingdeeClient) -> None:
    number = kd_client.save("CN_PAYAPPLY", pay_apply("1200.50")).packages[0].number
    assert number
    assert kd_client.submit("CN_PAYAPPLY", numbers=[number]).ok
    audited = kd_client.audit("CN_PAYAPPLY", numbers=[number])
    assert audited.ok
    assert audited.messages
    again = kd_client.audit("CN_PAYAPPLY", numbers=[number]).packages[0]
    assert again.outcome is not None
    assert again.outcome.action is Action.SKIP  # already audited: nothing to do
    refused = kd_client.delete("CN_PAYAPPLY", numbers=[number]).packages[0]
    assert refused.outcome is not None
    assert refused.outcome.action is Action.FAIL
    assert kd_client.unaudit("CN_PAYAPPLY", numbers=[number]).ok
    assert kd_client.view("CN_PAYAPPLY", number=number)["DocumentStatus"] == "D"
    assert kd_client.delete("CN_PAYAPPLY", numbers=[number]).ok
    with pytest.raises(KingdeeError) as missing:
        kd_client.view("CN_PAYAPPLY", number=number)
    assert missing.value.msg_code == 10


def test_draft_has_no_number_and_bill_query_returns_objects(kd_client: KingdeeClient) -> None:
    drafted = kd_client.draft("CN_PAYAPPLY", pay_apply("99.00"))
    assert drafted.ok
    bill_id = drafted.packages[0].id
    rows = kd_client.bill_query("CN_PAYAPPLY", ["FID", "FDocumentStatus"], f"FID = {bill_id}")
    assert rows == [{"FID": int(bill_id or 0), "FDocumentStatus": "Z"}]


def test_forbidden_base_data_cannot_be_used(kd_client: KingdeeClient) -> None:
    assert kd_client.forbid("BD_Department", ["BM02"]).ok
    refused = kd_client.save("GL_VOUCHER", balanced_voucher(5, date="2026-10-15")).packages[0]
    assert refused.outcome is not None
    assert "禁用" in refused.describe()
    assert kd_client.enable("BD_Department", ["BM02"]).ok
    assert kd_client.save("GL_VOUCHER", balanced_voucher(5, date="2026-10-15")).ok


# one account of the CAS chart (the 小企业 chart of book 002 has a 1001 too)
CASH_ACCOUNT = "FNumber = '1001' and FAcctTblId.FNumber = 'KMB001'"


def test_allocate_and_cancel(kd_client: KingdeeClient) -> None:
    supplier = kd_client.execute_bill_query("BD_Supplier", ["FSUPPLIERID"], "FNumber = 'GYS0001'")[0][0]
    organisation = kd_client.execute_bill_query("ORG_Organizations", ["FOrgID"], "FNumber = '200'")[0][0]

    def copies() -> int:
        return len(kd_client.execute_bill_query("BD_Supplier", ["FSUPPLIERID"], "FNumber = 'GYS0001'"))

    assert copies() == 2  # the seed shares its suppliers with the 分公司 (org 200, book 002)
    assert kd_client.cancel_allocate("BD_Supplier", [supplier], [organisation]).ok
    assert copies() == 1
    assert kd_client.allocate("BD_Supplier", [supplier], [organisation]).ok
    assert copies() == 2


def test_account_balance_equals_the_vouchers(kd_client: KingdeeClient) -> None:
    ids = []
    for amount in ("100.10", "200.20"):
        result = kd_client.save("GL_VOUCHER", balanced_voucher(Decimal(amount), date="2026-10-15"))
        ids.append(result.packages[0].id)
    assert kd_client.submit("GL_VOUCHER", ids=ids).ok
    assert kd_client.audit("GL_VOUCHER", ids=ids).ok  # audited vouchers count as posted
    rows = kd_client.account_balance("001", 2026, 10)
    by_account = {row["FBALANCEID"]: row for row in rows}
    assert Decimal(by_account["6602"]["FDEBIT"]) == Decimal("300.30")
    assert Decimal(by_account["1001"]["FCREDIT"]) == Decimal("300.30")


def test_an_account_that_moved_but_closes_at_zero_is_still_a_row(kd_client: KingdeeClient) -> None:
    # cost carried over the same month (合同履约成本 in and out) closes at zero; the reconciliation's
    # balance check compares the month's movement, so the report must still show the account
    there = balanced_voucher(Decimal("500.00"), date="2026-10-10")  # Dr 6602 / Cr 1001
    back = voucher(
        line("1001", debit="500.00"), line("6602", credit="500.00", FFLEX5="BM02"), date="2026-10-20"
    )
    ids = [kd_client.save("GL_VOUCHER", v).packages[0].id for v in (there, back)]
    assert kd_client.submit("GL_VOUCHER", ids=ids).ok
    assert kd_client.audit("GL_VOUCHER", ids=ids).ok
    by_account = {row["FBALANCEID"]: row for row in kd_client.account_balance("001", 2026, 10)}
    assert Decimal(by_account["6602"]["FDEBIT"]) == Decimal("500.00")
    assert Decimal(by_account["6602"]["FCREDIT"]) == Decimal("500.00")
    assert Decimal(by_account["6602"]["FENDDEBIT"]) == 0


def test_metadata_and_data_centres(kd_client: KingdeeClient) -> None:
    info = kd_client.query_business_info("GL_VOUCHER")
    assert "FDETAILID__FF100001" in str(info)
    centres = kd_client.get_data_centers()
    assert centres[0]["Id"] == kd_client.auth.identity.acct_id  # type: ignore[attr-defined]


def test_lock_conflict_is_retryable(
    kingdee_site: tuple[Any, dict[str, Any], Path], kd_client: KingdeeClient
) -> None:
    server, _, _ = kingdee_site
    number = kd_client.save("CN_PAYAPPLY", pay_apply("10.00")).packages[0].number
    assert number
    server.sandbox.lock("CN_PAYAPPLY", number, 60)
    locked = kd_client.submit("CN_PAYAPPLY", numbers=[number]).packages[0]
    assert locked.outcome is not None
    assert (locked.outcome.action, locked.msg_code) == (Action.RETRY, 13)
    server.sandbox.unlock("CN_PAYAPPLY", number)
    assert kd_client.submit("CN_PAYAPPLY", numbers=[number]).ok


def test_closed_period_is_a_configuration_failure(
    kingdee_site: tuple[Any, dict[str, Any], Path], kd_client: KingdeeClient
) -> None:
    server, _, _ = kingdee_site
    server.sandbox.close_period(2026, 9)
    refused = kd_client.save("GL_VOUCHER", balanced_voucher(1, date="2026-09-30")).packages[0]
    assert refused.outcome is not None
    assert refused.outcome.fault is Fault.CONFIGURATION
    assert "结账" in refused.outcome.zh
    server.sandbox.open_period(2026, 9)
    assert kd_client.save("GL_VOUCHER", balanced_voucher(1, date="2026-09-30")).ok


@pytest.mark.parametrize("style", ["password", "app_secret", "sign"])
def test_login_styles_and_transparent_relogin(
    kingdee_site: tuple[Any, dict[str, Any], Path], client_clock: Clock, style: str
) -> None:
    server, credentials, data_dir = kingdee_site
    identity = identity_of(credentials)
    if style == "password":
        p = password_credentials(data_dir)
        auth = password_login(p["acct_id"], p["user_name"], p["password"], int(p["lcid"]))
    elif style == "app_secret":
        auth = app_secret_login(identity)
    else:
        auth = sign_login(identity)
    with KingdeeClient(credentials["server_url"], auth=auth) as client:
        assert client.save("GL_VOUCHER", balanced_voucher(7, date="2026-10-15")).ok
        first = auth.session.get()[0]
        client_clock.now += dt.timedelta(hours=2)  # the session expires while idle
        assert client.save("GL_VOUCHER", balanced_voucher(8, date="2026-10-15")).ok
        assert auth.session.get()[0] not in (None, first)  # logged in again, transparently
        client.logout()
        assert client.execute_bill_query("BD_Account", ["FNumber"], CASH_ACCOUNT) == [["1001"]]
    logins = [
        c
        for c in server.sandbox.calls()
        if c.service.endswith(("ValidateUser", "LoginByAppSecret", "LoginBySign"))
    ]
    assert len(logins) == 3


def test_a_wrong_password_is_refused_before_anything_is_sent(
    kingdee_site: tuple[Any, dict[str, Any], Path],
) -> None:
    server, credentials, data_dir = kingdee_site
    p = password_credentials(data_dir)
    auth = password_login(p["acct_id"], p["user_name"], "not-the-password")
    with KingdeeClient(credentials["server_url"], auth=auth) as client, pytest.raises(KingdeeError) as caught:
        client.save("GL_VOUCHER", balanced_voucher(9, date="2026-10-15"))
    assert caught.value.fault is Fault.CONFIGURATION
    assert not [c for c in server.sandbox.calls() if c.service.endswith(".Save")]


def test_wrong_data_centre_is_named(kingdee_site: tuple[Any, dict[str, Any], Path]) -> None:
    _, credentials, _ = kingdee_site
    wrong = identity_of({**credentials, "acct_id": "000000000000ff"})
    with KingdeeClient(credentials["server_url"], wrong) as client, pytest.raises(KingdeeError) as caught:
        client.execute_bill_query("BD_Account", ["FNumber"])
    assert caught.value.fault is Fault.CONFIGURATION
    assert "账套" in caught.value.zh


def test_voucher_numbers_are_read_back_per_book_period_and_word(kd_client: KingdeeClient) -> None:
    """An accountant finds a voucher by 期间 + 凭证字号; Kingdee numbers 凭证号 per book × period × 凭证字."""
    dates = ["2026-10-05", "2026-10-06", "2026-11-02"]
    saved = kd_client.batch_save(
        "GL_VOUCHER", [balanced_voucher(10 + n, date=d) for n, d in enumerate(dates)]
    )
    assert saved.ok
    ids = [package.id for package in saved.packages]
    numbers = voucher_numbers(kd_client, [*ids, *ids])  # asked twice: read once
    assert [numbers[str(i)] for i in ids] == ["2026-10 记-0001", "2026-10 记-0002", "2026-11 记-0001"]
    assert voucher_numbers(kd_client, []) == {}
