"""Signatures of the group robots: DingTalk 加签 and Feishu 签名校验 (WeCom robots have none).

Pure functions of (secret, timestamp), so the fake receivers in the tests and a property test can
check them against an independent implementation. What each platform documents, and where it was
confirmed, is noted at each function; the robots in `robots.py` put the results on the wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus

# Both platforms refuse a timestamp more than an hour away from their clock (DingTalk: "与请求调用
# 时间误差不能超过1小时"; Feishu: "距当前时间不超过 1 小时（3600 秒）", error 19021).
MAX_SKEW_SECONDS = 3600


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk custom robot 加签: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")).

    Confirmed against DingTalk's custom-robot security settings as quoted in public guides
    (blog.csdn.net/weixin_43564241/article/details/139138811 and the official Python sample they
    reproduce): the timestamp is in milliseconds, both strings are UTF-8, and the base64 result is
    URL-encoded once more when appended as `&timestamp=…&sign=…` (see `dingtalk_url`).
    """
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_url(webhook_url: str, secret: str, timestamp_ms: int) -> str:
    """The webhook URL with `timestamp` and the URL-encoded `sign` appended as query parameters."""
    sign = quote_plus(dingtalk_sign(secret, timestamp_ms))
    joiner = "&" if "?" in webhook_url else "?"
    return f"{webhook_url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark custom bot 签名校验: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")).

    Note the key is the string to sign and the message is empty — unlike DingTalk. Confirmed
    against Feishu's custom-bot guide as quoted in public write-ups (blog.csdn.net/zhanglili1993/
    article/details/136473704, which hit exactly this difference, and the official SignDemo.java
    reproduced in blog.csdn.net/ASDQWE09876/article/details/144612767): the timestamp is in
    seconds, and `timestamp` and `sign` go into the JSON body beside `msg_type`.
    """
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")
