"""AuthService: explicit logins (ValidateUser, ValidateUser2, LoginByAppSecret, LoginBySign) and Logout.

Clients other than the Python SDK log in first and then reuse the session cookies (§4.1, §4.3).
A login answers the LoginResult shape of §4.4 — `LoginResultType` 1 with a `Context` on success,
-1 with a `Message` on failure — and sets `kdservice-sessionid` and `ASP.NET_SessionId`. The
session it opens idles out like any other; without signed headers the caller then gets MsgCode 1.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from yecai.sandbox.kingdee import messages, protocol
from yecai.sandbox.kingdee.auth import Caller, Credentials, session_cookies
from yecai.sandbox.kingdee.values import to_bool

if TYPE_CHECKING:
    from yecai.sandbox.kingdee.services import Call, KingdeeSandbox

PRODUCT_VERSION = "9.0.553.10"  # what the sandbox reports as its K/3 Cloud version [INF]
FAILURE = -1  # LoginResultType.Failure; the sandbox uses it for every refused login [INF]
SUCCESS = 1
# lcid → (UserLocale, LocaleName, Alias) of the languages a data centre offers.
LOCALES = {
    2052: ("zh-CN", "中文(简体)", "CN"),
    1033: ("en-US", "English", "EN"),
    3076: ("zh-HK", "中文(繁體)", "HK"),
}
# The data centre's time zone as Context shows it (China Standard Time, K/3 Cloud's id 1078_SYS).
TIME_ZONE = {
    "OffsetTicks": 288000000000,
    "StandardName": "(UTC+08:00)北京，重庆，香港特别行政区，乌鲁木齐",
    "Id": 230,
    "Number": "1078_SYS",
    "CanBeUsed": True,
}
PARAMETERS: dict[str, tuple[str, ...]] = {
    "ValidateUser": ("acctID", "username", "password", "lcid"),
    "ValidateUser2": ("acctID", "username", "password", "isKickOff", "lcid"),
    "LoginByAppSecret": ("acctID", "username", "appId", "appSecret", "lcid"),
    "LoginBySign": ("acctID", "username", "appId", "timestamp", "sign", "lcid"),
    "Logout": (),
}

Check = Callable[[protocol.Arguments, Credentials, str], str | None]


def sign_of(values: list[str], algorithm: str = "sha256") -> str:
    """LoginBySign's signature: hex digest of the ordinal-sorted values concatenated (§4.3)."""
    return hashlib.new(algorithm, "".join(sorted(values)).encode("utf-8")).hexdigest()


def _text(args: protocol.Arguments, name: str) -> str:
    return protocol.text_argument(args.get(name)).strip()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _password(args: protocol.Arguments, creds: Credentials, user: str) -> str | None:
    ok = user == creds.user_name and bool(creds.password) and _same(_text(args, "password"), creds.password)
    return None if ok else "login_bad_password"


def _app_secret(args: protocol.Arguments, creds: Credentials, user: str) -> str | None:
    ok = (
        user == creds.user_name
        and _same(_text(args, "appId"), creds.app_id)
        and _same(_text(args, "appSecret"), creds.app_secret)
    )
    return None if ok else "login_bad_app"


def _sign(args: protocol.Arguments, creds: Credentials, user: str) -> str | None:
    if user != creds.user_name or not _same(_text(args, "appId"), creds.app_id):
        return "login_bad_app"
    values = [creds.acct_id, user, creds.app_id, creds.app_secret, _text(args, "timestamp")]
    given = _text(args, "sign").lower()
    # SHA-256, or SHA-1 as older versions sign (§4.3).
    if any(_same(given, sign_of(values, algorithm)) for algorithm in ("sha256", "sha1")):
        return None
    return "login_bad_sign"


CHECKS: dict[str, Check] = {
    "ValidateUser": _password,
    "ValidateUser2": _password,
    "LoginByAppSecret": _app_secret,
    "LoginBySign": _sign,
}


def login(sandbox: KingdeeSandbox, method: str, args: protocol.Arguments, call: Call) -> dict[str, Any]:
    """One AuthService login; opens a session and sets its cookies on success."""
    creds = sandbox.credentials
    acct_id, user = _text(args, "acctID"), _text(args, "username")
    call.how = "login"
    if acct_id != creds.acct_id:
        return failure(messages.text("login_wrong_data_centre", acct_id=acct_id))
    try:
        lcid = int(_text(args, "lcid") or creds.lcid)
    except ValueError:
        lcid = -1
    if lcid not in sandbox.settings.accepted_lcids:
        return failure(messages.text("login_bad_lcid", lcid=_text(args, "lcid")))
    refused = CHECKS[method](args, creds, user)
    if refused is not None:
        return failure(messages.text(refused))
    session = sandbox.sessions.create(Caller(acct_id, user, lcid, str(creds.org_num)), how=method)
    if method == "ValidateUser2" and _kick_off(args):
        sandbox.sessions.drop_user(user, keep=session.sid)
    call.session_out = session.sid
    call.cookies = session_cookies(session.sid, session.aspnet_id)
    # A published LoginByAppSecret answer had no KDSVCSessionId in the body (§4.4): rely on cookies.
    body_sid = None if method == "LoginByAppSecret" else session.sid
    return success(sandbox, user, lcid, session.aspnet_id, body_sid)


def _kick_off(args: protocol.Arguments) -> bool:
    try:
        return to_bool(args.get("isKickOff") or False)
    except ValueError:
        return False


def logout(sandbox: KingdeeSandbox, call: Call) -> bool:
    """End the caller's session; a real server answers `true` whether or not there was one [INF]."""
    sandbox.sessions.drop(call.sid_in)
    call.how = "logout"
    return True


def _result(
    result_type: int, message: str | None, context: dict[str, Any] | None, sid: str | None
) -> dict[str, Any]:
    """The LoginResult object (§4.4), in the key order real answers show."""
    return {
        "Message": message,
        "MessageCode": "CheckPasswordPolicy" if result_type == SUCCESS else None,
        "LoginResultType": result_type,
        "Context": context,
        "KDSVCSessionId": sid,
        "FormId": None,
        "RedirectFormParam": None,
        "FormInputObject": None,
        "ErrorStackTrace": None,
        "Lcid": 0,
        "AccessToken": None,
        "CustomParam": {},
        "KdAccessResult": None,
        "IsSuccessByAPI": result_type == SUCCESS,
    }


def failure(message: str, result_type: int = FAILURE) -> dict[str, Any]:
    return _result(result_type, message, None, None)


def success(sandbox: KingdeeSandbox, user: str, lcid: int, aspnet_id: str, sid: str | None) -> dict[str, Any]:
    """The LoginResult of §4.4, filled from the data centre."""
    store, registry = sandbox.store, sandbox.registry
    centre = store.meta("seed", {}).get("data_centre", {})
    user_form, org_form = registry.get("SEC_User"), registry.get("ORG_Organizations")
    user_id = store.find_number(user_form, user) if user_form else None
    org_id = store.find_number(org_form, str(sandbox.credentials.org_num)) if org_form else None
    org = store.get(org_form, org_id) if org_form and org_id is not None else None
    locale, locale_name, alias = LOCALES.get(lcid, LOCALES[2052])
    context = {
        "UserLocale": locale,
        "LogLocale": locale,
        "DBid": sandbox.credentials.acct_id,
        "DatabaseType": 3,
        "SessionId": aspnet_id,
        "UseLanguages": [{"LocaleId": lcid, "LocaleName": locale_name, "Alias": alias, "LicenseType": 0}],
        "UserId": user_id or 0,
        "UserName": user,
        "CustomName": str(centre.get("name", "")),
        "DisplayVersion": PRODUCT_VERSION,
        "DataCenterName": str(centre.get("name", "")),
        "UserToken": str(uuid.uuid4()),
        "CurrentOrganizationInfo": {
            "ID": org.id if org else 0,
            "AcctOrgType": "1",
            "Name": str(org.values.get("FNAME", "")) if org else "",
            "FunctionIds": [101, 102, 103, 104, 107, 108, 109, 110, 111, 112, 113, 114],
        },
        "IsCH_ZH_AutoTrans": False,
        "ClientType": 32,
        "WeiboAuthInfo": {},
        "UTimeZone": dict(TIME_ZONE),
        "STimeZone": dict(TIME_ZONE),
        "GDCID": "",
        "Gsid": None,
        "TRLevel": 1,
        "ProductEdition": 0,
        "DataCenterNumber": str(centre.get("number", "")),
        "ContextResultType": 0,
        "TenantId": "",
        "IsDeployAsPublicCloud": False,
    }
    return _result(SUCCESS, None, context, sid)
