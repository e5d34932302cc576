"""Vouchers as an accountant reads them: a posting's Kingdee payload laid out like Kingdee prints it.

凭证字号, date, period, lines with 摘要, account code **and name**, 核算维度 by name, debit and credit
columns and totals; a bill (付款申请 …) and a document as labelled fields. Account names come from the
Kingdee chart, read once per connection and cached (`ChartCache`); dimension names from what yecai
holds (project and supplier/customer bindings, project documents). Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from yecai import labels
from yecai.jsonutil import loads
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.vouchers import FORM_ID as VOUCHER_FORM
from yecai.mapping.rules import KingdeeTarget
from yecai.store.db import Store
from yecai.store.tables import Binding, Document
from yecai.workspace import Workspace

ZERO = Decimal("0.00")
# how long a chart read that failed is remembered before Kingdee is asked again: a page must not
# wait for an unreachable server on every request
RETRY_AFTER_SECONDS = 60.0
# how long a chart read is trusted: accounts are added or renamed rarely, and a restart re-reads
FRESH_SECONDS = 3600.0

# 核算维度 as a Kingdee voucher names them, by the rule-set dimension they carry (yecai.labels)
DIMENSIONS: dict[str, tuple[str, str]] = dict(labels.words_of("dimension"))


@dataclass(frozen=True, slots=True)
class AccountName:
    number: str
    name: str
    full_name: str


@dataclass(slots=True)
class Chart:
    """One connection's accounts: per 科目表, number → name; and which 科目表 each 账簿 keeps."""

    by_table: dict[str, dict[str, AccountName]] = field(default_factory=dict)
    book_tables: dict[str, str] = field(default_factory=dict)
    available: bool = True
    problem: str | None = None

    def account(self, number: str, book: str | None = None) -> AccountName | None:
        """The account in the book's chart; without a book (or an unknown one) any chart holding it."""
        table = self.book_tables.get(book or "")
        if table is not None:
            return self.by_table.get(table, {}).get(number)
        for accounts in self.by_table.values():
            if number in accounts:
                return accounts[number]
        return None


def read_chart(client: KingdeeClient) -> Chart:
    """Every account of every 科目表 (FNumber, FName, FFullName) and the 账簿 → 科目表 map."""
    chart = Chart()
    for book, table in client.query_all("BD_AccountBook", ["FNumber", "FACCTTABLEID.FNumber"]):
        if book and table:
            chart.book_tables[str(book)] = str(table)
    rows = client.query_all("BD_Account", ["FNumber", "FName", "FFullName", "FAcctTblId.FNumber"])
    for number, name, full_name, table in rows:
        accounts = chart.by_table.setdefault(str(table or ""), {})
        accounts[str(number)] = AccountName(str(number), str(name or ""), str(full_name or name or ""))
    return chart


Opener = Callable[[str], AbstractContextManager[KingdeeClient]]


class ChartCache:
    """Charts per Kingdee connection, read once and kept (`FRESH_SECONDS`); a failed read is kept
    `RETRY_AFTER_SECONDS` as "names unavailable" so pages stay fast while Kingdee is down."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._charts: dict[str, tuple[float, Chart]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def chart(self, connection: str, opener: Opener) -> Chart:
        now = self._clock()
        with self._lock:
            held = self._charts.get(connection)
        if held is not None:
            read_at, chart = held
            if now - read_at < (FRESH_SECONDS if chart.available else RETRY_AFTER_SECONDS):
                return chart
        try:
            with opener(connection) as client:
                chart = read_chart(client)
        except Exception as exc:  # Kingdee out of reach, a connection not configured: names wait
            chart = Chart(available=False, problem=str(exc)[:300])
        with self._lock:
            self._charts[connection] = (now, chart)
        return chart

    def forget(self, connection: str | None = None) -> None:
        with self._lock:
            if connection is None:
                self._charts.clear()
            else:
                self._charts.pop(connection, None)


@dataclass(frozen=True, slots=True)
class Dimension:
    label_zh: str
    label_en: str
    number: str
    name: str | None


@dataclass(frozen=True, slots=True)
class VoucherLine:
    explanation: str
    account: str
    account_name: str | None
    account_full_name: str | None
    dimensions: tuple[Dimension, ...]
    debit: Decimal
    credit: Decimal


@dataclass(frozen=True, slots=True)
class VoucherView:
    number: str | None  # 凭证字号 as yecai stores it (`2026-10 记-0012`), None before Kingdee numbered it
    word: str | None  # 记-0012
    date: dt.date | None
    period: str | None  # 2026-10
    book: str | None
    lines: list[VoucherLine]
    debit_total: Decimal
    credit_total: Decimal
    names_available: bool

    @property
    def balanced(self) -> bool:
        return self.debit_total == self.credit_total


@dataclass(frozen=True, slots=True)
class LabelledField:
    label_zh: str
    label_en: str
    value: str


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else ZERO
    except InvalidOperation:
        return ZERO


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


@dataclass(slots=True)
class Names:
    """Dimension numbers → names, from what yecai holds for one Kingdee connection."""

    projects: dict[str, str] = field(default_factory=dict)  # Kingdee 项目 number → project name
    project_codes: dict[str, str] = field(default_factory=dict)  # Kingdee 项目 number → PM code
    parties: dict[str, str] = field(default_factory=dict)  # BD_Supplier / BD_Customer number → name


def names_of(store: Store, connection: str) -> Names:
    """Projects by their bindings and documents; suppliers and customers by their bindings (the
    binding's source key is the name the PM system uses)."""
    names = Names()
    with store.sessions() as session:
        for kind, number, key in session.execute(
            select(Binding.kind, Binding.kingdee_number, Binding.source_key).where(
                Binding.connection == connection
            )
        ):
            if kind == "project":
                names.project_codes[number] = key
            elif kind in ("supplier", "customer"):
                names.parties[number] = key
        titles: dict[str, str] = {}
        for code, data in session.execute(
            select(Document.project_code, Document.data)
            .where(Document.kind == "project")
            .order_by(Document.id)
        ):
            value = loads(data)
            if code and isinstance(value, dict) and value.get("name"):
                titles[code] = str(value["name"])  # the newest version wins
    for number, code in names.project_codes.items():
        if code in titles:
            names.projects[number] = titles[code]
    for code, title in titles.items():
        names.projects.setdefault(code, title)  # a project mapped to its own code needs no binding
    return names


def _flex_dimensions(flex_keys: dict[str, str]) -> dict[str, str]:
    """FDetailID flex key → rule-set dimension name (project, supplier …)."""
    return {key.upper(): dimension for dimension, key in flex_keys.items()}


def voucher_view(
    payload: dict[str, Any],
    *,
    number: str | None,
    chart: Chart,
    names: Names,
    flex_keys: dict[str, str],
) -> VoucherView:
    """A GL_VOUCHER Save Model as a voucher. `flex_keys`: dimension → FDetailID key (from the rule set)."""
    book = (payload.get("FAccountBookID") or {}).get("FNumber")
    by_flex = _flex_dimensions(flex_keys)
    lines: list[VoucherLine] = []
    for entry in payload.get("FEntity") or []:
        account = str((entry.get("FACCOUNTID") or {}).get("FNumber") or "")
        found = chart.account(account, str(book) if book else None)
        dims: list[Dimension] = []
        for key, value in (entry.get("FDetailID") or {}).items():
            flex = key.upper().removeprefix("FDETAILID__")
            value_number = str((value or {}).get("FNumber") or "")
            dimension = by_flex.get(flex, "")
            zh, en = DIMENSIONS.get(dimension, ("核算维度", "dimension"))
            if dimension == "project":
                name = names.projects.get(value_number)
            else:
                name = names.parties.get(value_number)
            dims.append(Dimension(zh, en, value_number, name))
        lines.append(
            VoucherLine(
                str(entry.get("FEXPLANATION") or ""),
                account,
                found.name if found else None,
                found.full_name if found else None,
                tuple(dims),
                _decimal(entry.get("FDEBIT")),
                _decimal(entry.get("FCREDIT")),
            )
        )
    date = _date(payload.get("FDate"))
    period, word = None, None
    if number and " " in number:
        period, word = number.split(" ", 1)
    elif date is not None:
        period = f"{date.year:04d}-{date.month:02d}"
    return VoucherView(
        number,
        word,
        date,
        period,
        str(book) if book else None,
        lines,
        sum((line.debit for line in lines), ZERO),
        sum((line.credit for line in lines), ZERO),
        chart.available,
    )


# The fields of a bill (CN_PAYAPPLY and the like) as Kingdee's form names them.
BILL_FIELDS: dict[str, tuple[str, str]] = {
    "FBillNo": ("单据编号", "bill number"),
    "FBillTypeID": ("单据类型", "bill type"),
    "FDATE": ("申请日期", "date"),
    "FCONTACTUNITTYPE": ("往来单位类型", "contact type"),
    "FCONTACTUNIT": ("往来单位", "contact unit"),
    "FRECTUNITTYPE": ("收款单位类型", "payee type"),
    "FRECTUNIT": ("收款单位", "payee"),
    "FCURRENCYID": ("币别", "currency"),
    "FPAYORGID": ("付款组织", "paying organisation"),
    "FSETTLEORGID": ("结算组织", "settling organisation"),
    "FAPPLYORGID": ("申请组织", "applying organisation"),
    "FDEPARTMENT": ("申请部门", "department"),
    "FSETTLETYPEID": ("结算方式", "settlement type"),
    "FPAYPURPOSEID": ("付款用途", "purpose"),
    "FENDDATE": ("到期日", "due date"),
    "FEXPECTPAYDATE": ("期望付款日期", "expected pay date"),
    "FAPPLYAMOUNTFOR": ("申请付款金额", "amount applied for"),
    "FEACHCCOUNTNAME": ("收款方户名", "payee account name"),
    "FEACHBANKACCOUNT": ("收款方银行账号", "payee bank account"),
    "FEACHBANKNAME": ("收款方开户行", "payee bank"),
    "FDescription": ("备注", "note"),
    "FCOSTID": ("费用项目", "expense item"),
}
PARTY_TYPES: dict[str, tuple[str, str]] = {
    "BD_Supplier": ("供应商", "supplier"),
    "BD_Customer": ("客户", "customer"),
    "BD_Empinfo": ("员工", "employee"),
    "BD_Department": ("部门", "department"),
}


def _bill_value(key: str, value: Any, names: Names, lang_index: int) -> str:
    if isinstance(value, dict):
        number = str(value.get("FNumber") or "")
        name = names.parties.get(number) if key in ("FCONTACTUNIT", "FRECTUNIT") else None
        return f"{number} {name}" if name else number
    if key in ("FCONTACTUNITTYPE", "FRECTUNITTYPE") and str(value) in PARTY_TYPES:
        return PARTY_TYPES[str(value)][lang_index]
    if key == "FAPPLYAMOUNTFOR":
        return f"{_decimal(value):,.2f}"
    return str(value)


def bill_fields(payload: dict[str, Any], names: Names, lang: str = "zh") -> list[list[LabelledField]]:
    """A bill as labelled fields: the header first, then one group per entry line."""
    index = 0 if lang == "zh" else 1

    def group(items: Iterable[tuple[str, Any]]) -> list[LabelledField]:
        out: list[LabelledField] = []
        for key, value in items:
            if isinstance(value, list):
                continue
            zh, en = BILL_FIELDS.get(key, (key, key))
            out.append(LabelledField(zh, en, _bill_value(key, value, names, index)))
        return out

    groups = [group(payload.items())]
    for value in payload.values():
        if isinstance(value, list):
            groups.extend(group(entry.items()) for entry in value if isinstance(entry, dict))
    return groups


# A document's fields in words (Chinese with English beside); every field of every document type
# has one — tests/web/test_voucher_pages.py fails when a new field has none.
DOCUMENT_FIELDS: dict[str, tuple[str, str]] = {
    "accounting_standard": ("会计准则", "accounting standard"),
    "amount": ("金额", "amount"),
    "approved": ("已审批", "approved"),
    "as_of": ("截至日期", "as of"),
    "bank_account": ("银行账号", "bank account"),
    "bank_card": ("银行卡号", "bank card"),
    "bank_name": ("开户行", "bank"),
    "billed_to_date": ("累计结算", "billed to date"),
    "boq_code": ("清单编码", "BOQ code"),
    "boq_edition": ("清单版本", "BOQ edition"),
    "business_date": ("业务日期", "business date"),
    "buyer_name": ("购买方", "buyer"),
    "buyer_tax_id": ("购买方税号", "buyer tax ID"),
    "category": ("成本类别", "cost category"),
    "check_in": ("上班时间", "check-in"),
    "check_out": ("下班时间", "check-out"),
    "code": ("编码", "code"),
    "contract_kind": ("合同类型", "contract kind"),
    "contract_no": ("合同编号", "contract number"),
    "contract_value": ("合同金额", "contract value"),
    "cost_to_date": ("累计成本", "cost to date"),
    "counterparty": ("对方单位", "counterparty"),
    "counterparty_tax_id": ("对方税号", "counterparty tax ID"),
    "cross_region": ("跨县市", "outside the registered city"),
    "customer": ("客户", "customer"),
    "day_rate": ("日工资", "day rate"),
    "days": ("天数", "days"),
    "department": ("部门", "department"),
    "description": ("摘要", "description"),
    "direction": ("方向", "direction"),
    "edition": ("版本", "edition"),
    "employer": ("用工单位", "employer"),
    "end_date": ("结束日期", "end date"),
    "entry_date": ("进场日期", "entry date"),
    "estimated_total_cost": ("预计总成本", "estimated total cost"),
    "exit_date": ("退场日期", "exit date"),
    "expected_pay_date": ("期望付款日期", "expected pay date"),
    "features": ("项目特征", "features"),
    "id_number": ("身份证号", "ID number"),
    "invoice_code": ("发票代码", "invoice code"),
    "invoice_no": ("发票号码", "invoice number"),
    "invoice_type": ("发票类型", "invoice type"),
    "invoiced_to_date": ("累计开票", "invoiced to date"),
    "issue_date": ("开票日期", "issue date"),
    "location": ("项目地点", "location"),
    "manager": ("项目经理", "project manager"),
    "measured": ("计量清单", "measured quantities"),
    "name": ("名称", "name"),
    "org_code": ("组织编码", "organisation code"),
    "overtime_hours": ("加班小时", "overtime hours"),
    "paid_date": ("付款日期", "paid date"),
    "paid_to_date": ("累计付款", "paid to date"),
    "payee_account": ("收款账号", "payee account"),
    "payee_bank": ("收款开户行", "payee bank"),
    "payee_name": ("收款单位", "payee"),
    "payer": ("付款单位", "payer"),
    "percent_complete": ("完工百分比", "percent complete"),
    "period": ("期间", "period"),
    "phone": ("电话", "phone"),
    "prepaid_vat_carry": ("预交增值税结转", "prepaid VAT carried"),
    "project_code": ("项目编码", "project code"),
    "purpose": ("用途", "purpose"),
    "quantity": ("数量", "quantity"),
    "receipt_date": ("收款日期", "receipt date"),
    "receipt_kind": ("收款类型", "receipt kind"),
    "receipt_no": ("收款单号", "receipt number"),
    "received_to_date": ("累计收款", "received to date"),
    "registered": ("实名登记", "registered"),
    "report_date": ("报告日期", "report date"),
    "request_date": ("申请日期", "request date"),
    "request_no": ("申请单号", "request number"),
    "retention_rate": ("质保金比例", "retention rate"),
    "retention_to_date": ("累计质保金", "retention to date"),
    "revenue_to_date": ("累计收入", "revenue to date"),
    "seller_name": ("销售方", "seller"),
    "seller_tax_id": ("销售方税号", "seller tax ID"),
    "signed_date": ("签订日期", "signed date"),
    "source_key": ("来源编号", "source key"),
    "start_date": ("开始日期", "start date"),
    "status": ("状态", "status"),
    "subcategory": ("费用明细", "cost item"),
    "supplier_name": ("供应商", "supplier"),
    "tax_amount": ("税额", "tax"),
    "tax_rate": ("税率", "tax rate"),
    "team": ("班组", "team"),
    "total": ("价税合计", "total"),
    "trade": ("工种", "trade"),
    "unit": ("单位", "unit"),
    "unit_price": ("单价", "unit price"),
    "valuation_amount": ("计量金额", "valuation amount"),
    "vat_method": ("计税方法", "VAT method"),
    "version": ("版本", "version"),
    "work_date": ("出勤日期", "work date"),
    "worker_name": ("工人姓名", "worker"),
}


def _document_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是 / yes" if value else "否 / no"
    if isinstance(value, list):
        return "；".join(_document_value(v) for v in value)
    if isinstance(value, dict):
        return "，".join(f"{k}: {_document_value(v)}" for k, v in value.items())
    return str(value)


def document_fields(
    data: dict[str, Any], words: Callable[[str, object], str] | None = None
) -> list[LabelledField]:
    """A document's data as labelled fields, in the order the document keeps them. `words(field,
    value)` names a coded value (a category, a standard) in the page's language."""
    out: list[LabelledField] = []
    for key, value in data.items():
        zh, en = DOCUMENT_FIELDS.get(key, (key, key))
        shown = words(key, value) if words is not None and isinstance(value, str) and value else None
        out.append(LabelledField(zh, en, shown or _document_value(value)))
    return out


def flex_keys_of(workspace: Workspace | None, connection: str, rule_set: str) -> dict[str, str]:
    """Dimension → FDetailID key as the posting's rule set writes them (Kingdee's defaults when the
    workspace no longer names that rule set)."""
    target = KingdeeTarget(account_book="", voucher_group="")
    if workspace is not None:
        for job in workspace.syncs.values():
            if job.target != connection:
                continue
            try:
                found = [r for r in workspace.rule_sets(job) if r.name == rule_set]
            except Exception:  # a rule set that no longer loads: the defaults still name the dimensions
                found = []
            if found:
                target = found[0].kingdee
                break
    return {dimension: target.flex_key(dimension) for dimension in DIMENSIONS}


def add_mapped_names(names: Names, workspace: Workspace, connection: str) -> None:
    """Suppliers and customers mapped by hand (name → number in the mapping table) have no binding:
    their names come from the mapping tables of the jobs posting to this connection."""
    for job in workspace.syncs.values():
        if job.target != connection:
            continue
        try:
            mapping = workspace.mapping(job)
        except Exception:  # an unreadable table: the bindings' names still stand
            continue
        for name, number in (*mapping.suppliers.items(), *mapping.customers.items()):
            names.parties.setdefault(number, name)


@dataclass(frozen=True, slots=True)
class PostingDocument:
    """What a posting page shows of Kingdee's side: a voucher, or a bill's labelled fields."""

    voucher: VoucherView | None
    bill: list[list[LabelledField]]
    chart_problem: str | None


def posting_document(
    store: Store,
    *,
    connection: str,
    rule_set: str,
    form_id: str,
    number: str | None,
    payload: Any,
    workspace: Workspace | None,
    charts: ChartCache,
    opener: Opener,
    lang: str = "zh",
) -> PostingDocument:
    """The voucher (GL_VOUCHER) or bill behind a posting's payload, with names filled in."""
    if not isinstance(payload, dict):
        return PostingDocument(None, [], None)
    names = names_of(store, connection)
    if workspace is not None:
        add_mapped_names(names, workspace, connection)
    if form_id == VOUCHER_FORM:
        chart = charts.chart(connection, opener)
        flex = flex_keys_of(workspace, connection, rule_set)
        view = voucher_view(payload, number=number, chart=chart, names=names, flex_keys=flex)
        return PostingDocument(view, [], chart.problem)
    return PostingDocument(None, bill_fields(payload, names, lang), None)
