"""KingdeeClient against recorded real response shapes (httpx MockTransport).

The shapes come from real server answers (WebAPI §4–§6, docs/architecture.md). Each test checks what
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
from yecai.kingdee.auth import app_secret_login, login_sign, password_login, sign_login
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


LOGIN_OK = {
    "Message": None,
    "MessageCode": "CheckPasswordPolicy",
    "LoginResultType": 1,
    "Context": {
        "UserLocale": "zh-CN",
        "DBid": "66a0c0ffee0001",
        "UserName": "yecai_api",
        "SessionId": "aspnet-1",
    },
    "KDSVCSessionId": "kd-sid-1",
    "IsSuccessByAPI": True,
}
LOGIN_BAD = {"LoginResultType": -1, "Message": "用户名或密码错误", "Context": None, "KDSVCSessionId": None}


def login_response(body: dict, sid: str | None) -> httpx.Response:
    headers = {"set-cookie": f"kdservice-sessionid={sid}; path=/"} if sid else {}
    return httpx.Response(200, text=json.dumps(body, ensure_ascii=False), headers=headers)


def test_password_login_then_session_reuse_and_relogin() -> None:
    recorder = Recorder(
        login_response(LOGIN_OK, "sid-1"),
        SAVE_OK,
        SAVE_OK,
        SESSION_LOST,
        login_response(LOGIN_OK, "sid-2"),
        SAVE_OK,
    )
    auth = password_login("66a0c0ffee0001", "yecai_api", "s3cret")
    with KingdeeClient(URL, auth=auth, transport=httpx.MockTransport(recorder)) as client:
        for _ in range(3):
            assert client.save("GL_VOUCHER", {}).ok
    paths = [r.url.path.rsplit("/", 1)[-1] for r in recorder.requests]
    assert paths == [
        "Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc",
        "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc",
        "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc",
        "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc",
        "Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc",
        "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc",
    ]
    assert json.loads(recorder.requests[0].content) == {
        "acctID": "66a0c0ffee0001",
        "username": "yecai_api",
        "password": "s3cret",
        "lcid": 2052,
    }
    assert recorder.requests[1].headers["kdservice-sessionid"] == "sid-1"
    assert recorder.requests[3].headers["kdservice-sessionid"] == "sid-1"
    assert recorder.requests[5].headers["kdservice-sessionid"] == "sid-2"
    assert "X-Kd-Signature" not in recorder.requests[1].headers  # no signing in this mode


def test_refused_login_is_a_configuration_error_and_sends_nothing_else() -> None:
    recorder = Recorder(login_response(LOGIN_BAD, None))
    with (
        KingdeeClient(
            URL, auth=password_login("a", "u", "wrong"), transport=httpx.MockTransport(recorder)
        ) as client,
        pytest.raises(KingdeeError) as caught,
    ):
        client.save("GL_VOUCHER", {})
    assert (caught.value.action, caught.value.fault) == (Action.FAIL, Fault.CONFIGURATION)
    assert "用户名或密码错误" in caught.value.detail
    assert len(recorder.requests) == 1


def test_session_id_from_the_login_body_when_no_cookie() -> None:
    recorder = Recorder(login_response(LOGIN_OK, None), SAVE_OK)
    with KingdeeClient(
        URL, auth=app_secret_login(IDENTITY), transport=httpx.MockTransport(recorder)
    ) as client:
        client.save("GL_VOUCHER", {})
    assert recorder.requests[1].headers["kdservice-sessionid"] == "kd-sid-1"
    assert json.loads(recorder.requests[0].content)["appSecret"] == IDENTITY.app_secret


def test_sign_login_never_sends_the_secret() -> None:
    recorder = Recorder(login_response(LOGIN_OK, "sid"), SAVE_OK)
    with KingdeeClient(URL, auth=sign_login(IDENTITY), transport=httpx.MockTransport(recorder)) as client:
        client.save("GL_VOUCHER", {})
    body = json.loads(recorder.requests[0].content)
    assert IDENTITY.app_secret not in recorder.requests[0].content.decode()
    values = [IDENTITY.acct_id, IDENTITY.user_name, IDENTITY.app_id, IDENTITY.app_secret, body["timestamp"]]
    assert body["sign"] == login_sign(values)


def test_login_sign_reference_vectors() -> None:
    values = [
        "100001_422C1/iIyuH4R+Ws526A2/yLyrX6RrOs",
        "1700000000",
        "5f0000000000aa",
        "api_user",
        "fedcba9876543210fedcba9876543210",
    ]
    assert login_sign(values) == "f3a0e06271168440fdde7afe856e16e3d558c8404446af1953075c64b304537d"
    assert login_sign(values, "sha1") == "7e1af0b5b1f026b8da249a40bb37ee23a809923b"


def test_async_batch_save_polls_until_complete() -> None:
    running = {"TaskId": "t-1", "Status": 1, "Result": None}
    done = {"TaskId": "t-1", "Status": 2, "Result": SAVE_OK}
    recorder = Recorder(running, running, done)
    client = KingdeeClient(URL, IDENTITY, transport=httpx.MockTransport(recorder), poll_interval=0)
    with client:
        result = client.batch_save("GL_VOUCHER", [{}], async_mode=True)
    assert result.ok
    assert result.packages[0].number == "MBCGRK-2023051500004"
    first = json.loads(recorder.requests[0].content)
    assert (first["beginmethod"], first["querymethod"]) == ("BeginQueryImpl", "QueryAsyncResult")
    poll = json.loads(recorder.requests[1].content)
    assert recorder.requests[1].url.path.endswith("DynamicFormService.QueryAsyncResult.common.kdsvc")
    assert json.loads(poll["queryInfo"]) == {"TaskId": "t-1", "Cancelled": False}


def test_view_success_and_not_found_shapes() -> None:
    found = {
        "Result": {
            "ResponseStatus": None,
            "Result": {"Id": 100001, "Number": "GL00000001", "DocumentStatus": "A"},
        }
    }
    missing = {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 500,
                "IsSuccess": False,
                "Errors": [{"FieldName": None, "Message": "单据不存在", "DIndex": 0}],
                "SuccessEntitys": [],
                "SuccessMessages": [],
                "MsgCode": 10,
            }
        }
    }
    with client_with(Recorder(found, missing)) as client:
        assert client.view("GL_VOUCHER", number="GL00000001")["DocumentStatus"] == "A"
        with pytest.raises(KingdeeError) as caught:
            client.view("GL_VOUCHER", id=42)
    assert caught.value.msg_code == 10


def test_selection_needs_numbers_or_ids() -> None:
    with client_with(Recorder()) as client:
        with pytest.raises(ValueError, match="numbers or ids"):
            client.audit("GL_VOUCHER")
        with pytest.raises(ValueError, match="numbers or ids"):
            client.audit("GL_VOUCHER", numbers=["a"], ids=[1])


def test_audit_of_several_bills_is_split_per_bill() -> None:
    answer = {
        "Result": {
            "ResponseStatus": {
                "ErrorCode": 500,
                "IsSuccess": False,
                "Errors": [
                    {"FieldName": None, "Message": "单据编号为“AR2”的应收单，单据已经审核！", "DIndex": 1}
                ],
                "SuccessEntitys": [{"Id": 1, "Number": "AR1", "DIndex": 0}],
                "SuccessMessages": [
                    {"FieldName": None, "Message": "单据编号为“AR1”的应收单，审核成功！", "DIndex": 0}
                ],
                "MsgCode": 11,
            }
        }
    }
    recorder = Recorder(answer)
    with client_with(recorder) as client:
        result = client.audit("AR_receivable", numbers=["AR1", "AR2"])
    assert result.packages[0].ok
    assert result.packages[1].outcome is not None
    assert result.packages[1].outcome.action is Action.SKIP  # already audited: nothing to do
    assert result.messages == ["单据编号为“AR1”的应收单，审核成功！"]
    assert json.loads(recorder.requests[0].content) == {
        "formid": "AR_receivable",
        "data": {"Numbers": ["AR1", "AR2"]},
    }
