"""Email alerts over SMTP (smtplib): STARTTLS, implicit TLS or plain; login when configured.

The message is UTF-8 throughout: the subject is RFC 2047-encoded by the email package, the body is
base64 so that servers without 8BITMIME pass it unchanged. TLS uses the system's trust store and
verifies the host name; a test may hand in its own `ssl.SSLContext`.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from yecai.alerts.channels import AlertSendError, ChannelPolicy
from yecai.alerts.messages import AlertText

Security = Literal["starttls", "ssl", "plain"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "plain": 25}


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
        try:
            if self._security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self._host, self._port, timeout=self._timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with smtp:
                if self._security == "starttls":
                    smtp.starttls(context=context)
                if self._username:
                    smtp.login(self._username, self._password or "")
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:300]
            raise AlertSendError(
                f"邮件通道 {self.name} 发送失败（{self._host}:{self._port}）：{detail}",
                f"email channel {self.name} failed ({self._host}:{self._port}): {detail}",
            ) from None
        if refused:
            names = ", ".join(sorted(refused))
            raise AlertSendError(
                f"邮件通道 {self.name}：收件人被拒 {names}",
                f"email channel {self.name}: recipients refused {names}",
            )
