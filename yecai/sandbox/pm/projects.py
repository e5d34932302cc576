"""Projects (项目档案) of sandbox.pm: names, places, customers, contract prices, dates, status.

One project per index, each from its own random stream, so the first N projects of any run are
the same. `status` is the state on the first day of the data window, as the first cut documented
it; projects are not edited over time. Only 在建 and 未开工 projects book costs.

VAT follows from what the project is and where it is, without a random draw (so every other
figure of a run stays as it was): 安置房 are 甲供 works on the simple method (简易计税, 3 %); a project
outside the cities where the contractor has a tax-registered 分公司, or in a county (县) of one, is
跨县(市、区) and prepays VAT at its location.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from yecai.sandbox.pm import names
from yecai.sandbox.pm.models import Project, ProjectStatus, VatMethod
from yecai.sandbox.pm.seeding import office_time

MAX_PROJECTS = 999  # project codes keep three digits: XM2026001 … XM2026999
_MILLION = 1_000_000

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
BOOKING_STATUSES = frozenset({ProjectStatus.UNDER_CONSTRUCTION, ProjectStatus.NOT_STARTED})

# Cities where the contractor has a tax-registered 分公司 that declares VAT itself: its main markets.
# A project there is local (no prepayment); anywhere else it is 跨县(市、区) (公告2016年第17号).
REGISTERED_CITIES = frozenset(
    {
        "苏州市",
        "南京市",
        "杭州市",
        "合肥市",
        "上海市",
        "武汉市",
        "成都市",
        "重庆市",
        "广州市",
        "深圳市",
    }
)
# 甲供工程: the owner supplies steel and concrete for the main structure, which puts the contractor
# on the simple method (财税〔2017〕58号 §1); resettlement housing is typically built that way.
SIMPLE_METHOD_TYPES = frozenset({"安置房"})


def is_cross_region(city: str, district: str) -> bool:
    """跨县(市、区): outside the registered cities, or in a county (县) of one of them."""
    return city not in REGISTERED_CITIES or district.endswith("县")


def vat_method_of(project_type: str) -> VatMethod:
    return VatMethod.SIMPLE if project_type in SIMPLE_METHOD_TYPES else VatMethod.GENERAL


def city_of(project: Project) -> names.City:
    return next(c for c in names.CITIES if c.full_name == project.city and c.province == project.province)


def is_civil(project: Project) -> bool:
    return project.project_type in names.CIVIL_TYPES


def make_project(
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
    created_at = office_time(rng, registered)
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
        vat_method=vat_method_of(project_type),
        cross_region=is_cross_region(city.full_name, district),
        created_at=created_at,
        updated_at=created_at,
    )
