"""Group robots: 钉钉 DingTalk custom robot, 飞书 Feishu/Lark custom bot, 企业微信 WeCom group robot.

Each is one POST of a JSON message to its webhook URL over httpx — explicit timeouts, TLS
verification on, an injectable transport for tests — signed as its platform requires, sent only
to an address the outbound policy checked (`outbound.py`), and each reads its platform's answer:
DingTalk and WeCom say `errcode` 0, Feishu `code` 0 (older answers: `StatusCode` 0). Anything else
is a refusal, raised in fixed words with the HTTP status and the numeric platform code only — a
remote body never reaches an error (it could be an internal service's, see docs/security.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from yecai.alerts.channels import AlertSendError, ChannelPolicy
from yecai.alerts.messages import AlertText
from yecai.alerts.outbound import UNREACHABLE, OutboundPolicy
from yecai.alerts.signing import dingtalk_url, feishu_sign

# WeCom caps a markdown message at 4096 bytes (UTF-8); DingTalk and Feishu allow more, but an
# alert that long is unread anyway, so every robot keeps to the smallest limit.
MAX_BYTES = 4000


def _fit(text: str, limit: int = MAX_BYTES) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


class WebhookRobot:
    """The HTTP half every robot shares; subclasses build the request and read the answer."""

    platform: ClassVar[str] = "robot"
    label: ClassVar[tuple[str, str]] = ("机器人", "robot")

    def __init__(
        self,
        name: str,
        policy: ChannelPolicy,
        *,
        webhook_url: str,
        secret: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._url = webhook_url
        self._secret = secret or None
        self._timeout = httpx.Timeout(timeout, connect=min(5.0, timeout))
        self._transport = transport
        self._clock = clock
        self._outbound = outbound or OutboundPolicy()

    def secret_values(self) -> list[str]:
        # The whole URL and each credential inside it (DingTalk's access_token, WeCom's key), so
        # that an error quoting a rewritten URL is still redacted. Short values are not tokens.
        tokens = [value for _, value in parse_qsl(urlsplit(self._url).query) if len(value) >= 8]
        return [self._url, *tokens, *([self._secret] if self._secret else [])]

    def request(self, alert: AlertText) -> tuple[str, dict[str, Any]]:
        """(URL, JSON body) in the platform's format; every robot class below defines its own."""
        raise NotImplementedError

    def accepted(self, answer: dict[str, Any]) -> tuple[bool, object, str]:
        """(ok, the platform's code, its message)."""
        code = answer.get("errcode")
        return code == 0, code, str(answer.get("errmsg") or "")

    def send(self, alert: AlertText) -> None:
        url, body = self.request(alert)
        zh, en = self.label
        who = (f"{zh} {self.name}", f"{en} {self.name}")
        target = self._outbound.target(url, self.platform, who)
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Host": target.host_header()}
        try:
            with httpx.Client(
                timeout=self._timeout, verify=True, transport=self._transport, follow_redirects=False
            ) as client:
                # To the checked address, not the name: a second DNS answer cannot redirect us.
                # Host and the TLS server name (SNI, certificate check) stay the URL's host.
                request = client.build_request(
                    "POST",
                    target.pinned_url(),
                    content=content,
                    headers=headers,
                    extensions={"sni_hostname": target.host},
                )
                response = client.send(request)
        except httpx.HTTPError:
            # Refused, reset, timed out or not HTTP at all: one sentence, so port state stays unknown.
            raise AlertSendError(f"{who[0]}：{UNREACHABLE[0]}", f"{who[1]}: {UNREACHABLE[1]}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        status = response.status_code
        if not isinstance(answer, dict):
            raise AlertSendError(
                f"{who[0]} 的应答无法识别（HTTP {status}）",
                f"{who[1]} gave an unreadable answer (HTTP {status})",
            )
        ok, code, _message = self.accepted(answer)
        if not ok or status != 200:
            # Only a number of the answer is repeated; its words could be anyone's (an internal
            # service's body): the code is looked up in the platform's documentation instead.
            shown = f", code {code}" if isinstance(code, int) and not isinstance(code, bool) else ""
            raise AlertSendError(
                f"{who[0]} 拒绝了消息（HTTP {status}{shown}）",
                f"{who[1]} refused the message (HTTP {status}{shown})",
            )


class DingTalkRobot(WebhookRobot):
    """钉钉自定义机器人: markdown message; with 加签, `timestamp` (ms) and `sign` in the query."""

    platform = "dingtalk"
    label = ("钉钉机器人", "DingTalk robot")

    def request(self, alert: AlertText) -> tuple[str, dict[str, Any]]:
        url = self._url
        if self._secret:
            url = dingtalk_url(url, self._secret, int(self._clock() * 1000))
        body = {"msgtype": "markdown", "markdown": {"title": alert.title, "text": _fit(alert.markdown())}}
        return url, body


class FeishuRobot(WebhookRobot):
    """飞书自定义机器人: a rich-text (post) message; with 签名校验, `timestamp` (s) and `sign` in the body."""

    platform = "feishu"
    label = ("飞书机器人", "Feishu bot")

    def request(self, alert: AlertText) -> tuple[str, dict[str, Any]]:
        locale = "en_us" if self.policy.language == "en" else "zh_cn"
        paragraphs = [[{"tag": "text", "text": _fit(line, 1000)}] for line in alert.lines]
        body: dict[str, Any] = {
            "msg_type": "post",
            "content": {"post": {locale: {"title": alert.title, "content": paragraphs}}},
        }
        if self._secret:
            timestamp = int(self._clock())
            # The documented examples send the timestamp as a string of seconds.
            body = {"timestamp": str(timestamp), "sign": feishu_sign(self._secret, timestamp), **body}
        return self._url, body

    def secret_values(self) -> list[str]:
        # Feishu's credential is the hook id, the last segment of the path.
        hook = urlsplit(self._url).path.rstrip("/").rsplit("/", 1)[-1]
        return [*super().secret_values(), *([hook] if len(hook) >= 8 else [])]

    def accepted(self, answer: dict[str, Any]) -> tuple[bool, object, str]:
        # Current answers: {"code": 0, "msg": "success"}; older ones: {"StatusCode": 0, …}.
        code = answer["code"] if "code" in answer else answer.get("StatusCode")
        message = answer.get("msg") or answer.get("StatusMessage") or ""
        return code == 0, code, str(message)


class WeComRobot(WebhookRobot):
    """企业微信群机器人: markdown message; no signature — the key in the URL is the credential."""

    platform = "wecom"
    label = ("企业微信机器人", "WeCom robot")

    def request(self, alert: AlertText) -> tuple[str, dict[str, Any]]:
        return self._url, {"msgtype": "markdown", "markdown": {"content": _fit(alert.markdown())}}
