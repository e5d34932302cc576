"""Alert channels as workspace connections: validation (syncs still need source and Kingdee
connections), secrets resolved from the encrypted store or the environment, channels that cannot
open left out, the dispatcher installed on a hook registry end to end, and `yecai alerts test|list`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.support.receivers import LOCAL_ALLOW, FakeRobot, FakeSmtp
from yecai.alerts import (
    EmailChannel,
    FeishuRobot,
    WorkspaceChannels,
    install,
    open_channel,
    recent_deliveries,
    workspace_channels,
)
from yecai.alerts.config import known_secrets
from yecai.cli.main import app
from yecai.errors import ConfigurationError
from yecai.observability.events import AlertHooks
from yecai.secrets import SecretBox, load_key
from yecai.store.db import open_store
from yecai.workspace import AlertConnection, parse_workspace

KINGDEE = {
    "kind": "kingdee",
    "server_url": "http://127.0.0.1:9/K3Cloud/",
    "acct_id": "a",
    "user_name": "u",
    "app_id": "app",
    "app_secret": "${KD_SECRET}",
}
SOURCE = {"kind": "source", "connector": "pm_sandbox", "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"}}


def space(tmp_path: Path, **alerts: dict[str, Any]) -> Any:
    data = {
        "connections": {"pm": SOURCE, "kd": KINGDEE, **alerts},
        "syncs": {"books": {"source": "pm", "target": "kd"}},
    }
    return parse_workspace(data, tmp_path)


def test_alert_connections_validate(tmp_path: Path) -> None:
    workspace = space(
        tmp_path,
        ding={
            "kind": "alert",
            "channel": "dingtalk",
            "webhook_url": "${DING_URL}",
            "secret": "${DING_SECRET}",
        },
        wx={
            "kind": "alert",
            "channel": "wecom",
            "webhook_url": "${WX_URL}",
            "events": ["kingdee", "job.dead"],
        },
        mail={
            "kind": "alert",
            "channel": "email",
            "host": "smtp.example.com",
            "sender": "a@example.com",
            "recipients": ["b@example.com"],
            "username": "a@example.com",
            "password": "${SMTP_PASSWORD}",
        },
    )
    ding = workspace.connections["ding"]
    assert isinstance(ding, AlertConnection)
    assert (ding.dedupe_minutes, ding.max_per_hour, ding.language, ding.events) == (30, 20, "both", ())
    assert workspace.connections["wx"].events == ("kingdee", "job.dead")


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        (
            {"channel": "wecom", "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"},
            r"\$\{SECRET\}",
        ),
        ({"channel": "wecom", "webhook_url": "${WX}", "secret": "${S}"}, "no signing secret"),
        ({"channel": "dingtalk"}, "needs webhook_url"),
        ({"channel": "dingtalk", "webhook_url": "gopher://127.0.0.1:6379/_FLUSHALL"}, "https"),
        ({"channel": "feishu", "webhook_url": "open.feishu.cn/open-apis/bot/v2/hook/x"}, "https"),
        ({"channel": "dingtalk", "webhook_url": "${X}", "secret": "SECplaintext"}, "secret must be a"),
        (
            {"channel": "email", "host": "h", "sender": "a@b.c", "recipients": ["x@y.z"], "password": "pw"},
            "password must",
        ),
        ({"channel": "email", "host": "h", "sender": "a@b.c"}, "needs recipients"),
        (
            {"channel": "email", "host": "h", "sender": "a@b.c", "recipients": ["x@y.z"], "username": "u"},
            "password",
        ),
        ({"channel": "sms", "webhook_url": "${X}"}, "channel"),
        ({"channel": "dingtalk", "webhook_url": "${X}", "min_severity": "loud"}, "min_severity"),
    ],
)
def test_bad_alert_connections_are_named(tmp_path: Path, alert: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        space(tmp_path, bad={"kind": "alert", **alert})


def test_syncs_still_need_source_and_kingdee_connections(tmp_path: Path) -> None:
    ding = {"kind": "alert", "channel": "dingtalk", "webhook_url": "${X}"}
    data: dict[str, Any] = {
        "connections": {"pm": SOURCE, "kd": KINGDEE, "ding": ding},
        "syncs": {"books": {"source": "pm", "target": "ding"}},
    }
    with pytest.raises(ConfigurationError, match="not a kingdee connection"):
        parse_workspace(data, tmp_path)
    data["syncs"] = {"books": {"source": "ding", "target": "kd"}}
    with pytest.raises(ConfigurationError, match="not a source connection"):
        parse_workspace(data, tmp_path)


def test_the_example_workspace_has_an_alert_channel(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "yecai.example.yaml"
    workspace = parse_workspace(yaml.safe_load(example.read_text(encoding="utf-8")), tmp_path)
    channel = workspace.connections["ops-dingtalk"]
    assert isinstance(channel, AlertConnection)
    assert (channel.channel, channel.webhook_url, channel.min_severity) == (
        "dingtalk",
        "${DINGTALK_WEBHOOK}",
        "warning",
    )


@pytest.fixture
def box(tmp_path: Path) -> Iterator[SecretBox]:
    store = open_store(f"sqlite:///{tmp_path / 'yecai.sqlite'}")
    yield SecretBox(store, load_key(tmp_path / "work"))
    store.close()


def test_channels_open_with_secrets_from_the_store_or_the_environment(
    tmp_path: Path, box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = space(
        tmp_path,
        lark={"kind": "alert", "channel": "feishu", "webhook_url": "${LARK_URL}", "secret": "${LARK_SECRET}"},
        mail={
            "kind": "alert",
            "channel": "email",
            "host": "127.0.0.1",
            "port": 2525,
            "security": "plain",
            "sender": "a@example.com",
            "recipients": ["b@example.com"],
            "username": "a",
            "password": "${SMTP_PW}",
        },
        broken={"kind": "alert", "channel": "dingtalk", "webhook_url": "${NOWHERE_URL}"},
    )
    box.set("lark", "LARK_URL", "https://open.feishu.cn/open-apis/bot/v2/hook/hook-id-0123456789")
    box.set("lark", "LARK_SECRET", "lark-signing-secret")
    box.set("kd", "KD_SECRET", "kd-app-secret-value")
    monkeypatch.setenv("SMTP_PW", "smtp-password-from-env")
    monkeypatch.delenv("NOWHERE_URL", raising=False)
    lark = open_channel(workspace, "lark", box)
    assert isinstance(lark, FeishuRobot)
    assert "hook-id-0123456789" in lark.secret_values()
    assert "lark-signing-secret" in lark.secret_values()
    mail = open_channel(workspace, "mail", box)
    assert isinstance(mail, EmailChannel)
    assert mail.secret_values() == ["smtp-password-from-env"]
    with pytest.raises(ConfigurationError, match="NOWHERE_URL"):
        open_channel(workspace, "broken", box)
    with pytest.raises(ConfigurationError, match="no alert channel kd"):
        open_channel(workspace, "kd", box)

    found = workspace_channels(workspace, box)
    assert [c.name for c in found.channels] == ["lark", "mail"]  # the broken one is left out
    assert set(found.secrets) >= {"kd-app-secret-value", "lark-signing-secret", "smtp-password-from-env"}
    assert "${PM_TOKEN}" not in known_secrets(workspace, box)  # unresolvable references are skipped


@pytest.fixture
def robot() -> Iterator[FakeRobot]:
    fake = FakeRobot("dingtalk", secret="SEC-from-the-secret-box").start()
    yield fake
    fake.stop()


def write_workspace(path: Path, alerts: dict[str, Any]) -> Path:
    data = {
        "connections": {"pm": SOURCE, "kd": KINGDEE, **alerts},
        "syncs": {"books": {"source": "pm", "target": "kd"}},
        "alerts": LOCAL_ALLOW,  # the fake receivers are on 127.0.0.1 over http
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_installed_dispatcher_reads_the_workspace_at_each_event(
    tmp_path: Path, box: SecretBox, robot: FakeRobot
) -> None:
    path = write_workspace(tmp_path / "yecai.yaml", {})
    box.set("ops", "DING_URL", robot.url)
    box.set("ops", "DING_SECRET", "SEC-from-the-secret-box")
    hooks = AlertHooks()
    install(hooks, box.store, path, box)
    hooks.emit("connection.paused", {"connection": "kd", "by": "auto"})
    assert robot.received == []  # no channel yet
    ding = {"kind": "alert", "channel": "dingtalk", "webhook_url": "${DING_URL}", "secret": "${DING_SECRET}"}
    write_workspace(path, {"ops": {**ding, "events": ["connection"]}})
    assert len(WorkspaceChannels(path, box)().channels) == 1
    hooks.emit("connection.paused", {"connection": "kd", "by": "auto"})
    hooks.emit("job.retrying", {"job": "books"})  # filtered out
    assert robot.refusals == []
    [got] = robot.received
    assert "连接已暂停" in got.body["markdown"]["title"]
    assert "yecai jobs resume kd" in got.body["markdown"]["text"]


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, robot: FakeRobot, smtp: FakeSmtp) -> dict[str, str]:
    ding = {"kind": "alert", "channel": "dingtalk", "webhook_url": "${DING_URL}", "secret": "${DING_SECRET}"}
    mail = {
        "kind": "alert",
        "channel": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "plain",
        "sender": "alerts@example.com",
        "recipients": ["ops@example.com"],
        "language": "zh",
    }
    bad = {"kind": "alert", "channel": "wecom", "webhook_url": "${WX_URL}"}
    path = write_workspace(tmp_path / "yecai.yaml", {"ops": ding, "mail": mail, "wx": bad})
    return {
        "YECAI_WORKSPACE": str(path),
        "YECAI_WORKDIR": str(tmp_path / "work"),
        "DING_URL": robot.url,
        "DING_SECRET": "SEC-from-the-secret-box",
        "COLUMNS": "220",
    }


def test_cli_alerts_test_and_list(cli_env: dict[str, str], robot: FakeRobot, smtp: FakeSmtp) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["alerts", "test", "ops"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "ops (钉钉 DingTalk): 已发送 sent" in result.output  # platform and status in words
    assert "测试告警" in robot.received[0].body["markdown"]["title"]

    result = runner.invoke(app, ["alerts", "test", "mail"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "mail (邮件 email): 已发送 sent" in result.output
    [(_sender, _to, message)] = smtp.messages
    assert message["Subject"] == "【yecai】测试告警"  # language: zh

    robot.mode = "refuse"
    result = runner.invoke(app, ["alerts", "test", "ops"], env=cli_env)
    assert result.exit_code == 1
    assert "failed" in result.output
    assert "130101" in result.output
    assert robot.token not in result.output

    result = runner.invoke(app, ["alerts", "test", "wx"], env=cli_env)  # its secret is nowhere
    assert result.exit_code == 1
    assert "WX_URL" in result.output
    result = runner.invoke(app, ["alerts", "test", "kd"], env=cli_env)
    assert result.exit_code == 1
    assert "没有告警通道 kd" in result.output

    result = runner.invoke(app, ["alerts", "list"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert result.output.count("测试告警 test alert │") == 3  # the event in words, not alert.test
    assert "alert.test" not in result.output
    assert "130101" in result.output
    result = runner.invoke(app, ["alerts", "list", "--channel", "mail"], env=cli_env)
    assert result.output.count("测试告警 test alert │") == 1
    store = open_store(f"sqlite:///{(Path(cli_env['YECAI_WORKDIR']) / 'yecai.sqlite').resolve()}")
    try:
        statuses = [(d.channel, d.status) for d in recent_deliveries(store)]
    finally:
        store.close()
    assert statuses == [("ops", "failed"), ("mail", "sent"), ("ops", "sent")]


@pytest.mark.slow
def test_connections_list_shows_alert_channels(cli_env: dict[str, str], smtp: FakeSmtp) -> None:
    result = CliRunner().invoke(app, ["connections", "list"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "dingtalk ${DING_URL}" in result.output
    assert f"email 127.0.0.1:{smtp.port}" in result.output
