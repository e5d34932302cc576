"""KingdeeClient: one method per K/3 Cloud WebAPI operation, over httpx.

Protocol only (the OCA lesson): authenticate, send, parse, interpret — no store, no business
rules. TLS verification is on and timeouts are explicit. Authentication is an httpx auth flow
(`auth.py`: signed headers by default, or a password / AppSecret / sign login) that logs in again
when Kingdee says the session is lost. Reads (queries, View, reports, metadata) are retried with
backoff; writes are never repeated here: a write whose outcome is unknown raises `KingdeeError`
with action UNCERTAIN so the caller can look it up by its key. Thread-safe: one client may serve
many worker threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypedDict, Unpack

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from yecai import jsonutil
from yecai.errors import Action, Context
from yecai.kingdee.auth import AUTH_SERVICE, LoginAuth, SignedHeaderAuth
from yecai.kingdee.responses import transport_outcome
from yecai.kingdee.results import (
    KingdeeError,
    Message,
    PackageResult,
    SaveResult,
    packages_of,
    raise_for_status,
    status_of,
)
from yecai.kingdee.signing import Identity
from yecai.observability.metrics import BUSINESS, KingdeeCallMeter

__all__ = ["KingdeeClient", "KingdeeError", "Message", "PackageResult", "SaveResult"]

SERVICE_PREFIX = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
DATA_CENTRE_LIST = "Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList"
QUERY_LIMIT = 10000  # Kingdee refuses a larger Limit on ExecuteBillQuery
ASYNC_COMPLETE = 2  # QueryAsyncResult Status: 0 pending, 1 running, 2 complete

# Bills are chosen by number or by internal id, never both. The status operations (Submit, Audit, …)
# differ only in the service they call, so their selection is named once here.
BillNumbers = Sequence[str] | None
BillIds = Sequence[str | int] | None


class QueryPage(TypedDict, total=False):
    """The paging keywords ExecuteBillQuery and BillQuery both take (one `data` object in Kingdee).

    Declared once so the two queries cannot drift apart; `_query_data` holds the defaults and, with
    its keyword-only signature, refuses a misspelt keyword as the methods did.
    """

    order: str
    start_row: int
    limit: int


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, KingdeeError) and exc.action == Action.RETRY


def _selection(numbers: BillNumbers, ids: BillIds) -> tuple[dict[str, Any], int]:
    """Bills chosen by number or by internal id (Kingdee takes ids as one comma string)."""
    if bool(numbers) == bool(ids):
        raise ValueError("give either numbers or ids")
    if numbers:
        return {"Numbers": list(numbers)}, len(numbers)
    assert ids is not None
    return {"Ids": ",".join(str(i) for i in ids)}, len(ids)


class KingdeeClient:
    """A K/3 Cloud WebAPI client for one data centre and integration user."""

    def __init__(
        self,
        server_url: str,
        identity: Identity | None = None,
        *,
        auth: httpx.Auth | None = None,
        timeout: httpx.Timeout | None = None,
        verify: bool = True,
        transport: httpx.BaseTransport | None = None,
        read_attempts: int = 3,
        poll_interval: float = 1.0,
        connection: str | None = None,
        limiter: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        if auth is None:
            if identity is None:
                raise ValueError("give an identity (signed headers) or an auth flow")
            auth = SignedHeaderAuth(identity)
        self.server_url = server_url if server_url.endswith("/") else server_url + "/"
        self.auth = auth
        self.connection = connection
        self._read_attempts = read_attempts
        # Held around every HTTP call: the concurrency limit per data centre, shared by every
        # thread and worker process that talks to it (provided by the jobs layer).
        self._limiter = limiter
        self._poll_interval = poll_interval
        # the `Date` header of the newest answer: the WebAPI has no server-time service, so this is
        # how Kingdee's clock is read (`yecai doctor` measures the skew against it)
        self.last_response_date: str | None = None
        self._http = httpx.Client(
            auth=auth,
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

    def _context(self, form_id: str | None) -> Context:
        return Context(connection=self.connection, form_id=form_id)

    # -- transport ---------------------------------------------------------------------------

    def call(self, service: str, body: dict[str, Any], *, write: bool, form_id: str | None = None) -> Any:
        """POST one service; returns the parsed JSON answer or raises KingdeeError."""
        name = service if "." in service else SERVICE_PREFIX + service
        url = f"{self.server_url}{name}.common.kdsvc"
        context = self._context(form_id)
        # Every WebAPI call passes here: its latency and failure are measured once, in this place.
        meter = KingdeeCallMeter(self.connection, name)
        try:
            # Timed inside the limiter: waiting for a data-centre slot is not Kingdee's latency.
            with self._limiter() if self._limiter else nullcontext(), meter.timing():
                response = self._http.post(url, content=jsonutil.dumps(body).encode("utf-8"))
        except KingdeeError:
            meter.failed("login_refused")
            raise  # a login inside the auth flow was refused
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            meter.failed("connect")
            raise KingdeeError(transport_outcome("connect", write=write), str(exc), context=context) from exc
        except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            meter.failed("timeout" if isinstance(exc, httpx.TimeoutException) else "disconnect")
            raise KingdeeError(
                transport_outcome("timeout", write=write), type(exc).__name__, context=context
            ) from exc
        self.last_response_date = response.headers.get("date")
        text = response.text
        if response.status_code not in (200, 206):
            kind = "bad_data_centre" if "Fail to verify thirty passport" in text else "http_error"
            meter.failed(kind if kind != "http_error" else f"http_{response.status_code // 100}xx")
            raise KingdeeError(
                transport_outcome(kind, write=write), f"HTTP {response.status_code}", context=context
            )
        if text.startswith("response_error:"):
            meter.failed("server_exception")
            detail = text[len("response_error:") :].strip()[:500]
            raise KingdeeError(transport_outcome("server_exception", write=write), detail, context=context)
        try:
            answer = jsonutil.loads(text)
        except ValueError as exc:
            meter.failed("malformed")
            raise KingdeeError(
                transport_outcome("malformed", write=write), text[:200], context=context
            ) from exc
        status = status_of(answer)
        if status is not None and not status.get("IsSuccess", True):
            # Kingdee refused (whole call or some packages): counted by MsgCode, interpreted by callers.
            meter.failed(BUSINESS, status.get("MsgCode"))
        return answer

    def _read(self, service: str, body: dict[str, Any], form_id: str | None = None) -> Any:
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self._read_attempts),
            wait=wait_exponential(multiplier=0.2, max=5.0) + wait_random(0, 0.2),
            reraise=True,
        )
        return retrying(self.call, service, body, write=False, form_id=form_id)

    def _write(
        self, service: str, form_id: str, data: dict[str, Any], count: int, **extra: Any
    ) -> SaveResult:
        raw = self.call(service, {"formid": form_id, "data": data, **extra}, write=True, form_id=form_id)
        return packages_of(raw, count, self._context(form_id))

    # -- saving --------------------------------------------------------------------------------

    def save(self, form_id: str, model: dict[str, Any], **options: Any) -> SaveResult:
        """Save (保存) one bill: insert, or update when the model carries its internal id.

        `options` are Kingdee's own keys: NeedUpDateFields, NeedReturnFields, IsDeleteEntry,
        IsAutoSubmitAndAudit, IsVerifyBaseDataField, ValidateRepeatJson, … Never retried here.
        """
        return self._write("Save", form_id, {**options, "Model": model}, 1)

    def batch_save(
        self,
        form_id: str,
        models: Sequence[dict[str, Any] | jsonutil.RawJSON],
        *,
        async_mode: bool = False,
        **options: Any,
    ) -> SaveResult:
        """BatchSave (批量保存): one package per model, outcomes split by DIndex.

        A model may be JSON text already (`jsonutil.RawJSON`, a stored payload): it is sent as it is.

        `async_mode` uses Kingdee's query mode (BeginQueryImpl, then QueryAsyncResult polls) for
        batches that outlive an HTTP timeout; the polls are reads and are retried.
        """
        data = {**options, "Model": list(models)}
        if not async_mode:
            return self._write("BatchSave", form_id, data, len(models))
        begin = {
            "formid": form_id,
            "data": data,
            "beginmethod": "BeginQueryImpl",
            "querymethod": "QueryAsyncResult",
        }
        raw = self._wait_for(self.call("BatchSave", begin, write=True, form_id=form_id), form_id)
        return packages_of(raw, len(models), self._context(form_id))

    def _wait_for(self, answer: Any, form_id: str) -> Any:
        while isinstance(answer, dict) and answer.get("Status") != ASYNC_COMPLETE:
            task = answer.get("TaskId")
            if not task:
                raise KingdeeError(transport_outcome("malformed", write=True), str(answer)[:200])
            time.sleep(self._poll_interval)
            info = jsonutil.dumps({"TaskId": task, "Cancelled": False})
            answer = self._read("QueryAsyncResult", {"queryInfo": info}, form_id)
        if not isinstance(answer, dict):
            raise KingdeeError(transport_outcome("malformed", write=True), str(answer)[:200])
        return answer.get("Result")

    def draft(self, form_id: str, model: dict[str, Any], **options: Any) -> SaveResult:
        """Draft (暂存): stored without validation and without a bill number."""
        return self._write("Draft", form_id, {**options, "Model": model}, 1)

    # -- status operations -------------------------------------------------------------------------

    def _select(
        self,
        service: str,
        form_id: str,
        numbers: BillNumbers,
        ids: BillIds,
        options: dict[str, Any],
    ) -> SaveResult:
        selection, count = _selection(numbers, ids)
        return self._write(service, form_id, {**options, **selection}, count)

    def submit(
        self, form_id: str, *, numbers: BillNumbers = None, ids: BillIds = None, **options: Any
    ) -> SaveResult:
        """Submit (提交): A/D → B; starts the workflow where one is configured."""
        return self._select("Submit", form_id, numbers, ids, options)

    def audit(
        self, form_id: str, *, numbers: BillNumbers = None, ids: BillIds = None, **options: Any
    ) -> SaveResult:
        """Audit (审核): B → C."""
        return self._select("Audit", form_id, numbers, ids, options)

    def unaudit(
        self, form_id: str, *, numbers: BillNumbers = None, ids: BillIds = None, **options: Any
    ) -> SaveResult:
        """UnAudit (反审核): C → D."""
        return self._select("UnAudit", form_id, numbers, ids, options)

    def delete(
        self, form_id: str, *, numbers: BillNumbers = None, ids: BillIds = None, **options: Any
    ) -> SaveResult:
        """Delete (删除): only bills in Z, A or D."""
        return self._select("Delete", form_id, numbers, ids, options)

    def cancel_assign(
        self, form_id: str, *, numbers: BillNumbers = None, ids: BillIds = None, **options: Any
    ) -> SaveResult:
        """CancelAssign (撤销): B → A, withdrawing a submission."""
        return self._select("CancelAssign", form_id, numbers, ids, options)

    def excute_operation(
        self,
        form_id: str,
        op_number: str,
        *,
        numbers: BillNumbers = None,
        ids: BillIds = None,
        **options: Any,
    ) -> SaveResult:
        """ExcuteOperation (spelled as Kingdee spells it): Forbid, Enable, CloseBill, …"""
        selection, count = _selection(numbers, ids)
        return self._write("ExcuteOperation", form_id, {**options, **selection}, count, opNumber=op_number)

    def forbid(self, form_id: str, numbers: Sequence[str]) -> SaveResult:
        """Forbid (禁用) base data: forbidden values can no longer be referenced."""
        return self.excute_operation(form_id, "Forbid", numbers=numbers)

    def enable(self, form_id: str, numbers: Sequence[str]) -> SaveResult:
        """Enable (反禁用) base data."""
        return self.excute_operation(form_id, "Enable", numbers=numbers)

    def allocate(
        self,
        form_id: str,
        pk_ids: Sequence[str | int],
        org_ids: Sequence[str | int],
        *,
        auto_submit_and_audit: bool = False,
    ) -> SaveResult:
        """Allocate (分配) base data to other organisations."""
        data = {
            "PkIds": ",".join(str(i) for i in pk_ids),
            "TOrgIds": ",".join(str(i) for i in org_ids),
            "IsAutoSubmitAndAudit": auto_submit_and_audit,
        }
        return self._write("Allocate", form_id, data, len(pk_ids))

    def cancel_allocate(
        self, form_id: str, pk_ids: Sequence[str | int], org_ids: Sequence[str | int]
    ) -> SaveResult:
        """CancelAllocate (取消分配)."""
        data = {"PkIds": ",".join(str(i) for i in pk_ids), "TOrgIds": ",".join(str(i) for i in org_ids)}
        return self._write("CancelAllocate", form_id, data, len(pk_ids))

    # -- reads ---------------------------------------------------------------------------------

    def view(self, form_id: str, *, number: str | None = None, id: str | int | None = None) -> dict[str, Any]:
        """View (查看) one bill, serialised by Kingdee's property names."""
        if (number is None) == (id is None):
            raise ValueError("give either number or id")
        data: dict[str, Any] = {"Number": number} if number is not None else {"Id": str(id)}
        raw = self._read("View", {"formid": form_id, "data": data}, form_id)
        raise_for_status(status_of(raw), self._context(form_id))
        result = raw.get("Result", {}).get("Result") if isinstance(raw, dict) else None
        if not isinstance(result, dict):
            raise KingdeeError(transport_outcome("malformed", write=False), str(raw)[:200])
        return result

    def _query_data(
        self,
        form_id: str,
        field_keys: Sequence[str],
        filter_string: str,
        *,
        order: str = "",
        start_row: int = 0,
        limit: int = 2000,
    ) -> dict[str, Any]:
        return {
            "FormId": form_id,
            "FieldKeys": ",".join(field_keys),
            "FilterString": filter_string,
            "OrderString": order,
            "TopRowCount": 0,
            "StartRow": start_row,
            "Limit": min(limit, QUERY_LIMIT),
        }

    def execute_bill_query(
        self, form_id: str, field_keys: Sequence[str], filter_string: str = "", **page: Unpack[QueryPage]
    ) -> list[list[Any]]:
        """One page of ExecuteBillQuery (单据查询): rows of values in `field_keys` order (`page`: QueryPage)."""
        data = self._query_data(form_id, field_keys, filter_string, **page)
        raw = self._read("ExecuteBillQuery", {"data": data}, form_id)
        raise_for_status(status_of(raw), self._context(form_id))
        if not isinstance(raw, list):
            raise KingdeeError(transport_outcome("malformed", write=False), str(raw)[:200])
        return raw

    def bill_query(
        self, form_id: str, field_keys: Sequence[str], filter_string: str = "", **page: Unpack[QueryPage]
    ) -> list[dict[str, Any]]:
        """One page of BillQuery: rows as objects keyed by field key (`page`: QueryPage)."""
        data = self._query_data(form_id, field_keys, filter_string, **page)
        raw = self._read("BillQuery", {"data": data}, form_id)
        if isinstance(raw, list):
            for item in raw:
                raise_for_status(status_of(item), self._context(form_id))
            if all(isinstance(item, dict) for item in raw):
                return raw
        raise_for_status(status_of(raw), self._context(form_id))
        raise KingdeeError(transport_outcome("malformed", write=False), str(raw)[:200])

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

    def get_sys_report_data(
        self,
        form_id: str,
        model: dict[str, Any],
        field_keys: Sequence[str],
        *,
        start_row: int = 0,
        limit: int = 2000,
        scheme_id: str = "",
    ) -> list[dict[str, Any]]:
        """GetSysReportData (账表): rows of a simple report such as GL_RPT_AccountBalance, keyed by field."""
        data = {
            "FieldKeys": ",".join(field_keys),
            "SchemeId": scheme_id,
            "StartRow": start_row,
            "Limit": min(limit, QUERY_LIMIT),
            "IsVerifyBaseDataField": True,
            "Model": model,
        }
        raw = self._read("GetSysReportData", {"formid": form_id, "data": data}, form_id)
        raise_for_status(status_of(raw), self._context(form_id))
        result = raw.get("Result") if isinstance(raw, dict) else None
        if not isinstance(result, dict) or not result.get("IsSuccess", False):
            raise KingdeeError(transport_outcome("malformed", write=False), str(raw)[:200])
        # Rows come as arrays in FieldKeys order (as ExecuteBillQuery); some versions send objects.
        return [
            row if isinstance(row, dict) else dict(zip(field_keys, row, strict=False))
            for row in result.get("Rows") or []
        ]

    def account_balance(
        self,
        book: str,
        year: int,
        period_from: int,
        period_to: int | None = None,
        *,
        currency: str = "PRE001",
        include_unposted: bool | None = None,
        field_keys: Sequence[str] = (
            "FBALANCEID",
            "FBALANCENAME",
            "FBEGINDEBIT",
            "FBEGINCREDIT",
            "FDEBIT",
            "FCREDIT",
            "FENDDEBIT",
            "FENDCREDIT",
        ),
    ) -> list[dict[str, Any]]:
        """科目余额表 (GL_RPT_AccountBalance) of one book over a range of periods of one year.

        `include_unposted` sets FNOTPOSTVOUCHER (包括未过账凭证); None leaves the tenant's default.
        FBALANCEZERO is always set: an account that moved in the range but ends at zero (合同履约成本
        carried to cost of sales, a presentation reversed the next day) must still be a row, or its
        movement would look missing.
        """
        model: dict[str, Any] = {
            "FACCTBOOKID": {"FNumber": book},
            "FCURRENCY": {"FNumber": currency},
            "FSTARTYEAR": year,
            "FSTARTPERIOD": period_from,
            "FENDYEAR": year,
            "FENDPERIOD": period_to or period_from,
            "FBALANCEZERO": True,
        }
        if include_unposted is not None:
            model["FNOTPOSTVOUCHER"] = include_unposted
        rows: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self.get_sys_report_data("GL_RPT_AccountBalance", model, field_keys, start_row=start)
            rows.extend(page)
            if len(page) < 2000:
                return rows
            start += 2000

    def query_business_info(self, form_id: str) -> dict[str, Any]:
        """QueryBusinessInfo (元数据查询): the form's entities and fields, e.g. its FDETAILID__ keys."""
        raw = self._read("QueryBusinessInfo", {"data": {"FormId": form_id}}, form_id)
        raise_for_status(status_of(raw), self._context(form_id))
        result = raw.get("Result") if isinstance(raw, dict) else None
        if not isinstance(result, dict):
            raise KingdeeError(transport_outcome("malformed", write=False), str(raw)[:200])
        return result

    def get_data_centers(self) -> list[dict[str, Any]]:
        """AccountService.GetDataCenterList: the data centres (账套) of the site."""
        raw = self._read(DATA_CENTRE_LIST, {})
        if not isinstance(raw, list):
            raise KingdeeError(transport_outcome("malformed", write=False), str(raw)[:200])
        return raw

    def logout(self) -> None:
        """AuthService.Logout: end the session (a login flow logs in again on the next call)."""
        self.call(AUTH_SERVICE + "Logout", {}, write=False)
        if isinstance(self.auth, LoginAuth | SignedHeaderAuth):
            self.auth.session.forget(self.auth.session.get()[0])
