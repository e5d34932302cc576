"""sandbox.pm authentication: HMAC-signed requests (and bearer tokens), chosen per server.

The client signature is computed here from the documented recipe alone — hex HMAC-SHA256 with
the app secret over METHOD, PATH, the sorted percent-encoded query, X-Timestamp and X-Nonce,
joined by newlines — so the test pins the scheme, not the server's own helper.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from yecai.sandbox.pm import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_TOKEN, sign, start_sandbox

BEARER = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def signature_headers(
    method: str,
    path: str,
    params: dict[str, Any],
    *,
    key: str = DEFAULT_APP_KEY,
    secret: str = DEFAULT_APP_SECRET,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    once = nonce or uuid.uuid4().hex
    pairs = sorted((name, str(value)) for name, value in params.items())
    query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)
    message = f"{method}\n{path}\n{query}\n{stamp}\n{once}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"X-App-Key": key, "X-Timestamp": stamp, "X-Nonce": once, "X-Sign": digest}


@pytest.fixture(scope="module")
def hmac_url() -> Iterator[str]:
    server, _ = start_sandbox(projects=2, auth="hmac")
    with server:
        yield server.base_url


def get(base: str, path: str, params: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{base}{path}", params=params, headers=headers, timeout=10)


def test_a_good_signature_passes(hmac_url: str) -> None:
    params = {"page_size": 3, "updated_since": "2026-10-08T00:00:00+08:00", "team_name": "张建国钢筋班组"}
    response = get(hmac_url, "/api/v1/workers", params, signature_headers("GET", "/api/v1/workers", params))
    assert response.status_code == 200, response.text
    assert response.json()["code"] == 0
    # the server's helper computes the same signature a client builds from the documentation
    headers = signature_headers(
        "GET", "/api/v1/projects", {"page": 1}, timestamp=1_800_000_000, nonce="abcdefgh12"
    )
    expected = sign(DEFAULT_APP_SECRET, "GET", "/api/v1/projects", "page=1", "1800000000", "abcdefgh12")
    assert headers["X-Sign"] == expected


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"secret": "not-the-secret"}, 40102),
        ({"timestamp": -301}, 40103),  # seconds from now, applied when the test runs
        ({"timestamp": 400}, 40103),
        ({"key": "someone-else"}, 40105),
    ],
)
def test_bad_signatures_are_refused_with_the_reason(hmac_url: str, change: dict[str, Any], code: int) -> None:
    params = {"page": 1}
    if "timestamp" in change:
        change = {"timestamp": int(time.time()) + change["timestamp"]}
    response = get(
        hmac_url, "/api/v1/projects", params, signature_headers("GET", "/api/v1/projects", params, **change)
    )
    assert response.status_code == 401
    answer = response.json()
    assert answer["code"] == code
    chinese, english = answer["message"].split(" / ", 1)
    assert chinese
    assert english.isascii()


def test_a_signature_covers_the_query(hmac_url: str) -> None:
    headers = signature_headers("GET", "/api/v1/projects", {"page": 1})
    response = get(hmac_url, "/api/v1/projects", {"page": 2}, headers)  # signed page 1, asked page 2
    assert response.json()["code"] == 40102


def test_a_replayed_request_is_refused(hmac_url: str) -> None:
    params = {"page": 1}
    headers = signature_headers("GET", "/api/v1/projects", params)
    assert get(hmac_url, "/api/v1/projects", params, headers).status_code == 200
    again = get(hmac_url, "/api/v1/projects", params, headers)
    assert again.status_code == 401
    assert again.json()["code"] == 40104


def test_missing_or_malformed_signature_headers(hmac_url: str) -> None:
    assert get(hmac_url, "/api/v1/projects", {}, BEARER).json()["code"] == 40106  # a token is not a signature
    headers = signature_headers("GET", "/api/v1/projects", {})
    del headers["X-Nonce"]
    refused = get(hmac_url, "/api/v1/projects", {}, headers).json()
    assert refused["code"] == 40106
    assert "X-Nonce" in refused["message"]
    short = signature_headers("GET", "/api/v1/projects", {}, nonce="abc")
    assert get(hmac_url, "/api/v1/projects", {}, short).json()["code"] == 40106


def test_admin_endpoints_are_signed_too(hmac_url: str) -> None:
    assert httpx.get(f"{hmac_url}/admin/clock", timeout=10).status_code == 401
    response = get(hmac_url, "/admin/clock", {}, signature_headers("GET", "/admin/clock", {}))
    assert response.status_code == 200
    assert "now" in response.json()["data"]


def test_openapi_documents_the_signature_headers(hmac_url: str) -> None:
    document = httpx.get(f"{hmac_url}/openapi.json", timeout=10).json()
    schemes = document["components"]["securitySchemes"]
    assert {"X-App-Key", "X-Timestamp", "X-Nonce", "X-Sign"} <= {s.get("name") for s in schemes.values()}
    assert httpx.get(f"{hmac_url}/healthz", timeout=10).json()["auth"] == "hmac"


def test_a_server_may_accept_either() -> None:
    server, _ = start_sandbox(projects=1, auth="either", token="t0ken")
    with server:
        base = server.base_url
        assert get(base, "/api/v1/projects", {}, {"Authorization": "Bearer t0ken"}).status_code == 200
        assert (
            get(base, "/api/v1/projects", {}, signature_headers("GET", "/api/v1/projects", {})).status_code
            == 200
        )
        nothing = get(base, "/api/v1/projects", {}, {})
        assert nothing.status_code == 401
        assert nothing.json()["code"] == 40101
        assert get(base, "/api/v1/projects", {}, {"Authorization": "Bearer wrong"}).json()["code"] == 40101
