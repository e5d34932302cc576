"""KingdeeClient: one method per K/3 Cloud WebAPI operation, over httpx.

Protocol only (the OCA lesson): sign, send, parse, interpret — no store, no business rules. TLS
verification is on and timeouts are explicit. Authentication is an httpx auth flow that signs
every request like the official SDK and, when Kingdee says the session is lost (MsgCode 1, which
means the request was not processed), signs again without the stale session and resends once.
Reads are retried with backoff; writes are never repeated here: a write whose outcome is unknown
raises `KingdeeError` with action UNCERTAIN so the exporter can look it up by its posting key.
Thread-safe: one client may serve many worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from yecai import jsonutil
from yecai.errors import Action, Context, YecaiError
from yecai.kingdee.responses import CALL_LEVEL_CODES, NOT_CONFIRMED, Outcome, interpret, transport_outcome
from yecai.kingdee.signing import Identity, signed_headers

SERVICE_PREFIX = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
SESSION_COOKIE = "kdservice-sessionid"
QUERY_LIMIT = 10000  # Kingdee refuses a larger Limit on ExecuteBillQuery


class KingdeeError(YecaiError):
    """A Kingdee call failed; `action` says whether to retry, fail, skip or look the write up."""

    def __init__(
        self,
        outcome: Outcome,
        detail: str = "",
        *,
        msg_code: int | None = None,
        context: Context | None = None,
    ) -> None:
        zh = outcome.zh + (f"：{detail}" if detail else "")
        en = outcome.en + (f": {detail}" if detail else "")
        super().__init__(zh, en, outcome.action, outcome.fault, context or Context())
        self.msg_code = msg_code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Message:
    field_name: str | None
    message: str
    index: int


@dataclass(slots=True)
class PackageResult:
    """The outcome of one data package (DIndex) of a Save or BatchSave."""

    index: int
    id: str | None = None
    number: str | None = None
    errors: list[Message] = field(default_factory=list)
    outcome: Outcome | None = None  # None when the package succeeded
    msg_code: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is None

    def describe(self) -> str:
        return "；".join(m.message for m in self.errors)


@dataclass(slots=True)
class SaveResult:
    packages: list[PackageResult]
    raw: Any


class _SignedHeaderAuth(httpx.Auth):
    """Signs like the official SDK and keeps the Kingdee session (SID) for all threads."""

    requires_response_body = True

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self._sid: str | None = None
        self._lock = threading.Lock()

    def _sign(self, request: httpx.Request, sid: str | None) -> None:
        for name, value in signed_headers(self._identity, str(request.url)).items():
            request.headers[name] = value
        if sid:
            request.headers[SESSION_COOKIE] = sid
        elif SESSION_COOKIE in request.headers:
            del request.headers[SESSION_COOKIE]

    def _remember(self, response: httpx.Response) -> None:
        sid = response.cookies.get(SESSION_COOKIE)
        if sid:
            with self._lock:
                self._sid = sid

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:
            sid = self._sid
        self._sign(request, sid)
        response = yield request
        self._remember(response)
        if sid and _session_lost(response):
            # The stale SID was refused before anything ran; a fresh signature is a new login.
            with self._lock:
                if self._sid == sid:
                    self._sid = None
            request.headers.pop("cookie", None)
            self._sign(request, None)
            response = yield request
            self._remember(response)


def _session_lost(response: httpx.Response) -> bool:
    if response.status_code != 200 or b'"MsgCode":1' not in response.content.replace(b" ", b""):
        return False
    try:
        status = _status_of(jsonutil.loads(response.content))
    except ValueError:
        return False
    return status is not None and status.get("MsgCode") == 1 and not status.get("IsSuccess")


def _status_of(body: Any) -> dict[str, Any] | None:
    """ResponseStatus from an envelope, also when wrapped in [[…]] (ExecuteBillQuery errors)."""
    while isinstance(body, list) and len(body) == 1:
        body = body[0]
    if isinstance(body, dict):
        result = body.get("Result")
        if isinstance(result, dict):
            status = result.get("ResponseStatus")
            if isinstance(status, dict):
                return status
    return None


def _messages(items: Any) -> list[Message]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            out.append(
                Message(item.get("FieldName"), str(item.get("Message") or ""), int(item.get("DIndex") or 0))
            )
    return out


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, KingdeeError) and exc.action == Action.RETRY


class KingdeeClient:
    """A K/3 Cloud WebAPI client for one data centre and integration user."""

    def __init__(
        self,
        server_url: str,
        identity: Identity,
        *,
        timeout: httpx.Timeout | None = None,
        verify: bool = True,
        transport: httpx.BaseTransport | None = None,
        read_attempts: int = 3,
        connection: str | None = None,
    ) -> None:
        self.server_url = server_url if server_url.endswith("/") else server_url + "/"
        self.identity = identity
        self.connection = connection
        self._read_attempts = read_attempts
        self._http = httpx.Client(
            auth=_SignedHeaderAuth(identity),
            timeout=timeout or httpx.Timeout(120.0, connect=10.0),
            verify=verify,
            transport=transport,
            headers={"Content-Type": "application/json", "Accept-Charset": "utf-8"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KingdeeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def call(self, service: str, body: dict[str, Any], *, write: bool, form_id: str | None = None) -> Any:
        """POST one service; returns the parsed JSON answer or raises KingdeeError."""
        name = service if "." in service else SERVICE_PREFIX + service
        url = f"{self.server_url}{name}.common.kdsvc"
        context = Context(connection=self.connection, form_id=form_id)
        try:
            response = self._http.post(url, content=jsonutil.dumps(body).encode("utf-8"))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise KingdeeError(transport_outcome("connect", write=write), str(exc), context=context) from exc
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise KingdeeError(
                transport_outcome("timeout", write=write), type(exc).__name__, context=context
            ) from exc
        text = response.text
        if response.status_code not in (200, 206):
            kind = "bad_data_centre" if "Fail to verify thirty passport" in text else "http_error"
            raise KingdeeError(
                transport_outcome(kind, write=write), f"HTTP {response.status_code}", context=context
            )
        if text.startswith("response_error:"):
            detail = text[len("response_error:") :].strip()[:500]
            raise KingdeeError(transport_outcome("server_exception", write=write), detail, context=context)
        try:
            return jsonutil.loads(text)
        except ValueError as exc:
            raise KingdeeError(
                transport_outcome("malformed", write=write), text[:200], context=context
            ) from exc

    def _read(self, service: str, body: dict[str, Any], form_id: str | None = None) -> Any:
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self._read_attempts),
            wait=wait_exponential(multiplier=0.2, max=5.0) + wait_random(0, 0.2),
            reraise=True,
        )
        return retrying(self.call, service, body, write=False, form_id=form_id)

    # -- writes --------------------------------------------------------------------------------

    def save(self, form_id: str, model: dict[str, Any], **options: Any) -> SaveResult:
        """Save one bill (never retried here; see the module docstring)."""
        raw = self.call(
            "Save", {"formid": form_id, "data": {**options, "Model": model}}, write=True, form_id=form_id
        )
        return SaveResult(self._packages(raw, 1, form_id), raw)

    def batch_save(self, form_id: str, models: Sequence[dict[str, Any]], **options: Any) -> SaveResult:
        """Save several bills in one call; the answer is split per package (DIndex)."""
        data = {**options, "Model": list(models)}
        raw = self.call("BatchSave", {"formid": form_id, "data": data}, write=True, form_id=form_id)
        return SaveResult(self._packages(raw, len(models), form_id), raw)

    def _packages(self, raw: Any, count: int, form_id: str) -> list[PackageResult]:
        status = _status_of(raw)
        if status is None:
            outcome = transport_outcome("malformed", write=True)
            raise KingdeeError(
                outcome, str(raw)[:200], context=Context(connection=self.connection, form_id=form_id)
            )
        packages = [PackageResult(index=i) for i in range(count)]
        for entity in status.get("SuccessEntitys") or []:
            index = int(entity.get("DIndex") or 0)
            if 0 <= index < count:
                packages[index].id = None if entity.get("Id") is None else str(entity.get("Id"))
                packages[index].number = entity.get("Number")
        if status.get("IsSuccess"):
            return packages
        msg_code = status.get("MsgCode")
        errors = _messages(status.get("Errors"))
        if msg_code in CALL_LEVEL_CODES:
            # Refused before any package ran (session, permission, throttling …): one error for all.
            text = "；".join(m.message for m in errors)
            raise KingdeeError(
                interpret(msg_code, text),
                text,
                msg_code=msg_code,
                context=Context(connection=self.connection, form_id=form_id),
            )
        by_index: dict[int, list[Message]] = {}
        for message in errors:
            by_index.setdefault(message.index, []).append(message)
        for package in packages:
            own = by_index.get(package.index)
            if own:
                package.errors = own
                package.msg_code = msg_code
                package.outcome = interpret(msg_code, "；".join(m.message for m in own))
            elif package.id is None:
                # Neither saved nor blamed: depending on the server the batch was rolled back or
                # this package was never reached — only a lookup can tell.
                package.outcome = NOT_CONFIRMED
        return packages

    # -- reads ---------------------------------------------------------------------------------

    def execute_bill_query(
        self,
        form_id: str,
        field_keys: Sequence[str],
        filter_string: str = "",
        *,
        order: str = "",
        start_row: int = 0,
        limit: int = 2000,
    ) -> list[list[Any]]:
        """One page of ExecuteBillQuery: rows of values in `field_keys` order."""
        data = {
            "FormId": form_id,
            "FieldKeys": ",".join(field_keys),
            "FilterString": filter_string,
            "OrderString": order,
            "TopRowCount": 0,
            "StartRow": start_row,
            "Limit": min(limit, QUERY_LIMIT),
        }
        raw = self._read("ExecuteBillQuery", {"data": data}, form_id)
        status = _status_of(raw)
        if status is not None and not status.get("IsSuccess", True):
            text = "；".join(m.message for m in _messages(status.get("Errors")))
            raise KingdeeError(
                interpret(status.get("MsgCode"), text),
                text,
                msg_code=status.get("MsgCode"),
                context=Context(connection=self.connection, form_id=form_id),
            )
        if not isinstance(raw, list):
            raise KingdeeError(transport_outcome("malformed", write=False), str(raw)[:200])
        return raw

    def query_all(
        self,
        form_id: str,
        field_keys: Sequence[str],
        filter_string: str = "",
        *,
        order: str = "",
        page_size: int = 2000,
    ) -> Iterator[list[Any]]:
        """Every row of a query, page by page (practitioners page at 2000 rows)."""
        start = 0
        while True:
            rows = self.execute_bill_query(
                form_id, field_keys, filter_string, order=order, start_row=start, limit=page_size
            )
            yield from rows
            if len(rows) < page_size:
                return
            start += page_size
