"""sandbox.pm's VAT data: which projects are on 简易计税 (their income contract and issued invoices
at 3 %) and which are 跨县市 of the contractor's seat (they prepay VAT at their location), exposed in
the projects API and mapped by the connector into `Project.vat_method` / `Project.cross_region`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from yecai import jsonutil
from yecai.connectors.generic_rest.connector import field_mapper
from yecai.connectors.generic_rest.spec import read_spec
from yecai.connectors.pm_sandbox.connector import SPEC
from yecai.domain.documents import Project, VatMethod
from yecai.sandbox.pm import Dataset, generate
from yecai.sandbox.pm.projects import REGISTERED_CITIES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fifty() -> Dataset:
    return generate(projects=50, months=1, seed=42)


def latest(dataset: Dataset, entity: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for version in dataset.histories[entity]:
        out[version.record.key] = version.record
    return out


def test_about_a_third_of_projects_are_cross_region_by_their_location(fifty: Dataset) -> None:
    projects = list(latest(fifty, "project").values())
    away = [p for p in projects if p.cross_region]  # type: ignore[attr-defined]
    assert 0.25 <= len(away) / len(projects) <= 0.45, len(away)
    for project in projects:
        local = project.city in REGISTERED_CITIES and not project.district.endswith("县")  # type: ignore[attr-defined]
        assert project.cross_region is (not local)  # type: ignore[attr-defined]


def test_simple_method_projects_bill_at_three_percent(fifty: Dataset) -> None:
    projects = latest(fifty, "project")
    contracts = latest(fifty, "contract")
    simple = {code for code, p in projects.items() if p.vat_method == "简易计税"}  # type: ignore[attr-defined]
    assert 0 < len(simple) < len(projects) / 3
    for contract in contracts.values():
        if contract.contract_kind.value != "income":  # type: ignore[attr-defined]
            continue
        expected = Decimal("0.03") if contract.project_code in simple else Decimal("0.09")  # type: ignore[attr-defined]
        assert contract.tax_rate == expected  # type: ignore[attr-defined]
    issued = [i for i in latest(fifty, "invoice").values() if i.direction.value == "out"]  # type: ignore[attr-defined]
    assert any(i.project_code in simple for i in issued)  # type: ignore[attr-defined]
    for invoice in issued:
        rate = Decimal("0.03") if invoice.project_code in simple else Decimal("0.09")  # type: ignore[attr-defined]
        assert invoice.tax_rate == rate  # type: ignore[attr-defined]


def test_the_connector_maps_the_vat_fields(fifty: Dataset) -> None:
    to_document = field_mapper(
        read_spec(SPEC, secrets={"PM_SANDBOX_TOKEN": "x", "PM_WEBHOOK_SECRET": "x"})
        .streams["projects"]
        .fields
    )
    seen = set()
    for record in latest(fifty, "project").values():
        item = jsonutil.loads(jsonutil.dumps(record))
        project = Project.model_validate(to_document(item))
        assert project.cross_region is item["cross_region"]
        assert project.vat_method is (
            VatMethod.SIMPLE if item["vat_method"] == "简易计税" else VatMethod.GENERAL
        )
        seen.add((project.vat_method, project.cross_region))
    assert len(seen) >= 3
