"""AuthService logins over raw HTTP, sent the way the Java, C# and Go clients send them (§3, §4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.kingdee_calls import DYNAMIC_FORM, FakeClock, sdk_client, session_lost_text
from yecai.sandbox.kingdee import SandboxServer, SandboxSettings, credentials, start_sandbox
from yecai.sandbox.kingdee.datadir import password_credentials
from yecai.sandbox.kingdee.logins import sign_of

AUTH = "Kingdee.BOS.WebApi.ServicesStub.AuthService."
QUERY = DYNAMIC_FORM + "ExecuteBillQuery"
DEPARTMENTS = {"FormId": "BD_Department", "FieldKeys": "FNumber", "FilterString": "FNumber='BM02'"}
IDLE = 600.0


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def clocked_running(
    tmp_path_factory: pytest.TempPathFactory, clock: FakeClock
) -> Iterator[tuple[SandboxServer, Path]]:
    data_dir = tmp_path_factory.mktemp("kingdee-auth")
    settings = SandboxSettings(clock=clock, session_idle_seconds=IDLE)
    server, _ = start_sandbox(data_dir, settings=settings)
    assert isinstance(server, SandboxServer)
    yield server, data_dir
    server.stop()


@pytest.fixture
def url(clocked_running: tuple[SandboxServer, Path]) -> str:
    return f"{clocked_running[0].base_url}/K3Cloud/"


@pytest.fixture
def secret(clocked_running: tuple[SandboxServer, Path], url: str) -> dict[str, Any]:
    """acct id, user, password, lcid — and the AppId/AppSecret for the app logins."""
    return {**password_credentials(clocked_running[1]), **credentials(clocked_running[1], url)}


def post(url: str, service: str, body: Any, cookie: str | None = None, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/json", **headers}
    if cookie:
        sent["Cookie"] = cookie
    return httpx.post(url + service + ".common.kdsvc", content=json.dumps(body), headers=sent, timeout=10)


def cookies_of(response: httpx.Response) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def session_cookie(response: httpx.Response) -> str:
    """What a client sends back: both cookies, `; `-joined (Java) — the SID is the first."""
    found = cookies_of(response)
    return (
        f"kdservice-sessionid={found['kdservice-sessionid']}; ASP.NET_SessionId={found['ASP.NET_SessionId']}"
    )


def envelope(parameters: list[Any]) -> dict[str, Any]:
    """The C# ApiClient envelope: parameters as a JSON string (§3.3)."""
    return {
        "format": 1,
        "useragent": "ApiClient",
        "rid": "1938288423",
        "parameters": json.dumps(parameters),
        "timestamp": "2025-03-31 09:00:00",
        "v": "1.0",
    }


def validate_user_bodies(s: dict[str, Any]) -> dict[str, Any]:
    positional = [s["acct_id"], s["user_name"], s["password"], s["lcid"]]
    return {
        "java-positional": {"parameters": positional},
        "csharp-envelope": envelope(positional),
        "go-named": {
            "acctid": s["acct_id"],
            "username": s["user_name"],
            "password": s["password"],
            "lcid": 2052,
        },
        "named-camel": {"acctID": s["acct_id"], "userName": s["user_name"], "password": s["password"]},
    }


@pytest.mark.parametrize("style", ["java-positional", "csharp-envelope", "go-named", "named-camel"])
def test_validate_user_in_every_body_style_opens_a_session(
    url: str, secret: dict[str, Any], style: str
) -> None:
    response = post(url, AUTH + "ValidateUser", validate_user_bodies(secret)[style])
    assert response.status_code == 200
    result = response.json()
    assert result["LoginResultType"] == 1
    assert result["IsSuccessByAPI"] is True
    assert result["Message"] is None
    context = result["Context"]
    assert context["DBid"] == secret["acct_id"]
    assert context["UserName"] == secret["user_name"]
    assert context["UserLocale"] == "zh-CN"
    assert context["CurrentOrganizationInfo"]["Name"] == "业财演示建设集团有限公司"
    assert context["UserId"] >= 100001
    cookies = cookies_of(response)
    assert cookies["kdservice-sessionid"] == result["KDSVCSessionId"]
    assert cookies["ASP.NET_SessionId"] == context["SessionId"]
    assert len(context["SessionId"]) == 24
    # The session cookie alone (no signed headers) now gets in.
    query = post(url, QUERY, {"parameters": [json.dumps(DEPARTMENTS)]}, cookie=session_cookie(response))
    assert query.json() == [["BM02"]]


def test_the_session_can_come_back_as_the_kdservice_header(url: str, secret: dict[str, Any]) -> None:
    sid = post(url, AUTH + "ValidateUser", validate_user_bodies(secret)["go-named"]).json()["KDSVCSessionId"]
    query = post(url, QUERY, {"data": DEPARTMENTS}, **{"kdservice-sessionid": sid})
    assert query.json() == [["BM02"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password": "wrong"}, "用户名或密码错误"),
        ({"user_name": "intruder"}, "用户名或密码错误"),
        ({"acct_id": "5f0000000000aa"}, "数据中心“5f0000000000aa”不存在，请检查账套ID。"),
        ({"lcid": 9999}, "语言代码9999在当前数据中心不可用。"),
    ],
    ids=["password", "user", "data-centre", "lcid"],
)
def test_failed_password_logins(
    url: str, secret: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    s = {**secret, **change}
    response = post(
        url, AUTH + "ValidateUser", {"parameters": [s["acct_id"], s["user_name"], s["password"], s["lcid"]]}
    )
    assert response.status_code == 200
    result = response.json()
    assert result["LoginResultType"] == -1
    assert result["Message"] == message
    assert result["Context"] is None
    assert result["KDSVCSessionId"] is None
    assert "kdservice-sessionid" not in cookies_of(response)


def test_validate_user2_kicks_off_earlier_sessions(url: str, secret: dict[str, Any]) -> None:
    first = post(url, AUTH + "ValidateUser", validate_user_bodies(secret)["java-positional"])
    keep = [secret["acct_id"], secret["user_name"], secret["password"], False, 2052]
    second = post(url, AUTH + "ValidateUser2", {"parameters": keep})
    assert second.json()["LoginResultType"] == 1
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=session_cookie(first)).json() == [["BM02"]]
    kick = [secret["acct_id"], secret["user_name"], secret["password"], True, 2052]
    third = post(url, AUTH + "ValidateUser2", envelope(kick))
    assert third.json()["LoginResultType"] == 1
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=session_cookie(first)).text == session_lost_text()
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=session_cookie(second)).text == session_lost_text()
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=session_cookie(third)).json() == [["BM02"]]


def test_login_by_app_secret(url: str, secret: dict[str, Any]) -> None:
    body = [secret["acct_id"], secret["user_name"], secret["app_id"], secret["app_secret"], 2052]
    response = post(url, AUTH + "LoginByAppSecret", {"parameters": body})
    result = response.json()
    assert result["LoginResultType"] == 1
    assert result["KDSVCSessionId"] is None  # as in the published answer: the cookie carries it
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=session_cookie(response)).json() == [["BM02"]]
    wrong = post(url, AUTH + "LoginByAppSecret", {"parameters": [*body[:3], "0" * 32, 2052]}).json()
    assert (wrong["LoginResultType"], wrong["Message"]) == (
        -1,
        "第三方系统登录授权验证失败：应用ID或应用密钥不正确。",
    )


def test_login_by_sign_reference_vector() -> None:
    values = [
        "5f0000000000aa",
        "api_user",
        "100001_422C1/iIyuH4R+Ws526A2/yLyrX6RrOs",
        "fedcba9876543210fedcba9876543210",
        "1700000000",
    ]
    assert sign_of(values) == "f3a0e06271168440fdde7afe856e16e3d558c8404446af1953075c64b304537d"
    assert sign_of(values, "sha1") == "7e1af0b5b1f026b8da249a40bb37ee23a809923b"


@pytest.mark.parametrize("algorithm", ["sha256", "sha1"])
def test_login_by_sign(url: str, secret: dict[str, Any], algorithm: str) -> None:
    stamp = "1743382800"
    signed = [secret["acct_id"], secret["user_name"], secret["app_id"], secret["app_secret"], stamp]
    sign = sign_of(signed, algorithm).upper()  # hex case does not matter
    body = {
        "acctID": secret["acct_id"],
        "username": secret["user_name"],
        "appId": secret["app_id"],
        "timestamp": stamp,
        "sign": sign,
        "lcid": 2052,
    }
    response = post(url, AUTH + "LoginBySign", body)
    assert response.json()["LoginResultType"] == 1
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=session_cookie(response)).json() == [["BM02"]]
    tampered = post(url, AUTH + "LoginBySign", {**body, "timestamp": "1743382801"}).json()
    assert (tampered["LoginResultType"], tampered["Message"]) == (
        -1,
        "签名验证失败，请检查签名算法和参与签名的参数。",
    )


def test_password_sessions_idle_out_and_then_get_msgcode_1(
    url: str, secret: dict[str, Any], clock: FakeClock
) -> None:
    cookie = session_cookie(post(url, AUTH + "ValidateUser", validate_user_bodies(secret)["go-named"]))
    clock.advance(IDLE - 1)
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=cookie).json() == [["BM02"]]  # touching renews it
    clock.advance(IDLE - 1)
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=cookie).json() == [["BM02"]]
    clock.advance(IDLE + 1)
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=cookie).text == session_lost_text()


def test_signed_requests_survive_idle_expiry_silently(
    url: str, secret: dict[str, Any], clock: FakeClock
) -> None:
    sdk = sdk_client(secret)
    assert json.loads(sdk.ExecuteBillQuery(DEPARTMENTS)) == [["BM02"]]
    first_sid = sdk.cookiesStore.SID
    clock.advance(IDLE + 1)
    assert json.loads(sdk.ExecuteBillQuery(DEPARTMENTS)) == [["BM02"]]
    assert first_sid != sdk.cookiesStore.SID  # a new session, issued without a word


def test_logout_ends_the_session(
    url: str, secret: dict[str, Any], clocked_running: tuple[SandboxServer, Path]
) -> None:
    cookie = session_cookie(post(url, AUTH + "ValidateUser", validate_user_bodies(secret)["java-positional"]))
    answer = post(url, AUTH + "Logout", {"parameters": []}, cookie=cookie)
    assert answer.status_code == 200
    assert answer.json() is True
    assert clocked_running[0].sandbox.calls()[-1].auth == "logout"
    assert post(url, QUERY, {"data": DEPARTMENTS}, cookie=cookie).text == session_lost_text()


def test_password_credentials_sit_beside_the_app_credentials(
    clocked_running: tuple[SandboxServer, Path], url: str
) -> None:
    found = password_credentials(clocked_running[1], url)
    assert list(found) == ["server_url", "acct_id", "user_name", "password", "lcid"]
    assert len(found["password"]) >= 12
    assert list(credentials(clocked_running[1], url)) == [
        "server_url", "acct_id", "user_name", "app_id", "app_secret", "lcid", "org_num"
    ]  # fmt: skip
    stored = json.loads((clocked_running[1] / "credentials.json").read_text(encoding="utf-8"))
    assert stored["password"] == found["password"]


def test_an_old_data_directory_gets_a_password(tmp_path: Path) -> None:
    server, creds = start_sandbox(tmp_path)
    server.stop()
    stored = json.loads((tmp_path / "credentials.json").read_text(encoding="utf-8"))
    del stored["password"]
    (tmp_path / "credentials.json").write_text(json.dumps(stored), encoding="utf-8")
    server, again = start_sandbox(tmp_path)
    try:
        assert (again["app_id"], again["app_secret"]) == (creds["app_id"], creds["app_secret"])
        assert password_credentials(tmp_path)["password"]
    finally:
        server.stop()
