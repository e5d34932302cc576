"""Deterministic data for sandbox.pm: `generate(projects, months, seed, start_month) -> Dataset`.

Same arguments give byte-identical data (see `Dataset.fingerprint`). Every project, its cost plan
and its cost records draw from their own named random stream, so a bigger run extends a smaller
one: the first 50 projects of a 500-project run, and the first month of a 12-month run, are the
same records. A stream added later (budgets, contracts, …) gets its own name and changes nothing
that exists. Money is built from integers and Decimals only; floats merely pick among choices.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from yecai.sandbox.pm import catalog, names
from yecai.sandbox.pm.models import (
    CENT,
    CHINA_TZ,
    CostCategory,
    CostRecord,
    Dataset,
    Project,
    ProjectStatus,
)

MAX_PROJECTS = 999  # project codes keep three digits: XM2026001 … XM2026999
MAX_MONTHS = 120

_START_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_TEN_THOUSANDTH = Decimal("0.0001")
_MILLION = 1_000_000

# VAT rates (construction-finance.md §2.2): goods 13 %; construction services and machinery hired
# with its operator 9 %; 清包工 labour subcontractors may elect the simple method at 3 %.
VAT_GOODS = Decimal("0.13")
VAT_SERVICES = Decimal("0.09")
VAT_SIMPLE = Decimal("0.03")

# Contract-price bands in million 元 and how often each occurs; civil works run larger.
_AMOUNT_BANDS: tuple[tuple[int, int], ...] = ((20, 80), (80, 200), (200, 500), (500, 800))
_BAND_WEIGHTS_BUILDING = (40, 35, 18, 7)
_BAND_WEIGHTS_CIVIL = (20, 35, 30, 15)

_STATUS_WEIGHTS: dict[ProjectStatus, int] = {
    ProjectStatus.UNDER_CONSTRUCTION: 86,
    ProjectStatus.NOT_STARTED: 6,
    ProjectStatus.SUSPENDED: 4,
    ProjectStatus.COMPLETED: 4,
}
# Only sites that are (or come) alive book costs; suspended and completed ones stay quiet.
_BOOKING_STATUSES = frozenset({ProjectStatus.UNDER_CONSTRUCTION, ProjectStatus.NOT_STARTED})

# Records per project-day by category: (count, weight). About 5 a day on average, 0–8 in all.
_DAILY_LABOUR = ((0, 1, 2, 3), (5, 25, 40, 30))
_DAILY_MATERIAL = ((0, 1, 2, 3), (5, 30, 35, 30))
_DAILY_MACHINERY = ((0, 1, 2), (15, 45, 40))
# Entry lag: most costs are keyed in the same or the next day, a few after the weekend.
_ENTRY_LAG_DAYS = ((0, 1, 2, 3), (45, 35, 15, 5))
# Steel, concrete and asphalt prices move month by month (‰ either way); the rest hold.
_VOLATILE_MATERIALS = frozenset({"steel", "concrete", "asphalt"})
_MONTHLY_DRIFT_PERMILLE = 30


def month_window(start_month: str, months: int) -> tuple[date, date]:
    """First and last day (inclusive) of `months` calendar months starting at `start_month` (YYYY-MM)."""
    match = _START_MONTH.match(start_month)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"start_month must look like 2026-10 (YYYY-MM), got {start_month!r}")
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {MAX_MONTHS}, got {months}")
    year, month = int(match.group(1)), int(match.group(2))
    first = date(year, month, 1)
    end_year, end_month = divmod(month - 1 + months, 12)
    return first, date(year + end_year, end_month + 1, 1) - timedelta(days=1)


def generate(projects: int = 50, months: int = 1, seed: int = 42, start_month: str = "2026-10") -> Dataset:
    """Build the projects and their daily cost records for the window; pure and deterministic."""
    if not 0 <= projects <= MAX_PROJECTS:
        raise ValueError(f"projects must be between 0 and {MAX_PROJECTS}, got {projects}")
    first_day, last_day = month_window(start_month, months)
    taken_names: set[str] = set()
    departments: dict[str, int] = {}
    project_rows: list[Project] = []
    cost_rows: list[CostRecord] = []
    for index in range(1, projects + 1):
        project = _project(_rng(seed, "project", index), index, first_day, taken_names, departments)
        project_rows.append(project)
        if project.status in _BOOKING_STATUSES:
            plan = _plan(_rng(seed, "plan", project.project_code), project)
            rng = _rng(seed, "costs", project.project_code)
            cost_rows.extend(_cost_records(rng, project, plan, first_day, last_day))
    return Dataset(
        seed=seed,
        start_month=start_month,
        months=months,
        first_day=first_day,
        last_day=last_day,
        projects=tuple(project_rows),
        cost_records=tuple(cost_rows),
    )


def _rng(seed: int, stream: str, key: object) -> random.Random:
    # A string seed is hashed with SHA-512 by random.Random: stable across runs and platforms,
    # unaffected by PYTHONHASHSEED.
    return random.Random(f"yecai.sandbox.pm/{seed}/{stream}/{key}")


def _timestamp(rng: random.Random, day: date) -> datetime:
    """A moment in office hours (08:00–20:59) on `day`, China time."""
    return datetime(
        day.year,
        day.month,
        day.day,
        rng.randint(8, 20),
        rng.randint(0, 59),
        rng.randint(0, 59),
        tzinfo=CHINA_TZ,
    )


# ---------------------------------------------------------------------------------------------
# Projects


def _project(
    rng: random.Random,
    index: int,
    first_day: date,
    taken_names: set[str],
    departments: dict[str, int],
) -> Project:
    project_type = rng.choices(names.PROJECT_TYPES, names.PROJECT_TYPE_WEIGHTS)[0]
    city = rng.choices(names.CITIES, names.CITY_WEIGHTS)[0]
    district = rng.choice(city.districts)
    name = names.project_name(rng, project_type, city, district)
    for _ in range(20):
        if name not in taken_names:
            break
        district = rng.choice(city.districts)
        name = names.project_name(rng, project_type, city, district)
    section = 2
    base_name = name
    while name in taken_names:  # a second contract on the same works is a new 标段
        name = f"{base_name}（{names.chinese_number(section)}标段）"
        section += 1
    taken_names.add(name)

    civil = project_type in names.CIVIL_TYPES
    low, high = rng.choices(_AMOUNT_BANDS, _BAND_WEIGHTS_CIVIL if civil else _BAND_WEIGHTS_BUILDING)[0]
    contract_amount = Decimal(rng.randrange(low * _MILLION * 100, high * _MILLION * 100 + 1)).scaleb(-2)

    # Bigger contracts take longer: 10 months plus one per 25 million, give or take.
    duration_months = min(48, max(8, 10 + int(contract_amount) // 25_000_000 + rng.randint(-2, 6)))
    duration = timedelta(days=duration_months * 30 + rng.randint(-10, 10))
    status = rng.choices(tuple(_STATUS_WEIGHTS), tuple(_STATUS_WEIGHTS.values()))[0]
    match status:
        case ProjectStatus.UNDER_CONSTRUCTION:
            # under way for a while and at least two months from planned completion
            start_date = first_day - timedelta(days=rng.randint(20, max(21, duration.days - 60)))
        case ProjectStatus.NOT_STARTED:
            start_date = first_day + timedelta(days=rng.randint(7, 75))
        case ProjectStatus.SUSPENDED:
            start_date = first_day - timedelta(days=rng.randint(60, max(61, duration.days - 30)))
        case ProjectStatus.COMPLETED:
            start_date = first_day - timedelta(days=rng.randint(10, 200)) - duration
    end_date = start_date + duration

    departments[city.branch] = departments.get(city.branch, 0) + 1
    # Registered in the PM system some weeks before work starts, and before the window opens.
    registered = min(start_date - timedelta(days=rng.randint(15, 90)), first_day - timedelta(days=1))
    created_at = _timestamp(rng, registered)
    return Project(
        project_code=f"XM{first_day.year}{index:03d}",
        project_name=name,
        project_type=project_type,
        province=city.province,
        city=city.full_name,
        district=district,
        branch_name=city.branch,
        department_name=f"第{names.chinese_number(departments[city.branch])}项目部",
        manager_name=names.person(rng),
        customer_name=names.customer_name(rng, project_type, city, district),
        contract_amount=contract_amount,
        start_date=start_date,
        end_date=end_date,
        status=status,
        created_at=created_at,
        updated_at=created_at,
    )


# ---------------------------------------------------------------------------------------------
# Cost plan: who works on and supplies a project, at what agreed prices. Fixed per project, so a
# crew's daily rate and a supplier's name repeat the way they do in a real ledger.


@dataclass(frozen=True, slots=True)
class _Crew:
    trade: catalog.Trade
    leader: str
    supplier: str
    tax_rate: Decimal
    rate: Decimal
    size_low: int  # 工日 per day, in half days
    size_high: int


@dataclass(frozen=True, slots=True)
class _MaterialSource:
    item: catalog.MaterialItem
    supplier: str
    base_price: Decimal  # tax-inclusive list price
    price_step: Decimal  # 1 元 for big-ticket items, 0.01 元 for cheap ones
    price_places: Decimal  # precision of the tax-exclusive unit price the supplier's bill shows
    quantity_low: int  # in units of 10**-scale, already scaled to the project's size
    quantity_high: int


@dataclass(frozen=True, slots=True)
class _Machine:
    item: catalog.MachineItem
    supplier: str
    description: str
    tax_rate: Decimal
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class _Plan:
    crews: tuple[_Crew, ...]
    materials: tuple[_MaterialSource, ...]
    material_weights: tuple[int, ...]
    machines: tuple[_Machine, ...]
    clerks: dict[CostCategory, str]  # 劳务员, 材料员, 机械管理员 enter their own category


def _scaled(value: int, intensity: int) -> int:
    return max(1, value * intensity // 100)


def _plan(rng: random.Random, project: Project) -> _Plan:
    civil = project.project_type in names.CIVIL_TYPES
    city = next(c for c in names.CITIES if c.full_name == project.city and c.province == project.province)
    # Daily volumes follow the contract size: 200 million 元 is 100 %, clamped to 30–250 %.
    intensity = min(250, max(30, int(project.contract_amount) // 2_000_000))

    labour_companies = [
        (names.supplier_name(rng, "labour", city), rng.choice((VAT_SERVICES, VAT_SERVICES, VAT_SIMPLE)))
        for _ in range(rng.randint(1, 3))
    ]
    trades = [trade for trade in catalog.TRADES if catalog.for_works(trade.used_by, civil)]
    crews = []
    for trade in rng.sample(trades, rng.randint(3, min(6, len(trades)))):
        supplier, tax_rate = rng.choice(labour_companies)
        typical = max(3, _scaled(rng.randint(8, 40), intensity)) * 2
        crews.append(
            _Crew(
                trade=trade,
                leader=names.person(rng),
                supplier=supplier,
                tax_rate=tax_rate,
                rate=Decimal(rng.randrange(trade.rate_low, trade.rate_high + 1, 5)).quantize(CENT),
                size_low=max(1, typical * 7 // 10),
                size_high=max(2, typical * 13 // 10),
            )
        )

    suppliers: dict[str, tuple[str, Decimal]] = {}
    items = [item for item in catalog.MATERIALS if catalog.for_works(item.used_by, civil)]
    sources = []
    for item in sorted(rng.sample(items, min(len(items), rng.randint(7, 11))), key=items.index):
        if item.supplier_kind not in suppliers:
            # Most suppliers bill tax-inclusive prices, so the tax-exclusive unit price carries 4 places.
            places = _TEN_THOUSANDTH if rng.random() < 0.7 else CENT
            suppliers[item.supplier_kind] = (names.supplier_name(rng, item.supplier_kind, city), places)
        supplier, places = suppliers[item.supplier_kind]
        step = Decimal(1) if item.price_high >= 100 else CENT
        low, high = int(item.price_low / step), int(item.price_high / step)
        sources.append(
            _MaterialSource(
                item=item,
                supplier=supplier,
                base_price=rng.randint(low, high) * step,
                price_step=step,
                price_places=places,
                quantity_low=_scaled(int(item.quantity_low.scaleb(item.scale)), intensity),
                quantity_high=_scaled(int(item.quantity_high.scaleb(item.scale)), intensity),
            )
        )

    lessors = [names.supplier_name(rng, "machinery", city) for _ in range(rng.randint(1, 2))]
    fleet = [machine for machine in catalog.MACHINES if catalog.for_works(machine.used_by, civil)]
    machines = []
    for item in sorted(rng.sample(fleet, rng.randint(3, min(5, len(fleet)))), key=fleet.index):
        # Hired with its operator the rental is a construction service (9 %); bare, a lease of goods (13 %).
        with_operator = item.name == "塔式起重机" or rng.random() < 0.5
        tax_rate = VAT_SERVICES if with_operator else VAT_GOODS
        price = Decimal(rng.randrange(item.price_low, item.price_high + 1, 10))
        places = _TEN_THOUSANDTH if rng.random() < 0.5 else CENT
        terms = "含操作人员" if with_operator else "不含操作人员"
        machines.append(
            _Machine(
                item=item,
                supplier=rng.choice(lessors),
                description=f"{item.name} {item.model} 租赁（{terms}）",
                tax_rate=tax_rate,
                unit_price=(price / (1 + tax_rate)).quantize(places, ROUND_HALF_UP),
            )
        )

    return _Plan(
        crews=tuple(crews),
        materials=tuple(sources),
        material_weights=tuple(source.item.weight for source in sources),
        machines=tuple(machines),
        clerks={category: names.person(rng) for category in CostCategory},
    )


# ---------------------------------------------------------------------------------------------
# Cost records, one working day (Monday to Saturday: sites work Saturdays) after another.


def _working_days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        if day.weekday() < 6:
            yield day
        day += timedelta(days=1)


def _month_prices(rng: random.Random, plan: _Plan) -> list[Decimal]:
    """Tax-exclusive unit price of each material source for one month."""
    prices = []
    for source in plan.materials:
        price = source.base_price
        if source.item.supplier_kind in _VOLATILE_MATERIALS:
            drift = rng.randint(-_MONTHLY_DRIFT_PERMILLE, _MONTHLY_DRIFT_PERMILLE)
            price = (price * (1000 + drift) / 1000).quantize(source.price_step, ROUND_HALF_UP)
        prices.append((price / (1 + VAT_GOODS)).quantize(source.price_places, ROUND_HALF_UP))
    return prices


def _cost_records(
    rng: random.Random, project: Project, plan: _Plan, first_day: date, last_day: date
) -> list[CostRecord]:
    code = project.project_code
    labour = CostCategory.LABOUR
    material = CostCategory.MATERIAL
    machinery = CostCategory.MACHINERY
    rows: list[CostRecord] = []
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
    ) -> None:
        entered = day + timedelta(days=rng.choices(*_ENTRY_LAG_DAYS)[0])
        stamp = datetime.combine(
            entered, time(rng.randint(8, 20), rng.randint(0, 59), rng.randint(0, 59)), CHINA_TZ
        )
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
                entered_by=plan.clerks[category],
                created_at=stamp,
                updated_at=stamp,
            )
        )

    for day in _working_days(max(first_day, project.start_date), min(last_day, project.end_date)):
        if (day.year, day.month) != month:
            month = (day.year, day.month)
            prices = _month_prices(rng, plan)

        count = min(len(plan.crews), rng.choices(*_DAILY_LABOUR)[0])
        for crew in rng.sample(plan.crews, count):
            workdays = Decimal(rng.randint(crew.size_low, crew.size_high) * 5).scaleb(-1)
            description = f"{crew.trade.crew}（班组长：{crew.leader}）{rng.choice(crew.trade.works)}"
            add(labour, day, description, workdays, "工日", crew.rate, crew.tax_rate, crew.supplier)

        count = rng.choices(*_DAILY_MATERIAL)[0]
        for slot in rng.choices(range(len(plan.materials)), plan.material_weights, k=count):
            source = plan.materials[slot]
            item = source.item
            quantity = Decimal(rng.randint(source.quantity_low, source.quantity_high)).scaleb(-item.scale)
            add(
                material, day, item.description, quantity, item.unit, prices[slot], VAT_GOODS, source.supplier
            )

        count = min(len(plan.machines), rng.choices(*_DAILY_MACHINERY)[0])
        for machine in rng.sample(plan.machines, count):
            shifts = Decimal(rng.randint(1, 6) * 5).scaleb(-1)  # 0.5 to 3.0 台班
            add(
                machinery,
                day,
                machine.description,
                shifts,
                "台班",
                machine.unit_price,
                machine.tax_rate,
                machine.supplier,
            )
    return rows
