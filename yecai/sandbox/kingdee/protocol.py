"""The kdsvc wire format: which service a path names and what arguments a body carries (§1, §3).

Bodies come in three shapes — named keys (`{"formid","data"}`, any case), a positional
`parameters` array (or a JSON string of one, as the C# ApiClient envelope sends it) — and each
argument may itself be a JSON-encoded string. A body that is not a JSON object is refused with
the `ShowErrMsg` answer a real server gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from yecai.jsonutil import loads
from yecai.sandbox.kingdee import messages

SERVICE_SUFFIX = ".common.kdsvc"


class BodyError(Exception):
    """The body cannot be understood at all; `info` becomes the ShowErrMsg errorInfo."""

    def __init__(self, info: str) -> None:
        super().__init__(info)
        self.info = info


def service_from_path(path: str, prefix: str) -> str | None:
    """`/K3Cloud/<Service>.common.kdsvc` → `<Service>`; None for any other path (a 404)."""
    segments = path.split("/")
    if len(segments) != 3 or segments[0] != "" or segments[1].lower() != prefix.lower():
        return None
    name = segments[2]
    if not name.lower().endswith(SERVICE_SUFFIX) or len(name) == len(SERVICE_SUFFIX):
        return None
    return name[: -len(SERVICE_SUFFIX)]


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body (an empty body counts as `{}`)."""
    text = raw.decode("utf-8-sig", errors="replace").strip()
    if not text:
        return {}
    if text.startswith("["):
        raise BodyError(messages.text("bare_array_body"))
    try:
        body = loads(text)
    except json.JSONDecodeError as exc:
        raise BodyError(messages.text("invalid_json_body", position=exc.pos)) from exc
    except ValueError as exc:
        raise BodyError(messages.text("invalid_json_body", position=0)) from exc
    if not isinstance(body, dict):
        raise BodyError(messages.text("invalid_json_body", position=0))
    return body


@dataclass(frozen=True, slots=True)
class Arguments:
    """Service arguments by lower-cased parameter name, plus the async query-mode request."""

    values: dict[str, Any]
    query_mode: bool

    def get(self, name: str) -> Any:
        return self.values.get(name.lower())


def _decoded(value: Any) -> Any:
    """An argument sent as a JSON string (`"{\\"FormId\\":…}"`) is the object it encodes."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith(("{", "[")):
            try:
                return loads(stripped)
            except ValueError:
                return value
    return value


def arguments(body: dict[str, Any], names: tuple[str, ...]) -> Arguments:
    """Map a body onto the service's parameter names (positional or named, any case)."""
    lowered = {str(key).lower(): value for key, value in body.items()}
    query_mode = bool(lowered.get("beginmethod"))
    values: dict[str, Any] = {}
    positional = lowered.get("parameters")
    if isinstance(positional, str):
        positional = _decoded(positional)
    if isinstance(positional, list):
        for name, value in zip(names, positional, strict=False):
            values[name.lower()] = _decoded(value)
    else:
        for name in names:
            if name.lower() in lowered:
                values[name.lower()] = _decoded(lowered[name.lower()])
        # Some clients post a query's data package itself as the body (§3.1).
        if "data" in {n.lower() for n in names} and "data" not in values and "fieldkeys" in lowered:
            values["data"] = body
    return Arguments(values, query_mode)


def text_argument(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal | int):
        return str(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
