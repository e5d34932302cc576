"""Reading query parameters and explaining the ones that are wrong.

FastAPI would parse them too, but also accept Unix timestamps and answer 422 in English; here a
bad value gets a 400 that names the parameter and the value and says what would be right. The
commonest mistake, an unencoded "+" in "+08:00" arriving as a space, gets its own hint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from yecai.sandbox.pm.errors import ApiError, invalid_parameter, shown
from yecai.sandbox.pm.models import CHINA_TZ

_PLUS_LOST = re.compile(r"\d \d{2}:?\d{2}$")


def parse_datetime(name: str, value: str | None) -> datetime | None:
    """An ISO 8601 datetime; one without an offset is taken as China time (+08:00)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        hint_zh = hint_en = ""
        if _PLUS_LOST.search(value):
            hint_zh = "；时区中的“+”需编码为 %2B"
            hint_en = '; encode the "+" of the offset as %2B'
        raise invalid_parameter(
            f"参数 {name} 的值 {shown(value)} 不是 ISO 8601 日期时间（例如 2026-10-01T08:00:00+08:00）{hint_zh}",
            f"parameter {name} value {shown(value)} is not an ISO 8601 datetime "
            f"(e.g. 2026-10-01T08:00:00+08:00){hint_en}",
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHINA_TZ)


def parse_date(name: str, value: str | None) -> date | None:
    """A calendar date written YYYY-MM-DD."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid_parameter(
            f"参数 {name} 的值 {shown(value)} 不是日期（格式 YYYY-MM-DD，例如 2026-10-08）",
            f"parameter {name} value {shown(value)} is not a date (YYYY-MM-DD, e.g. 2026-10-08)",
        ) from None


def explain_validation(errors: Sequence[Mapping[str, Any]]) -> ApiError:
    """Turn FastAPI's validation errors (typed query parameters) into one bilingual 400."""
    chinese: list[str] = []
    english: list[str] = []
    for error in errors:
        name = str(error.get("loc", ("?",))[-1])
        value = shown(error.get("input"))
        context = error.get("ctx") or {}
        match error.get("type"):
            case "less_than_equal":
                chinese.append(f"参数 {name} 的值 {value} 超过上限 {context.get('le')}")
                english.append(f"parameter {name} value {value} exceeds the maximum {context.get('le')}")
            case "greater_than_equal":
                chinese.append(f"参数 {name} 的值 {value} 小于下限 {context.get('ge')}")
                english.append(f"parameter {name} value {value} is below the minimum {context.get('ge')}")
            case "int_parsing" | "int_parsing_size" | "int_from_float" | "int_type":
                chinese.append(f"参数 {name} 的值 {value} 不是整数")
                english.append(f"parameter {name} value {value} is not an integer")
            case "missing":
                chinese.append(f"缺少参数 {name}")
                english.append(f"parameter {name} is required")
            case _:
                chinese.append(f"参数 {name} 的值 {value} 无效")
                english.append(f"parameter {name} value {value} is invalid: {error.get('msg')}")
    return invalid_parameter("；".join(chinese), "; ".join(english))
