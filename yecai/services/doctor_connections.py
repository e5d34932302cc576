"""The connection checks of `yecai doctor`: Kingdee (login, clock skew), the PM systems, alert
channels (a dry run: nothing sent) and TLS, one function per kind of connection.

Like every doctor check they look and never change anything, and return findings instead of
raising. `CHECKS` says which check a connection of the workspace gets.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from yecai.alerts.config import open_channel
from yecai.alerts.outbound import OutboundPolicy
from yecai.errors import Context, Fault, YecaiError
from yecai.kingdee.client import SERVICE_PREFIX
from yecai.kingdee.results import raise_for_status, status_of
from yecai.secrets import SecretBox
from yecai.services.connections import test_connection, without_retry
from yecai.services.doctor_checks import Finding, Limits, loopback, ok, problem
from yecai.workspace import AlertConnection, KingdeeConnection, SourceConnection, Workspace

# --- TLS ----------------------------------------------------------------------------------------


def tls_setting(check: str, name: str, url: str | None, verify: bool = True) -> list[Finding]:
    """What the address and the verify switch say before anything is called."""
    if not url:
        return []
    parts = urlsplit(url)
    if parts.scheme == "https" and not verify:
        return [
            problem(
                "tls",
                name,
                "error",
                (
                    f"连接 {name} 使用 https 但关闭了证书验证（verify_tls: false）",
                    f"connection {name} uses https with certificate verification off (verify_tls: false)",
                ),
                (
                    "改为 verify_tls: true；证书来自企业自己的 CA 时，把 CA 证书放入 SSL_CERT_FILE 指向的文件",
                    "set verify_tls: true; for a certificate of your own CA, put the CA certificate in "
                    "the file SSL_CERT_FILE names",
                ),
            )
        ]
    if parts.scheme == "http" and not loopback(parts.hostname):
        return [
            problem(
                "tls",
                name,
                "warning",
                (
                    f"连接 {name} 使用明文 http 访问 {parts.hostname}：凭据和数据未加密",
                    f"connection {name} reaches {parts.hostname} over plain http: credentials travel unencrypted",
                ),
                ("改用 https 地址", "use the https address"),
            )
        ]
    return []


def certificate_failed(error: BaseException | str) -> bool:
    """True when the error (or any error behind it) is a failed certificate verification."""
    if isinstance(error, str):
        return "CERTIFICATE_VERIFY_FAILED" in error
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def tls_verifies(url: str, limits: Limits) -> bool:
    """False when an HTTPS handshake with `url` fails certificate verification, checked the way
    yecai's clients connect (httpx, verification on); any other outcome is the caller's to judge."""
    try:
        with httpx.Client(verify=True, timeout=limits.timeout) as client:
            client.head(url)
    except httpx.HTTPError as exc:
        return not certificate_failed(exc)
    return True


def _certificate_problem(name: str, url: str) -> Finding:
    return problem(
        "tls",
        name,
        "error",
        (
            f"{url} 的证书未通过验证（过期、主机名不符或签发者不受信任）",
            f"the certificate of {url} fails verification (expired, wrong host name or untrusted issuer)",
        ),
        (
            "请服务器管理员换用有效证书；企业自己的 CA 签发时，把 CA 证书放入 SSL_CERT_FILE 指向的文件；不要关闭验证",
            "have the server's certificate replaced by a valid one; for your own CA, put its certificate "
            "in the file SSL_CERT_FILE names; do not turn verification off",
        ),
    )


# --- connections ----------------------------------------------------------------------------------


def clock_finding(name: str, date_header: str | None, before: float, after: float, limits: Limits) -> Finding:
    """This machine's clock against Kingdee's, read from the HTTP `Date` header of its answer (the
    WebAPI has no server-time service); the header has whole seconds, so one second is allowed."""
    if not date_header:
        return problem(
            "clock",
            name,
            "warning",
            (
                "金蝶的应答没有 Date 头，无法测量时钟偏差",
                "Kingdee's answer has no Date header: skew not measured",
            ),
            ("确认服务器（IIS）发送 Date 头，或在两台机器上都启用 NTP", "make sure both machines use NTP"),
        )
    try:
        server = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        server = None
    if server is None or server.tzinfo is None:
        return problem(
            "clock",
            name,
            "warning",
            (f"无法解析 Date 头 {date_header!r}", f"cannot read the Date header {date_header!r}"),
            ("在两台机器上都启用 NTP", "make sure both machines use NTP"),
        )
    skew = server.timestamp() - (before + after) / 2
    # skew > 0: Kingdee's clock is ahead, this machine's behind
    text_zh = f"本机时钟比金蝶服务器{'慢' if skew > 0 else '快'} {abs(skew):.0f} 秒（据 HTTP Date 头）"
    text_en = (
        f"this machine's clock is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} Kingdee's"
        " (from the HTTP Date header)"
    )
    if abs(skew) > limits.max_clock_skew + 1:
        return problem(
            "clock",
            name,
            "error",
            (
                f"{text_zh}，超过 {limits.max_clock_skew:g} 秒",
                f"{text_en}, more than {limits.max_clock_skew:g} s",
            ),
            (
                "用 NTP 同步本机和金蝶服务器的时钟（timedatectl / chronyc tracking）：签名时间戳和夜间窗口都依赖它",
                "synchronise this machine's and the Kingdee server's clocks with NTP (timedatectl / chronyc "
                "tracking): signature timestamps and the nightly windows depend on them",
            ),
        )
    return ok("clock", name, text_zh, text_en)


_KINGDEE_FIX = {
    Fault.CONFIGURATION: (
        "核对该连接的 acct_id、user_name、app_id 和已存密钥（yecai connections set-secret）",
        "check the connection's acct_id, user_name, app_id and stored secrets (yecai connections set-secret)",
    ),
    Fault.TRANSIENT: (
        "确认金蝶服务器已启动、server_url 可达（防火墙、VPN），然后再运行 yecai doctor",
        "check that the Kingdee server runs and server_url is reachable (firewall, VPN), then run yecai doctor again",
    ),
}


def check_kingdee(space: Workspace, name: str, secrets: SecretBox | None, limits: Limits) -> list[Finding]:
    """A real login and one cheap read (ExecuteBillQuery BD_Account, one row) through yecai's client;
    the answer's Date header gives the clock skew."""
    c = space.connections[name]
    assert isinstance(c, KingdeeConnection)
    findings = tls_setting("kingdee", name, c.server_url, c.verify_tls)
    short = c.model_copy(update={"timeout_seconds": min(c.timeout_seconds, limits.timeout)})
    quick = space.model_copy(update={"connections": {**space.connections, name: short}})
    try:
        client = quick.kingdee(name, secrets)
    except YecaiError as exc:
        return [
            *findings,
            problem("kingdee", name, "error", (exc.zh, exc.en), _KINGDEE_FIX[Fault.CONFIGURATION]),
        ]
    query = {
        "FormId": "BD_Account",
        "FieldKeys": "FNumber",
        "FilterString": "",
        "OrderString": "",
        "TopRowCount": 0,
        "StartRow": 0,
        "Limit": 1,
    }
    with client:
        before = time.time()
        try:
            answer = client.call(SERVICE_PREFIX + "ExecuteBillQuery", {"data": query}, write=False)
            raise_for_status(status_of(answer), Context(connection=name, form_id="BD_Account"))
        except YecaiError as exc:
            after = time.time()
            if certificate_failed(exc):
                findings.append(_certificate_problem(name, c.server_url))
            else:
                zh, en = without_retry(exc.zh, exc.en)
                fix = _KINGDEE_FIX.get(exc.fault, _KINGDEE_FIX[Fault.TRANSIENT])
                findings.append(problem("kingdee", name, "error", (zh, en), fix))
        else:
            after = time.time()
            findings.append(
                ok(
                    "kingdee",
                    name,
                    f"登录成功，科目表可读（{c.auth}）",
                    f"login accepted, chart of accounts readable ({c.auth})",
                )
            )
            if c.server_url.startswith("https://") and c.verify_tls:
                findings.append(ok("tls", name, "证书验证通过", "certificate verified"))
        if client.last_response_date is not None or findings[-1].status == "ok":
            findings.append(clock_finding(name, client.last_response_date, before, after, limits))
    return findings


def check_source(space: Workspace, name: str, secrets: SecretBox | None, limits: Limits) -> list[Finding]:
    """One cheap request through the source's own client (its first stream), as 测试连接 does."""
    c = space.connections[name]
    assert isinstance(c, SourceConnection)
    findings = tls_setting("source", name, c.base_url)
    if c.base_url and c.base_url.startswith("https://") and not tls_verifies(c.base_url, limits):
        # the connector's client would fail the same handshake, with less precise words
        return [*findings, _certificate_problem(name, c.base_url)]
    result = test_connection(space, secrets, name)  # type: ignore[arg-type]  # (None: environment only)
    if result.ok:
        findings.append(ok("source", name, result.message_zh, result.message_en))
        if (c.base_url or "").startswith("https://"):
            findings.append(ok("tls", name, "证书验证通过", "certificate verified"))
    elif certificate_failed(result.message_en):
        findings.append(_certificate_problem(name, c.base_url or name))
    else:
        findings.append(
            problem(
                "source",
                name,
                "error",
                (result.message_zh, result.message_en),
                (
                    "确认项目管理系统已启动、base_url 可达、令牌等已存密钥正确（yecai connections test）",
                    "check that the PM system runs, base_url is reachable and its stored secrets (tokens) "
                    "are right (yecai connections test)",
                ),
            )
        )
    return findings


def check_alert(space: Workspace, name: str, secrets: SecretBox | None, limits: Limits) -> list[Finding]:
    """A dry run: configuration complete, secrets present and decryptable, the address valid,
    resolvable and allowed by the outbound policy. Nothing is sent."""
    from yecai.alerts.mail import DEFAULT_PORTS

    c = space.connections[name]
    assert isinstance(c, AlertConnection)
    fix = (
        "按提示补全该告警通道（docs/alerts.md）；密钥用 yecai connections set-secret 保存；试发用 yecai alerts test",
        "complete the alert channel as the message says (docs/alerts.md); store its secrets with "
        "`yecai connections set-secret`; try a real message with `yecai alerts test`",
    )
    try:
        open_channel(space, name, secrets)  # resolves every ${SECRET}: missing or undecryptable raise
        policy = OutboundPolicy.of(space)
        if c.channel == "email":
            assert c.host
            port = c.port or DEFAULT_PORTS[c.security]
            policy.smtp_address(c.host, port, name)
            where = f"{c.host}:{port}"
        else:
            url = space.resolve(name, c.webhook_url, secrets) or ""
            target = policy.target(url, c.channel)
            where = target.host  # never the URL: it carries the robot's key
    except YecaiError as exc:
        return [problem("alert", name, "error", (exc.zh, exc.en), fix)]
    return [
        ok(
            "alert",
            name,
            f"试运行通过（未发送消息）：配置完整、密钥可解密、{where} 可解析且被允许",
            f"dry run passed (nothing sent): configuration complete, secrets decrypt, {where} resolves and is allowed",
        )
    ]


ConnectionCheck = Callable[[Workspace, str, SecretBox | None, Limits], list[Finding]]
# connection type → (the check's name, the check)
CHECKS: dict[type, tuple[str, ConnectionCheck]] = {
    KingdeeConnection: ("kingdee", check_kingdee),
    SourceConnection: ("source", check_source),
    AlertConnection: ("alert", check_alert),
}
