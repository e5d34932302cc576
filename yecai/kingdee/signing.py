"""Kingdee K/3 Cloud signed-header authentication (第三方系统登录授权), both directions.

The official Python SDK authenticates every request with `X-Api-*` gateway headers and
`X-Kd-*` identity headers instead of calling a login service. Our client signs the same way and
sandbox.kingdee verifies with the same functions, so the two can never drift apart. The
algorithms are described in the protocol reference (§2.4); test vectors are in the tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

# The XOR key the SDKs use to hide the client secret inside the AppId (§2.4c). Only the first 24
# bytes matter because the encoded secret is always 24 bytes long.
_XOR_KEY = b"0054f397c6234378b09ca7d3e5debce7"


def hmac_sha256_b64hex(message: str, key: str) -> str:
    """HMAC-SHA256, lowercase hex digest, then Base64 of those 64 ASCII bytes (88 characters)."""
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def _xor(data: bytes, key: bytes = _XOR_KEY) -> bytes:
    return bytes(b ^ key[i] for i, b in enumerate(data))


def decode_app_secret(encoded: str, xor_key: bytes = _XOR_KEY) -> str:
    """The client secret hidden in the AppId suffix; '' when the suffix is not 32 characters.

    Mirrors the Python SDK, which gives up (empty secret) on any other length or on padding.
    """
    if len(encoded) != 32 or "=" in encoded:
        return ""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        return ""
    return base64.b64encode(_xor(raw, xor_key)).decode("ascii")


def encode_app_secret(client_secret: str, xor_key: bytes = _XOR_KEY) -> str:
    """Inverse of `decode_app_secret`: the 32-character AppId suffix for a 32-character secret."""
    raw = base64.b64decode(client_secret, validate=True)
    if len(raw) != 24:
        raise ValueError("client secret must be 32 Base64 characters (24 bytes)")
    return base64.b64encode(_xor(raw, xor_key)).decode("ascii")


def split_app_id(app_id: str) -> tuple[str, str]:
    """(client id, decoded client secret); both empty unless the AppId has exactly one '_'."""
    parts = app_id.split("_")
    if len(parts) != 2:
        return "", ""
    return parts[0], decode_app_secret(parts[1])


def encoded_path(url: str) -> str:
    """The request path as the SDK signs it: from the first '/' at index >= 10, quoted, '/' → %2F."""
    path = url
    if url.startswith("http"):
        index = url.find("/", 10)
        if index > -1:
            path = url[index:]
    return quote(path, encoding="utf-8").replace("/", "%2F")


def api_signature(path: str, nonce: str, timestamp: str, client_secret: str) -> str:
    """X-Api-Signature over the canonical string (nonce line first, empty query line)."""
    canonical = f"POST\n{path}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n"
    return hmac_sha256_b64hex(canonical, client_secret)


def app_data(acct_id: str, user_name: str, lcid: int, org_num: int | str) -> str:
    """The plain (un-encoded) identity string carried Base64-encoded in X-Kd-Appdata."""
    return f"{acct_id},{user_name},{lcid},{org_num}"


def kd_signature(app_id: str, plain_app_data: str, app_secret: str) -> str:
    """X-Kd-Signature: HMAC over AppId + the plain app data, keyed by the AppSecret."""
    return hmac_sha256_b64hex(app_id + plain_app_data, app_secret)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who calls Kingdee: data centre (账套), integration user and the 第三方系统登录授权 app."""

    acct_id: str
    user_name: str
    app_id: str
    app_secret: str
    lcid: int = 2052
    org_num: int | str = 0


def signed_headers(identity: Identity, url: str, now: float | None = None) -> dict[str, str]:
    """The headers the official SDK sends for one request to `url` (session headers excluded)."""
    stamp = str(int(time.time() if now is None else now))
    client_id, client_secret = split_app_id(identity.app_id)
    plain = app_data(identity.acct_id, identity.user_name, identity.lcid, identity.org_num)
    return {
        "X-Api-ClientID": client_id,
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": stamp,
        "x-api-nonce": stamp,
        "x-api-signheaders": "x-api-timestamp,x-api-nonce",
        "X-Api-Signature": api_signature(encoded_path(url), stamp, stamp, client_secret),
        "X-Kd-Appkey": identity.app_id,
        "X-Kd-Appdata": base64.b64encode(plain.encode("utf-8")).decode("ascii"),
        "X-Kd-Signature": kd_signature(identity.app_id, plain, identity.app_secret),
    }


def mint_app(client_id: str | None = None) -> tuple[str, str, str]:
    """A fresh (AppId, client secret, AppSecret) triple, as 第三方系统登录授权 would issue.

    The client secret is 32 hex digits, which is what real AppIds decode to.
    """
    client_id = client_id or str(200000 + secrets.randbelow(800000))
    client_secret = secrets.token_hex(16)
    app_id = f"{client_id}_{encode_app_secret(client_secret)}"
    return app_id, client_secret, secrets.token_hex(16)
