"""The cost plan of a project: who works on and supplies it, at what agreed prices.

Fixed per project (its own random stream), so a crew's day rate and a supplier's name repeat the
way they do in a real ledger. Daily direct costs, workers, contracts and invoices all follow it.
Prices are tax-exclusive, derived from tax-inclusive quotes (hence 4-decimal unit prices).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from yecai.sandbox.pm import catalog, names
from yecai.sandbox.pm.models import CENT, CostCategory, Project
from yecai.sandbox.pm.projects import city_of, is_civil

_TEN_THOUSANDTH = Decimal("0.0001")

# VAT rates (construction facts §2.2): goods 13 %; construction services and machinery hired
# with its operator 9 %; 清包工 labour subcontractors may elect the simple method at 3 %; modern
# services (testing, insurance) 6 %.
VAT_GOODS = Decimal("0.13")
VAT_SERVICES = Decimal("0.09")
VAT_MODERN = Decimal("0.06")
VAT_SIMPLE = Decimal("0.03")
VAT_NONE = Decimal("0")

# 劳务员, 材料员, 机械管理员 are drawn in this order (as the first cut drew them, so the bytes stay);
# the other cost categories are keyed by the project's 成本员 (costs.ExpensePlan).
_CLERK_CATEGORIES = (CostCategory.LABOUR, CostCategory.MATERIAL, CostCategory.MACHINERY)


@dataclass(frozen=True, slots=True)
class Crew:
    trade: catalog.Trade
    leader: str
    supplier: str
    tax_rate: Decimal
    rate: Decimal
    size_low: int  # 工日 per day, in half days
    size_high: int

    @property
    def team_name(self) -> str:
        """班组 as rosters name it: the leader's name and the trade, 张建国钢筋班组."""
        return f"{self.leader}{self.trade.crew}"


@dataclass(frozen=True, slots=True)
class MaterialSource:
    item: catalog.MaterialItem
    supplier: str
    base_price: Decimal  # tax-inclusive list price
    price_step: Decimal  # 1 元 for big-ticket items, 0.01 元 for cheap ones
    price_places: Decimal  # precision of the tax-exclusive unit price the supplier's bill shows
    quantity_low: int  # in units of 10**-scale, already scaled to the project's size
    quantity_high: int


@dataclass(frozen=True, slots=True)
class Machine:
    item: catalog.MachineItem
    supplier: str
    description: str
    tax_rate: Decimal
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class CostPlan:
    crews: tuple[Crew, ...]
    materials: tuple[MaterialSource, ...]
    material_weights: tuple[int, ...]
    machines: tuple[Machine, ...]
    clerks: dict[CostCategory, str]  # 劳务员, 材料员, 机械管理员 enter their own category
    intensity: int  # daily volumes relative to a 200-million project, in %

    def suppliers(self) -> list[tuple[str, str]]:
        """(kind, name) of every distinct counterparty, in plan order: labour, material, machinery."""
        seen: dict[str, str] = {}
        for crew in self.crews:
            seen.setdefault(crew.supplier, "labour")
        for source in self.materials:
            seen.setdefault(source.supplier, "material")
        for machine in self.machines:
            seen.setdefault(machine.supplier, "machinery")
        return [(kind, name) for name, kind in seen.items()]


def _scaled(value: int, intensity: int) -> int:
    return max(1, value * intensity // 100)


def make_plan(rng: random.Random, project: Project) -> CostPlan:
    civil = is_civil(project)
    city = city_of(project)
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
            Crew(
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
            MaterialSource(
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
            Machine(
                item=item,
                supplier=rng.choice(lessors),
                description=f"{item.name} {item.model} 租赁（{terms}）",
                tax_rate=tax_rate,
                unit_price=(price / (1 + tax_rate)).quantize(places, ROUND_HALF_UP),
            )
        )

    return CostPlan(
        crews=tuple(crews),
        materials=tuple(sources),
        material_weights=tuple(source.item.weight for source in sources),
        machines=tuple(machines),
        clerks={category: names.person(rng) for category in _CLERK_CATEGORIES},
        intensity=intensity,
    )
