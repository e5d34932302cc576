"""Cost records of sandbox.pm: the daily direct ledger and the monthly other costs.

`direct_costs` books 人工费 / 材料费 / 机械使用费 day by day from the cost plan (the first cut's
bytes, now naming contract and 班组); `other_costs` books a month of 分包成本 (specialist
settlements), 其他直接费 and 间接费用, most with an invoice described by a `Bill`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from yecai.sandbox.pm import names
from yecai.sandbox.pm.models import CENT, CostCategory, CostRecord, Project
from yecai.sandbox.pm.plan import (
    VAT_GOODS,
    VAT_MODERN,
    VAT_NONE,
    VAT_SERVICES,
    VAT_SIMPLE,
    CostPlan,
)
from yecai.sandbox.pm.projects import city_of
from yecai.sandbox.pm.seeding import month_end, office_time, working_days

# Records per project-day by category: (count, weight). About 5 a day on average, 0–8 in all.
_DAILY_LABOUR = ((0, 1, 2, 3), (5, 25, 40, 30))
_DAILY_MATERIAL = ((0, 1, 2, 3), (5, 30, 35, 30))
_DAILY_MACHINERY = ((0, 1, 2), (15, 45, 40))
# Entry lag: most costs are keyed in the same or the next day, a few after the weekend.
ENTRY_LAG_DAYS = ((0, 1, 2, 3), (45, 35, 15, 5))
# Steel, concrete and asphalt prices move month by month (‰ either way); the rest hold.
_VOLATILE_MATERIALS = frozenset({"steel", "concrete", "asphalt"})
_MONTHLY_DRIFT_PERMILLE = 30
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class LabourDay:
    """Which crew a labour line is for and how many half 工日 it books (attendance follows it)."""

    record_index: int
    crew_index: int
    half_days: int


@dataclass(frozen=True, slots=True)
class DirectCosts:
    records: list[CostRecord]
    labour_days: list[LabourDay]


def _month_prices(rng: random.Random, plan: CostPlan) -> list[Decimal]:
    """Tax-exclusive unit price of each material source for one month."""
    prices = []
    for source in plan.materials:
        price = source.base_price
        if source.item.supplier_kind in _VOLATILE_MATERIALS:
            drift = rng.randint(-_MONTHLY_DRIFT_PERMILLE, _MONTHLY_DRIFT_PERMILLE)
            price = (price * (1000 + drift) / 1000).quantize(source.price_step, ROUND_HALF_UP)
        prices.append((price / (1 + VAT_GOODS)).quantize(source.price_places, ROUND_HALF_UP))
    return prices


def direct_costs(
    rng: random.Random,
    project: Project,
    plan: CostPlan,
    contract_of: Mapping[str, str],
    first_day: date,
    last_day: date,
) -> DirectCosts:
    """The daily 人材机 lines of one project over the window, in business-date order."""
    code = project.project_code
    rows: list[CostRecord] = []
    labour_days: list[LabourDay] = []
    month: tuple[int, int] | None = None
    prices: list[Decimal] = []

    def add(
        category: CostCategory,
        day: date,
        description: str,
        quantity: Decimal,
        unit: str,
        unit_price: Decimal,
        tax_rate: Decimal,
        supplier: str,
        team: str | None = None,
    ) -> None:
        stamp = office_time(rng, day + timedelta(days=rng.choices(*ENTRY_LAG_DAYS)[0]))
        rows.append(
            CostRecord(
                record_id=f"CB-{code}-{len(rows) + 1:06d}",
                project_code=code,
                category=category,
                category_name=category.chinese,
                business_date=day,
                description=description,
                quantity=quantity,
                unit=unit,
                unit_price=unit_price,
                amount=(quantity * unit_price).quantize(CENT, ROUND_HALF_UP),
                tax_rate=tax_rate,
                supplier_name=supplier,
                team_name=team,
                contract_no=contract_of[supplier],
                invoice_no=None,
                entered_by=plan.clerks[category],
                created_at=stamp,
                updated_at=stamp,
            )
        )

    for day in working_days(max(first_day, project.start_date), min(last_day, project.end_date)):
        if (day.year, day.month) != month:
            month = (day.year, day.month)
            prices = _month_prices(rng, plan)

        count = min(len(plan.crews), rng.choices(*_DAILY_LABOUR)[0])
        for crew in rng.sample(plan.crews, count):
            half_days = rng.randint(crew.size_low, crew.size_high)
            workdays = Decimal(half_days * 5).scaleb(-1)
            description = f"{crew.trade.crew}（班组长：{crew.leader}）{rng.choice(crew.trade.works)}"
            labour_days.append(LabourDay(len(rows), plan.crews.index(crew), half_days))
            add(
                CostCategory.LABOUR,
                day,
                description,
                workdays,
                "工日",
                crew.rate,
                crew.tax_rate,
                crew.supplier,
                crew.team_name,
            )

        count = rng.choices(*_DAILY_MATERIAL)[0]
        for slot in rng.choices(range(len(plan.materials)), plan.material_weights, k=count):
            source = plan.materials[slot]
            item = source.item
            quantity = Decimal(rng.randint(source.quantity_low, source.quantity_high)).scaleb(-item.scale)
            add(
                CostCategory.MATERIAL,
                day,
                item.description,
                quantity,
                item.unit,
                prices[slot],
                VAT_GOODS,
                source.supplier,
            )

        count = min(len(plan.machines), rng.choices(*_DAILY_MACHINERY)[0])
        for machine in rng.sample(plan.machines, count):
            shifts = Decimal(rng.randint(1, 6) * 5).scaleb(-1)  # 0.5 to 3.0 台班
            add(
                CostCategory.MACHINERY,
                day,
                machine.description,
                shifts,
                "台班",
                machine.unit_price,
                machine.tax_rate,
                machine.supplier,
            )
    return DirectCosts(rows, labour_days)


# ---------------------------------------------------------------------------------------------
# Other costs, month by month.


@dataclass(frozen=True, slots=True)
class Bill:
    """The invoice that comes with an expense: who issues it, which kind, what its line says."""

    special: bool  # 专票 (else 普票)
    item_name: str  # "*鉴证咨询服务*检测费"


@dataclass(frozen=True, slots=True)
class Specialist:
    """A professional subcontract as the cost side sees it: works, price and settlement window."""

    contract_no: str
    works: str
    subcontractor: str
    amount_ex_vat: Decimal
    start: date
    end: date
    settled_before: Decimal  # settled before the data window opened (not in the ledger)


@dataclass(frozen=True, slots=True)
class ExpensePlan:
    """The project's regular non-site suppliers and its cost clerk (成本员)."""

    clerk: str
    lab: str
    haulier: str
    water: str
    power: str
    stationer: str
    stationer_simple: bool  # a small-scale taxpayer: 3 % 普票
    insurer: str


def make_expense_plan(rng: random.Random, project: Project) -> ExpensePlan:
    city = city_of(project)
    province = project.province.removesuffix("省").removesuffix("市")
    return ExpensePlan(
        clerk=names.person(rng),
        lab=names.company_in(rng, city, "建设工程质量检测有限公司"),
        haulier=names.company_in(rng, city, "物流有限公司"),
        water=f"{city.name}水务集团有限公司",
        power=f"国网{province}电力有限公司{city.name}供电分公司",
        stationer=names.company_in(rng, city, "办公用品有限公司"),
        stationer_simple=rng.random() < 0.5,
        insurer=f"中国人民财产保险股份有限公司{city.name}市分公司",
    )


@dataclass(slots=True)
class OtherCost:
    """One monthly cost line before its invoice number is known."""

    record: CostRecord
    bill: Bill | None


def _scaled_amount(rng: random.Random, low: int, high: int, intensity: int) -> Decimal:
    """A random amount in [low, high] 元 scaled by the project's size (intensity %), to the cent."""
    return (Decimal(rng.randint(low * 100, high * 100)) * intensity / 10000).quantize(CENT, ROUND_HALF_UP)


def other_costs(
    rng: random.Random,
    project: Project,
    plan: CostPlan,
    expenses: ExpensePlan,
    specialists: list[Specialist],
    settled: dict[str, Decimal],
    month_first: date,
    window: tuple[date, date],
    numbers: dict[str, int],
) -> list[OtherCost]:
    """The 分包成本 / 其他直接费 / 间接费用 lines of one month, in business-date order.

    `settled` (contract → settled so far) and `numbers` (record sequences) carry over between
    months; the caller keeps them.
    """
    first = max(month_first, window[0], project.start_date)
    last = min(month_end(month_first), window[1], project.end_date)
    days = working_days(first, last)
    if not days:
        return []
    code = project.project_code
    k = plan.intensity
    out: list[OtherCost] = []

    def add(
        category: CostCategory,
        day: date,
        description: str,
        amount: Decimal,
        tax_rate: Decimal,
        supplier: str | None,
        bill: Bill | None,
        quantity: Decimal = _ONE,
        unit: str = "项",
        unit_price: Decimal | None = None,
        contract_no: str | None = None,
        subcategory: str | None = None,
    ) -> None:
        prefix = "FB" if category is CostCategory.SUBCONTRACT else "FY"
        numbers[prefix] = numbers.get(prefix, 0) + 1
        width = 4 if prefix == "FB" else 5
        stamp = office_time(rng, day + timedelta(days=rng.choices(*ENTRY_LAG_DAYS)[0]))
        price = amount if unit_price is None else unit_price
        record = CostRecord(
            record_id=f"{prefix}-{code}-{numbers[prefix]:0{width}d}",
            project_code=code,
            category=category,
            category_name=category.chinese,
            business_date=day,
            description=description,
            quantity=quantity,
            unit=unit,
            unit_price=price,
            amount=(quantity * price).quantize(CENT, ROUND_HALF_UP),
            tax_rate=tax_rate,
            supplier_name=supplier,
            team_name=None,
            contract_no=contract_no,
            invoice_no=None,
            entered_by=expenses.clerk,
            created_at=stamp,
            updated_at=stamp,
            subcategory=subcategory,
        )
        out.append(OtherCost(record, bill))

    period = f"{month_first.month}月"
    direct = CostCategory.OTHER_DIRECT
    indirect = CostCategory.INDIRECT

    for _ in range(rng.randint(1, 2)):
        add(
            direct,
            rng.choice(days),
            "检验试验费（材料送检及结构实体检测）",
            _scaled_amount(rng, 2_000, 20_000, k),
            VAT_MODERN,
            expenses.lab,
            Bill(True, "*鉴证咨询服务*检测服务费"),
            subcategory="检验试验费",
        )
    if rng.random() < 0.5:
        add(
            direct,
            rng.choice(days),
            "材料二次搬运费",
            _scaled_amount(rng, 5_000, 30_000, k),
            VAT_SERVICES,
            expenses.haulier,
            Bill(True, "*物流辅助服务*装卸搬运服务"),
            subcategory="二次搬运费",
        )
    water = Decimal(max(50, rng.randint(300, 3_000) * k // 100))
    add(
        direct,
        days[-1],
        f"施工用水 {period}",
        Decimal(0),
        VAT_SERVICES,
        expenses.water,
        Bill(True, "*水冰雪*自来水"),
        quantity=water,
        unit="立方米",
        unit_price=Decimal(rng.randint(385, 535)).scaleb(-2),
        subcategory="施工用水",
    )
    power = Decimal(max(1_000, rng.randint(8_000, 80_000) * k // 100))
    add(
        direct,
        days[-1],
        f"施工用电 {period}",
        Decimal(0),
        VAT_GOODS,
        expenses.power,
        Bill(True, "*供电*电费"),
        quantity=power,
        unit="千瓦时",
        unit_price=Decimal(rng.randint(6500, 9200)).scaleb(-4),
        subcategory="施工用电",
    )
    add(
        direct,
        days[-1],
        f"临时设施摊销 {period}",
        _scaled_amount(rng, 8_000, 60_000, k),
        VAT_NONE,
        None,
        None,
        subcategory="临时设施摊销",
    )

    people = Decimal(max(4, rng.randint(6, 20) * k // 100))
    add(
        indirect,
        days[-1],
        f"项目管理人员薪酬 {period}",
        Decimal(0),
        VAT_NONE,
        None,
        None,
        quantity=people,
        unit="人月",
        unit_price=Decimal(rng.randint(90, 160) * 100).quantize(CENT),
        subcategory="项目管理人员薪酬",
    )
    for _ in range(rng.randint(1, 2)):
        simple = expenses.stationer_simple
        add(
            indirect,
            rng.choice(days),
            "办公用品及耗材",
            Decimal(rng.randint(30_000, 600_000)).scaleb(-2),
            VAT_SIMPLE if simple else VAT_GOODS,
            expenses.stationer,
            Bill(False, "*纸制品*办公用品"),
            subcategory="办公用品",
        )
    if rng.random() < 0.35:
        add(
            indirect,
            rng.choice(days),
            "建筑工程一切险及第三者责任险（分摊）",
            _scaled_amount(rng, 3_000, 15_000, k),
            VAT_MODERN,
            expenses.insurer,
            Bill(True, "*保险服务*财产保险"),
            subcategory="保险费",
        )
    add(
        indirect,
        days[-1],
        f"项目部固定资产折旧 {period}",
        _scaled_amount(rng, 5_000, 30_000, k),
        VAT_NONE,
        None,
        None,
        subcategory="固定资产折旧",
    )

    settle_day = next((d for d in reversed(days) if d.day <= 25), days[-1])
    for specialist in specialists:
        if not specialist.start <= settle_day <= specialist.end:
            continue
        total_months = max(1, round((specialist.end - specialist.start).days / 30))
        done = settled.get(specialist.contract_no, specialist.settled_before)
        remaining = specialist.amount_ex_vat - done
        if remaining <= 0:
            continue
        share = Decimal(rng.randint(60, 140)) / 100
        amount = min(
            remaining, (specialist.amount_ex_vat / total_months * share).quantize(CENT, ROUND_HALF_UP)
        )
        settled[specialist.contract_no] = done + amount
        add(
            CostCategory.SUBCONTRACT,
            settle_day,
            f"{specialist.works} {month_first.year}年{period}进度结算",
            amount,
            VAT_SERVICES,
            specialist.subcontractor,
            Bill(True, f"*建筑服务*{specialist.works}"),
            contract_no=specialist.contract_no,
        )
    out.sort(key=lambda cost: (cost.record.business_date, cost.record.record_id))
    return out
