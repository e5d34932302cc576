"""The robots' signatures against an independent implementation (cryptography's HMAC): fixed
vectors, and a property over arbitrary secrets and timestamps; DingTalk's URL-encoding exactly once."""

from __future__ import annotations

from urllib.parse import parse_qs, quote_plus, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from tests.support.receivers import reference_dingtalk_sign, reference_feishu_sign
from yecai.alerts.signing import dingtalk_sign, dingtalk_url, feishu_sign

SECRETS = st.text(min_size=1, max_size=80).filter(lambda s: "\x00" not in s)
MILLIS = st.integers(min_value=0, max_value=4_102_444_800_000)  # up to 2100


def test_fixed_vectors() -> None:
    # Pinned from OpenSSL:
    #   printf '1700000000000\nSECabc' | openssl dgst -sha256 -hmac SECabc -binary | base64
    #   printf '' | openssl dgst -sha256 -mac HMAC -macopt "key:$(printf '1599360473\nsecret')" -binary | base64
    assert dingtalk_sign("SECabc", 1700000000000) == "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM="
    assert feishu_sign("secret", 1599360473) == "q4jswNiMy51J5JuQV566yJat0/lQ/c+22kINzUgKsGU="
    # The two schemes differ (DingTalk keys with the secret; Feishu with "timestamp\nsecret")
    assert dingtalk_sign("s", 1000) != feishu_sign("s", 1)


@given(SECRETS, MILLIS)
def test_dingtalk_sign_matches_the_reference(secret: str, timestamp: int) -> None:
    assert dingtalk_sign(secret, timestamp) == reference_dingtalk_sign(secret, timestamp)


@given(SECRETS, st.integers(min_value=0, max_value=4_102_444_800))
def test_feishu_sign_matches_the_reference(secret: str, timestamp: int) -> None:
    assert feishu_sign(secret, timestamp) == reference_feishu_sign(secret, timestamp)


@given(SECRETS, MILLIS)
def test_dingtalk_url_encodes_the_sign_once(secret: str, timestamp: int) -> None:
    url = dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=abc", secret, timestamp)
    query = urlsplit(url).query
    raw = dict(part.split("=", 1) for part in query.split("&"))
    expected = reference_dingtalk_sign(secret, timestamp)
    assert raw["timestamp"] == str(timestamp)
    assert raw["sign"] == quote_plus(expected)
    assert parse_qs(query)["sign"] == [expected]  # what DingTalk reads after decoding
    assert parse_qs(query)["access_token"] == ["abc"]
