"""The sandbox itself, framework-free: one HTTP request in, one HTTP reply out.

`KingdeeSandbox.handle` routes `/K3Cloud/<Service>.common.kdsvc`, parses the body, applies the
SID-first authentication rule and calls the service (handlers.py). Business outcomes are always
HTTP 200 JSON; an unknown service is a `response_error:` text; a wrong data centre is a non-200
reply. A journal keeps what the server saw (service, session in/out, how the caller got in). The
administration methods (close/open a period, lock a bill, drop sessions) are for tests and demos.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from yecai import jsonutil
from yecai.sandbox.kingdee import auth, envelopes, handlers, logins, messages, protocol
from yecai.sandbox.kingdee.datadir import load_credentials, open_store
from yecai.sandbox.kingdee.drafts import SaveContext, SaveOptions
from yecai.sandbox.kingdee.netctrl import Lock, NetworkControl
from yecai.sandbox.kingdee.seed import normalise_period
from yecai.sandbox.kingdee.settings import SandboxSettings

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
DYNAMIC_FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
AUTH_SERVICE = "Kingdee.BOS.WebApi.ServicesStub.AuthService."
DATA_CENTRE_LIST = "Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList"
PRODUCT_VERSION = logins.PRODUCT_VERSION  # what GetDataCenterList reports as Version [INF]


@dataclass(frozen=True, slots=True)
class WireRequest:
    """An HTTP request as the sandbox needs it; `headers` keys are lower-case."""

    url: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class WireReply:
    status: int
    text: str
    content_type: str = JSON_TYPE
    set_cookies: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call as the server saw it."""

    at: datetime
    service: str
    session_in: str | None
    session_out: str | None
    # "session" | "signature" | "public" | "login" | "logout" | "refused" | "wrong_data_centre" | "-"
    auth: str
    status: int


@dataclass(slots=True)
class Admission:
    """How a request got in (or why not): the journal's `auth`, a new SID and its cookies."""

    how: str
    session_out: str | None = None
    cookies: list[str] = field(default_factory=list)
    refusal: WireReply | None = None
    caller: auth.Caller | None = None


@dataclass(slots=True)
class Call:
    """One admitted request as a handler sees it; a login sets the session and cookies it opens."""

    sid_in: str | None
    caller: auth.Caller | None
    how: str
    session_out: str | None = None
    cookies: list[str] = field(default_factory=list)


Handler = Callable[["KingdeeSandbox", protocol.Arguments, Call], Any]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    parameters: tuple[str, ...]
    handler: Handler | None  # None: a real service this sandbox does not emulate yet
    public: bool = False


class KingdeeSandbox:
    """One emulated K/3 Cloud site with one data centre stored in `data_dir`."""

    def __init__(
        self, data_dir: Path, *, settings: SandboxSettings | None = None, seed_file: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings or SandboxSettings()
        self.store, self.registry = open_store(data_dir, self.settings, seed_file)
        self.credentials = load_credentials(data_dir)
        clock = self.settings.clock
        self.sessions = auth.SessionTable(self.settings.session_idle_seconds, lambda: clock().timestamp())
        self.locks = NetworkControl(clock)
        self.journal: deque[CallRecord] = deque(maxlen=self.settings.journal_size)
        self._journal_lock = threading.Lock()
        self._tasks: dict[str, list[Any]] = {}
        self._tasks_lock = threading.Lock()

    # --- administration (not part of the WebAPI) --------------------------------------------------

    def close(self) -> None:
        self.store.close()

    def close_period(self, year: int, period: int, book: str | None = None) -> None:
        """Close (结账) a period for one book or all books; later saves into it are refused."""
        item = normalise_period({"book": book, "year": year, "period": period})
        with self.store.transaction() as tx:
            tx.set_meta("closed_periods", [*self.store.meta("closed_periods", []), item])

    def open_period(self, year: int, period: int, book: str | None = None) -> None:
        """Reopen (反结账) a period: for one book, or for every book when `book` is None."""
        kept: list[dict[str, Any]] = []
        books = [str(r.values.get("FNUMBER", "")) for r in self.store.records(self._form("BD_AccountBook"))]
        for item in self.store.meta("closed_periods", []):
            if (int(item["year"]), int(item["period"])) != (year, period):
                kept.append(item)
            elif book is not None and item.get("book") is None:
                # "closed for every book": keep it closed for the other books.
                kept += [{"book": b, "year": year, "period": period} for b in books if b != str(book)]
            elif book is not None and item.get("book") != str(book):
                kept.append(item)
        with self.store.transaction() as tx:
            tx.set_meta("closed_periods", kept)

    def lock(self, form_id: str, number: str, seconds: float) -> None:
        """Hold the network-control lock (网控) on a bill, as a user editing it in the web client
        would; operations on it answer MsgCode 13 until the lock expires (sandbox clock)."""
        form = self._form(form_id)
        record_id = self.store.find_number(form, number)
        if record_id is None:
            raise KeyError(f"{form_id} has no record numbered {number!r}")
        until = self.settings.clock() + timedelta(seconds=seconds)
        self.locks.acquire(form.form_id, record_id, Lock("Administrator", "修改", until))

    def unlock(self, form_id: str, number: str) -> bool:
        """Release a lock taken with `lock`; whether there was one."""
        form = self._form(form_id)
        record_id = self.store.find_number(form, number)
        return record_id is not None and self.locks.release(form.form_id, record_id)

    def drop_sessions(self) -> int:
        """Lose every session, as an app-pool recycle does; signed clients log in again silently."""
        return self.sessions.drop_all()

    def calls(self) -> list[CallRecord]:
        with self._journal_lock:
            return list(self.journal)

    def _form(self, form_id: str) -> Any:
        form = self.registry.get(form_id)
        if form is None:
            raise KeyError(f"no form {form_id}")
        return form

    # --- the WebAPI ----------------------------------------------------------------------------

    def handle(self, request: WireRequest) -> WireReply:
        service = protocol.service_from_path(request.path, self.settings.path_prefix)
        if service is None:
            return WireReply(404, "Not Found", TEXT_TYPE)
        sid_in = auth.session_id(request.headers)
        spec = SERVICES.get(service.lower())
        if spec is None or spec.handler is None:
            key = "unknown_service" if spec is None else "service_not_emulated"
            reply = WireReply(200, envelopes.response_error(messages.text(key, service=service)), TEXT_TYPE)
            return self._journal(service, sid_in, None, "-", reply)
        try:
            body = protocol.parse_body(request.body)
        except protocol.BodyError as exc:
            return self._journal(
                service, sid_in, None, "-", WireReply(200, envelopes.show_err_msg(exc.info), TEXT_TYPE)
            )
        admission = self._admit(spec, request, sid_in)
        if admission.refusal is not None:
            return self._journal(spec.name, sid_in, admission.session_out, admission.how, admission.refusal)
        call = Call(sid_in, admission.caller, admission.how, admission.session_out, list(admission.cookies))
        args = protocol.arguments(body, spec.parameters)
        try:
            result = spec.handler(self, args, call)
        except Exception as exc:  # a sandbox bug must still answer the way the server fails
            text = envelopes.response_error(
                messages.text("internal_error", detail=f"{type(exc).__name__}: {exc}")
            )
            return self._journal(
                spec.name, sid_in, call.session_out, call.how, WireReply(200, text, TEXT_TYPE, call.cookies)
            )
        if args.query_mode:
            result = self._begin_task(result)
        reply = WireReply(200, jsonutil.dumps(result), JSON_TYPE, call.cookies)
        return self._journal(spec.name, sid_in, call.session_out, call.how, reply)

    def _admit(self, spec: ServiceSpec, request: WireRequest, sid_in: str | None) -> Admission:
        """SID first; otherwise verify the signed headers and open a session (§4.2)."""
        if spec.public:
            return Admission("public")
        session = self.sessions.get(sid_in)
        if session is not None:
            return Admission("session", caller=session.caller)
        verdict, caller = auth.verify_signed_headers(
            request.headers, request.url, self.credentials, self.settings.accepted_lcids
        )
        if verdict is auth.Verdict.WRONG_DATA_CENTRE:
            text = envelopes.exception_json(messages.text("thirty_passport"))
            return Admission("wrong_data_centre", refusal=WireReply(500, text, TEXT_TYPE))
        if verdict is auth.Verdict.REFUSED or caller is None:
            # The real server still hands out an (unauthenticated) SID with the refusal.
            shell = str(uuid.uuid4())
            text = jsonutil.dumps(envelopes.session_lost())
            refusal = WireReply(200, text, JSON_TYPE, auth.session_cookies(shell))
            return Admission("refused", session_out=shell, refusal=refusal)
        session = self.sessions.create(caller)
        return Admission(
            "signature", session.sid, auth.session_cookies(session.sid, session.aspnet_id), caller=caller
        )

    def _journal(
        self, service: str, session_in: str | None, session_out: str | None, how: str, reply: WireReply
    ) -> WireReply:
        record = CallRecord(self.settings.clock(), service, session_in, session_out, how, reply.status)
        with self._journal_lock:
            self.journal.append(record)
        return reply

    def context(self, call: Call | None = None, options: SaveOptions | None = None) -> SaveContext:
        """What the engines need for one call: store, metadata, settings, the caller as a user."""
        user_name = call.caller.user_name if call is not None and call.caller is not None else ""
        user_form = self.registry.get("SEC_User")
        user = self.store.find_number(user_form, user_name) if user_form is not None and user_name else None
        return SaveContext(
            self.store,
            self.registry,
            self.settings,
            options or SaveOptions(),
            self.settings.clock(),
            user,
            user_name,
            self.locks,
        )

    # --- async query mode (§2.7) --------------------------------------------------------------

    def _begin_task(self, result: Any) -> dict[str, Any]:
        task_id = str(uuid.uuid4())
        pending = self.settings.async_pending_polls
        with self._tasks_lock:
            self._tasks[task_id] = [result, pending]
        if pending > 0:
            return _task_info(task_id, 1, None)
        return _task_info(task_id, 2, result)

    def poll_task(self, task_id: str) -> dict[str, Any]:
        with self._tasks_lock:
            task = self._tasks.get(task_id)
            if task is None:
                return _task_info(task_id, 2, None, faulted=True)
            if task[1] > 0:
                task[1] -= 1
                return _task_info(task_id, 1, None)
            self._tasks.pop(task_id, None)
        return _task_info(task_id, 2, task[0])


def _task_info(task_id: str, status: int, result: Any, faulted: bool = False) -> dict[str, Any]:
    """The QueryResultInfo shape the Java SDK models (§2.7)."""
    return {
        "TaskId": task_id,
        "Status": status,
        "Result": result,
        "Cancelled": False,
        "IsFaulted": faulted,
        "FaultedException": None,
        "Successful": status == 2 and not faulted,
        "Message": None,
        "Progress": 100 if status == 2 else 50,
        "ProgressDesc": None,
    }


def _spec(
    name: str, parameters: tuple[str, ...], handler: Handler | None, public: bool = False
) -> ServiceSpec:
    return ServiceSpec(name, parameters, handler, public)


_FORM_DATA = ("formid", "data")
_STATUS_OPERATIONS = ("Submit", "Audit", "UnAudit", "Delete", "CancelAssign")
_NOT_EMULATED = [
    "Push",
    "SwitchOrg",
    "QueryGroupInfo",
    "GroupSave",
    "GroupDelete",
    "FlexSave",
    "SendMsg",
    "Disassembly",
    "WorkflowAudit",
    "AttachmentUpload",
    "AttachmentDownLoad",
    "StatusConvert",
    "UploadFile",
    "SaveData",
    "GroupSubmit",
]
_AUTH_NOT_EMULATED = ["LoginBySimplePassport", "LoginByMobileCard", "ValidateUserEnDeCode"]

_SPECS: list[ServiceSpec] = [
    _spec(DYNAMIC_FORM + "Save", _FORM_DATA, partial(handlers.save, batch=False, draft=False)),
    _spec(DYNAMIC_FORM + "BatchSave", _FORM_DATA, partial(handlers.save, batch=True, draft=False)),
    _spec(DYNAMIC_FORM + "Draft", _FORM_DATA, partial(handlers.save, batch=False, draft=True)),
    *(
        _spec(DYNAMIC_FORM + name, _FORM_DATA, partial(handlers.status, operation=name))
        for name in _STATUS_OPERATIONS
    ),
    _spec(DYNAMIC_FORM + "View", _FORM_DATA, handlers.view),
    _spec(DYNAMIC_FORM + "ExcuteOperation", ("formid", "opNumber", "data"), handlers.execute_operation),
    _spec(DYNAMIC_FORM + "Allocate", _FORM_DATA, partial(handlers.allocate, cancel=False)),
    _spec(DYNAMIC_FORM + "CancelAllocate", _FORM_DATA, partial(handlers.allocate, cancel=True)),
    _spec(DYNAMIC_FORM + "GetSysReportData", _FORM_DATA, handlers.report),
    _spec(DYNAMIC_FORM + "QueryBusinessInfo", ("data",), handlers.business_info),
    _spec(DYNAMIC_FORM + "ExecuteBillQuery", ("data",), partial(handlers.bill_query, as_objects=False)),
    _spec(DYNAMIC_FORM + "BillQuery", ("data",), partial(handlers.bill_query, as_objects=True)),
    _spec(DYNAMIC_FORM + "QueryAsyncResult", ("queryInfo",), handlers.poll),
    _spec(DATA_CENTRE_LIST, (), handlers.data_centres, public=True),
    *(
        _spec(AUTH_SERVICE + name, parameters, partial(handlers.login, method=name), public=True)
        for name, parameters in logins.PARAMETERS.items()
        if name != "Logout"
    ),
    _spec(AUTH_SERVICE + "Logout", (), handlers.logout, public=True),
    *(_spec(DYNAMIC_FORM + name, _FORM_DATA, None) for name in _NOT_EMULATED),
    *(_spec(AUTH_SERVICE + name, (), None, public=True) for name in _AUTH_NOT_EMULATED),
]
SERVICES: dict[str, ServiceSpec] = {spec.name.lower(): spec for spec in _SPECS}
