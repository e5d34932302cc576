"""Payment requests (付款申请) → CN_PAYAPPLY bills, and paid requests → 记账凭证 (entry 13).

An approved request becomes a 付款申请单 with a deterministic FBillNo (Kingdee refuses a second one),
the payee as 往来单位/收款单位 (BD_Supplier by the mapped number), the project's organisation as
申请/结算/付款组织, and the request number in the line's 备注. A paid request posts Dr 应付账款—X
[项目][供应商] (X by the contract's kind, the same payable its costs and invoices were credited to)
/ Cr 银行存款 — the account of the contract's kind (劳务分包 from the 农民工工资专户) — on the bank's
date. Unapproved requests are held, rejected ones skipped.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import Field

from yecai.domain.bills import Bill
from yecai.domain.documents import CostCategory, PaymentRequest, PaymentStatus
from yecai.mapping.events import common
from yecai.mapping.interface import Held, Plan, PlannableDocument, PlanningContext, bill_number, key_token
from yecai.mapping.rules import Aggregation, Event, MappingTable, RuleSet

REQUEST_ROLES: dict[str, tuple[str, ...]] = {}  # a bill has no accounts: Kingdee's own rules post it
# 银行存款 (基本户) and 银行存款—农民工工资专户; 应付账款 comes from the contract's payable category
PAYMENT_ROLES: dict[str, tuple[str, ...]] = {"bank": (), "wage_bank": ()}

WAITING = (PaymentStatus.DRAFT, PaymentStatus.SUBMITTED)


class PayDate(StrEnum):
    PAID = "paid_date"  # the bank's date (falls back to the expected pay date, then the request date)
    EXPECTED = "expected_pay_date"  # 期望付款日 (falls back to the request date)
    REQUEST = "request_date"


class PaymentRequestOptions(common.EventOptions):
    statuses: tuple[PaymentStatus, ...] = (PaymentStatus.APPROVED, PaymentStatus.PAID)
    bill_prefix: str = Field("YC", min_length=1, max_length=8)
    bill_type: str = "FKSQLX01_SYS"  # 采购业务付款申请
    contact_type: str = "BD_Supplier"
    settle_type: str = "JSFS04_SYS"  # 电汇
    pay_purpose: str = "SFKYT01_SYS"  # 采购付款
    expense_items: dict[str, str] = Field(
        default_factory=lambda: {
            "purchase": "FYXM01",
            "labour": "FYXM02",
            "subcontract": "FYXM04",
            "lease": "FYXM03",
        },
        description="contract kind → 费用项目 (BD_Expense) of the line",
    )
    default_expense_item: str | None = None
    department: bool = Field(
        False, description="fill 部门 (FDEPARTMENT) from the project's mapped department"
    )


class PaymentOptions(common.EventOptions):
    statuses: tuple[PaymentStatus, ...] = (PaymentStatus.PAID,)
    date: PayDate = PayDate.PAID
    contract_categories: dict[str, CostCategory] = Field(
        default_factory=lambda: dict(common.CONTRACT_CATEGORIES)
    )
    default_category: CostCategory = CostCategory.MATERIAL
    banks: dict[str, str] = Field(
        default_factory=lambda: {"labour": "wage_bank"},
        description="contract kind → the account role paid from (others: bank); 劳务分包 from the 农民工工资专户",
    )


def _waiting(request: PaymentRequest, doc_id: int) -> Held:
    return Held(
        (doc_id,),
        f"付款申请 {request.request_no}（状态 {request.status.value}）尚未审批，暂不生成付款申请单",
        f"payment request {request.request_no} (status {request.status.value}) is not approved yet; held",
    )


def plan_payment_requests(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, PaymentRequestOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, REQUEST_ROLES)
    contracts = common.contracts_by_number(ctx)
    for document in sorted(documents, key=lambda d: d.source_key):
        request: PaymentRequest = document.model
        if not common.selected(rules, request):
            continue
        ids = (document.document_id,)
        if request.status not in options.statuses:
            if request.status in WAITING:
                plan.held.append(_waiting(request, document.document_id))
            continue
        supplier = resolver.supplier(request.payee_name, ids)
        org = resolver.organisation(request.project_code, ids)
        department = resolver.department(request.project_code, ids) if options.department else None
        if not resolver.ok(ids):
            continue
        assert supplier and org
        group = f"doc|{request.request_no}"
        key = common.key_for(ctx, rules, group, [document])
        contract = contracts.get(request.contract_no or "")
        item = options.expense_items.get(contract.contract_kind.value) if contract else None
        item = item or options.default_expense_item
        summary = common.summary_of(
            rules,
            ctx,
            request.project_code,
            request.request_date,
            count=1,
            document_no=request.request_no,
            counterparty=request.payee_name,
            contract_no=request.contract_no or "",
            amount=f"{request.amount:.2f}",
            description=request.purpose,
        )
        pay_date = (request.expected_pay_date or request.request_date).isoformat()
        header: dict[str, Any] = {
            "FBillTypeID": {"FNumber": options.bill_type},
            "FDATE": request.request_date.isoformat(),
            "FCONTACTUNITTYPE": options.contact_type,
            "FCONTACTUNIT": {"FNumber": supplier},
            "FRECTUNITTYPE": options.contact_type,
            "FRECTUNIT": {"FNumber": supplier},
            "FCURRENCYID": {"FNumber": rules.kingdee.currency},
            "FPAYORGID": {"FNumber": org},
            "FSETTLEORGID": {"FNumber": org},
            "FAPPLYORGID": {"FNumber": org},
        }
        if department:
            header["FDEPARTMENT"] = {"FNumber": department}
        line: dict[str, Any] = {
            "FSETTLETYPEID": {"FNumber": options.settle_type},
            "FPAYPURPOSEID": {"FNumber": options.pay_purpose},
            "FENDDATE": pay_date,
            "FEXPECTPAYDATE": pay_date,
            "FAPPLYAMOUNTFOR": request.amount,
            "FEACHCCOUNTNAME": request.payee_name,
            "FDescription": f"{summary} {key_token(key)}".strip(),
        }
        if item:
            line["FCOSTID"] = {"FNumber": item}
        if request.payee_account:
            line["FEACHBANKACCOUNT"] = request.payee_account
        if request.payee_bank:
            line["FEACHBANKNAME"] = request.payee_bank
        plan.postings.append(
            Bill(
                form_id=rules.form_id,
                posting_key=key,
                group_key=group,
                bill_no=bill_number(options.bill_prefix, key),
                date=request.request_date,
                amount=request.amount,
                header=header,
                entries={"FPAYAPPLYENTRY": (line,)},
                document_ids=ids,
                summary=summary,
            )
        )
    plan.unmapped = resolver.unmapped()
    return plan


def _pay_date(request: PaymentRequest, options: PaymentOptions) -> dt.date:
    """The books' date of a payment: the bank's date when known (and chosen), else the plan's."""
    if options.date is PayDate.PAID and request.paid_date:
        return request.paid_date
    if options.date in (PayDate.PAID, PayDate.EXPECTED) and request.expected_pay_date:
        return request.expected_pay_date
    return request.request_date


def plan_payments(
    documents: Sequence[PlannableDocument], rules: RuleSet, mapping: MappingTable, ctx: PlanningContext
) -> Plan:
    options = common.parse_options(rules, PaymentOptions)
    plan = Plan()
    resolver = common.Resolver(rules, mapping, ctx, PAYMENT_ROLES)
    contracts = common.contracts_by_number(ctx)
    groups: dict[str, list[tuple[PlannableDocument, common.Entry]]] = defaultdict(list)
    for document in documents:
        request: PaymentRequest = document.model
        if not common.selected(rules, request):
            continue
        if request.status not in options.statuses:
            continue  # not paid yet: a later version of the request will be
        ids = (document.document_id,)
        contract = contracts.get(request.contract_no or "")
        standard = resolver.standard(request.project_code)
        values = {"project": request.project_code, "supplier": request.payee_name}
        payable = resolver.payable(
            contract,
            options.default_category,
            options.contract_categories,
            standard,
            ids,
            project=request.project_code,
            supplier=request.payee_name,
        )
        bank_role = options.banks.get(contract.contract_kind.value, "bank") if contract else "bank"
        bank = resolver.account(bank_role, standard, ids)
        bank_dims = resolver.role_dims(bank_role, ids, **values)
        if not resolver.ok(ids) or payable is None:
            continue
        assert bank and bank_dims is not None
        note = request.payee_name if rules.aggregation is not Aggregation.PER_DOCUMENT else ""
        entry = common.Entry()
        entry.dr(payable.account, request.amount, payable.dims, ids, note)
        entry.cr(bank, request.amount, bank_dims, ids)
        day = _pay_date(request, options)
        group = common.group_key(
            rules.aggregation,
            document=request.request_no,
            project=request.project_code,
            day=day,
            extra=payable.category.value,
        )
        groups[group].append((document, entry))

    plan.unmapped = resolver.unmapped()
    for group in sorted(groups):
        members = sorted(groups[group], key=lambda m: m[0].source_key)
        docs = [m[0] for m in members]
        first: PaymentRequest = docs[0].model
        day = _pay_date(first, options)
        key = common.key_for(ctx, rules, group, docs)
        payees = sorted({d.model.payee_name for d in docs})
        summary = common.summary_of(
            rules,
            ctx,
            first.project_code,
            common.group_date(rules.aggregation, day),
            count=len(docs),
            document_no=first.request_no if len(docs) == 1 else f"{len(docs)}笔",
            counterparty=payees[0] if len(payees) == 1 else "",
            contract_no=first.contract_no or "",
            amount=f"{first.amount:.2f}",
            description=first.purpose,
        )
        merged = common.Entry()
        for _doc, entry in members:
            merged.extend(entry)
        plan.add(merged.merged_voucher(key, group, common.group_date(rules.aggregation, day), summary), group)
    return plan


REQUEST_SPEC = common.EventSpec(
    Event.PAYMENT_REQUEST,
    plan_payment_requests,
    "payment_request",
    REQUEST_ROLES,
    ("project", "contract"),
    PaymentRequestOptions,
)

PAYMENT_SPEC = common.EventSpec(
    Event.PAYMENT,
    plan_payments,
    "payment_request",
    PAYMENT_ROLES,
    ("project", "contract"),
    PaymentOptions,
    category_accounts=True,
)
