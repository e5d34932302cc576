"""Kingdee signing: the reference's test vectors (computed with the official SDK) and round trips."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from yecai.kingdee import signing

VECTOR_IDENTITY = signing.Identity(
    acct_id="5f0000000000aa",
    user_name="api_user",
    app_id="100001_422C1/iIyuH4R+Ws526A2/yLyrX6RrOs",
    app_secret="fedcba9876543210fedcba9876543210",
)
VECTOR_URL = (
    "http://127.0.0.1:8000/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc"
)


def test_reference_vector_headers() -> None:
    headers = signing.signed_headers(VECTOR_IDENTITY, VECTOR_URL, now=1700000000)
    assert headers["X-Api-Signature"] == (
        "OGYyOGM2NWJjY2FlNjZhZjUyNzViOGRkNTllMzBjYzM3YWNkOGZmZTZkNDA4MGUzYTA4MDJhMGU4Yjg3NWFmOQ=="
    )
    assert headers["X-Kd-Appdata"] == "NWYwMDAwMDAwMDAwYWEsYXBpX3VzZXIsMjA1Miww"
    assert headers["X-Kd-Signature"] == (
        "NGIxZTNiMWMwYTA1ZTkxZTJhNzg3M2E2MzEwOGY4MDhiZGUzOWExZjRmMmM5MjA3NDI1MTNjNjhiYzcyMDYyZQ=="
    )
    assert headers["X-Api-ClientID"] == "100001"
    assert headers["x-api-timestamp"] == headers["x-api-nonce"] == "1700000000"


def test_reference_vector_app_id() -> None:
    assert signing.split_app_id(VECTOR_IDENTITY.app_id) == ("100001", "0123456789abcdef0123456789abcdef")
    assert signing.encode_app_secret("0123456789abcdef0123456789abcdef") == "422C1/iIyuH4R+Ws526A2/yLyrX6RrOs"


def test_encoded_path_like_the_sdk() -> None:
    assert signing.encoded_path(VECTOR_URL) == (
        "%2Fk3cloud%2FKingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc"
    )


def test_malformed_app_ids_give_empty_secret() -> None:
    assert signing.split_app_id("no-underscore") == ("", "")
    assert signing.split_app_id("a_b_c") == ("", "")
    assert signing.decode_app_secret("short") == ""
    assert signing.decode_app_secret("A" * 30 + "==") == ""


def test_helper_output_shape() -> None:
    value = signing.hmac_sha256_b64hex("message", "key")
    assert len(value) == 88
    assert value.endswith("==")
    assert len(base64.b64decode(value)) == 64


@given(st.binary(min_size=24, max_size=24))
def test_minted_suffix_round_trips(raw: bytes) -> None:
    secret = base64.b64encode(raw).decode()
    suffix = signing.encode_app_secret(secret)
    assert len(suffix) == 32
    assert "_" not in suffix
    assert signing.decode_app_secret(suffix) == secret


def test_mint_app_gives_usable_identity() -> None:
    app_id, client_secret, app_secret = signing.mint_app("123456")
    assert signing.split_app_id(app_id) == ("123456", client_secret)
    assert len(app_secret) == 32
