"""Signed-header authentication and sessions, as a real K/3 Cloud treats the official SDK (§2.3–§4.2).

SID first: a request carrying a live `kdservice-sessionid` (header or cookie) is accepted without
looking at its signatures. Otherwise both `X-Api-Signature` (over the path as the SDK encodes it)
and `X-Kd-Signature` are verified and `X-Kd-Appdata` decoded; a wrong data-centre id is a transport
failure, any other mismatch the MsgCode 1 "会话信息已丢失" answer. No timestamp window, no nonce check.
Sessions opened by an AuthService login (logins.py) live in the same table and idle out alike.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from yecai.kingdee import signing

SESSION_COOKIE = "kdservice-sessionid"
ASPNET_COOKIE = "ASP.NET_SessionId"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The 第三方系统登录授权 registration of the data centre and its integration user."""

    acct_id: str
    user_name: str
    app_id: str
    app_secret: str
    lcid: int
    org_num: int | str
    password: str = ""  # the integration user's password, for ValidateUser


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a verified request says it is (from X-Kd-Appdata)."""

    acct_id: str
    user_name: str
    lcid: int
    org_num: str


class Verdict(Enum):
    OK = "ok"
    WRONG_DATA_CENTRE = "wrong_data_centre"  # answered with a non-200 "Fail to verify thirty passport"
    REFUSED = "refused"  # answered with MsgCode 1


@dataclass(slots=True)
class Session:
    sid: str
    caller: Caller
    created: float
    last_seen: float
    how: str = "signature"  # "signature", or the AuthService method that opened it
    aspnet_id: str = ""


class SessionTable:
    """Live sessions by SID; thread-safe, idle ones expire."""

    def __init__(self, idle_seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._idle = idle_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if self._idle is not None and now - session.last_seen > self._idle:
                del self._sessions[sid]
                return None
            session.last_seen = now
            return session

    def create(self, caller: Caller, how: str = "signature") -> Session:
        now = self._clock()
        session = Session(str(uuid.uuid4()), caller, now, now, how, aspnet_session_id())
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def drop(self, sid: str | None) -> bool:
        """End one session (Logout); whether there was one."""
        with self._lock:
            return self._sessions.pop(sid or "", None) is not None

    def drop_user(self, user_name: str, keep: str | None = None) -> int:
        """End every session of a user but `keep` (ValidateUser2's isKickOff); how many ended."""
        with self._lock:
            gone = [s for s, v in self._sessions.items() if v.caller.user_name == user_name and s != keep]
            for sid in gone:
                del self._sessions[sid]
        return len(gone)

    def drop_all(self) -> int:
        """Forget every session (a server restart or app-pool recycle); returns how many there were."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
        return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


def parse_cookies(header: str) -> dict[str, str]:
    """Cookie pairs, tolerating the SDK's garbling: `;` or `,` separators and names with spaces."""
    cookies: dict[str, str] = {}
    for chunk in header.replace(",", ";").split(";"):
        name, eq, value = chunk.partition("=")
        name = name.strip()
        if eq and name and name.lower() not in ("path", "domain", "expires", "max-age"):
            cookies.setdefault(name, value.strip())
    return cookies


def session_id(headers: Mapping[str, str]) -> str | None:
    """The SID a request carries: the `kdservice-sessionid` header first, then the cookie."""
    sid = headers.get(SESSION_COOKIE, "").strip()
    if sid:
        return sid
    for name, value in parse_cookies(headers.get("cookie", "")).items():
        if name.lower() == SESSION_COOKIE and value:
            return value
    return None


def aspnet_session_id() -> str:
    """24 characters of ASP.NET's session-id alphabet, as `Context.SessionId` shows (§4.4)."""
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz012345") for _ in range(24))


def session_cookies(sid: str, aspnet: str | None = None) -> list[str]:
    """Set-Cookie values: no `expires=` (its comma breaks the SDK's cookie split, §2.5)."""
    return [
        f"{SESSION_COOKIE}={sid}; path=/",
        f"{ASPNET_COOKIE}={aspnet or aspnet_session_id()}; path=/; HttpOnly",
    ]


def decode_app_data(encoded: str) -> Caller | None:
    """X-Kd-Appdata → (acct id, user, lcid, org); the user name may itself contain commas."""
    try:
        plain = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    parts = plain.split(",")
    if len(parts) < 4:
        return None
    try:
        lcid = int(parts[-2])
    except ValueError:
        return None
    return Caller(parts[0], ",".join(parts[1:-2]), lcid, parts[-1])


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def verify_signed_headers(
    headers: Mapping[str, str], url: str, credentials: Credentials, accepted_lcids: frozenset[int]
) -> tuple[Verdict, Caller | None]:
    """Check a request's signed headers against the data centre's registration.

    `url` is the full URL the client used (scheme, host as in the Host header, path, query), from
    which the SDK's path encoding is recomputed — so the index-10 quirk of §2.4d is mirrored too.
    """
    app_data = headers.get("x-kd-appdata", "")
    caller = decode_app_data(app_data) if app_data else None
    if caller is None:
        return Verdict.REFUSED, None
    if caller.acct_id != credentials.acct_id:
        return Verdict.WRONG_DATA_CENTRE, caller
    if (
        headers.get("x-kd-appkey", "") != credentials.app_id
        or caller.user_name != credentials.user_name
        or caller.lcid not in accepted_lcids
    ):
        return Verdict.REFUSED, caller
    plain = base64.b64decode(app_data.strip()).decode("utf-8")
    expected_kd = signing.kd_signature(credentials.app_id, plain, credentials.app_secret)
    if not _same(headers.get("x-kd-signature", ""), expected_kd):
        return Verdict.REFUSED, caller
    _, client_secret = signing.split_app_id(credentials.app_id)
    nonce, stamp = headers.get("x-api-nonce"), headers.get("x-api-timestamp")
    if nonce is None or stamp is None:
        return Verdict.REFUSED, caller
    expected_api = signing.api_signature(signing.encoded_path(url), nonce, stamp, client_secret)
    if not _same(headers.get("x-api-signature", ""), expected_api):
        return Verdict.REFUSED, caller
    return Verdict.OK, caller
