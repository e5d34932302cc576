"""Reading the control keys of a `data` package: names in any case, lists sent several ways.

Clients send the same parameter as `["a","b"]`, `"a,b"`, a number or a JSON boolean string
(`"true"`); every service reads its keys through these helpers so the leniency is the same
everywhere, and a value that cannot be understood is a MsgCode 8 `ParameterProblem`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from yecai.sandbox.kingdee.envelopes import Problem
from yecai.sandbox.kingdee.references import shown
from yecai.sandbox.kingdee.values import to_bool


class ParameterProblem(Exception):
    """The `data` package itself is unusable (MsgCode 8 family)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def get(data: dict[str, Any], name: str) -> Any:
    """Parameter names are matched case-insensitively [INF, §3.1]."""
    lowered = name.lower()
    return next((value for key, value in data.items() if str(key).lower() == lowered), None)


def flag(data: dict[str, Any], name: str, default: bool) -> bool:
    raw = get(data, name)
    if raw is None or raw == "":
        return default
    try:
        return to_bool(raw)
    except ValueError as exc:
        raise ParameterProblem(Problem.of("parameter_invalid", name=name, value=shown(raw))) from exc


def keys(data: dict[str, Any], name: str) -> tuple[str, ...]:
    """A list of field keys: `["FName","FEntity.FQty"]` or `"FName,FEntity.FQty"`."""
    raw = get(data, name)
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return tuple(item.strip() for item in raw if item.strip())
    raise ParameterProblem(Problem.of("parameter_invalid", name=name, value=shown(raw)))


def texts(data: dict[str, Any], name: str) -> list[str]:
    """Bill numbers or ids: a JSON array (of strings or numbers), a comma list, or one value."""
    raw = get(data, name)
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        items: list[Any] = raw
    elif isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        items = [raw]
    else:
        raise ParameterProblem(Problem.of("parameter_invalid", name=name, value=shown(raw)))
    out: list[str] = []
    for item in items:
        if isinstance(item, dict | list | bool) or item is None:
            raise ParameterProblem(Problem.of("parameter_invalid", name=name, value=shown(raw)))
        text = shown(item).strip()
        if text:
            out.append(text)
    return out


def integer(data: dict[str, Any], name: str, default: int = 0) -> int:
    raw = get(data, name)
    if raw is None or raw == "":
        return default
    try:
        return int(Decimal(str(raw).strip()))
    except (ArithmeticError, ValueError) as exc:
        raise ParameterProblem(Problem.of("parameter_invalid", name=name, value=shown(raw))) from exc
