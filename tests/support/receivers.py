"""Local fake receivers for the alert tests (no tests here): the three group-robot webhooks and an
SMTP server, each a real server on a free 127.0.0.1 port in a thread.

The robots check what their platform checks — the path and token or key, the signature recomputed
here independently (`cryptography`'s HMAC, not yecai's code) and the timestamp's freshness — and
answer in the platform's words: `errcode`/`errmsg` (DingTalk, WeCom), `code`/`msg` or the older
`StatusCode`/`StatusMessage` (Feishu), error codes included. The SMTP server speaks enough ESMTP
for smtplib (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) and keeps each message parsed.
"""

from __future__ import annotations

import base64
import json
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, quote_plus, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

HOUR_MS = 3600 * 1000

# The receivers listen on 127.0.0.1 over http: a workspace reaches them only through the explicit
# allow of the outbound policy (docs/security.md), written here once for the tests that use them.
LOCAL_ALLOW = {"outbound": {"allow_hosts": [{"host": "127.0.0.1", "private": True, "http": True}]}}


def reference_hmac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 through `cryptography`: an implementation independent of yecai's `hmac` use."""
    mac = HMAC(key, hashes.SHA256())
    mac.update(message)
    return mac.finalize()


def reference_dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="timestamp\\nsecret")) — raw, before URL-encoding."""
    return base64.b64encode(reference_hmac(secret.encode(), f"{timestamp_ms}\n{secret}".encode())).decode()


def reference_feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu: base64(HMAC-SHA256(key="timestamp\\nsecret", msg=empty))."""
    return base64.b64encode(reference_hmac(f"{timestamp_s}\n{secret}".encode(), b"")).decode()


@dataclass
class Received:
    path: str
    query: str
    body: Any
    raw: bytes


@dataclass
class FakeRobot:
    """One platform's webhook. `mode`: ok | legacy (Feishu's StatusCode answer) | refuse | http500."""

    platform: str  # dingtalk | feishu | wecom
    token: str = "tok-0123456789abcdef"
    secret: str | None = None
    mode: str = "ok"
    received: list[Received] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why a request was refused
    server: ThreadingHTTPServer | None = None
    clock: Callable[[], float] = time.time

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = cast(tuple[str, int], self.server.server_address)
        base = f"http://{host}:{port}"
        if self.platform == "dingtalk":
            return f"{base}/robot/send?access_token={self.token}"
        if self.platform == "feishu":
            return f"{base}/open-apis/bot/v2/hook/{self.token}"
        return f"{base}/cgi-bin/webhook/send?key={self.token}"

    # --- what the platform checks -------------------------------------------------------------

    def judge(self, path: str, query: str, body: Any) -> tuple[int, dict[str, Any]]:
        if self.mode == "http500":
            return 500, {"error": "internal"}
        check = {"dingtalk": self._dingtalk, "feishu": self._feishu, "wecom": self._wecom}[self.platform]
        problem, answer = check(path, query, body)
        if problem:
            self.refusals.append(problem)
            return 200, answer
        if self.mode == "refuse":
            self.refusals.append("refused by mode")
            return 200, self._refusal()
        if self.platform == "feishu":
            if self.mode == "legacy":
                return 200, {"Extra": None, "StatusCode": 0, "StatusMessage": "success"}
            return 200, {"code": 0, "data": {}, "msg": "success"}
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _refusal(self) -> dict[str, Any]:
        if self.platform == "dingtalk":
            return {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        if self.platform == "feishu":
            return {"code": 9499, "data": {}, "msg": "Bad Request"}
        return {"errcode": 45009, "errmsg": "api freq out of limit"}

    def _dingtalk(self, path: str, query: str, body: Any) -> tuple[str | None, dict[str, Any]]:
        params = parse_qs(query)
        if path != "/robot/send" or params.get("access_token") != [self.token]:
            return "token", {"errcode": 300001, "errmsg": "token is not exist"}
        if not (isinstance(body, dict) and body.get("msgtype") == "markdown"):
            return "body", {"errcode": 40035, "errmsg": "缺少参数 json"}
        markdown = body.get("markdown") or {}
        if not (isinstance(markdown.get("title"), str) and isinstance(markdown.get("text"), str)):
            return "markdown", {"errcode": 40035, "errmsg": "缺少参数 markdown"}
        if self.secret is None:
            return None, {}
        bad = {
            "errcode": 310000,
            "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
        }
        # The raw query: `sign` must be the base64 signature URL-encoded exactly once.
        raw = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        if "timestamp" not in raw or "sign" not in raw:
            return "missing sign", bad
        timestamp = int(raw["timestamp"])
        if abs(self.clock() * 1000 - timestamp) > HOUR_MS:
            return "stale timestamp", bad
        expected = reference_dingtalk_sign(self.secret, timestamp)
        if raw["sign"] != quote_plus(expected) or params["sign"] != [expected]:
            return "sign", bad
        return None, {}

    def _feishu(self, path: str, query: str, body: Any) -> tuple[str | None, dict[str, Any]]:
        if path != f"/open-apis/bot/v2/hook/{self.token}":
            return "hook", {
                "code": 19001,
                "data": {},
                "msg": "param invalid: incoming webhook access token invalid",
            }
        if not (isinstance(body, dict) and body.get("msg_type") in ("text", "post", "interactive")):
            return "body", {"code": 9499, "data": {}, "msg": "Bad Request"}
        if self.secret is None:
            return None, {}
        bad = {
            "code": 19021,
            "data": {},
            "msg": "sign match fail or timestamp is not within one hour from current time",
        }
        if "timestamp" not in body or "sign" not in body:
            return "missing sign", bad
        timestamp = int(body["timestamp"])
        if abs(self.clock() - timestamp) > 3600:
            return "stale timestamp", bad
        if body["sign"] != reference_feishu_sign(self.secret, timestamp):
            return "sign", bad
        return None, {}

    def _wecom(self, path: str, query: str, body: Any) -> tuple[str | None, dict[str, Any]]:
        if path != "/cgi-bin/webhook/send" or parse_qs(query).get("key") != [self.token]:
            return "key", {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1700000000_1_x]"}
        if not (isinstance(body, dict) and body.get("msgtype") == "markdown"):
            return "body", {"errcode": 40008, "errmsg": "invalid message type"}
        content = (body.get("markdown") or {}).get("content")
        if not isinstance(content, str) or len(content.encode("utf-8")) > 4096:
            return "content", {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
        return None, {}

    # --- serving ------------------------------------------------------------------------------

    def start(self) -> FakeRobot:
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = None
                robot.received.append(Received(parts.path, parts.query, body, raw))
                status, answer = robot.judge(parts.path, parts.query, body)
                data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def texts(self) -> list[str]:
        """Every request body as text (what reached the "group")."""
        return [r.raw.decode("utf-8") for r in self.received]


@dataclass
class FakeSmtp:
    """A minimal ESMTP receiver; `username`/`password` enable AUTH PLAIN and require it."""

    username: str | None = None
    password: str | None = None
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    server: socketserver.ThreadingTCPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return cast(tuple[str, int], self.server.server_address)[1]

    def start(self) -> FakeSmtp:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode("ascii") + b"\r\n")

            def handle(self) -> None:
                self.reply("220 fake.smtp ESMTP ready")
                sender, recipients, authed = "", [], fake.username is None
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    command = line.decode("utf-8").rstrip("\r\n")
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-fake.smtp")
                        if fake.username is not None:
                            self.reply("250-AUTH PLAIN")
                        self.reply("250 8BITMIME")
                    elif verb == "AUTH":
                        _, mechanism, *rest = command.split(" ")
                        decoded = base64.b64decode(rest[0]).split(b"\0") if rest else []
                        expected = [b"", (fake.username or "").encode(), (fake.password or "").encode()]
                        if mechanism.upper() == "PLAIN" and decoded == expected:
                            authed = True
                            self.reply("235 2.7.0 Authentication successful")
                        else:
                            self.reply("535 5.7.8 Authentication credentials invalid")
                    elif verb == "MAIL":
                        if not authed:
                            self.reply("530 5.7.0 Authentication required")
                            continue
                        sender = command.split(":", 1)[1].split()[0].strip("<>")
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].split()[0].strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while True:
                            data = self.rfile.readline()
                            if data in (b".\r\n", b""):
                                break
                            lines.append(data[1:] if data.startswith(b"..") else data)
                        message = BytesParser(policy=policy.default).parsebytes(b"".join(lines))
                        fake.messages.append((sender, recipients, cast(EmailMessage, message)))
                        recipients = []
                        self.reply("250 OK queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    else:
                        self.reply("502 Command not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
