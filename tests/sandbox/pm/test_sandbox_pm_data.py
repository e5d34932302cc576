"""sandbox.pm data: deterministic, arithmetically exact, realistic, uniquely keyed, a consistent timeline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yecai.jsonutil import dumps
from yecai.sandbox.pm import CostCategory, Dataset, ProjectStatus, generate
from yecai.sandbox.pm.data import TAIL_DAYS, month_window
from yecai.sandbox.pm.models import DIRECT_CATEGORIES

pytestmark = pytest.mark.slow

CHINESE = re.compile(r"[\u4e00-\u9fff]")
MATERIAL_UNITS = {"吨", "立方米", "张", "米", "平方米"}
ALLOWED_RATES = {
    CostCategory.LABOUR: {Decimal("0.09"), Decimal("0.03")},
    CostCategory.MATERIAL: {Decimal("0.13")},
    CostCategory.MACHINERY: {Decimal("0.13"), Decimal("0.09")},
}


@pytest.fixture(scope="module")
def year() -> Dataset:
    return generate(projects=6, months=12, seed=7, start_month="2026-10")


def places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent


# --- determinism ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten() -> Dataset:
    return generate(projects=10, months=1, seed=42)


def test_same_arguments_give_byte_identical_data(ten: Dataset) -> None:
    again = generate(projects=10, months=1, seed=42)
    assert again == ten
    for entity in ("project", "cost_record", "invoice", "attendance"):
        assert [dumps(v.record) for v in again.histories[entity]] == [
            dumps(v.record) for v in ten.histories[entity]
        ]
    assert again.fingerprint == ten.fingerprint


def test_another_process_generates_the_same_bytes(ten: Dataset) -> None:
    # random.Random(str) must not depend on hash randomisation or anything else in the process.
    code = "from yecai.sandbox.pm import generate; print(generate(10, 1, 42).fingerprint)"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ten.fingerprint


def test_different_seeds_give_different_data(ten: Dataset) -> None:
    other = generate(projects=10, months=1, seed=43)
    assert other.fingerprint != ten.fingerprint
    assert [p.project_name for p in other.projects] != [p.project_name for p in ten.projects]
    assert other.totals_by_category() != ten.totals_by_category()
    # same shape of keys, though: codes are positional
    assert [p.project_code for p in other.projects] == [p.project_code for p in ten.projects]


def test_a_bigger_run_extends_a_smaller_one() -> None:
    small = generate(projects=6, months=1, seed=5)
    big = generate(projects=9, months=2, seed=5)
    assert big.projects[:6] == small.projects
    codes = {p.project_code for p in small.projects}
    first_month = tuple(
        r for r in big.cost_records if r.project_code in codes and r.business_date <= small.last_day
    )
    assert first_month == small.cost_records
    # every version of every record of the smaller run is in the bigger one, byte for byte; the
    # bigger run only adds (later months, and the edits those months make to master data)
    for entity, versions in small.histories.items():
        bigger = {dumps(v.record) for v in big.histories[entity]}
        assert {dumps(v.record) for v in versions} <= bigger, entity
    assert len(big.attendance) > len(small.attendance)


# --- arithmetic -------------------------------------------------------------------------------


def test_amount_is_quantity_times_unit_price_rounded_half_up(dataset: Dataset, year: Dataset) -> None:
    for record in (*dataset.cost_records, *year.cost_records):
        expected = (record.quantity * record.unit_price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert record.amount == expected, record.record_id
        assert places(record.amount) == 2, record.record_id


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**63), start=st.sampled_from(["2025-01", "2026-02", "2027-12"])
)
def test_any_seed_keeps_the_arithmetic_and_the_keys(seed: int, start: str) -> None:
    data = generate(projects=3, months=1, seed=seed, start_month=start)
    ids = [r.record_id for r in data.cost_records]
    assert len(ids) == len(set(ids))
    for record in data.cost_records:
        assert record.amount == (record.quantity * record.unit_price).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert record.tax_rate in ALLOWED_RATES[record.category]
        assert data.first_day <= record.business_date <= data.last_day


def test_money_is_decimal_with_the_promised_places(dataset: Dataset) -> None:
    for project in dataset.projects:
        assert isinstance(project.contract_amount, Decimal)
        assert places(project.contract_amount) == 2
    for record in dataset.cost_records:
        for value in (record.quantity, record.unit_price, record.amount, record.tax_rate):
            assert isinstance(value, Decimal)
        assert 0 <= places(record.quantity) <= 3
        assert places(record.unit_price) in (2, 4)
        assert record.quantity > 0
        assert record.unit_price > 0


def test_totals_by_category_add_up(dataset: Dataset) -> None:
    manual: dict[CostCategory, Decimal] = defaultdict(Decimal)
    for record in dataset.all_cost_records:
        manual[record.category] += record.amount
    totals = dataset.totals_by_category()
    assert set(totals) == set(CostCategory)
    assert totals == dict(manual)
    assert dataset.total_amount() == sum(manual.values())
    per_project = sum((dataset.total_amount(p.project_code) for p in dataset.projects), Decimal(0))
    assert per_project == dataset.total_amount()
    week = dataset.totals_by_category(date_from=date(2026, 10, 5), date_to=date(2026, 10, 10))
    assert week[CostCategory.MATERIAL] == sum(
        r.amount
        for r in dataset.cost_records
        if r.category is CostCategory.MATERIAL and date(2026, 10, 5) <= r.business_date <= date(2026, 10, 10)
    )


# --- keys -------------------------------------------------------------------------------------


def test_keys_are_unique_and_shaped(dataset: Dataset, year: Dataset) -> None:
    codes = [p.project_code for p in dataset.projects]
    assert codes == [f"XM2026{n:03d}" for n in range(1, 51)]
    assert len({p.project_name for p in dataset.projects}) == 50
    for data in (dataset, year):
        ids = [r.record_id for r in data.cost_records]
        assert len(ids) == len(set(ids))
        for record in data.cost_records:
            assert re.fullmatch(rf"CB-{record.project_code}-\d{{6}}", record.record_id)
        assert ids == sorted(ids)  # dataset order is record_id order
        for record in data.other_cost_records:
            assert re.fullmatch(
                rf"(FB-{record.project_code}-\d{{4}}|FY-{record.project_code}-\d{{5}})", record.record_id
            )
        everything = [r.record_id for r in data.all_cost_records]
        assert len(everything) == len(set(everything))


# --- realism ----------------------------------------------------------------------------------


def test_projects_look_like_chinese_construction_projects(dataset: Dataset) -> None:
    statuses = Counter(p.status for p in dataset.projects)
    assert statuses[ProjectStatus.UNDER_CONSTRUCTION] > len(dataset.projects) // 2
    assert len({p.project_type for p in dataset.projects}) >= 6
    for project in dataset.projects:
        for text in (project.project_name, project.manager_name, project.customer_name, project.city):
            assert CHINESE.search(text), text
        assert project.project_name.endswith(("工程", "项目", "）")), project.project_name
        assert project.province.endswith(("省", "市"))
        assert project.city.endswith("市")
        assert project.branch_name.endswith("分公司")
        assert re.fullmatch(r"第[一二三四五六七八九十百零]+项目部", project.department_name)
        assert 2 <= len(project.manager_name) <= 3
        assert Decimal(20_000_000) <= project.contract_amount <= Decimal(800_000_000)
        assert project.start_date < project.end_date
        assert project.created_at.date() < project.start_date or project.status is ProjectStatus.NOT_STARTED
        assert project.created_at.date() < dataset.first_day
        assert project.created_at.utcoffset() == timedelta(hours=8)
        assert project.updated_at == project.created_at


def test_cost_records_look_like_a_site_ledger(dataset: Dataset) -> None:
    for record in dataset.cost_records:
        project = dataset.project(record.project_code)
        assert (
            record.category_name
            == {"labour": "人工费", "material": "材料费", "machinery": "机械使用费"}[record.category]
        )
        assert record.tax_rate in ALLOWED_RATES[record.category]
        assert record.business_date.weekday() < 6  # Monday to Saturday
        assert dataset.first_day <= record.business_date <= dataset.last_day
        assert project.start_date <= record.business_date <= project.end_date
        assert project.status in (ProjectStatus.UNDER_CONSTRUCTION, ProjectStatus.NOT_STARTED)
        lag = record.created_at.date() - record.business_date
        assert timedelta(0) <= lag <= timedelta(days=3)
        assert 8 <= record.created_at.hour <= 20
        assert record.created_at.utcoffset() == timedelta(hours=8)
        assert record.updated_at >= record.created_at  # corrections move updated_at on
        assert record.supplier_name is not None
        assert CHINESE.search(record.supplier_name)
        assert record.contract_no is not None
        assert record.contract_no.startswith(record.project_code)
        assert CHINESE.search(record.entered_by)
        match record.category:
            case CostCategory.LABOUR:
                assert record.unit == "工日"
                assert Decimal(280) <= record.unit_price <= Decimal(450)
                assert "班组" in record.description
                assert "劳务" in record.supplier_name
                assert record.team_name is not None
                assert record.team_name.endswith("班组")
            case CostCategory.MATERIAL:
                assert record.unit in MATERIAL_UNITS
                assert record.supplier_name.endswith("有限公司")
            case CostCategory.MACHINERY:
                assert record.unit == "台班"
                assert Decimal("0.5") <= record.quantity <= Decimal("3.0")
                assert "租赁" in record.supplier_name or "起重设备" in record.supplier_name
                # with its operator the hire is a construction service at 9 %, bare equipment 13 %
                with_operator = "含操作人员" in record.description and "不含" not in record.description
                assert record.tax_rate == (Decimal("0.09") if with_operator else Decimal("0.13"))


def test_volume_matches_the_size_guide(dataset: Dataset) -> None:
    # "50 projects × 1 month: a few thousand records, roughly 3–8 per project-day"
    assert 2_000 <= len(dataset.cost_records) <= 10_000
    per_day = Counter((r.project_code, r.business_date) for r in dataset.cost_records)
    assert max(per_day.values()) <= 8
    assert 3 <= len(dataset.cost_records) / len(per_day) <= 8
    categories_per_day = Counter(
        len({r.category for r in dataset.cost_records if (r.project_code, r.business_date) == day})
        for day in list(per_day)[:300]
    )
    assert categories_per_day[3] > 0
    assert sum(n for k, n in categories_per_day.items() if k < 3) > 0  # some days miss a category
    totals = dataset.totals_by_category()
    direct = sum((totals[c] for c in DIRECT_CATEGORIES), Decimal(0))
    share = {c: totals[c] / direct for c in DIRECT_CATEGORIES}
    assert Decimal("0.5") < share[CostCategory.MATERIAL] < Decimal("0.9")
    assert Decimal("0.1") < share[CostCategory.LABOUR] < Decimal("0.4")
    assert Decimal("0.02") < share[CostCategory.MACHINERY] < Decimal("0.15")


def test_a_year_spans_twelve_months_and_prices_move(year: Dataset) -> None:
    assert (year.first_day, year.last_day) == (date(2026, 10, 1), date(2027, 9, 30))
    months = {r.business_date.replace(day=1) for r in year.cost_records}
    assert len(months) == 12
    # steel, concrete and asphalt prices drift month by month; a crew's day rate does not
    prices: dict[tuple[str, str], set[Decimal]] = defaultdict(set)
    for record in year.cost_records:
        prices[record.project_code, record.description.split("（")[0]].add(record.unit_price)
    assert any(len(found) > 1 for (_, what), found in prices.items() if what.startswith("商品混凝土"))
    assert all(len(found) == 1 for (_, what), found in prices.items() if "班组" in what)


# --- arguments --------------------------------------------------------------------------------


def test_month_window_crosses_year_ends() -> None:
    assert month_window("2026-11", 3) == (date(2026, 11, 1), date(2027, 1, 31))
    assert month_window("2028-02", 1) == (date(2028, 2, 1), date(2028, 2, 29))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"start_month": "2026-13"}, "start_month"),
        ({"start_month": "26-10"}, "start_month"),
        ({"months": 0}, "months"),
        ({"projects": -1}, "projects"),
        ({"projects": 1000}, "projects"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        generate(**kwargs)  # type: ignore[arg-type]


def test_an_empty_system_is_allowed() -> None:
    empty = generate(projects=0)
    assert empty.projects == ()
    assert empty.cost_records == ()
    assert empty.total_amount() == 0
    assert empty.events() == 0


# --- the timeline -----------------------------------------------------------------------------


def test_versions_move_forward_and_stay_inside_the_timeline(dataset: Dataset) -> None:
    assert dataset.timeline_end.date() == dataset.last_day + timedelta(days=TAIL_DAYS)
    for entity, versions in dataset.histories.items():
        by_key: dict[str, list] = defaultdict(list)
        for version in versions:
            assert version.at <= dataset.timeline_end, entity
            by_key[version.record.key].append(version)
        for key, chain in by_key.items():
            stamps = [v.at for v in chain]
            assert stamps == sorted(set(stamps)), (entity, key)
            # each version is current until the next one takes over; only the last has no end
            assert [v.until for v in chain] == [*stamps[1:], None], (entity, key)
            assert all(not v.deleted for v in chain[:-1]), (entity, key)  # nothing after a deletion
            first = chain[0].record
            assert first.created_at == first.updated_at
            assert all(getattr(v.record, "created_at", first.created_at) == first.created_at for v in chain)


def test_a_share_of_records_is_edited_or_deleted_later(dataset: Dataset) -> None:
    changes: dict[str, Counter[str]] = defaultdict(Counter)
    for entity, versions in dataset.histories.items():
        seen: set[str] = set()
        for version in versions:
            kind = "deleted" if version.deleted else "updated" if version.record.key in seen else "created"
            seen.add(version.record.key)
            changes[entity][kind] += 1
    costs = changes["cost_record"]
    assert 0.03 < costs["updated"] / costs["created"] < 0.08
    assert 0.005 < costs["deleted"] / costs["created"] < 0.03
    assert changes["attendance"]["updated"] > 0
    assert changes["payment_request"]["updated"] > changes["payment_request"]["created"]  # approve, pay
    assert changes["payment_request"]["deleted"] > 0  # discarded drafts
    assert changes["progress_report"]["updated"] == changes["progress_report"]["created"]  # approvals
    assert changes["invoice"]["updated"] > 0  # 勾选认证
    assert changes["project"]["updated"] == 0


def test_the_state_at_a_moment_shows_what_had_happened_by_then(dataset: Dataset) -> None:
    start = dataset.at(dataset.timeline_start)
    assert start.cost_records == ()
    assert start.attendance == ()
    assert start.invoices == ()
    assert len(start.projects) == len(dataset.projects)  # registered before the window
    middle = dataset.at(dataset.timeline_start + timedelta(days=15))
    assert 0 < len(middle.cost_records) < len(dataset.cost_records)
    assert all(r.created_at <= middle.now for r in middle.cost_records)  # type: ignore[operator]
    assert dataset.at(dataset.timeline_end).cost_records == dataset.cost_records
