"""Where alert channels may connect: the outbound-URL policy against SSRF (docs/alerts.md, docs/security.md).

A robot URL must be https to its platform's own host or to a host the workspace allows
(`alerts: outbound: allow_hosts`); every address the name resolves to must be public unless the
workspace allows that host as private, and plain http needs its own allow. The channel then
connects to the address that was checked (Host and TLS SNI keep the name), so a DNS answer that
changes between check and connect cannot reach an internal service. SMTP hosts get the same
address check. Refusals and connection failures are fixed words: nothing remote is quoted.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from yecai.alerts.channels import AlertSendError
from yecai.workspace import Workspace

# The robots' own webhook hosts, as the platforms' official SDKs and developer documentation give them:
# 飞书 https://open.feishu.cn and Lark https://open.larksuite.com (§1.1, from lark-oapi core/const.py),
# 钉钉 https://oapi.dingtalk.com (§2, the old-generation API host that serves /robot/send),
# 企业微信 https://qyapi.weixin.qq.com (§3, the host of every /cgi-bin/ call, the webhook included).
PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    "dingtalk": ("oapi.dingtalk.com",),
    "feishu": ("open.feishu.cn", "open.larksuite.com"),
    "wecom": ("qyapi.weixin.qq.com",),
}

Resolver = Callable[[str, int], list[str]]

# One sentence for every way a connection can fail — refused, reset, timed out, spoke something
# other than HTTP — so that the answer does not tell an open port from a closed one.
UNREACHABLE = ("无法连接告警地址", "cannot reach the alert address")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refused_address(text: str) -> bool:
    """True for any address that is not a plain public one: loopback, private, link-local,
    reserved, multicast, unspecified, shared (100.64/10) — also inside IPv4-mapped, 6to4 and
    Teredo IPv6 addresses, which reach the IPv4 address they wrap."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # a scope id (fe80::1%eth0) is no address
    except ValueError:
        return True
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:a.b.c.d is a.b.c.d on the wire: judge the IPv4 address (the v6 form is never global)
        candidates = [address.ipv4_mapped]
    elif isinstance(address, ipaddress.IPv6Address):
        wrapped = [address.sixtofour, *(address.teredo or ())]
        candidates.extend(inner for inner in wrapped if inner is not None)
    return any(
        a.is_private
        or a.is_loopback
        or a.is_link_local
        or a.is_reserved
        or a.is_multicast
        or a.is_unspecified
        or not a.is_global
        for a in candidates
    )


@dataclass(frozen=True, slots=True)
class AllowedHost:
    """A host the workspace allows beyond the platforms' own; `private`: it may resolve to a
    non-public address (an on-premise robot or mail server); `http`: plain http is accepted."""

    host: str
    private: bool = False
    http: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect (`address`) and what the server must be told (`host`)."""

    url: SplitResult
    host: str
    port: int
    address: str

    def pinned_url(self) -> str:
        """The URL with the checked address in place of the name (IPv6 in brackets)."""
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = literal if self.url.port is None else f"{literal}:{self.url.port}"
        return self.url._replace(netloc=netloc).geturl()

    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal keeps its brackets
        return name if self.url.port is None else f"{name}:{self.url.port}"


def _normal(host: str) -> str:
    return host.strip().lower().rstrip(".")


Who = tuple[str, str]  # the channel, as a Chinese and an English phrase


def _refused(who: Who, zh: str, en: str) -> AlertSendError:
    return AlertSendError(f"{who[0]}：{zh}", f"{who[1]}: {en}")


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """The workspace's allow-list and the resolver (injectable: tests answer names without DNS)."""

    hosts: tuple[AllowedHost, ...] = ()
    resolver: Resolver = system_resolver

    @classmethod
    def of(cls, workspace: Workspace) -> OutboundPolicy:
        return cls(
            tuple(
                AllowedHost(_normal(entry.host), entry.private, entry.http)
                for entry in workspace.alerts.outbound.allow_hosts
            )
        )

    def allowed(self, host: str) -> AllowedHost | None:
        name = _normal(host)
        return next((entry for entry in self.hosts if entry.host == name), None)

    def addresses(self, host: str, port: int, what: Who) -> str:
        """Resolve once and check every answer; the first address is the one to connect to."""
        rule = self.allowed(host)
        found = self.resolver(_normal(host), port)
        if not found:
            # A name that does not resolve reads like any other unreachable address.
            raise _refused(what, *UNREACHABLE)
        if not (rule and rule.private) and any(refused_address(address) for address in found):
            raise _refused(
                what,
                f"地址 {host} 解析到非公网地址，已拒绝（内网主机须在 alerts.outbound.allow_hosts 中以 private: true 明确允许）",
                f"{host} resolves to a non-public address, refused (an internal host must be allowed "
                "explicitly in alerts.outbound.allow_hosts with private: true)",
            )
        return found[0]

    def target(self, url: str, platform: str, what: Who = ("告警通道", "alert channel")) -> Target:
        """Check a robot URL and resolve it: AlertSendError in fixed words when it may not be used."""
        parts = urlsplit(url.strip())
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            host, port = None, None
        if parts.scheme not in ("https", "http") or not host:
            raise _refused(
                what,
                "告警地址须为 https:// 网址",
                "the alert address must be an https:// URL",
            )
        rule = self.allowed(host)
        known = _normal(host) in PLATFORM_HOSTS.get(platform, ())
        if not known and rule is None:
            raise _refused(
                what,
                f"主机 {host} 不被允许：只可连接平台自己的主机（{'、'.join(PLATFORM_HOSTS.get(platform, ()))}）"
                "或工作区 alerts.outbound.allow_hosts 中的主机",
                f"host {host} is not allowed: only the platform's own hosts "
                f"({', '.join(PLATFORM_HOSTS.get(platform, ()))}) or hosts in the workspace's "
                "alerts.outbound.allow_hosts",
            )
        if parts.scheme == "http" and not (rule and rule.http):
            raise _refused(
                what,
                f"告警地址须用 https（http 仅在 allow_hosts 中为主机 {host} 设置 http: true 时可用）",
                f"the alert address must use https (http only when allow_hosts sets http: true for {host})",
            )
        port = port or (443 if parts.scheme == "https" else 80)
        return Target(parts, host, port, self.addresses(host, port, what))

    def smtp_address(self, host: str, port: int, channel: str) -> str:
        """The checked address of an SMTP server (any public host; a private one only when allowed)."""
        return self.addresses(host, port, (f"邮件通道 {channel}", f"email channel {channel}"))
