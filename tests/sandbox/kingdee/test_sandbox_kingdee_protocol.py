"""sandbox.kingdee wire behaviour without HTTP: routing, body variants, authentication, envelopes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.kingdee_calls import DYNAMIC_FORM, balanced_voucher, session_lost_text, signed_call
from yecai.kingdee import signing
from yecai.sandbox.kingdee import KingdeeSandbox, WireReply
from yecai.sandbox.kingdee.messages import MESSAGES

QUERY = DYNAMIC_FORM + "ExecuteBillQuery"
DEPARTMENTS = {"FormId": "BD_Department", "FieldKeys": "FNumber", "FilterString": "FNumber='BM03'"}


def _json(reply: WireReply) -> Any:
    assert reply.status == 200, reply.text
    return json.loads(reply.text)


@pytest.mark.parametrize(
    "body",
    [
        {"data": DEPARTMENTS},
        {"Data": json.dumps(DEPARTMENTS)},
        {"parameters": [DEPARTMENTS]},
        {"parameters": [json.dumps(DEPARTMENTS)]},
        {"parameters": json.dumps([json.dumps(DEPARTMENTS)])},
        {
            "format": 1,
            "useragent": "ApiClient",
            "rid": "12345",
            "parameters": json.dumps([DEPARTMENTS]),
            "timestamp": "2025-01-01",
            "v": "1.0",
        },
        DEPARTMENTS,
    ],
    ids=[
        "named",
        "named-caps-string",
        "positional",
        "positional-string",
        "parameters-string",
        "envelope",
        "bare",
    ],
)
def test_every_body_variant_reaches_the_query(sandbox: KingdeeSandbox, body: object) -> None:
    assert _json(signed_call(sandbox, QUERY, body)) == [["BM03"]]


@pytest.mark.parametrize(
    "body",
    [
        {"formid": "BD_Department", "data": {"Model": {"FNumber": "BM-V1", "FName": "甲"}}},
        {"FormId": "BD_Department", "Data": json.dumps({"Model": {"FNumber": "BM-V1", "FName": "甲"}})},
        {"parameters": ["BD_Department", json.dumps({"Model": {"FNumber": "BM-V1", "FName": "甲"}})]},
    ],
)
def test_save_accepts_named_and_positional_bodies(sandbox: KingdeeSandbox, body: object) -> None:
    answer = _json(signed_call(sandbox, DYNAMIC_FORM + "Save", body))
    assert answer["Result"]["Number"] == "BM-V1"


def test_service_names_and_prefix_are_case_insensitive(sandbox: KingdeeSandbox) -> None:
    reply = signed_call(
        sandbox,
        "kingdee.bos.webapi.servicesstub.dynamicformservice.executebillquery",
        {"data": DEPARTMENTS},
        base_url="http://127.0.0.1:8090/k3cloud/",
    )
    assert _json(reply) == [["BM03"]]


def test_bare_array_body_gets_show_err_msg(sandbox: KingdeeSandbox) -> None:
    reply = signed_call(sandbox, QUERY, [DEPARTMENTS])
    assert reply.status == 200
    assert reply.content_type.startswith("text/plain")
    assert reply.text == (
        '{"actionname":"ShowErrMsg","params":[{"errorTitle":"金蝶温馨提示: 应用服务器发生错误，请联系系统管理员检修！",'
        '"errorInfo":"Additional text found in JSON string after finishing deserializing object."}]}'
    )


def test_garbage_body_gets_show_err_msg(sandbox: KingdeeSandbox) -> None:
    reply = signed_call(sandbox, QUERY, None, raw=b"{not json")
    assert json.loads(reply.text)["actionname"] == "ShowErrMsg"


def test_unknown_service_is_a_response_error(sandbox: KingdeeSandbox) -> None:
    reply = signed_call(sandbox, DYNAMIC_FORM + "NoSuchThing", {})
    assert reply.status == 200
    assert reply.text.startswith('response_error:{"ClassName":')
    assert "NoSuchThing" in json.loads(reply.text.removeprefix("response_error:"))["Message"]


def test_a_known_but_not_emulated_service_says_so(sandbox: KingdeeSandbox) -> None:
    reply = signed_call(sandbox, DYNAMIC_FORM + "Push", {"formid": "GL_VOUCHER", "data": {}})
    assert reply.text.startswith("response_error:")
    assert "沙箱暂不支持" in reply.text


def test_other_paths_are_not_found(sandbox: KingdeeSandbox) -> None:
    assert signed_call(sandbox, QUERY, {}, base_url="http://127.0.0.1:8090/Other/").status == 404
    assert signed_call(sandbox, "", {}).status == 404


def test_unsigned_request_without_session_is_refused(sandbox: KingdeeSandbox) -> None:
    reply = signed_call(sandbox, QUERY, {"data": DEPARTMENTS}, sign=False)
    assert reply.text == session_lost_text()
    assert reply.set_cookies
    assert reply.set_cookies[0].startswith("kdservice-sessionid=")
    # The refusal's SID is an empty shell: using it does not get in.
    shell = reply.set_cookies[0].split(";")[0].split("=", 1)[1]
    again = signed_call(
        sandbox, QUERY, {"data": DEPARTMENTS}, sign=False, headers={"kdservice-sessionid": shell}
    )
    assert again.text == session_lost_text()


def test_signature_over_another_path_is_refused(sandbox: KingdeeSandbox) -> None:
    creds = sandbox.credentials
    identity = signing.Identity(creds.acct_id, creds.user_name, creds.app_id, creds.app_secret, 2052, 100)
    headers = signing.signed_headers(identity, "http://127.0.0.1:8090/K3Cloud/Other.Service.common.kdsvc")
    reply = signed_call(sandbox, QUERY, {"data": DEPARTMENTS}, sign=False, headers=headers)
    assert reply.text == session_lost_text()


def test_tampered_app_data_is_refused(sandbox: KingdeeSandbox) -> None:
    creds = sandbox.credentials
    forged = base64.b64encode(f"{creds.acct_id},{creds.user_name},2052,999".encode()).decode()
    reply = signed_call(sandbox, QUERY, {"data": DEPARTMENTS}, headers={"X-Kd-Appdata": forged})
    assert reply.text == session_lost_text()


def test_stale_timestamps_and_repeated_nonces_are_accepted(sandbox: KingdeeSandbox) -> None:
    creds = sandbox.credentials
    identity = signing.Identity(creds.acct_id, creds.user_name, creds.app_id, creds.app_secret, 2052, 100)
    url = "http://127.0.0.1:8090/K3Cloud/" + QUERY + ".common.kdsvc"
    headers = signing.signed_headers(identity, url, now=1_000_000_000)
    for _ in range(3):
        reply = signed_call(sandbox, QUERY, {"data": DEPARTMENTS}, sign=False, headers=headers)
        assert json.loads(reply.text) == [["BM03"]]


def test_garbled_cookie_names_from_the_sdk_are_understood(sandbox: KingdeeSandbox) -> None:
    first = signed_call(sandbox, QUERY, {"data": DEPARTMENTS})
    sid = first.set_cookies[0].split(";")[0].split("=", 1)[1]
    assert "expires" not in " ".join(first.set_cookies).lower()
    cookie = f"Theme=standard;kdservice-sessionid={sid}; ASP.NET_SessionId=abc"
    reply = signed_call(sandbox, QUERY, {"data": DEPARTMENTS}, sign=False, headers={"Cookie": cookie})
    assert json.loads(reply.text) == [["BM03"]]
    assert sandbox.calls()[-1].auth == "session"
    assert reply.set_cookies == []


def test_a_random_session_id_is_silently_replaced(sandbox: KingdeeSandbox) -> None:
    reply = signed_call(
        sandbox, QUERY, {"data": DEPARTMENTS}, headers={"kdservice-sessionid": "not-a-session"}
    )
    assert json.loads(reply.text) == [["BM03"]]
    assert sandbox.calls()[-1].auth == "signature"
    assert reply.set_cookies[0].startswith("kdservice-sessionid=")


def test_wrong_data_centre_is_a_500(sandbox: KingdeeSandbox) -> None:
    creds = sandbox.credentials
    identity = signing.Identity("0" * 14, creds.user_name, creds.app_id, creds.app_secret, 2052, 100)
    reply = signed_call(sandbox, QUERY, {"data": DEPARTMENTS}, identity=identity)
    assert reply.status == 500
    assert "Fail to verify thirty passport" in reply.text


def test_save_success_envelope_has_no_error_code(sandbox: KingdeeSandbox) -> None:
    body = {
        "formid": "GL_VOUCHER",
        "data": {
            "Model": balanced_voucher(9),
            "NeedReturnFields": ["FBillNo", "FVOUCHERGROUPNO", "FEntity.FSeq"],
        },
    }
    reply = signed_call(sandbox, DYNAMIC_FORM + "Save", body)
    assert reply.text.startswith(
        '{"Result":{"ResponseStatus":{"IsSuccess":true,"Errors":[],"SuccessEntitys":[{"Id":'
    )
    result = json.loads(reply.text)["Result"]
    assert "ErrorCode" not in result["ResponseStatus"]
    assert result["NeedReturnData"] == [
        {"FBillNo": result["Number"], "FVOUCHERGROUPNO": "1", "FEntity": [{"FSeq": 1}, {"FSeq": 2}]}
    ]


@pytest.mark.parametrize(
    ("body", "msg_code"),
    [
        ({"formid": "NO_FORM", "data": {"Model": {}}}, 4),
        ({"formid": "", "data": {"Model": {}}}, 5),
        ({"formid": "BD_Department", "data": {}}, 8),
        ({"formid": "BD_Department", "data": {"Model": {"FNumber": "X", "FName": "X", "FNoSuch": 1}}}, 9),
        ({"formid": "BD_Department", "data": {"Model": {"FNumber": "X"}}}, 11),
        ({"formid": "GL_VOUCHER", "data": {"Model": {"FVOUCHERID": 999999}}}, 10),
    ],
    ids=["unknown-form", "empty-form", "no-model", "unknown-field", "required", "update-missing"],
)
def test_save_failures_carry_the_right_msgcode(sandbox: KingdeeSandbox, body: object, msg_code: int) -> None:
    status = _json(signed_call(sandbox, DYNAMIC_FORM + "Save", body))["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False
    assert status["ErrorCode"] == 500
    assert status["MsgCode"] == msg_code


def test_save_with_the_voucher_id_updates_it(sandbox: KingdeeSandbox) -> None:
    created = _json(
        signed_call(
            sandbox, DYNAMIC_FORM + "Save", {"formid": "GL_VOUCHER", "data": {"Model": balanced_voucher(5)}}
        )
    )
    voucher_id = created["Result"]["Id"]
    changed = {**balanced_voucher(8), "FVOUCHERID": voucher_id}
    updated = _json(
        signed_call(sandbox, DYNAMIC_FORM + "Save", {"formid": "GL_VOUCHER", "data": {"Model": changed}})
    )
    assert updated["Result"]["Id"] == voucher_id
    rows = _json(
        signed_call(
            sandbox,
            QUERY,
            {"data": {"FormId": "GL_VOUCHER", "FieldKeys": "FVOUCHERID,FVOUCHERGROUPNO,FDEBITTOTAL"}},
        )
    )
    assert rows == [[voucher_id, "1", 8]]


def test_auto_audit_then_update_is_refused(sandbox: KingdeeSandbox) -> None:
    data = {"Model": {"FNumber": "BM-AUD", "FName": "审核后"}, "IsAutoSubmitAndAudit": "true"}
    created = _json(signed_call(sandbox, DYNAMIC_FORM + "Save", {"formid": "BD_Department", "data": data}))
    dept_id = created["Result"]["Id"]
    again = {"Model": {"FDEPTID": dept_id, "FName": "改名"}}
    status = _json(signed_call(sandbox, DYNAMIC_FORM + "Save", {"formid": "BD_Department", "data": again}))
    assert status["Result"]["ResponseStatus"]["MsgCode"] == 11


def test_the_docs_list_every_message_exactly() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "sandbox-kingdee.md").read_text(encoding="utf-8")
    for key, message in MESSAGES.items():
        assert f"| `{key}` |" in docs, key
        assert f"`{message.template}`" in docs, key
        assert message.source in docs.split(f"| `{key}` |", 1)[1].split("\n", 1)[0], key


def _save(sandbox: KingdeeSandbox, form_id: str, data: dict[str, Any]) -> Any:
    return _json(signed_call(sandbox, DYNAMIC_FORM + "Save", {"formid": form_id, "data": data}))["Result"]


def _query(sandbox: KingdeeSandbox, **data: Any) -> Any:
    return _json(signed_call(sandbox, QUERY, {"data": data}))


def test_need_update_fields_limits_an_update(sandbox: KingdeeSandbox) -> None:
    created = _save(
        sandbox, "BD_Supplier", {"Model": {"FNumber": "GYS-U1", "FName": "旧名", "FShortName": "旧"}}
    )
    update = {"FSupplierId": created["Id"], "FName": "新名", "FShortName": "不该改"}
    assert (
        _save(sandbox, "BD_Supplier", {"Model": update, "NeedUpDateFields": ["FName"]})["Id"] == created["Id"]
    )
    rows = _query(
        sandbox, FormId="BD_Supplier", FieldKeys="FName,FShortName", FilterString="FNumber='GYS-U1'"
    )
    assert rows == [["新名", "旧"]]


def test_a_new_sub_account_turns_its_parent_into_a_non_leaf(sandbox: KingdeeSandbox) -> None:
    before = _save(sandbox, "GL_VOUCHER", {"Model": balanced_voucher(1)})
    assert before["ResponseStatus"]["IsSuccess"]
    created = _save(sandbox, "BD_Account", {"Model": {"FNumber": "1001.01", "FName": "人民币现金", "FDC": 1}})
    assert created["ResponseStatus"]["IsSuccess"]
    rows = _query(
        sandbox,
        FormId="BD_Account",
        FieldKeys="FNumber,FIsDetail,FLevel,FFullName",
        FilterString="FNumber like '1001%' and FAcctTblId.FNumber = 'KMB001'",
        OrderString="FNumber",
    )
    assert rows == [["1001", False, 1, "库存现金"], ["1001.01", True, 2, "库存现金_人民币现金"]]
    after = _save(sandbox, "GL_VOUCHER", {"Model": balanced_voucher(1)})["ResponseStatus"]
    assert "不是明细科目" in after["Errors"][0]["Message"]
    orphan = _save(sandbox, "BD_Account", {"Model": {"FNumber": "8888.01", "FName": "孤儿"}})[
        "ResponseStatus"
    ]
    assert orphan["Errors"][0]["Message"] == "科目[8888.01]的上级科目[8888]不存在。"
