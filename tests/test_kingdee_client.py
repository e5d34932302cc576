"""KingdeeClient against recorded real response shapes (httpx MockTransport).

The shapes come from the protocol reference §4–§6 (real server answers). Each test checks what
the client does next: the outcome table, retries only for reads, never a blind repeat of a write.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import httpx
import pytest

from yecai.errors import Action, Fault
from yecai.kingdee import signing
from yecai.kingdee.client import KingdeeClient, KingdeeError
from yecai.kingdee.responses import TABLE, interpret

IDENTITY = signing.Identity("66a0c0ffee0001", "yecai_api", *signing.mint_app("300001")[::2])
URL = "http://kd.test/K3Cloud/"

SAVE_OK = {
    "Result": {
        "ResponseStatus": {
            "IsSuccess": True,
            "Errors": [],
            "SuccessEntitys": [{"Id": 140670, "Number": "MBCGRK-2023051500004", "DIndex": 0}],
            "SuccessMessages": [],
            "MsgCode": 0,
        },
        "Id": 140670,
        "Number": "MBCGRK-2023051500004",
        "NeedReturnData": [{}],
    }
}
DUPLICATE = {
    "Result": {
        "ResponseStatus": {
            "ErrorCode": 500,
            "IsSuccess": False,
            "Errors": [
                {
                    "FieldName": "FBillNo",
                    "Message": "违反字段唯一性要求：编码唯一。[test5]在当前系统中已经被使用。",
                    "DIndex": 0,
                }
            ],
            "SuccessEntitys": [],
            "SuccessMessages": [],
            "MsgCode": 11,
        }
    }
}
SESSION_LOST = {
    "Result": {
        "ResponseStatus": {
            "ErrorCode": 500,
            "IsSuccess": False,
            "Errors": [{"FieldName": None, "Message": "会话信息已丢失，请重新登录", "DIndex": 0}],
            "SuccessEntitys": [],
            "SuccessMessages": [],
            "MsgCode": 1,
        }
    }
}
QUERY_ERROR = [
    [
        {
            "Result": {
                "ResponseStatus": {
                    "ErrorCode": 500,
                    "IsSuccess": False,
                    "Errors": [
                        {"FieldName": None, "Message": "元数据中标识为FIssueType的字段不存在", "DIndex": 0}
                    ],
                    "SuccessEntitys": [],
                    "SuccessMessages": [],
                    "MsgCode": 9,
                }
            }
        }
    ]
]


class Recorder:
    """A MockTransport handler replaying answers in order and recording requests."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # A snapshot: the auth flow may re-sign and resend the very same request object.
        self.requests.append(
            httpx.Request(
                request.method, request.url, headers=request.headers.copy(), content=request.content
            )
        )
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, text=json.dumps(answer, ensure_ascii=False))


def client_with(recorder: Recorder) -> KingdeeClient:
    return KingdeeClient(URL, IDENTITY, transport=httpx.MockTransport(recorder), connection="kd")


def test_requests_are_signed_like_the_sdk() -> None:
    recorder = Recorder(SAVE_OK)
    with client_with(recorder) as client:
        client.save("GL_VOUCHER", {"FDate": "2026-10-05"})
    request = recorder.requests[0]
    assert str(request.url) == URL + "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc"
    plain = f"{IDENTITY.acct_id},{IDENTITY.user_name},2052,0"
    assert base64.b64decode(request.headers["X-Kd-Appdata"]).decode() == plain
    assert request.headers["X-Kd-Signature"] == signing.kd_signature(
        IDENTITY.app_id, plain, IDENTITY.app_secret
    )
    _, client_secret = signing.split_app_id(IDENTITY.app_id)
    stamp = request.headers["x-api-timestamp"]
    assert request.headers["X-Api-Signature"] == signing.api_signature(
        signing.encoded_path(str(request.url)), stamp, stamp, client_secret
    )
    assert json.loads(request.content) == {"formid": "GL_VOUCHER", "data": {"Model": {"FDate": "2026-10-05"}}}


def test_save_success_gives_id_and_number() -> None:
    with client_with(Recorder(SAVE_OK)) as client:
        result = client.save("STK_InStock", {})
    assert result.packages[0].ok
    assert (result.packages[0].id, result.packages[0].number) == ("140670", "MBCGRK-2023051500004")


def test_duplicate_number_is_uncertain_not_failed() -> None:
    with client_with(Recorder(DUPLICATE)) as client:
        package = client.save("AP_Payable", {}).packages[0]
    assert package.outcome is not None
    assert package.outcome.action is Action.UNCERTAIN
    assert package.msg_code == 11


def test_batch_save_partial_success_is_split_by_dindex() -> None:
    answer = {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 500,
                "IsSuccess": False,
                "Errors": [{"FieldName": "FDEBIT", "Message": "凭证借贷方不平衡", "DIndex": 1}],
                "SuccessEntitys": [
                    {"Id": 100001, "Number": "PZ1", "DIndex": 0},
                    {"Id": 100002, "Number": "PZ3", "DIndex": 2},
                ],
                "SuccessMessages": [],
                "MsgCode": 11,
            }
        }
    }
    with client_with(Recorder(answer)) as client:
        packages = client.batch_save("GL_VOUCHER", [{}, {}, {}]).packages
    assert [p.ok for p in packages] == [True, False, True]
    assert packages[1].outcome is not None
    assert packages[1].outcome.fault is Fault.CONFIGURATION
    assert packages[2].number == "PZ3"


def test_throttling_refuses_the_whole_call() -> None:
    throttled = {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 500,
                "IsSuccess": False,
                "Errors": [{"FieldName": None, "Message": "调用限制", "DIndex": 0}],
                "SuccessEntitys": [],
                "SuccessMessages": [],
                "MsgCode": 14,
            }
        }
    }
    with client_with(Recorder(throttled)) as client, pytest.raises(KingdeeError) as caught:
        client.batch_save("GL_VOUCHER", [{}, {}])
    assert caught.value.action is Action.RETRY
    assert caught.value.msg_code == 14


def test_unblamed_package_of_a_failed_batch_is_uncertain() -> None:
    rolled_back = {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 500,
                "IsSuccess": False,
                "Errors": [{"FieldName": "FACCOUNTID", "Message": "科目[9999]在系统中不存在。", "DIndex": 1}],
                "SuccessEntitys": [],
                "SuccessMessages": [],
                "MsgCode": 11,
            }
        }
    }
    with client_with(Recorder(rolled_back)) as client:
        first, second = client.batch_save("GL_VOUCHER", [{}, {}]).packages
    assert first.outcome is not None
    assert first.outcome.action is Action.UNCERTAIN
    assert second.outcome is not None
    assert second.outcome.action is Action.FAIL


def test_write_timeout_is_uncertain_and_never_repeated() -> None:
    recorder = Recorder(httpx.ReadTimeout("slow"), SAVE_OK)
    with client_with(recorder) as client, pytest.raises(KingdeeError) as caught:
        client.batch_save("GL_VOUCHER", [{}])
    assert caught.value.action is Action.UNCERTAIN
    assert len(recorder.requests) == 1


def test_write_connect_error_is_retryable_because_nothing_was_sent() -> None:
    with (
        client_with(Recorder(httpx.ConnectError("refused"))) as client,
        pytest.raises(KingdeeError) as caught,
    ):
        client.save("GL_VOUCHER", {})
    assert caught.value.action is Action.RETRY


def test_reads_are_retried_after_error_pages() -> None:
    page = httpx.Response(503, text="<html><body>Service Unavailable</body></html>")
    recorder = Recorder(page, [[100001, "PZ1", 12.5]])
    with client_with(recorder) as client:
        rows = client.execute_bill_query("GL_VOUCHER", ["FVOUCHERID", "FBillNo", "FDEBIT"])
    assert rows == [[100001, "PZ1", Decimal("12.5")]]
    assert isinstance(rows[0][2], Decimal)
    assert len(recorder.requests) == 2


def test_query_error_wrapped_in_two_arrays() -> None:
    with client_with(Recorder(QUERY_ERROR)) as client, pytest.raises(KingdeeError) as caught:
        client.execute_bill_query("GL_VOUCHER", ["FIssueType"])
    assert caught.value.msg_code == 9
    assert caught.value.fault is Fault.CONFIGURATION
    assert "FIssueType" in caught.value.detail


def test_session_lost_with_a_stale_sid_logs_in_again_once() -> None:
    first = httpx.Response(
        200, text=json.dumps(SAVE_OK), headers={"set-cookie": "kdservice-sessionid=old-sid; path=/"}
    )
    recorder = Recorder(first, SESSION_LOST, SAVE_OK)
    with client_with(recorder) as client:
        client.save("GL_VOUCHER", {})
        result = client.save("GL_VOUCHER", {})
    assert result.packages[0].ok
    assert recorder.requests[1].headers["kdservice-sessionid"] == "old-sid"
    assert "kdservice-sessionid" not in recorder.requests[2].headers
    assert "old-sid" not in recorder.requests[2].headers.get("cookie", "")


def test_bad_credentials_fail_as_configuration() -> None:
    with client_with(Recorder(SESSION_LOST)) as client, pytest.raises(KingdeeError) as caught:
        client.save("GL_VOUCHER", {})
    assert (caught.value.action, caught.value.fault) == (Action.FAIL, Fault.CONFIGURATION)
    assert "AppSecret" in caught.value.zh


def test_wrong_data_centre() -> None:
    page = httpx.Response(500, text="Fail to verify thirty passport")
    with client_with(Recorder(page)) as client, pytest.raises(KingdeeError) as caught:
        client.save("GL_VOUCHER", {})
    assert caught.value.fault is Fault.CONFIGURATION
    assert "账套" in caught.value.zh


def test_server_exception_text() -> None:
    page = httpx.Response(200, text='response_error:{"Message":"boom"}')
    with client_with(Recorder(page)) as client, pytest.raises(KingdeeError) as caught:
        client.save("GL_VOUCHER", {})
    assert caught.value.action is Action.UNCERTAIN
    assert "boom" in caught.value.detail


def test_every_msgcode_has_an_outcome_in_both_languages() -> None:
    for code in range(16):
        outcome = interpret(code, "")
        assert outcome.zh
        assert outcome.en
    assert all(row.outcome.zh and row.outcome.en for row in TABLE)
    assert interpret(13, "").action is Action.RETRY
    assert interpret(14, "").action is Action.RETRY
    assert interpret(11, "凭证借贷方不平衡").fault is Fault.CONFIGURATION
