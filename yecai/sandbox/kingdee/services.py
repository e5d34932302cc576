"""The sandbox itself, framework-free: one HTTP request in, one HTTP reply out.

`KingdeeSandbox.handle` routes `/K3Cloud/<Service>.common.kdsvc`, parses the body, applies the
SID-first authentication rule and calls the service. Business outcomes are always HTTP 200 JSON;
an unknown service is a `response_error:` text; a wrong data centre is a non-200 reply. A journal
keeps what the server saw (service, session in/out, how the caller was authenticated).
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from yecai import jsonutil
from yecai.sandbox.kingdee import auth, envelopes, messages, operations, protocol, query
from yecai.sandbox.kingdee.datadir import load_credentials, open_store
from yecai.sandbox.kingdee.drafts import SaveContext, SaveOptions
from yecai.sandbox.kingdee.envelopes import Problem
from yecai.sandbox.kingdee.seed import normalise_period
from yecai.sandbox.kingdee.settings import SandboxSettings

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
DYNAMIC_FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
AUTH_SERVICE = "Kingdee.BOS.WebApi.ServicesStub.AuthService."
DATA_CENTRE_LIST = "Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList"
PRODUCT_VERSION = "9.0.553.10"  # what GetDataCenterList reports as Version [INF]


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
    auth: str  # "session" | "signature" | "public" | "refused" | "wrong_data_centre" | "-"
    status: int


@dataclass(slots=True)
class Admission:
    """How a request got in (or why not): the journal's `auth`, a new SID and its cookies."""

    how: str
    session_out: str | None = None
    cookies: list[str] = field(default_factory=list)
    refusal: WireReply | None = None


Handler = Callable[["KingdeeSandbox", protocol.Arguments], Any]


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
        self.sessions = auth.SessionTable(self.settings.session_idle_seconds)
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

    def drop_sessions(self) -> int:
        """Lose every session, as an app-pool recycle does; signed clients log in again silently."""
        return self.sessions.drop_all()

    def calls(self) -> list[CallRecord]:
        with self._journal_lock:
            return list(self.journal)

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
        how, session_out, cookies = admission.how, admission.session_out, admission.cookies
        args = protocol.arguments(body, spec.parameters)
        try:
            result = spec.handler(self, args)
        except Exception as exc:  # a sandbox bug must still answer the way the server fails
            text = envelopes.response_error(
                messages.text("internal_error", detail=f"{type(exc).__name__}: {exc}")
            )
            return self._journal(
                spec.name, sid_in, session_out, how, WireReply(200, text, TEXT_TYPE, cookies)
            )
        if args.query_mode:
            result = self._begin_task(result)
        reply = WireReply(200, jsonutil.dumps(result), JSON_TYPE, cookies)
        return self._journal(spec.name, sid_in, session_out, how, reply)

    def _admit(self, spec: ServiceSpec, request: WireRequest, sid_in: str | None) -> Admission:
        """SID first; otherwise verify the signed headers and open a session (§4.2)."""
        if spec.public:
            return Admission("public")
        if self.sessions.get(sid_in) is not None:
            return Admission("session")
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
        return Admission("signature", session.sid, auth.session_cookies(session.sid))

    def _journal(
        self, service: str, session_in: str | None, session_out: str | None, how: str, reply: WireReply
    ) -> WireReply:
        record = CallRecord(self.settings.clock(), service, session_in, session_out, how, reply.status)
        with self._journal_lock:
            self.journal.append(record)
        return reply

    def _save_context(self, data: dict[str, Any]) -> SaveContext:
        options = operations.save_options(data)
        return SaveContext(self.store, self.registry, self.settings, options, self.settings.clock())

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


# --- service handlers ---------------------------------------------------------------------------


def _form_and_data(sandbox: KingdeeSandbox, args: protocol.Arguments) -> tuple[Any, Any]:
    """(form, data) for form services, or (None, failure envelope)."""
    form_id = protocol.text_argument(args.get("formid")).strip()
    if not form_id:
        return None, envelopes.failure(Problem.of("formid_empty"))
    form = sandbox.registry.get(form_id)
    if form is None:
        return None, envelopes.failure(Problem.of("form_not_exist", form_id=form_id))
    data = args.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, envelopes.failure(Problem.of("data_invalid"))
    return form, data


def _save(sandbox: KingdeeSandbox, args: protocol.Arguments, batch: bool) -> Any:
    form, data = _form_and_data(sandbox, args)
    if form is None:
        return data
    try:
        ctx = sandbox._save_context(data)
        return operations.batch_save(ctx, form, data) if batch else operations.save(ctx, form, data)
    except operations.ParameterProblem as exc:
        return envelopes.failure(exc.problem)


def _query(sandbox: KingdeeSandbox, args: protocol.Arguments, as_objects: bool) -> Any:
    data = args.get("data")
    if not isinstance(data, dict):
        data = {}
    try:
        if as_objects:
            return query.bill_query(sandbox.store, sandbox.registry, data)
        return query.execute_bill_query(sandbox.store, sandbox.registry, data)
    except query.QueryProblem as exc:
        wrap = envelopes.bill_query_failure if as_objects else envelopes.query_failure
        return wrap(exc.problem)


def _operation(sandbox: KingdeeSandbox, args: protocol.Arguments) -> Any:
    form, data = _form_and_data(sandbox, args)
    if form is None:
        return data
    operation = protocol.text_argument(args.get("opnumber")).strip()
    if operation.lower() in ("forbid", "enable"):
        ctx = SaveContext(
            sandbox.store,
            sandbox.registry,
            sandbox.settings,
            SaveOptions(),
            sandbox.settings.clock(),
        )
        return operations.forbid_or_enable(
            ctx, form, "Forbid" if operation.lower() == "forbid" else "Enable", data
        )
    return envelopes.failure(Problem.of("operation_not_supported", form_id=form.form_id, operation=operation))


def _poll(sandbox: KingdeeSandbox, args: protocol.Arguments) -> Any:
    info = args.get("queryinfo")
    task_id = str(info.get("TaskId", "")) if isinstance(info, dict) else ""
    return sandbox.poll_task(task_id)


def _data_centres(sandbox: KingdeeSandbox, args: protocol.Arguments) -> Any:
    centre = sandbox.store.meta("seed", {}).get("data_centre", {})
    return [
        {
            "Id": sandbox.credentials.acct_id,
            "Number": str(centre.get("number", "")),
            "Name": str(centre.get("name", "")),
            "Version": PRODUCT_VERSION,
            "GDCID": "",
            "AuthenticationMethods": 1,
        }
    ]


def _spec(
    name: str, parameters: tuple[str, ...], handler: Handler | None, public: bool = False
) -> ServiceSpec:
    return ServiceSpec(name, parameters, handler, public)


_FORM_DATA = ("formid", "data")
_NOT_EMULATED = [
    "Draft",
    "Submit",
    "Audit",
    "UnAudit",
    "Delete",
    "View",
    "Push",
    "Allocate",
    "CancelAllocate",
    "CancelAssign",
    "SwitchOrg",
    "GetSysReportData",
    "QueryBusinessInfo",
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
_AUTH_METHODS = [
    "ValidateUser",
    "ValidateUser2",
    "LoginByAppSecret",
    "LoginBySign",
    "LoginBySimplePassport",
    "LoginByMobileCard",
    "ValidateUserEnDeCode",
    "Logout",
]

_SPECS: list[ServiceSpec] = [
    _spec(DYNAMIC_FORM + "Save", _FORM_DATA, lambda s, a: _save(s, a, batch=False)),
    _spec(DYNAMIC_FORM + "BatchSave", _FORM_DATA, lambda s, a: _save(s, a, batch=True)),
    _spec(DYNAMIC_FORM + "ExecuteBillQuery", ("data",), lambda s, a: _query(s, a, as_objects=False)),
    _spec(DYNAMIC_FORM + "BillQuery", ("data",), lambda s, a: _query(s, a, as_objects=True)),
    _spec(DYNAMIC_FORM + "ExcuteOperation", ("formid", "opNumber", "data"), _operation),
    _spec(DYNAMIC_FORM + "QueryAsyncResult", ("queryInfo",), _poll),
    _spec(DATA_CENTRE_LIST, (), _data_centres, public=True),
    *(_spec(DYNAMIC_FORM + name, _FORM_DATA, None) for name in _NOT_EMULATED),
    *(_spec(AUTH_SERVICE + name, (), None, public=True) for name in _AUTH_METHODS),
]
SERVICES: dict[str, ServiceSpec] = {spec.name.lower(): spec for spec in _SPECS}
