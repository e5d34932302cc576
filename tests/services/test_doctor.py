"""`yecai doctor` (issue 16, item 5): a healthy installation passes every check; each way it can be
broken gives its finding, with the fix, and a non-zero exit.

Real services throughout: sandbox.kingdee and sandbox.pm on local ports, the fake robot and SMTP
receivers of the alert tests (which must receive nothing: alert channels are checked by a dry
run), a local HTTPS server with a self-signed certificate, Redis and PostgreSQL on this machine.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text
from typer.testing import CliRunner

from tests.support.receivers import LOCAL_ALLOW, FakeRobot, FakeSmtp
from yecai.cli.main import app
from yecai.demo import write_sandboxes, write_workspace
from yecai.sandbox.kingdee import SandboxSettings, start_sandbox
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.secrets import open_box
from yecai.services.doctor import EXIT_ERRORS, EXIT_OK, EXIT_WARNINGS, DoctorReport, run_doctor
from yecai.services.doctor_checks import Finding, Limits
from yecai.settings import Settings
from yecai.store.db import alembic_config, code_heads, open_store

QUICK = Limits(timeout=3.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pm() -> Iterator[str]:
    server, _ = start_pm(projects=2, months=1, port=0)
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def robot() -> Iterator[FakeRobot]:
    fake = FakeRobot("dingtalk", secret="SEC-robot-secret").start()
    yield fake
    fake.stop()


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    fake = FakeSmtp().start()
    yield fake
    fake.stop()


class World:
    """A workspace on disk (yecai.yaml, work directory with key and store) and its secrets."""

    def __init__(
        self, root: Path, kingdee: dict[str, Any], pm_url: str, store_url: str | None = None
    ) -> None:
        self.root = root
        self.workdir = root / ".yecai"
        self.path = root / "yecai.yaml"
        self.store_url = store_url
        self.space: dict[str, Any] = {
            "connections": {
                "pm": {
                    "kind": "rest",
                    "connector": "pm_sandbox",
                    "base_url": pm_url,
                    "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"},
                },
                "kd": {
                    "kind": "kingdee",
                    "server_url": kingdee["server_url"],
                    "acct_id": kingdee["acct_id"],
                    "user_name": kingdee["user_name"],
                    "app_id": kingdee["app_id"],
                    "app_secret": "${KD_SECRET}",
                    "lcid": kingdee["lcid"],
                },
            },
            "syncs": {"nightly": {"source": "pm", "target": "kd"}},
        }
        self.secrets = {("pm", "PM_TOKEN"): DEFAULT_TOKEN, ("kd", "KD_SECRET"): str(kingdee["app_secret"])}

    def settings(self) -> Settings:
        return Settings(workspace=self.path, workdir=self.workdir, database_url=self.store_url)

    def write(self) -> World:
        self.path.write_text(yaml.safe_dump(self.space, allow_unicode=True), encoding="utf-8")
        store = open_store(self.settings().store_url())
        try:
            box = open_box(store, self.workdir)
            for (connection, name), value in self.secrets.items():
                box.set(connection, name, value)
        finally:
            store.close()
        return self

    def doctor(self, limits: Limits = QUICK) -> DoctorReport:
        return run_doctor(self.settings(), limits)


def of(report: DoctorReport, check: str, subject: str | None = None) -> list[Finding]:
    return [f for f in report.findings if f.check == check and (subject is None or f.subject == subject)]


def errors(report: DoctorReport) -> list[Finding]:
    return [f for f in report.findings if f.status == "error"]


def add_alerts(world: World, robot: FakeRobot, smtp: FakeSmtp) -> None:
    world.space["alerts"] = LOCAL_ALLOW
    world.space["connections"]["ops_robot"] = {
        "kind": "alert",
        "channel": "dingtalk",
        "webhook_url": "${ROBOT_URL}",
        "secret": "${ROBOT_SECRET}",
    }
    world.space["connections"]["ops_mail"] = {
        "kind": "alert",
        "channel": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "plain",
        "sender": "yecai@example.com",
        "recipients": ["ops@example.com"],
    }
    world.secrets[("ops_robot", "ROBOT_URL")] = robot.url
    world.secrets[("ops_robot", "ROBOT_SECRET")] = "SEC-robot-secret"


@pytest.fixture
def world(tmp_path: Path, kingdee: dict[str, Any], pm: str) -> World:
    return World(tmp_path, kingdee, pm)


# --- all is well ---------------------------------------------------------------------------------


def test_healthy_workspace_every_check_ok_and_no_alert_sent(
    world: World, robot: FakeRobot, smtp: FakeSmtp
) -> None:
    add_alerts(world, robot, smtp)
    report = world.write().doctor()
    assert [f for f in report.findings if f.status != "ok"] == []
    assert report.exit_code == EXIT_OK
    checks = {f.check for f in report.findings}
    assert {"config", "database", "redis", "secrets", "kingdee", "source", "alert", "clock", "disk"} <= checks
    assert {f.subject for f in of(report, "alert")} == {"ops_robot", "ops_mail"}
    # a dry run: the robot and the mail server heard nothing
    assert robot.received == []
    assert smtp.messages == []
    (clock,) = of(report, "clock", "kd")
    assert "Date" in clock.found_en


def test_demo_workspace_exit_zero_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's own workspace, sandboxes started by the doctor as by every command on it."""
    demo = tmp_path / ".yecai-demo"
    demo.mkdir()
    ports = {"pm_port": free_port(), "kingdee_port": free_port()}
    kd_server, credentials = start_sandbox(demo / "kingdee")  # the data centre the demo remembers
    kd_server.stop()
    store = open_store(f"sqlite:///{demo / 'yecai.sqlite'}")
    try:
        write_workspace(
            demo, store, Settings(), credentials, streams=["projects"], rule_sets=["cost_actuals"], **ports
        )
    finally:
        store.close()
    write_sandboxes(demo, projects=2, months=1, seed=42, **ports)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["doctor", "--json", "--timeout", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == EXIT_OK, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "ok"
    assert body["exit_code"] == 0
    assert body["errors"] == 0
    assert {f["check"] for f in body["findings"]} >= {"kingdee", "source", "clock", "secrets", "database"}
    # and for people: Chinese first, English beside it
    people = CliRunner().invoke(app, ["doctor", "--timeout", "3"], env={"COLUMNS": "200"})
    assert people.exit_code == EXIT_OK, people.output
    assert "一切正常 / all is well" in people.output
    assert "金蝶 Kingdee · kingdee: 登录成功" in people.output


# --- the secrets key -----------------------------------------------------------------------------


def test_key_missing(world: World) -> None:
    world.write()
    (world.workdir / "secret.key").unlink()
    report = world.doctor()
    (finding,) = [f for f in of(report, "secrets") if f.status == "error"]
    assert "secret.key" in finding.found_en
    assert "backup" in finding.fix_en
    assert "备份" in finding.fix_zh
    assert report.exit_code == EXIT_ERRORS
    assert not (world.workdir / "secret.key").exists()  # the doctor never creates a key


def test_key_readable_by_others(world: World) -> None:
    world.write()
    (world.workdir / "secret.key").chmod(0o644)
    report = world.doctor()
    (finding,) = [f for f in of(report, "secrets") if f.status == "error"]
    assert "644" in finding.found_en
    assert finding.fix_en.startswith("chmod 600")
    assert report.exit_code == EXIT_ERRORS
    assert (world.workdir / "secret.key").stat().st_mode & 0o777 == 0o644  # looked at, not changed


def test_wrong_key(world: World) -> None:
    world.write()
    key = world.workdir / "secret.key"
    key.write_bytes(Fernet.generate_key())
    report = world.doctor()
    (finding,) = [f for f in of(report, "secrets") if f.status == "error"]
    assert "wrong key: 2 of 2 stored secrets do not decrypt" in finding.found_en
    assert "restore the key" in finding.fix_en
    # and the connections that need those secrets say so too
    assert of(report, "kingdee", "kd")[0].status == "error"
    assert report.exit_code == EXIT_ERRORS


def test_unfinished_rotation_is_a_warning_exit_three(world: World) -> None:
    world.write()
    (world.workdir / "secret.key.old").write_bytes(Fernet.generate_key())
    (world.workdir / "secret.key.old").chmod(0o600)
    report = world.doctor()
    assert errors(report) == []
    (finding,) = [f for f in of(report, "secrets") if f.status == "warning"]
    assert "withdraw-old-key" in finding.fix_en
    assert report.exit_code == EXIT_WARNINGS


# --- the database and Redis ------------------------------------------------------------------------


def _stamp(url: str, revision: str) -> None:
    from alembic import command

    command.stamp(alembic_config(url), revision, purge=True)


@pytest.mark.parametrize("where", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_database_behind_and_ahead(
    where: str, tmp_path: Path, kingdee: dict[str, Any], pm: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if where == "postgresql" else None
    world = World(tmp_path, kingdee, pm, url).write()
    assert of(world.doctor(), "database")[0].status == "ok"
    store_url = world.settings().store_url()
    _stamp(store_url, "0011")  # one migration behind the code
    (finding,) = of(world.doctor(), "database")
    assert finding.status == "error"
    assert f"behind (0011 → {code_heads()[0]}" in finding.found_en
    assert "yecai db upgrade" in finding.fix_en
    # a revision this code does not know: written by a newer yecai
    store = open_store(store_url, upgrade=False)
    with store.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'f00d_future'"))
    store.close()
    (finding,) = of(world.doctor(), "database")
    assert finding.status == "error"
    assert "ahead" in finding.found_en
    assert "f00d_future" in finding.found_en


def test_database_unreachable_times_out_quickly(world: World) -> None:
    world.write()
    world.store_url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    report = world.doctor(Limits(timeout=2.0))
    (finding,) = of(report, "database")
    assert finding.status == "error"
    assert "does not answer" in finding.found_en
    assert report.exit_code == EXIT_ERRORS


def test_redis(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.write()
    monkeypatch.setenv("YECAI_QUEUE_URL", "redis://127.0.0.1:6379/15")
    (finding,) = of(world.doctor(), "redis")
    assert finding.status == "ok"
    assert finding.found_en == "Redis answers"
    monkeypatch.setenv("YECAI_QUEUE_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    (finding,) = of(world.doctor(), "redis")
    assert finding.status == "error"
    assert "Redis does not answer" in finding.found_en
    assert "hunter2" not in finding.subject
    assert ":***@" in finding.subject


# --- connections ---------------------------------------------------------------------------------


def test_kingdee_down(world: World) -> None:
    world.space["connections"]["kd"]["server_url"] = f"http://127.0.0.1:{free_port()}/K3Cloud/"
    report = world.write().doctor()
    (finding,) = of(report, "kingdee", "kd")
    assert finding.status == "error"
    assert "Kingdee server runs" in finding.fix_en
    assert "已启动" in finding.fix_zh
    assert report.exit_code == EXIT_ERRORS


def test_kingdee_wrong_secret(world: World) -> None:
    world.secrets[("kd", "KD_SECRET")] = "0" * 32
    report = world.write().doctor()
    (finding,) = of(report, "kingdee", "kd")
    assert finding.status == "error"
    assert "app_id" in finding.fix_en
    assert "set-secret" in finding.fix_en


def test_kingdee_wrong_password(world: World, kingdee: dict[str, Any]) -> None:
    kd = world.space["connections"]["kd"]
    kd.update(auth="password", password="${KD_PASSWORD}")
    del kd["app_id"], kd["app_secret"]
    world.secrets[("kd", "KD_PASSWORD")] = "not-the-password"
    report = world.write().doctor()
    (finding,) = of(report, "kingdee", "kd")
    assert finding.status == "error"
    assert "refused the login" in finding.found_en


def test_kingdee_that_never_answers_is_given_up_on(world: World) -> None:
    """A port that accepts connections and never answers: the timeout, not minutes of waiting."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        world.space["connections"]["kd"]["server_url"] = (
            f"http://127.0.0.1:{silent.getsockname()[1]}/K3Cloud/"
        )
        report = world.write().doctor(Limits(timeout=1.0))
    (finding,) = of(report, "kingdee", "kd")
    assert finding.status == "error"
    assert "Kingdee timed out" in finding.found_en
    assert "will retry" not in finding.found_en  # a one-off check says what to do instead


def test_pm_unreachable(world: World) -> None:
    world.space["connections"]["pm"]["base_url"] = f"http://127.0.0.1:{free_port()}"
    report = world.write().doctor()
    (finding,) = of(report, "source", "pm")
    assert finding.status == "error"
    assert "PM system runs" in finding.fix_en
    assert of(report, "kingdee", "kd")[0].status == "ok"  # the others are still checked
    assert report.exit_code == EXIT_ERRORS


def test_alert_channels_misconfigured_nothing_sent(world: World, robot: FakeRobot, smtp: FakeSmtp) -> None:
    add_alerts(world, robot, smtp)
    del world.secrets[("ops_robot", "ROBOT_SECRET")]  # the signing secret never stored
    world.space["connections"]["ops_mail"]["host"] = "mail.invalid"  # a name that cannot resolve
    world.space["connections"]["stranger"] = {
        "kind": "alert",
        "channel": "feishu",
        "webhook_url": "https://hooks.example.com/open-apis/bot/v2/hook/x",  # not the platform's host
    }
    report = world.write().doctor()
    found = {f.subject: f for f in of(report, "alert")}
    assert found["ops_robot"].status == "error"
    assert "ROBOT_SECRET" in found["ops_robot"].found_en
    assert found["ops_mail"].status == "error"
    assert "cannot reach" in found["ops_mail"].found_en
    assert found["stranger"].status == "error"
    assert "not allowed" in found["stranger"].found_en
    assert "yecai alerts test" in found["stranger"].fix_en
    assert robot.received == []
    assert smtp.messages == []
    assert report.exit_code == EXIT_ERRORS


# --- clock, disk, TLS ------------------------------------------------------------------------------


def _skewed(seconds: float) -> Callable[[], dt.datetime]:
    return lambda: dt.datetime.now() + dt.timedelta(seconds=seconds)


def test_clock_skew_from_the_sandbox_clock(tmp_path: Path, pm: str) -> None:
    server, credentials = start_sandbox(tmp_path / "kd", settings=SandboxSettings(clock=_skewed(600)))
    try:
        world = World(tmp_path / "w", credentials, pm)
        world.root.mkdir()
        report = world.write().doctor()
        (finding,) = of(report, "clock", "kd")
        assert finding.status == "error"
        assert "behind Kingdee's" in finding.found_en
        assert "more than 60 s" in finding.found_en
        assert "NTP" in finding.fix_en
        assert of(report, "kingdee", "kd")[0].status == "ok"  # the login itself works
        # the threshold is configurable: ten minutes and a half are tolerated when asked
        (tolerated,) = of(world.doctor(Limits(timeout=3.0, max_clock_skew=630)), "clock", "kd")
        assert tolerated.status == "ok"
    finally:
        server.stop()


def test_disk_below_the_threshold(world: World) -> None:
    report = world.write().doctor(Limits(timeout=3.0, min_free_mb=10**12))
    (finding,) = of(report, "disk", "workdir")
    assert finding.status == "error"
    assert "MB free" in finding.found_en
    assert "--min-free-mb" in finding.fix_en
    assert report.exit_code == EXIT_ERRORS


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture
def untrusted_https(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server whose certificate no one trusts (self-signed)."""
    cert, key = _self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_tls_certificate_that_fails_verification(world: World, untrusted_https: str) -> None:
    world.space["connections"]["kd"]["server_url"] = f"{untrusted_https}/K3Cloud/"
    world.space["connections"]["pm"]["base_url"] = untrusted_https
    report = world.write().doctor()
    found = {f.subject: f for f in of(report, "tls")}
    assert "pm" in found, of(report, "source")
    assert found["kd"].status == "error"
    assert "fails verification" in found["kd"].found_en
    assert found["pm"].status == "error"
    assert "do not turn verification off" in found["pm"].fix_en
    assert report.exit_code == EXIT_ERRORS


def test_tls_verification_turned_off(world: World, untrusted_https: str) -> None:
    world.space["connections"]["kd"]["server_url"] = f"{untrusted_https}/K3Cloud/"
    world.space["connections"]["kd"]["verify_tls"] = False
    report = world.write().doctor()
    (finding,) = of(report, "tls", "kd")
    assert finding.status == "error"
    assert "verification off" in finding.found_en
    assert "verify_tls: true" in finding.fix_en
    assert "SSL_CERT_FILE" in finding.fix_en


# --- configuration and the command ------------------------------------------------------------


def test_invalid_workspace_and_settings(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.write()
    world.path.write_text("connections:\n  kd: {kind: kingdee}\n", encoding="utf-8")
    report = world.doctor()
    (finding,) = [f for f in of(report, "config") if f.status == "error"]
    assert "server_url" in finding.found_en
    assert of(report, "secrets")[0].status == "ok"  # what can still be checked, is
    monkeypatch.setenv("YECAI_KINGDEE_BATCH_SIZE", "0")
    result = CliRunner().invoke(app, ["doctor", "--workspace", str(world.path)], env={"COLUMNS": "200"})
    assert result.exit_code == EXIT_ERRORS
    assert "YECAI_KINGDEE_BATCH_SIZE" in result.output


def test_cli_exit_code_and_fix_lines(world: World) -> None:
    world.space["connections"]["pm"]["base_url"] = f"http://127.0.0.1:{free_port()}"
    world.write()
    env = {
        "COLUMNS": "200",
        "YECAI_WORKDIR": str(world.workdir),
        "YECAI_DOCTOR_TIMEOUT": "3",
        "YECAI_DOCTOR_MIN_FREE_MB": str(10**12),  # thresholds from the environment too
    }
    result = CliRunner().invoke(app, ["doctor", "--workspace", str(world.path)], env=env)
    assert result.exit_code == EXIT_ERRORS, result.output
    assert "✗ 错误 error  业务系统 PM system · pm" in result.output
    assert "修复 fix: 确认项目管理系统已启动" in result.output
    assert "✗ 错误 error  磁盘 disk · workdir" in result.output
    assert "2 个错误" in result.output
    assert "2 errors" in result.output
