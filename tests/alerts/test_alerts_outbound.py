"""The outbound-URL policy of the alert channels (yecai/alerts/outbound.py): https to the platform's
own hosts or to hosts the workspace allows, every resolved address public (IPv4-mapped IPv6 too),
the connection pinned to the checked address, and errors in fixed words that never quote the
remote body nor tell an open port from a closed one."""

from __future__ import annotations

import datetime as dt
import json
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from yecai.alerts.channels import AlertSendError, ChannelPolicy
from yecai.alerts.mail import EmailChannel
from yecai.alerts.messages import render
from yecai.alerts.outbound import AllowedHost, OutboundPolicy, refused_address
from yecai.alerts.robots import DingTalkRobot, FeishuRobot, WeComRobot
from yecai.errors import ConfigurationError
from yecai.workspace import parse_workspace

POLICY = ChannelPolicy()
LEAK = "admin_password=hunter2-internal"
UNREACHABLE_EN = "cannot reach the alert address"


def alert():  # type: ignore[no-untyped-def]
    return render("alert.test", {"channel": "x"})


def public(host: str, port: int) -> list[str]:
    """A resolver that answers one public address for every name (no DNS leaves this machine)."""
    return ["1.1.1.1"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "0.0.0.0",
        "100.64.0.1",  # carrier-grade NAT: not global
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "ff02::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refused_address(address)


@pytest.mark.parametrize("address", ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses_pass(address: str) -> None:
    assert not refused_address(address)


def test_platform_hosts_are_the_default_and_https_is_required() -> None:
    policy = OutboundPolicy(resolver=public)
    for platform, url in [
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t"),
        ("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/h"),
        ("feishu", "https://open.larksuite.com/open-apis/bot/v2/hook/h"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"),
    ]:
        assert policy.target(url, platform).address == "1.1.1.1"
    refusals = [
        ("dingtalk", "http://oapi.dingtalk.com/robot/send?access_token=t", "https"),
        ("wecom", "https://oapi.dingtalk.com/robot/send?access_token=t", "not allowed"),  # other platform
        ("wecom", "https://evil.example.com/cgi-bin/webhook/send?key=k", "not allowed"),
        ("wecom", "http://127.0.0.1:5432/", "not allowed"),
        ("wecom", "file:///etc/passwd", "https"),
        ("wecom", "not a url", "https"),
    ]
    for platform, url, words in refusals:
        with pytest.raises(AlertSendError, match=words) as caught:
            policy.target(url, platform)
        assert caught.value.zh  # Chinese first


def test_an_allowed_host_must_still_resolve_to_public_addresses_every_one() -> None:
    hosts = (AllowedHost("robots.example.com"),)
    rebinding = OutboundPolicy(hosts, resolver=lambda host, port: ["1.1.1.1", "127.0.0.1"])
    with pytest.raises(AlertSendError, match="non-public"):
        rebinding.target("https://robots.example.com/hook", "wecom")
    mapped = OutboundPolicy(hosts, resolver=lambda host, port: ["::ffff:192.168.0.7"])
    with pytest.raises(AlertSendError, match="non-public"):
        mapped.target("https://robots.example.com/hook", "wecom")
    ok = OutboundPolicy(hosts, resolver=public)
    assert ok.target("https://Robots.Example.com./hook", "wecom").address == "1.1.1.1"
    with pytest.raises(AlertSendError, match="https"):
        ok.target("http://robots.example.com/hook", "wecom")  # http only when allowed for the host


def test_a_private_host_needs_its_own_explicit_allow_and_http_its_own() -> None:
    loopback = OutboundPolicy((AllowedHost("127.0.0.1", private=True),))
    assert loopback.target("https://127.0.0.1:8443/hook", "wecom").address == "127.0.0.1"
    with pytest.raises(AlertSendError, match="https"):
        loopback.target("http://127.0.0.1:8080/hook", "wecom")
    plain = OutboundPolicy((AllowedHost("127.0.0.1", private=True, http=True),))
    assert plain.target("http://127.0.0.1:8080/hook", "wecom").address == "127.0.0.1"
    # the allow is for that host only
    with pytest.raises(AlertSendError, match="not allowed"):
        plain.target("http://127.0.0.2:8080/hook", "wecom")


def test_the_connection_goes_to_the_checked_address_with_the_names_host_and_sni() -> None:
    """A second DNS answer (rebinding) cannot slip in: the robot resolves once, checks, and sends
    to that address, with Host and TLS SNI still the platform's name."""
    answers = iter([["1.1.1.1"], ["127.0.0.1"]])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    robot = DingTalkRobot(
        "ding",
        POLICY,
        webhook_url="https://oapi.dingtalk.com/robot/send?access_token=t-123456789",
        outbound=OutboundPolicy(resolver=lambda host, port: next(answers)),
        transport=httpx.MockTransport(handler),
    )
    robot.send(alert())
    [request] = seen
    assert request.url.host == "1.1.1.1"
    assert request.url.scheme == "https"
    assert request.headers["host"] == "oapi.dingtalk.com"
    assert request.extensions["sni_hostname"] == "oapi.dingtalk.com"
    assert request.url.params["access_token"] == "t-123456789"
    with pytest.raises(AlertSendError, match="non-public"):
        robot.send(alert())  # the next send resolves afresh and meets the loopback answer


# --- remote bodies and port state never reach an error ----------------------------------------


class _Leaky(BaseHTTPRequestHandler):
    """An internal service: answers any POST with a body holding a password."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        payload = f"{LEAK}\n".encode()
        self.send_response(int(self.path.rsplit("/", 1)[-1]) if self.path[-3:].isdigit() else 200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _NotHttp(socketserver.BaseRequestHandler):
    """A port that speaks something else (like PostgreSQL on 5432): one line, then it hangs up."""

    def handle(self) -> None:
        self.request.sendall(f"E{LEAK}\x00".encode())


@pytest.fixture
def services() -> Iterator[dict[str, int]]:
    leaky = ThreadingHTTPServer(("127.0.0.1", 0), _Leaky)
    other = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NotHttp)
    for server in (leaky, other):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    yield {"http": leaky.server_address[1], "other": other.server_address[1], "closed": closed}
    for server in (leaky, other):
        server.shutdown()
        server.server_close()


def _error(robot: WeComRobot | DingTalkRobot | FeishuRobot) -> AlertSendError:
    with pytest.raises(AlertSendError) as caught:
        robot.send(alert())
    return caught.value


def test_refused_urls_read_the_same_whatever_listens(services: dict[str, int]) -> None:
    errors = [
        _error(WeComRobot("wx", POLICY, webhook_url=f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k"))
        for port in services.values()
    ]
    texts = {(e.zh, e.en) for e in errors}
    assert len(texts) == 1, texts
    assert LEAK not in str(errors[0])


def test_an_allowed_internal_robot_never_has_its_body_quoted(services: dict[str, int]) -> None:
    allow = OutboundPolicy((AllowedHost("127.0.0.1", private=True, http=True),))

    def robot(port: int, path: str = "/cgi-bin/webhook/send") -> WeComRobot:
        return WeComRobot(
            "wx", POLICY, webhook_url=f"http://127.0.0.1:{port}{path}", outbound=allow, timeout=3
        )

    unreadable = _error(robot(services["http"]))
    assert "HTTP 200" in unreadable.en
    assert LEAK not in str(unreadable) + unreadable.zh
    failed = _error(robot(services["http"], "/status/503"))
    assert "HTTP 503" in failed.en
    assert LEAK not in str(failed) + failed.zh
    # an open port speaking another protocol and a closed one: the same words, nothing of either
    other, closed = _error(robot(services["other"])), _error(robot(services["closed"]))
    assert (other.zh, other.en) == (closed.zh, closed.en)
    assert UNREACHABLE_EN in other.en
    assert "无法连接告警地址" in other.zh
    assert LEAK not in other.en + other.zh
    for name in ("RemoteProtocolError", "ConnectError", "refused"):
        assert name not in other.en + closed.en


def test_json_refusals_keep_a_numeric_code_but_never_the_remote_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 93000, "errmsg": LEAK})

    def odd(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": LEAK, "errmsg": "x"})

    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-123456789"
    refused = _error(
        WeComRobot(
            "wx",
            POLICY,
            webhook_url=url,
            outbound=OutboundPolicy(resolver=public),
            transport=httpx.MockTransport(handler),
        )
    )
    assert "93000" in refused.en
    assert LEAK not in refused.en + refused.zh
    strange = _error(
        WeComRobot(
            "wx",
            POLICY,
            webhook_url=url,
            outbound=OutboundPolicy(resolver=public),
            transport=httpx.MockTransport(odd),
        )
    )
    assert LEAK not in strange.en + strange.zh


# --- SMTP ------------------------------------------------------------------------------------


def _mail(host: str, port: int, outbound: OutboundPolicy | None = None) -> EmailChannel:
    return EmailChannel(
        "mail",
        POLICY,
        host=host,
        port=port,
        security="plain",
        sender="a@example.com",
        recipients=("b@example.com",),
        timeout=3,
        **({"outbound": outbound} if outbound else {}),
    )


@pytest.mark.slow  # an HTTP port never greets: the SMTP client waits for its timeout
def test_smtp_on_a_private_address_needs_an_allow_and_reads_the_same_open_or_closed(
    services: dict[str, int],
) -> None:
    for port in services.values():
        with pytest.raises(AlertSendError, match=r"non-public") as caught:
            _mail("127.0.0.1", port).send(alert())
        assert LEAK not in str(caught.value)
    allow = OutboundPolicy((AllowedHost("127.0.0.1", private=True),))
    answers = []
    for port in (services["other"], services["closed"], services["http"]):
        with pytest.raises(AlertSendError) as caught:
            _mail("127.0.0.1", port, allow).send(alert())
        answers.append((caught.value.zh, caught.value.en))
        assert LEAK not in caught.value.zh + caught.value.en
    assert UNREACHABLE_EN in answers[1][1]
    assert answers[0] == answers[1]


# --- the workspace's allow-list ---------------------------------------------------------------


def test_the_workspace_names_its_allowed_hosts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    alert_connection = {"kind": "alert", "channel": "wecom", "webhook_url": "${WX}"}
    space = parse_workspace(
        {
            "connections": {"wx": alert_connection},
            "alerts": {
                "outbound": {
                    "allow_hosts": [
                        "Robots.Example.com",
                        {"host": "10.0.0.5", "private": True, "http": True},
                    ]
                }
            },
        },
        tmp_path,
    )
    policy = OutboundPolicy.of(space)
    assert policy.hosts == (
        AllowedHost("robots.example.com"),
        AllowedHost("10.0.0.5", private=True, http=True),
    )
    with pytest.raises(ConfigurationError, match="allow_hosts"):
        parse_workspace(
            {"connections": {"wx": alert_connection}, "alerts": {"outbound": {"allow_hosts": ["http://x/"]}}},
            tmp_path,
        )


def test_an_allowed_ipv6_literal_keeps_its_brackets_in_url_and_host() -> None:
    target = OutboundPolicy((AllowedHost("::1", private=True, http=True),)).target(
        "http://[::1]:8080/hook", "wecom"
    )
    assert target.pinned_url() == "http://[::1]:8080/hook"
    assert target.host_header() == "[::1]:8080"


# --- pinning over real TLS ----------------------------------------------------------------------


def _certificates(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `name` it signed: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yecai test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class _Robot(BaseHTTPRequestHandler):
    hosts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.hosts.append(self.headers.get("Host") or "")
        payload = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_pinned_tls_connection_still_verifies_the_certificate_by_name(tmp_path: Path) -> None:
    """Over real TLS: the socket goes to the checked 127.0.0.1, the server sees the name in SNI
    and Host, and the certificate is verified against the name — a name the certificate does not
    carry fails, pinned or not."""
    ca, cert, key = _certificates(tmp_path, "robots.example.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Robot)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Robot.hosts = []
    port = server.server_address[1]
    try:
        client_tls = ssl.create_default_context(cafile=str(ca))
        policy = OutboundPolicy(
            (
                AllowedHost("robots.example.test", private=True),
                AllowedHost("other.example.test", private=True),
            ),
            resolver=lambda host, port: ["127.0.0.1"],
        )

        def robot(name: str) -> WeComRobot:
            return WeComRobot(
                "wx",
                POLICY,
                webhook_url=f"https://{name}:{port}/cgi-bin/webhook/send?key=k-123456789",
                outbound=policy,
                transport=httpx.HTTPTransport(verify=client_tls),
                timeout=5,
            )

        robot("robots.example.test").send(alert())
        assert names == ["robots.example.test"]
        assert _Robot.hosts == [f"robots.example.test:{port}"]
        with pytest.raises(AlertSendError, match=UNREACHABLE_EN):
            robot("other.example.test").send(alert())  # the certificate is not for this name
        assert _Robot.hosts == [f"robots.example.test:{port}"]
    finally:
        server.shutdown()
        server.server_close()
