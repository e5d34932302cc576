"""How yecai authenticates to source systems: bearer tokens, fixed API-key headers, HMAC signatures.

Chinese SaaS APIs commonly sign each request: an app key, a timestamp, a nonce and an HMAC over a
canonical string of method, path, sorted query and those values. `HmacAuth` builds that canonical
string from a template, so a new system's variant is configuration (YAML), not code. Secrets are
passed in at runtime, never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import field
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import ConfigDict
from pydantic.dataclasses import dataclass as checked_dataclass


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class HeaderAuth(httpx.Auth):
    """Fixed headers, e.g. `X-Api-Key: …`."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._headers)
        yield request


def sorted_query(request: httpx.Request) -> str:
    """Query parameters sorted by name then value, percent-encoded (RFC 3986), joined with '&'."""
    pairs = sorted(request.url.params.multi_items())
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


# Validated (pydantic) so a connector YAML's `auth.hmac` section is this very scheme, checked.
@checked_dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class HmacScheme:
    """A request-signing scheme: canonical string template, header names, digest and encoding.

    Template fields: {method} {path} {query} {timestamp} {nonce} {app_key} {body_sha256}; "\\n"
    in YAML becomes a newline.
    """

    template: str = "{method}\n{path}\n{query}\n{timestamp}\n{nonce}"
    key_header: str = "X-App-Key"
    timestamp_header: str = "X-Timestamp"
    nonce_header: str = "X-Nonce"
    signature_header: str = "X-Sign"
    signature_prefix: str = ""
    algorithm: Literal["sha256", "sha1", "md5", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    timestamp_unit: Literal["s", "ms"] = "s"
    extra_headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


class HmacAuth(httpx.Auth):
    """Signs every request with an HMAC over the scheme's canonical string."""

    requires_request_body = True

    def __init__(
        self,
        app_key: str,
        secret: str,
        scheme: HmacScheme | None = None,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._key = app_key
        self._secret = secret.encode("utf-8")
        self.scheme = scheme or HmacScheme()
        self._clock = clock
        self._nonce = nonce

    def signature(self, request: httpx.Request, timestamp: str, nonce: str) -> str:
        s = self.scheme
        canonical = s.template.format(
            method=request.method.upper(),
            path=request.url.path,
            query=sorted_query(request),
            timestamp=timestamp,
            nonce=nonce,
            app_key=self._key,
            body_sha256=hashlib.sha256(request.content).hexdigest(),
        )
        digest = hmac.new(self._secret, canonical.encode("utf-8"), s.algorithm).digest()
        text = digest.hex() if s.encoding == "hex" else base64.b64encode(digest).decode("ascii")
        return s.signature_prefix + text

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        s = self.scheme
        now = self._clock()
        timestamp = str(int(now * 1000)) if s.timestamp_unit == "ms" else str(int(now))
        nonce = self._nonce()
        request.headers[s.key_header] = self._key
        request.headers[s.timestamp_header] = timestamp
        request.headers[s.nonce_header] = nonce
        request.headers[s.signature_header] = self.signature(request, timestamp, nonce)
        for name, value in s.extra_headers:
            request.headers[name] = value
        yield request
