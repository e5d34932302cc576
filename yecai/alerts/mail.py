"""Email alerts over SMTP (smtplib): STARTTLS, implicit TLS or plain; login when configured.

The message is UTF-8 throughout: the subject is RFC 2047-encoded by the email package, the body is
base64 so that servers without 8BITMIME pass it unchanged. TLS uses the system's trust store and
verifies the host name; a test may hand in its own `ssl.SSLContext`. The server's address is
checked by the outbound policy (a private one only when the workspace allows the host) and the
connection goes to that address; errors are fixed words with the SMTP code, never the server's text.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from yecai.alerts.channels import AlertSendError, ChannelPolicy
from yecai.alerts.messages import AlertText
from yecai.alerts.outbound import UNREACHABLE, OutboundPolicy

Security = Literal["starttls", "ssl", "plain"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "plain": 25}


class _PinnedSMTP(smtplib.SMTP):
    """smtplib.SMTP that opens its socket to the checked address; the host name it was given
    stays what STARTTLS verifies the certificate against."""

    def __init__(self, address: str, *args: object, **kwargs: object) -> None:
        self._address = address
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(self._address, port, timeout)  # type: ignore[misc]


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    """The same for implicit TLS: the socket to the checked address, SNI and checks by name."""

    def __init__(self, address: str, *args: object, **kwargs: object) -> None:
        self._address = address
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(self._address, port, timeout)  # type: ignore[misc]


def _fixed(exc: Exception) -> tuple[str, str]:
    """What failed, in our words: the SMTP code is kept, the server's text is not."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"登录被拒（SMTP {exc.smtp_code}）", f"login refused (SMTP {exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # Raised by smtplib itself (STARTTLS or AUTH not offered): our words, nothing remote.
        return f"服务器不支持所需功能：{exc}", f"the server does not offer what is needed: {exc}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"发件人被拒（SMTP {exc.smtp_code}）", f"sender refused (SMTP {exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(exc, smtplib.SMTPConnectError):
        return f"服务器拒绝（SMTP {exc.smtp_code}）", f"the server refused (SMTP {exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "收件人全部被拒", "every recipient was refused"
    # Refused, reset, timed out, a greeting that is not SMTP: one sentence, port state unknown.
    return UNREACHABLE


class EmailChannel:
    """Sends each alert as one plain-text email to every recipient."""

    platform = "email"

    def __init__(
        self,
        name: str,
        policy: ChannelPolicy,
        *,
        host: str,
        sender: str,
        recipients: tuple[str, ...],
        port: int | None = None,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._host = host
        self._port = port or DEFAULT_PORTS[security]
        self._security = security
        self._username = username
        self._password = password
        self._sender = sender
        self._recipients = recipients
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._outbound = outbound or OutboundPolicy()

    def secret_values(self) -> list[str]:
        return [self._password] if self._password else []

    def message(self, alert: AlertText) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = alert.title
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="yecai.alerts")
        message.set_content(alert.plain() + "\n", charset="utf-8", cte="base64")
        return message

    def send(self, alert: AlertText) -> None:
        message = self.message(alert)
        context = self._ssl_context or ssl.create_default_context()
        address = self._outbound.smtp_address(self._host, self._port, self.name)
        try:
            if self._security == "ssl":
                smtp: smtplib.SMTP = _PinnedSMTPSSL(
                    address, self._host, self._port, timeout=self._timeout, context=context
                )
            else:
                smtp = _PinnedSMTP(address, self._host, self._port, timeout=self._timeout)
            with smtp:
                if self._security == "starttls":
                    smtp.starttls(context=context)
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            zh, en = _fixed(exc)
            raise AlertSendError(f"邮件通道 {self.name}：{zh}", f"email channel {self.name}: {en}") from None
        if refused:
            names = ", ".join(sorted(refused))
            raise AlertSendError(
                f"邮件通道 {self.name}：收件人被拒 {names}",
                f"email channel {self.name}: recipients refused {names}",
            )
