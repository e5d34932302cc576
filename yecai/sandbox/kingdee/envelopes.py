"""The exact JSON shapes K/3 Cloud answers with, and a JSON codec that keeps money exact.

Real servers return JSON booleans and integers, spell `SuccessEntitys` that way, and include
`ErrorCode` only on failure (WebAPI §5.1–§5.2, §6.6). Amounts travel as JSON numbers,
read and written digit for digit by `yecai.jsonutil`, never through binary floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yecai.jsonutil import dumps
from yecai.sandbox.kingdee import messages


@dataclass(frozen=True, slots=True)
class Problem:
    """One entry of `ResponseStatus.Errors`, with the MsgCode it implies."""

    message: str
    msg_code: int
    field_name: str | None = None
    index: int = 0
    key: str = ""  # the messages.py key, so callers can tell kinds of problems apart

    @classmethod
    def of(cls, message_key: str, field_name: str | None = None, index: int = 0, /, **values: Any) -> Problem:
        return cls(
            messages.text(message_key, **values), messages.code(message_key), field_name, index, message_key
        )

    def at(self, index: int) -> Problem:
        return Problem(self.message, self.msg_code, self.field_name, index, self.key)

    def on(self, field_name: str | None) -> Problem:
        return Problem(self.message, self.msg_code, field_name, self.index, self.key)

    def as_error(self) -> dict[str, Any]:
        return {"FieldName": self.field_name, "Message": self.message, "DIndex": self.index}


# --- ResponseStatus -----------------------------------------------------------------------------


def response_status(
    problems: list[Problem],
    successes: list[dict[str, Any]] | None = None,
    success_messages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`ResponseStatus` in the key order real servers use; `ErrorCode` only when something failed."""
    ok = not problems
    status: dict[str, Any] = {} if ok else {"ErrorCode": 500}
    status["IsSuccess"] = ok
    status["Errors"] = [p.as_error() for p in problems]
    status["SuccessEntitys"] = successes or []
    status["SuccessMessages"] = success_messages or []
    status["MsgCode"] = 0 if ok else problems[0].msg_code
    return status


def failure(*problems: Problem) -> dict[str, Any]:
    """`{"Result":{"ResponseStatus":{…failure…}}}` — e.g. the MsgCode 1 session-lost answer."""
    return {"Result": {"ResponseStatus": response_status(list(problems))}}


def session_lost() -> dict[str, Any]:
    return failure(Problem.of("session_lost"))


def query_failure(problem: Problem) -> list[Any]:
    """ExecuteBillQuery wraps its error envelope in two arrays (§6.6)."""
    return [[failure(problem)]]


def bill_query_failure(problem: Problem) -> list[Any]:
    """BillQuery's error shape is not public; one array around the envelope is the inferred form."""
    return [failure(problem)]


def success_entity(record_id: int | str, number: str, index: int) -> dict[str, Any]:
    return {"Id": record_id, "Number": number, "DIndex": index}


def success_message(message: str, index: int) -> dict[str, Any]:
    return {"FieldName": None, "Message": message, "DIndex": index}


def status_result(
    problems: list[Problem],
    successes: list[dict[str, Any]] | None = None,
    success_messages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`{"Result":{"ResponseStatus":{…}}}` — the answer of Submit, Audit, Delete, Forbid, …"""
    return {"Result": {"ResponseStatus": response_status(problems, successes, success_messages)}}


def exception_json(message: str, class_name: str = "Kingdee.BOS.KDException") -> str:
    """A serialised .NET exception, the payload of server failures (§2.6) [INF fields]."""
    exception = {
        "ClassName": class_name,
        "Message": message,
        "InnerExWrapper": None,
        "InnerException": None,
        "HResult": -2146233088,
        "Source": "Kingdee.BOS.WebApi.ServicesStub",
    }
    return dumps(exception)


def response_error(message: str) -> str:
    """A server exception answered in-band: `response_error:` + the exception (§2.6)."""
    return "response_error:" + exception_json(message)


def show_err_msg(error_info: str) -> str:
    """The answer to a body the server cannot even deserialise (§3.5)."""
    return dumps(
        {
            "actionname": "ShowErrMsg",
            "params": [{"errorTitle": messages.text("show_err_title"), "errorInfo": error_info}],
        }
    )
