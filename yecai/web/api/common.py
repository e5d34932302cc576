"""Shared pieces of the API routes: JSON-safe conversion (money as strings) and error answers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from fastapi import HTTPException, Path
from pydantic import Field

from yecai.errors import Fault, YecaiError


def plain(value: Any) -> Any:
    """Dataclasses, Decimals, dates and enums → JSON values; Decimal becomes its exact text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def problem(status: int, zh: str, en: str, **extra: Any) -> HTTPException:
    return HTTPException(status_code=status, detail={"message_zh": zh, "message_en": en, **extra})


def not_found(zh: str, en: str, key: object) -> HTTPException:
    return problem(404, f"没有{zh} {key}（或无权查看）", f"no {en} {key} (or not yours to see)")


def from_error(error: YecaiError) -> HTTPException:
    status = 422 if error.fault in (Fault.DATA, Fault.CONFIGURATION) else 409
    return problem(status, error.zh, error.en, action=str(error.action), fault=str(error.fault))


# identifiers are 64-bit in the store; anything larger can only be a mistake (SQLite would overflow)
MAX_ID = 2**63 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
