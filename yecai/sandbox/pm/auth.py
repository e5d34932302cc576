r"""How clients authenticate to sandbox.pm: a bearer token, an HMAC signature, or either.

The signature (docs/sandbox-pm.md has it to the byte): X-App-Key, X-Timestamp (Unix seconds,
±300 s of the wall clock), X-Nonce (once per window) and X-Sign = hex HMAC-SHA256(secret,
METHOD "\n" PATH "\n" SORTED_QUERY "\n" TIMESTAMP "\n" NONCE). One mode per server.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, quote

from yecai.sandbox.pm.errors import ApiError, bilingual, invalid_token

DEFAULT_TOKEN = "yecai-pm-sandbox"
DEFAULT_APP_KEY = "yecai-pm-app"
DEFAULT_APP_SECRET = "yecai-pm-secret"
WINDOW_SECONDS = 300
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class AuthMode(StrEnum):
    BEARER = "bearer"
    HMAC = "hmac"
    EITHER = "either"


@dataclass(frozen=True, slots=True)
class AuthConfig:
    mode: AuthMode = AuthMode.BEARER
    token: str = DEFAULT_TOKEN
    app_key: str = DEFAULT_APP_KEY
    app_secret: str = DEFAULT_APP_SECRET
    window_seconds: int = WINDOW_SECONDS

    def __post_init__(self) -> None:
        if self.mode in (AuthMode.BEARER, AuthMode.EITHER) and not self.token:
            raise ValueError("token must not be empty: bearer authentication needs one")
        if self.mode in (AuthMode.HMAC, AuthMode.EITHER) and not (self.app_key and self.app_secret):
            raise ValueError("HMAC authentication needs an app key and an app secret")


def sorted_query(raw_query: str) -> str:
    """The query as signed: pairs sorted by name then value, each part percent-encoded (RFC 3986)."""
    pairs = sorted(parse_qsl(raw_query, keep_blank_values=True))
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)


def canonical_string(method: str, path: str, raw_query: str, timestamp: str, nonce: str) -> str:
    return "\n".join((method.upper(), path, sorted_query(raw_query), timestamp, nonce))


def sign(secret: str, method: str, path: str, raw_query: str, timestamp: str, nonce: str) -> str:
    """X-Sign for a request: lowercase hex HMAC-SHA256(secret, canonical string)."""
    message = canonical_string(method, path, raw_query, timestamp, nonce).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _refuse(code: int, chinese: str, english: str) -> ApiError:
    return ApiError(code, bilingual(chinese, english))


class Authenticator:
    """Checks one request's credentials against the server's mode; remembers nonces it accepted."""

    def __init__(self, config: AuthConfig, wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._wall = wall_clock
        self._nonces: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def check(
        self, method: str, path: str, raw_query: str, headers: dict[str, str], authorization: str | None
    ) -> None:
        """Return quietly if the request may pass; raise the ApiError that says why not."""
        mode = self.config.mode
        signed = "x-sign" in headers or "x-app-key" in headers
        if mode is AuthMode.BEARER or (mode is AuthMode.EITHER and not signed):
            self._bearer(authorization)
            return
        self._hmac(method, path, raw_query, headers)

    def _bearer(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        # compare_digest: the sandbox is often exposed on a LAN, so no timing hints about the token
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            token.strip().encode("utf-8"), self.config.token.encode("utf-8")
        ):
            raise invalid_token()

    def _hmac(self, method: str, path: str, raw_query: str, headers: dict[str, str]) -> None:
        key = headers.get("x-app-key")
        stamp = headers.get("x-timestamp")
        nonce = headers.get("x-nonce")
        signature = headers.get("x-sign")
        if not (key and stamp and nonce and signature):
            missing = [
                n
                for n, v in (
                    ("X-App-Key", key),
                    ("X-Timestamp", stamp),
                    ("X-Nonce", nonce),
                    ("X-Sign", signature),
                )
                if not v
            ]
            raise _refuse(
                40106,
                f"缺少签名请求头 {', '.join(missing)}",
                f"signature headers missing: {', '.join(missing)}",
            )
        if not secrets.compare_digest(key.encode("utf-8"), self.config.app_key.encode("utf-8")):
            raise _refuse(40105, f"应用标识 {key!r} 无效", f"unknown app key {key!r}")
        if not stamp.isdigit():
            raise _refuse(
                40106, f"X-Timestamp {stamp!r} 不是 Unix 秒数", f"X-Timestamp {stamp!r} is not Unix seconds"
            )
        now = self._wall()
        window = self.config.window_seconds
        if abs(now - int(stamp)) > window:
            raise _refuse(
                40103,
                f"时间戳 {stamp} 与服务器时间 {int(now)} 相差超过 {window} 秒",
                f"timestamp {stamp} is more than {window} s away from the server time {int(now)}",
            )
        if not _NONCE.match(nonce):
            raise _refuse(
                40106,
                "X-Nonce 应为 8–64 位字母、数字、- 或 _",
                "X-Nonce must be 8–64 letters, digits, - or _",
            )
        expected = sign(self.config.app_secret, method, path, raw_query, stamp, nonce)
        if not secrets.compare_digest(signature.lower().encode("ascii", "replace"), expected.encode("ascii")):
            raise _refuse(
                40102,
                "签名不匹配：请按文档拼接 METHOD\\nPATH\\nSORTED_QUERY\\nTIMESTAMP\\nNONCE 并以 HMAC-SHA256 签名",
                "signature mismatch: sign METHOD\\nPATH\\nSORTED_QUERY\\nTIMESTAMP\\nNONCE with HMAC-SHA256 (hex)",
            )
        with self._lock:
            # forget nonces whose timestamps can no longer pass the window check anyway
            for seen, expiry in list(self._nonces.items()):
                if expiry < now:
                    del self._nonces[seen]
            if (key, nonce) in self._nonces:
                raise _refuse(
                    40104,
                    f"随机数 {nonce} 已使用，请勿重放请求",
                    f"nonce {nonce} was already used: no replays",
                )
            self._nonces[(key, nonce)] = int(stamp) + window
