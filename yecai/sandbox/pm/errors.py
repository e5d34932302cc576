"""Errors of the sandbox.pm API: one exception type, one JSON shape, bilingual messages.

Chinese PM systems answer `{"code": <non-zero>, "message": "..."}` with an HTTP status that
matches. The message is "中文 / English" so both the consultant and yecai's logs can read it, and
it names the parameter and the value at fault. The code table below is the whole vocabulary.
"""

from __future__ import annotations

from typing import Any

# code → (HTTP status, meaning). Five digits: HTTP status followed by a two-digit reason.
CODES: dict[int, tuple[int, str]] = {
    40001: (400, "invalid request parameter"),
    40101: (401, "missing, invalid or expired token"),
    40102: (401, "HMAC signature does not match"),
    40103: (401, "timestamp outside the allowed window"),
    40104: (401, "nonce already used"),
    40105: (401, "unknown app key"),
    40106: (401, "signature headers missing or malformed"),
    40401: (404, "no such resource"),
    40501: (405, "method not allowed"),
    40901: (409, "the simulated clock cannot go back"),
    50001: (500, "internal error"),
}

INVALID_TOKEN_MESSAGE = "令牌无效或已过期 / invalid or expired token"


class ApiError(Exception):
    """An answer other than success; raised anywhere in a request, rendered by the app."""

    # A plain class, not a frozen dataclass: frameworks assign __traceback__ on exceptions.
    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def status_code(self) -> int:
        return CODES[self.code][0]

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


def bilingual(chinese: str, english: str) -> str:
    return f"{chinese} / {english}"


def shown(value: object, limit: int = 80) -> str:
    """A request value as it appears in a message: quoted, and cut short if someone sends a novel."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return repr(text)


def invalid_parameter(chinese: str, english: str) -> ApiError:
    return ApiError(40001, bilingual(chinese, english))


def invalid_token() -> ApiError:
    return ApiError(40101, INVALID_TOKEN_MESSAGE)


def not_found(chinese: str, english: str) -> ApiError:
    return ApiError(40401, bilingual(chinese, english))
