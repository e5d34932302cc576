"""One function per WebAPI service: read the arguments, call the engine, shape the answer.

`services.SERVICES` routes a service name to these with its positional parameter names; the
engines (operations, lifecycle, views, allocation, reports, metadata, query, logins) do the work.
A `data` package that cannot be used is answered with the MsgCode 8 envelope, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from yecai.sandbox.kingdee import (
    allocation,
    envelopes,
    lifecycle,
    logins,
    metadata,
    operations,
    protocol,
    query,
    reports,
    views,
)
from yecai.sandbox.kingdee.envelopes import Problem
from yecai.sandbox.kingdee.forms import Form
from yecai.sandbox.kingdee.params import ParameterProblem

if TYPE_CHECKING:
    from yecai.sandbox.kingdee.services import Call, KingdeeSandbox


def _form_and_data(sandbox: KingdeeSandbox, args: protocol.Arguments) -> tuple[Form | None, Any]:
    """The form and data package, or (None, the failure envelope to answer with)."""
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


def _on_form(
    sandbox: KingdeeSandbox,
    args: protocol.Arguments,
    work: Callable[[Form, dict[str, Any]], Any],
    failure: Callable[[Problem], Any] = envelopes.failure,
) -> Any:
    """Run `work` on the form and data package; an unusable package is answered, not raised."""
    form, data = _form_and_data(sandbox, args)
    if form is None:
        return data
    try:
        return work(form, data)
    except ParameterProblem as exc:
        return failure(exc.problem)


def save(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call, *, batch: bool, draft: bool) -> Any:
    """Save, BatchSave and Draft (§6.1–§6.3)."""

    def work(form: Form, data: dict[str, Any]) -> Any:
        ctx = sandbox.context(call, operations.save_options(data, draft=draft))
        return (operations.batch_save if batch else operations.save)(ctx, form, data)

    return _on_form(sandbox, args, work)


def status(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call, *, operation: str) -> Any:
    """Submit, Audit, UnAudit, Delete, CancelAssign (§6.4)."""
    step = lifecycle.TRANSITIONS[operation]
    return _on_form(sandbox, args, lambda form, data: lifecycle.run(sandbox.context(call), form, step, data))


def execute_operation(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call) -> Any:
    """ExcuteOperation: Forbid/Enable, CloseBill/UnCloseBill and the status operations by code (§6.8)."""
    name = protocol.text_argument(args.get("opnumber")).strip()
    step = lifecycle.transition(name)

    def work(form: Form, data: dict[str, Any]) -> Any:
        if step is None:
            return envelopes.failure(
                Problem.of("operation_not_supported", form_id=form.form_id, operation=name)
            )
        return lifecycle.run(sandbox.context(call), form, step, data)

    return _on_form(sandbox, args, work)


def view(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call) -> Any:
    return _on_form(
        sandbox, args, lambda form, data: views.view(sandbox.context(call), form, data), views.failure
    )


def allocate(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call, *, cancel: bool) -> Any:
    """Allocate / CancelAllocate (§6.10)."""
    return _on_form(
        sandbox,
        args,
        lambda form, data: allocation.allocate(sandbox.context(call), form, data, cancel=cancel),
    )


def report(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call) -> Any:
    form_id = protocol.text_argument(args.get("formid")).strip()
    data = args.get("data")
    if not form_id:
        return reports.failure(Problem.of("formid_empty"))
    if form_id.upper() != reports.ACCOUNT_BALANCE.upper():
        known = sandbox.registry.get(form_id) is not None or form_id.upper() in reports.OTHER_REPORTS
        key = "report_not_supported" if known else "form_not_exist"
        return reports.failure(Problem.of(key, form_id=form_id))
    if not isinstance(data, dict):
        return reports.failure(Problem.of("data_invalid"))
    return reports.account_balance(sandbox.context(call), data)


def business_info(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call) -> Any:
    data = args.get("data")
    return metadata.business_info(sandbox.registry, data if isinstance(data, dict) else {})


def bill_query(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call, *, as_objects: bool) -> Any:
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


def poll(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call) -> Any:
    info = args.get("queryinfo")
    task_id = str(info.get("TaskId", "")) if isinstance(info, dict) else ""
    return sandbox.poll_task(task_id)


def data_centres(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call) -> Any:
    centre = sandbox.store.meta("seed", {}).get("data_centre", {})
    return [
        {
            "Id": sandbox.credentials.acct_id,
            "Number": str(centre.get("number", "")),
            "Name": str(centre.get("name", "")),
            "Version": logins.PRODUCT_VERSION,
            "GDCID": "",
            "AuthenticationMethods": 1,
        }
    ]


def login(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call, *, method: str) -> Any:
    return logins.login(sandbox, method, args, call)


def logout(sandbox: KingdeeSandbox, args: protocol.Arguments, call: Call) -> Any:
    return logins.logout(sandbox, call)
