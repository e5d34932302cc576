"""Contracts of a project: the income contract with the owner and one per counterparty of the plan.

施工总承包合同 with the 建设单位; 劳务分包合同 (kind `labour`) with each labour company; 专业分包合同 for a few
specialist works; 材料采购合同 with each material supplier; 机械租赁合同 with each lessor. Amounts
are estimated from the plan over the whole project (not the data window), so a longer window
never changes a contract; when actual costs approach the amount, a 补充协议 raises it (an edit).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from yecai.sandbox.pm import names, parties
from yecai.sandbox.pm.costs import Specialist
from yecai.sandbox.pm.models import CENT, Project, VatMethod
from yecai.sandbox.pm.plan import VAT_GOODS, VAT_SERVICES, VAT_SIMPLE, CostPlan
from yecai.sandbox.pm.projects import city_of, is_civil
from yecai.sandbox.pm.records import Contract, ContractKind
from yecai.sandbox.pm.seeding import office_time

_TEN_THOUSAND = Decimal(10_000)
_WORKING_DAYS_PER_MONTH = 26
_RETENTION = Decimal("0.03")  # 质保金 ≤ 3 % (建质〔2017〕138号)
_ZERO = Decimal("0.00")

# 劳务分包 and 专业分包 share the FB series (分包), as PM systems number them: one counter per code.
_KIND_CODES = {
    ContractKind.INCOME: "SR",
    ContractKind.SUBCONTRACT: "FB",
    ContractKind.LABOUR: "FB",
    ContractKind.PURCHASE: "CG",
    ContractKind.LEASE: "ZL",
}
_MATERIAL_GOODS = {
    "steel": "钢材",
    "concrete": "商品混凝土",
    "building": "地材及砌体材料",
    "formwork": "模板木方",
    "cable": "电线电缆",
    "pipe": "管材管件",
    "waterproof": "防水材料",
    "asphalt": "沥青混合料",
}
# Expected crews / machines drawn per day (see costs._DAILY_*): Σ min(n, count) × weight / 100.
_LABOUR_COUNTS = ((0, 5), (1, 25), (2, 40), (3, 30))
_MACHINE_COUNTS = ((0, 15), (1, 45), (2, 40))
_MATERIAL_DRAWS_PER_DAY = Decimal("1.9")


@dataclass(frozen=True, slots=True)
class ProjectContracts:
    """The contracts of one project and how cost lines find theirs."""

    contracts: list[Contract]
    contract_of: dict[str, str]  # counterparty name → contract_no
    specialists: list[Specialist]

    @property
    def income(self) -> Contract:
        return self.contracts[0]


def round_up(amount: Decimal) -> Decimal:
    """Contract prices are agreed in round ten-thousands of 元."""
    return ((amount / _TEN_THOUSAND).to_integral_value(ROUND_CEILING) * _TEN_THOUSAND).quantize(CENT)


def _months(project: Project) -> Decimal:
    return Decimal(max(30, (project.end_date - project.start_date).days)) / 30


def _expected_share(counts: tuple[tuple[int, int], ...], size: int) -> Decimal:
    """Probability that one given member of a group of `size` is drawn on a day."""
    expected = sum(min(size, count) * weight for count, weight in counts) / Decimal(100)
    return expected / size


def make_contracts(rng: random.Random, project: Project, plan: CostPlan, first_day: date) -> ProjectContracts:
    code = project.project_code
    city = city_of(project)
    months = _months(project)
    signed_before_start = project.start_date - timedelta(days=rng.randint(10, 40))
    registered = project.created_at.date()
    counters: dict[str, int] = {}
    contracts: list[Contract] = []
    contract_of: dict[str, str] = {}

    def add(
        kind: ContractKind,
        type_name: str,
        name: str,
        counterparty: str,
        amount: Decimal,
        tax_rate: Decimal,
        retention: Decimal,
        ratio: Decimal,
        signed: date,
        start: date,
        end: date,
    ) -> Contract:
        series = _KIND_CODES[kind]
        counters[series] = counters.get(series, 0) + 1
        stamp = office_time(rng, max(signed, registered))
        if stamp <= project.created_at:
            stamp = project.created_at + timedelta(hours=1)
        contract = Contract(
            contract_no=f"{code}-{series}-{counters[series]:03d}",
            project_code=code,
            contract_kind=kind,
            contract_type_name=type_name,
            contract_name=name,
            counterparty_name=counterparty,
            counterparty_tax_id=parties.tax_id(counterparty),
            amount=amount,
            tax_rate=tax_rate,
            retention_rate=retention,
            payment_ratio=ratio,
            signed_date=max(signed, registered),
            start_date=start,
            end_date=end,
            created_at=stamp,
            updated_at=stamp,
        )
        contracts.append(contract)
        contract_of.setdefault(counterparty, contract.contract_no)
        return contract

    add(
        ContractKind.INCOME,
        "施工总承包合同",
        f"{project.project_name}施工总承包合同",
        project.customer_name,
        project.contract_amount,
        # a simple-method project bills the owner at the 3 % 征收率 instead of 9 %
        VAT_SIMPLE if project.vat_method is VatMethod.SIMPLE else VAT_SERVICES,
        _RETENTION,
        Decimal("0.80"),
        signed_before_start,
        project.start_date,
        project.end_date,
    )

    def supplier_signed() -> date:
        return project.start_date - timedelta(days=rng.randint(3, 9))

    margin = Decimal(rng.randint(105, 125)) / 100
    for kind, supplier in plan.suppliers():
        if kind == "labour":
            crews = [crew for crew in plan.crews if crew.supplier == supplier]
            share = _expected_share(_LABOUR_COUNTS, len(plan.crews))
            daily = sum(
                (share * (crew.size_low + crew.size_high) / 4 * crew.rate for crew in crews), Decimal(0)
            )
            rate = crews[0].tax_rate
            amount = daily * _WORKING_DAYS_PER_MONTH * months * (1 + rate) * margin
            add(
                ContractKind.LABOUR,
                "劳务分包合同",
                f"{project.project_name}劳务分包合同（{'、'.join(c.trade.crew for c in crews)}）",
                supplier,
                round_up(amount),
                rate,
                _ZERO,
                Decimal("1.00"),
                supplier_signed(),
                project.start_date,
                project.end_date,
            )
        elif kind == "material":
            weights = sum(plan.material_weights)
            daily = Decimal(0)
            goods: list[str] = []
            for source, weight in zip(plan.materials, plan.material_weights, strict=True):
                if source.supplier != supplier:
                    continue
                goods.append(_MATERIAL_GOODS.get(source.item.supplier_kind, source.item.name))
                quantity = Decimal(source.quantity_low + source.quantity_high) / 2
                quantity = quantity.scaleb(-source.item.scale)
                daily += _MATERIAL_DRAWS_PER_DAY * weight / weights * quantity * source.base_price
            amount = daily * _WORKING_DAYS_PER_MONTH * months * margin
            add(
                ContractKind.PURCHASE,
                "材料采购合同",
                f"{project.project_name}{goods[0]}采购合同",
                supplier,
                round_up(amount),
                VAT_GOODS,
                _ZERO,
                (Decimal(rng.choice((70, 80, 90))) / 100).quantize(CENT),
                supplier_signed(),
                project.start_date,
                project.end_date,
            )
        else:
            machines = [machine for machine in plan.machines if machine.supplier == supplier]
            share = _expected_share(_MACHINE_COUNTS, len(plan.machines))
            daily = sum(
                (share * Decimal("1.75") * m.unit_price * (1 + m.tax_rate) for m in machines), Decimal(0)
            )
            amount = daily * _WORKING_DAYS_PER_MONTH * months * margin
            add(
                ContractKind.LEASE,
                "机械租赁合同",
                f"{project.project_name}机械设备租赁合同",
                supplier,
                round_up(amount),
                machines[0].tax_rate,
                _ZERO,
                Decimal("0.90"),
                supplier_signed(),
                project.start_date,
                project.end_date,
            )

    specialists: list[Specialist] = []
    works = names.SPECIALIST_WORKS["civil" if is_civil(project) else "building"]
    duration = (project.end_date - project.start_date).days
    ex_vat_price = project.contract_amount / (1 + VAT_SERVICES)
    for work, suffix in rng.sample(works, rng.randint(1, 3)):
        start = project.start_date + timedelta(days=duration * rng.randint(5, 50) // 100)
        end = min(project.end_date, start + timedelta(days=max(60, duration * rng.randint(30, 60) // 100)))
        ex_vat = (ex_vat_price * rng.randint(10, 30) / 1000).quantize(CENT, ROUND_HALF_UP)
        subcontractor = names.specialist_name(rng, suffix, city)
        contract = add(
            ContractKind.SUBCONTRACT,
            "专业分包合同",
            f"{project.project_name}{work}专业分包合同",
            subcontractor,
            round_up(ex_vat * (1 + VAT_SERVICES)),
            VAT_SERVICES,
            _RETENTION,
            Decimal("0.80"),
            start - timedelta(days=rng.randint(5, 20)),
            start,
            end,
        )
        elapsed = Decimal(max(0, min((first_day - start).days, (end - start).days))) / max(
            1, (end - start).days
        )
        settled = (ex_vat * elapsed * rng.randint(90, 100) / 100).quantize(CENT, ROUND_HALF_UP)
        specialists.append(Specialist(contract.contract_no, work, subcontractor, ex_vat, start, end, settled))
    return ProjectContracts(contracts, contract_of, specialists)
