"""Helpers shared by the sandbox.kingdee tests: SDK clients, voucher models, signed in-process calls."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from k3cloud_webapi_sdk.main import K3CloudApiSdk

from yecai.kingdee import signing
from yecai.sandbox.kingdee import KingdeeSandbox, WireReply, WireRequest

DYNAMIC_FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
BASE_URL = "http://127.0.0.1:8090/K3Cloud/"


def sdk_client(creds: dict[str, Any], **overrides: Any) -> K3CloudApiSdk:
    """The official SDK, configured exactly as its README says, from sandbox credentials."""
    c = {**creds, **overrides}
    sdk = K3CloudApiSdk(c["server_url"], timeout=30)
    sdk.InitConfig(
        c["acct_id"], c["user_name"], c["app_id"], c["app_secret"], c["server_url"], c["lcid"], c["org_num"]
    )
    return sdk


def line(
    account: str, debit: Any = 0, credit: Any = 0, explanation: str = "测试", **dims: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "FEXPLANATION": explanation,
        "FACCOUNTID": {"FNumber": account},
        "FCURRENCYID": {"FNumber": "PRE001"},
        "FEXCHANGERATETYPE": {"FNumber": "HLTX01_SYS"},
        "FEXCHANGERATE": 1,
        "FDEBIT": debit,
        "FCREDIT": credit,
    }
    if dims:
        entry["FDetailID"] = {f"FDETAILID__{key}": {"FNumber": value} for key, value in dims.items()}
    return entry


def voucher(*lines: dict[str, Any], date: str = "2025-03-31", book: str = "001") -> dict[str, Any]:
    return {
        "FAccountBookID": {"FNumber": book},
        "FDate": date,
        "FVOUCHERGROUPID": {"FNumber": "PRE001"},
        "FATTACHMENTS": 0,
        "FEntity": list(lines),
    }


def balanced_voucher(
    amount: Any = 100, project: str | None = None, date: str = "2025-03-31"
) -> dict[str, Any]:
    """Cash paid for an expense: 6602 管理费用 (dept) against 1001 库存现金, or a project cost."""
    if project:
        return voucher(
            line("5401.02", debit=amount, FF100001=project),
            line("2202.01", credit=amount, FF100001=project, FFLEX4="GYS0001"),
            date=date,
        )
    return voucher(line("6602", debit=amount, FFLEX5="BM02"), line("1001", credit=amount), date=date)


def status_of(answer: Any) -> dict[str, Any]:
    """ResponseStatus of a Save/BatchSave/operation answer (text or parsed)."""
    body = json.loads(answer) if isinstance(answer, str) else answer
    return body["Result"]["ResponseStatus"]


def signed_call(
    sandbox: KingdeeSandbox,
    service: str,
    body: Any,
    *,
    base_url: str = BASE_URL,
    headers: dict[str, str] | None = None,
    sign: bool = True,
    raw: bytes | None = None,
    identity: signing.Identity | None = None,
) -> WireReply:
    """One request straight into KingdeeSandbox.handle, signed like the SDK signs it."""
    url = base_url + service + ".common.kdsvc"
    all_headers: dict[str, str] = {"content-type": "application/json"}
    if sign:
        creds = sandbox.credentials
        who = identity or signing.Identity(
            creds.acct_id, creds.user_name, creds.app_id, creds.app_secret, creds.lcid, creds.org_num
        )
        all_headers.update({k.lower(): v for k, v in signing.signed_headers(who, url).items()})
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    payload = raw if raw is not None else json.dumps(body).encode("utf-8")
    path = "/" + url.split("/", 3)[3]
    return sandbox.handle(WireRequest(url=url, path=path, headers=all_headers, body=payload))


def session_lost_text() -> str:
    return (
        '{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[{"FieldName":null,'
        '"Message":"会话信息已丢失，请重新登录","DIndex":0}],"SuccessEntitys":[],"SuccessMessages":[],"MsgCode":1}}}'
    )


class FakeClock:
    """A settable `SandboxSettings.clock`: time moves only when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2025, 3, 31, 9, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def pay_apply(amount: Any = "1200.50", supplier: str = "GYS0001", **header: Any) -> dict[str, Any]:
    """A 付款申请单 Model to a supplier, one line."""
    return {
        "FDATE": "2025-03-10",
        "FCONTACTUNITTYPE": "BD_Supplier",
        "FCONTACTUNIT": {"FNumber": supplier},
        "FPAYAPPLYENTRY": [
            {
                "FCOSTID": {"FNumber": "FYXM01"},
                "FSETTLETYPEID": {"FNumber": "JSFS04_SYS"},
                "FPAYPURPOSEID": {"FNumber": "SFKYT01_SYS"},
                "FAPPLYAMOUNTFOR": amount,
            }
        ],
        **header,
    }


def payable(
    amount: Any = "1130.00", supplier: str = "GYS0002", rate: Any = 13, **header: Any
) -> dict[str, Any]:
    """An 应付单 Model (费用), one detail line with the gross amount and a tax rate."""
    return {
        "FDATE": "2025-03-12",
        "FSUPPLIERID": {"FNumber": supplier},
        "FBUSINESSTYPE": "FY",
        "FEntityDetail": [
            {"FCOSTID": {"FNumber": "FYXM02"}, "FALLAMOUNTFOR_D": amount, "FEntryTaxRate": rate}
        ],
        **header,
    }
