"""Each channel against a local fake of its platform: the robots signed as the platform verifies
(and refused when the signature, key or timestamp is wrong), the platforms' error answers raised
with their codes, unreachable webhooks, and UTF-8 email through a local SMTP receiver."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.receivers import FakeRobot, FakeSmtp
from yecai.alerts.channels import AlertSendError, ChannelPolicy
from yecai.alerts.mail import EmailChannel
from yecai.alerts.messages import AlertText, render
from yecai.alerts.outbound import AllowedHost, OutboundPolicy
from yecai.alerts.robots import DingTalkRobot, FeishuRobot, WeComRobot

pytestmark = pytest.mark.slow

POLICY = ChannelPolicy()
# The fake receivers are on 127.0.0.1 over http: allowed explicitly, as a workspace would.
LOCAL = OutboundPolicy((AllowedHost("127.0.0.1", private=True, http=True),))
PAYLOAD = {
    "job": "夜间成本",
    "dead_letter_id": 7,
    "error_zh": "无法连接金蝶服务器",
    "error_en": "cannot connect to the Kingdee server",
    "fault": "transient",
}


def alert() -> AlertText:
    return render("job.dead", PAYLOAD)


@pytest.fixture
def robots() -> Iterator[list[FakeRobot]]:
    started: list[FakeRobot] = []
    yield started
    for robot in started:
        robot.stop()


def fake(robots: list[FakeRobot], platform: str, **options: object) -> FakeRobot:
    robot = FakeRobot(platform, **options).start()  # type: ignore[arg-type]
    robots.append(robot)
    return robot


def closed_url(path: str = "/robot/send?access_token=tok-0123456789abcdef") -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# --- DingTalk --------------------------------------------------------------------------------


def test_dingtalk_signed_markdown_is_accepted(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "dingtalk", secret="SEC0123456789abcdef")
    DingTalkRobot("ding", POLICY, webhook_url=robot.url, outbound=LOCAL, secret="SEC0123456789abcdef").send(
        alert()
    )
    [got] = robot.received
    assert robot.refusals == []
    assert got.body["msgtype"] == "markdown"
    assert got.body["markdown"]["title"].startswith("【yecai】作业失败")
    text = got.body["markdown"]["text"]
    assert text.startswith("### 【yecai】")
    assert "作业 job: 夜间成本" in text
    assert text.index("错误：无法连接金蝶服务器") < text.index("error: cannot connect")  # Chinese first


def test_dingtalk_wrong_secret_is_refused_with_its_errcode(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "dingtalk", secret="SEC-right-secret-value")
    channel = DingTalkRobot(
        "ding", POLICY, webhook_url=robot.url, outbound=LOCAL, secret="SEC-wrong-secret-value"
    )
    with pytest.raises(AlertSendError, match="310000") as caught:
        channel.send(alert())
    assert "sign not match" not in caught.value.en  # the code, never the remote words
    assert robot.refusals == ["sign"]


def test_dingtalk_stale_timestamp_is_refused(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "dingtalk", secret="SEC0123456789abcdef")
    two_hours_ago = lambda: time.time() - 7200  # noqa: E731
    channel = DingTalkRobot(
        "ding",
        POLICY,
        webhook_url=robot.url,
        outbound=LOCAL,
        secret="SEC0123456789abcdef",
        clock=two_hours_ago,
    )
    with pytest.raises(AlertSendError, match="310000"):
        channel.send(alert())
    assert robot.refusals == ["stale timestamp"]


def test_dingtalk_unsigned_when_no_secret_and_throttled_answer(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "dingtalk")
    DingTalkRobot("ding", POLICY, webhook_url=robot.url, outbound=LOCAL).send(alert())
    assert "sign=" not in robot.received[0].query
    robot.mode = "refuse"
    with pytest.raises(AlertSendError, match="130101"):
        DingTalkRobot("ding", POLICY, webhook_url=robot.url, outbound=LOCAL).send(alert())


# --- Feishu ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["ok", "legacy"])
def test_feishu_signed_post_is_accepted(robots: list[FakeRobot], mode: str) -> None:
    robot = fake(robots, "feishu", secret="feishu-secret-123", mode=mode)
    FeishuRobot("lark", POLICY, webhook_url=robot.url, outbound=LOCAL, secret="feishu-secret-123").send(
        alert()
    )
    [got] = robot.received
    assert robot.refusals == []
    assert isinstance(got.body["timestamp"], str)
    assert got.body["msg_type"] == "post"
    post = got.body["content"]["post"]["zh_cn"]
    assert post["title"].startswith("【yecai】")
    lines = [paragraph[0]["text"] for paragraph in post["content"]]
    assert "作业 job: 夜间成本" in lines


def test_feishu_english_channel_uses_the_en_us_locale(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "feishu")
    english = ChannelPolicy(language="en")
    FeishuRobot("lark", english, webhook_url=robot.url, outbound=LOCAL).send(
        render("job.dead", PAYLOAD, language="en")
    )
    post = robot.received[0].body["content"]["post"]
    assert list(post) == ["en_us"]
    assert post["en_us"]["title"] == "[yecai] job failed and was moved to dead letters"


def test_feishu_bad_signature_and_bad_hook(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "feishu", secret="feishu-secret-123")
    with pytest.raises(AlertSendError, match="19021"):
        FeishuRobot("lark", POLICY, webhook_url=robot.url, outbound=LOCAL, secret="another-secret").send(
            alert()
        )
    with pytest.raises(AlertSendError, match="19021"):
        FeishuRobot("lark", POLICY, webhook_url=robot.url, outbound=LOCAL).send(
            alert()
        )  # unsigned, but required
    wrong_hook = robot.url.replace(robot.token, "not-the-hook-id")
    with pytest.raises(AlertSendError, match="19001"):
        FeishuRobot("lark", POLICY, webhook_url=wrong_hook, outbound=LOCAL, secret="feishu-secret-123").send(
            alert()
        )
    assert robot.refusals == ["sign", "missing sign", "hook"]


# --- WeCom -----------------------------------------------------------------------------------


def test_wecom_markdown_with_the_key_in_the_url(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "wecom")
    WeComRobot("wx", POLICY, webhook_url=robot.url, outbound=LOCAL).send(alert())
    [got] = robot.received
    assert got.body["msgtype"] == "markdown"
    assert "夜间成本" in got.body["markdown"]["content"]
    wrong = robot.url.replace(robot.token, "bad-key-000000")
    with pytest.raises(AlertSendError, match="93000"):
        WeComRobot("wx", POLICY, webhook_url=wrong, outbound=LOCAL).send(alert())


def test_wecom_long_messages_fit_its_4096_byte_limit(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "wecom")
    long_alert = AlertText(
        "job.dead", "error", "标题", tuple(f"第 {i} 行：{'很长的说明' * 20}" for i in range(80))
    )
    WeComRobot("wx", POLICY, webhook_url=robot.url, outbound=LOCAL).send(long_alert)
    assert robot.refusals == []
    assert len(robot.received[0].body["markdown"]["content"].encode("utf-8")) <= 4096


def test_http_errors_and_unreachable_webhooks_raise_without_the_token(robots: list[FakeRobot]) -> None:
    robot = fake(robots, "wecom", mode="http500")
    channel = WeComRobot("wx", POLICY, webhook_url=robot.url, outbound=LOCAL)
    with pytest.raises(AlertSendError, match="HTTP 500"):
        channel.send(alert())
    unreachable = DingTalkRobot("ding", POLICY, webhook_url=closed_url(), outbound=LOCAL, timeout=2)
    with pytest.raises(AlertSendError, match="cannot reach the alert address") as caught:
        unreachable.send(alert())
    assert "tok-0123456789abcdef" in unreachable.secret_values()
    assert caught.value.zh.startswith("钉钉机器人 ding：无法连接告警地址")
    assert "ConnectError" not in str(caught.value)  # the same words whatever went wrong


def test_injected_transport_and_tls_verification_stay_on() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    channel = WeComRobot(
        "wx",
        POLICY,
        webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-123456789",
        transport=httpx.MockTransport(handler),
        outbound=OutboundPolicy(resolver=lambda host, port: ["1.1.1.1"]),  # no DNS in tests
    )
    channel.send(alert())
    assert seen[0].url.host == "1.1.1.1"  # the checked address, the name kept for Host and SNI
    assert seen[0].headers["host"] == "qyapi.weixin.qq.com"
    assert seen[0].headers["content-type"].startswith("application/json")


# --- email -----------------------------------------------------------------------------------


SMTP_LOGIN = {"username": "alerts@example.com", "password": "smtp-pass-123"}  # the conftest's smtp


def email_channel(smtp: FakeSmtp, **changes: object) -> EmailChannel:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "plain",
        "username": "alerts@example.com",
        "password": "smtp-pass-123",
        "sender": "yecai 告警 <alerts@example.com>",
        "recipients": ("finance@example.com",),
        "timeout": 5.0,
        "outbound": LOCAL,
    }
    options.update(changes)
    return EmailChannel("mail", POLICY, **options)  # type: ignore[arg-type]


def test_email_is_utf8_subject_and_body(smtp: FakeSmtp) -> None:
    email_channel(smtp, recipients=("finance@example.com", "it@example.com")).send(alert())
    [(sender, recipients, message)] = smtp.messages
    assert sender == "alerts@example.com"
    assert recipients == ["finance@example.com", "it@example.com"]
    assert (
        message["Subject"] == "【yecai】作业失败，已进入死信队列 / job failed and was moved to dead letters"
    )
    assert str(message["From"]) == "yecai 告警 <alerts@example.com>"
    body = message.get_content()
    assert message.get_content_charset() == "utf-8"
    assert "作业 job: 夜间成本" in body
    assert "错误：无法连接金蝶服务器" in body


def test_email_wrong_password_and_starttls_never_falls_back(smtp: FakeSmtp) -> None:
    with pytest.raises(AlertSendError, match="535") as caught:
        email_channel(smtp, password="wrong-pass-999").send(alert())
    assert "wrong-pass-999" not in str(caught.value)
    # The server offers no STARTTLS: the channel refuses to send in clear rather than downgrade.
    with pytest.raises(AlertSendError, match="STARTTLS"):
        email_channel(smtp, security="starttls").send(alert())
    assert smtp.messages == []


def test_email_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = EmailChannel(
        "mail",
        POLICY,
        host="127.0.0.1",
        port=port,
        security="plain",
        sender="a@example.com",
        recipients=("b@example.com",),
        timeout=2,
        outbound=LOCAL,
    )
    with pytest.raises(AlertSendError, match="cannot reach the alert address"):
        channel.send(alert())
