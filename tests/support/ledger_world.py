"""A small construction company's month, as PM documents, for the whole-ledger tests.

Four projects in October 2026 (go-live 2026-10-01):
- XM-GEN: 一般计税, 跨县市 (VAT prepaid at the site), main contract plus a 补充协议 on the same
  terms, material / 劳务分包 / 专业分包 suppliers, a valuation, a sales invoice, a receipt;
- XM-SIM: 简易计税 (3 %), local, the same material supplier as XM-GEN;
- XM-SME: a project of the 分公司 (org 200) on 小企业会计准则, kept in its own book 002 on the
  small-enterprise chart (`ledger_mapping`);
- XM-OLD: a contract already running at go-live, with an `OpeningBalance`.

The documents are served over HTTP as a generic REST source (a connector YAML written here, pulled
through `yecai.connectors.generic_rest`), so they reach the books by the real way in: pull →
stage → validate → plan → send. `LedgerWorld` carries the documents so a test can compute what
the books must say from them alone. `order` permutes the order the source lists its records in.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from yecai.connectors.generic_rest import GenericRestConnector
from yecai.connectors.generic_rest.spec import parse_spec
from yecai.domain.documents import DOCUMENT_TYPES
from yecai.mapping.rules import MappingTable, ProjectMapping, default_mapping
from yecai.sources.connector import Connector

D = Decimal
BASE_URL = "http://pm.ledger.test"
GO_LIVE = dt.date(2026, 10, 1)
COMPANY = "业财演示建设集团有限公司"
# streams of the source, in the order a sync job pulls them (projects bind the 项目 dimension)
KINDS = (
    "project",
    "contract",
    "budget_line",
    "cost_record",
    "invoice",
    "payment_request",
    "progress_report",
    "receipt",
    "opening_balance",
)
SUPPLIERS = {
    "material": "江苏恒固建材有限公司",
    "labour": "上海宏达劳务分包有限公司",
    "subcontract": "安徽诚建钢构工程有限公司",
}
OWNERS = {"XM-GEN": "市城市建设投资集团有限公司", "XM-SIM": "区交通运输局", "XM-SME": "区交通运输局"}


def ledger_mapping() -> MappingTable:
    """The default mapping table with XM-SME in the 分公司 (org 200 → book 002, its own chart)."""
    mapping = default_mapping()
    return mapping.model_copy(update={"projects": {**mapping.projects, "XM-SME": ProjectMapping(org="200")}})


def available_kinds() -> tuple[str, ...]:
    """The kinds this build of yecai knows (receipts join once the document exists)."""
    return tuple(kind for kind in KINDS if kind in DOCUMENT_TYPES)


@dataclass(slots=True)
class Amounts:
    """The figures a hypothesis example varies (ex-VAT cost per category and project, paid share)."""

    material: Decimal = Decimal("400000.00")
    labour: Decimal = Decimal("200000.00")
    subcontract: Decimal = Decimal("280000.00")
    simple_material: Decimal = Decimal("150000.00")
    small_material: Decimal = Decimal("50000.00")
    paid_share: Decimal = Decimal("0.75")
    received_share: Decimal = Decimal("0.80")


@dataclass(slots=True)
class LedgerWorld:
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return self.documents.get(kind, [])

    def add(self, kind: str, **values: Any) -> dict[str, Any]:
        self.documents.setdefault(kind, []).append(values)
        return values


def _money(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"))


def build_world(amounts: Amounts | None = None) -> LedgerWorld:
    """The month's documents (amounts as Decimal; served as exact decimal strings)."""
    a = amounts or Amounts()
    w = LedgerWorld()
    day = dt.date(2026, 10, 1)
    w.add(
        "project",
        code="XM-GEN",
        name="滨江花园一期",
        customer=OWNERS["XM-GEN"],
        vat_method="general",
        cross_region=True,
        accounting_standard="cas",
        start_date=dt.date(2026, 9, 1),
        end_date=dt.date(2027, 12, 31),
    )
    w.add(
        "project",
        code="XM-SIM",
        name="城南学校清包工",
        customer=OWNERS["XM-SIM"],
        vat_method="simple",
        cross_region=False,
        accounting_standard="cas",
    )
    w.add(
        "project",
        code="XM-SME",
        name="区道路养护",
        customer=OWNERS["XM-SME"],
        vat_method="general",
        cross_region=False,
        accounting_standard="small",
    )
    w.add(
        "project",
        code="XM-OLD",
        name="老城改造二期",
        customer=OWNERS["XM-GEN"],
        vat_method="general",
        cross_region=False,
        accounting_standard="cas",
    )
    # income contracts: XM-GEN's main contract and its 补充协议 on the same terms (9 %, 3 % retention)
    for no, amount in (("XM-GEN-ZB", D("10900000.00")), ("XM-GEN-BC", D("1090000.00"))):
        w.add(
            "contract",
            contract_no=no,
            project_code="XM-GEN",
            contract_kind="income",
            name="施工总承包合同" if no.endswith("ZB") else "补充协议",
            counterparty=OWNERS["XM-GEN"],
            amount=amount,
            tax_rate=D("0.09"),
            retention_rate=D("0.03"),
            signed_date=dt.date(2026, 8, 20),
        )
    w.add(
        "contract",
        contract_no="XM-SIM-ZB",
        project_code="XM-SIM",
        contract_kind="income",
        name="清包工施工合同",
        counterparty=OWNERS["XM-SIM"],
        amount=D("2060000.00"),
        tax_rate=D("0.03"),
        retention_rate=D("0"),
        signed_date=dt.date(2026, 9, 1),
    )
    w.add(
        "contract",
        contract_no="XM-SME-ZB",
        project_code="XM-SME",
        contract_kind="income",
        name="道路养护合同",
        counterparty=OWNERS["XM-SME"],
        amount=D("545000.00"),
        tax_rate=D("0.09"),
        retention_rate=D("0"),
        signed_date=dt.date(2026, 9, 1),
    )
    w.add(
        "contract",
        contract_no="XM-OLD-ZB",
        project_code="XM-OLD",
        contract_kind="income",
        name="老城改造施工合同",
        counterparty=OWNERS["XM-GEN"],
        amount=D("5450000.00"),
        tax_rate=D("0.09"),
        retention_rate=D("0"),
        signed_date=dt.date(2025, 6, 1),
    )
    suppliers = (
        ("XM-GEN-CL", "XM-GEN", "purchase", "material", D("0.13"), a.material),
        ("XM-GEN-LW", "XM-GEN", "labour", "labour", D("0.03"), a.labour),
        ("XM-GEN-FB", "XM-GEN", "subcontract", "subcontract", D("0.09"), a.subcontract),
        ("XM-SIM-CL", "XM-SIM", "purchase", "material", D("0.13"), a.simple_material),
        ("XM-SME-CL", "XM-SME", "purchase", "material", D("0.13"), a.small_material),
    )
    for index, (no, project, kind, category, rate, cost) in enumerate(suppliers, start=1):
        supplier = SUPPLIERS[category]
        w.add(
            "contract",
            contract_no=no,
            project_code=project,
            contract_kind=kind,
            name=f"{supplier}合同",
            counterparty=supplier,
            amount=_money(cost * 3 * (1 + rate)),
            tax_rate=rate,
            retention_rate=D("0"),
            signed_date=dt.date(2026, 9, 10),
        )
        w.add(
            "cost_record",
            source_key=f"C-{no}",
            project_code=project,
            category=category,
            business_date=day + dt.timedelta(days=4 + index),
            description=f"{supplier} 10月",
            amount=cost,
            tax_rate=rate,
            supplier_name=supplier,
            contract_no=no,
            invoice_no=f"{26100000 + index}",
        )
        tax = _money(cost * rate)
        w.add(
            "invoice",
            invoice_no=f"{26100000 + index}",  # 8 digits, as paper invoices
            direction="in",
            invoice_type="special",
            issue_date=day + dt.timedelta(days=9 + index),
            project_code=project,
            seller_name=supplier,
            buyer_name=COMPANY,
            amount=cost,
            tax_rate=rate,
            tax_amount=tax,
            total=cost + tax,
            contract_no=no,
        )
        w.add(
            "payment_request",
            request_no=f"FK-{index:04d}",
            project_code=project,
            contract_no=no,
            payee_name=supplier,
            amount=_money((cost + tax) * a.paid_share),
            purpose="进度款",
            request_date=day + dt.timedelta(days=14 + index),
            expected_pay_date=day + dt.timedelta(days=20),
            paid_date=day + dt.timedelta(days=21 + index % 3),
            status="paid",
        )
    # budgets: the estimated total cost of each project (progress = cost to date ÷ this)
    for project, total in (
        ("XM-GEN", (a.material + a.labour + a.subcontract) * 10),
        ("XM-SIM", a.simple_material * 10),
        ("XM-SME", a.small_material * 10),
        ("XM-OLD", D("4000000.00")),
    ):
        w.add(
            "budget_line",
            source_key=f"B-{project}",
            project_code=project,
            category="material",
            amount=_money(total),
            description="目标成本",
        )
    # the owners' valuations (approved) and the invoices issued on them
    # the invoice is issued on what is billed: the valuation less the retention kept back
    for index, (project, contract, rate, valuation, retention) in enumerate(
        (
            ("XM-GEN", "XM-GEN-ZB", D("0.09"), D("1100000.00"), D("0.03")),
            ("XM-SIM", "XM-SIM-ZB", D("0.03"), D("200000.00"), D("0")),
        ),
        start=1,
    ):
        w.add(
            "progress_report",
            source_key=f"JL-{project}-10",
            project_code=project,
            period="2026-10",
            report_date=dt.date(2026, 10, 25),
            percent_complete=D("10"),
            valuation_amount=valuation,
            approved=True,
        )
        billed = valuation - _money(valuation * retention)
        tax = _money(billed * rate)
        w.add(
            "invoice",
            invoice_no=f"{26200000 + index}",
            direction="out",
            invoice_type="special",
            issue_date=dt.date(2026, 10, 31),
            project_code=project,
            seller_name=COMPANY,
            buyer_name=OWNERS[project],
            amount=billed,
            tax_rate=rate,
            tax_amount=tax,
            total=billed + tax,
            contract_no=contract,
        )
        w.add(
            "receipt",
            receipt_no=f"SK-{project}-10",
            project_code=project,
            contract_no=contract,
            payer=OWNERS[project],
            receipt_date=dt.date(2026, 10, 30),
            amount=_money((billed + tax) * a.received_share),
            receipt_kind="progress",
        )
    # the contract open at go-live: where it stood at the end of September
    w.add(
        "opening_balance",
        source_key="QC-XM-OLD",
        project_code="XM-OLD",
        contract_no="XM-OLD-ZB",
        as_of=GO_LIVE,
        cost_to_date=D("2000000.00"),
        revenue_to_date=D("2400000.00"),
        estimated_total_cost=D("4000000.00"),
        billed_to_date=D("2400000.00"),
        received_to_date=D("2000000.00"),
    )
    w.add(
        "cost_record",
        source_key="C-XM-OLD-10",
        project_code="XM-OLD",
        category="material",
        business_date=dt.date(2026, 10, 12),
        description="老城改造 10月材料",
        amount=D("400000.00"),
        tax_rate=D("0.13"),
        supplier_name=SUPPLIERS["material"],
    )
    return w


# -- serving the documents as a REST source --------------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def connector_spec(kinds: Sequence[str]) -> dict[str, Any]:
    """A connector YAML (as data): one stream per kind, fields read under their canonical names."""
    streams: dict[str, Any] = {}
    for kind in kinds:
        model = DOCUMENT_TYPES[kind]
        streams[f"{kind}s"] = {
            "path": f"/api/{kind}",
            "document": kind,
            "primary_key": model.key_field,
            "cursor_field": None,
            "pagination": {"style": "offset", "page_size": 100, "total_path": "data.total"},
            "fields": {name: name for name in model.model_fields if name != "measured"},
        }
    return {"name": "ledger_world", "base_url": BASE_URL, "streams": streams}


def serve(world: LedgerWorld, order: random.Random | None = None) -> httpx.MockTransport:
    """The world's documents as pages of JSON; `order` shuffles how each stream lists them."""
    listed: dict[str, list[dict[str, Any]]] = {}
    for kind, documents in world.documents.items():
        rows = [{k: _json(v) for k, v in doc.items()} for doc in documents]
        if order is not None:
            order.shuffle(rows)
        listed[kind] = rows

    def handle(request: httpx.Request) -> httpx.Response:
        kind = request.url.path.rsplit("/", 1)[-1]
        rows = listed.get(kind, [])
        offset = int(request.url.params.get("offset", 0))
        limit = int(request.url.params.get("limit", 100))
        page = rows[offset : offset + limit]
        return httpx.Response(200, content=json.dumps({"data": {"items": page, "total": len(rows)}}))

    return httpx.MockTransport(handle)


def world_connector(
    world: LedgerWorld, *, connection: str = "pm", order: random.Random | None = None
) -> Connector:
    kinds = [k for k in available_kinds() if world.of(k)]
    return GenericRestConnector(
        parse_spec(connector_spec(kinds), secrets={}),
        connection=connection,
        base_url=BASE_URL,
        transport=serve(world, order),
        pulls=True,
    )


def streams_of(connector: Connector) -> list[str]:
    return list(connector.streams)


def totals_by(rows: Sequence[Mapping[str, Any]], *keys: str, amount: str = "amount") -> dict[Any, Decimal]:
    """Σ amount grouped by the values of `keys` (a helper for the expectations)."""
    out: dict[Any, Decimal] = {}
    for row in rows:
        key = tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]
        out[key] = out.get(key, D(0)) + row[amount]
    return out
