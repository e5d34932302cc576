"""Keeping secrets out of logs: a process-wide registry of secret values, and masks for known names.

Whenever a secret is decrypted or resolved (`SecretBox.get`, `Workspace.resolve`) its value is
registered here, so the log filter can replace it anywhere in a line — a message, an argument, an
exception text. Values under names that always hold secrets (password, token, cookie, …) are
masked whatever they are, registered or not. Imports nothing of yecai: anything may call it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "***"
# Shorter values would mask ordinary words and numbers all over the log (as `secrets.redact`).
MIN_LENGTH = 4

# Key names (lower case, '-' read as '_') whose values are secrets whatever they hold.
SECRET_NAMES = frozenset(
    {
        "sign",
        "cookie",
        "set_cookie",
        "authorization",
        "proxy_authorization",
        "kdservice_sessionid",
        "asp.net_sessionid",
        "x_kd_signature",
        "x_api_signature",
    }
)
# … and names that contain one of these (app_secret, PM_SANDBOX_TOKEN, db_password, …).
SECRET_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "signature",
    "api_key",
    "apikey",
    "private_key",
    "sessionid",
)

_NAMES_IN_TEXT = r"[\w.-]*(?:password|passwd|secret|token|signature|api_?key|sessionid)[\w.-]*"
# Secrets written into free text by name: `password=…` (query strings, key=value logs), a quoted
# key in JSON or a dict repr (`"app_secret": "…"`), and header lines (`Authorization: Bearer …`).
# Only these forms: prose such as "lacks secret PM_TOKEN: store it …" stays readable.
_IN_TEXT = (
    re.compile(rf"(?P<name>\b{_NAMES_IN_TEXT}=)(?P<value>[^\s&;,'\"]+)", re.IGNORECASE),
    re.compile(rf"(?P<name>([\"']){_NAMES_IN_TEXT}\2\s*:\s*([\"']))(?P<value>.*?)(?=\3)", re.IGNORECASE),
    re.compile(
        r"(?P<name>\b(?:authorization|proxy-authorization|cookie|set-cookie|kdservice-sessionid)\s*:\s*)"
        r"(?P<value>[^\r\n]+)",
        re.IGNORECASE,
    ),
)

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def is_secret_name(name: str) -> bool:
    key = name.lower().replace("-", "_")
    return key in SECRET_NAMES or any(part in key for part in SECRET_PARTS)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that no log line carries it from now on."""
    global _pattern
    if not value or len(value) < MIN_LENGTH:
        return
    with _lock:
        if value in _values:
            return
        _values.add(value)
        # Longest first: a secret that contains another is masked whole.
        ordered = sorted(_values, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def forget_secrets() -> None:
    """Empty the registry (tests)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


def redact_text(text: str) -> str:
    """`text` with every registered secret value and every `name=value` of a secret name masked."""
    pattern = _pattern
    if pattern is not None:
        # Masking can join the text around it into another secret ("ab" + MASK + "cd"); repeat
        # until none is left — each pass shortens the text, so this ends.
        while True:
            masked = pattern.sub(MASK, text)
            if masked == text:
                break
            text = masked
    for named in _IN_TEXT:
        text = named.sub(lambda m: m.group("name") + MASK, text)
    return text


def redact_value(value: Any, name: str | None = None) -> Any:
    """A structured value (log extra) with secret names masked and secret values redacted, recursively."""
    if name is not None and is_secret_name(name):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    return value
