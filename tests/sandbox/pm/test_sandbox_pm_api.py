"""sandbox.pm REST API over real HTTP: auth, envelopes, pagination, filters, exact money, OpenAPI."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yecai.jsonutil import dumps
from yecai.sandbox.pm import (
    DEFAULT_TOKEN,
    Attendance,
    BoqItem,
    BudgetLine,
    Contract,
    CostCategory,
    CostRecord,
    Dataset,
    Invoice,
    OpeningBalance,
    PaymentRequest,
    ProgressReport,
    Project,
    ProjectStatus,
    Worker,
    start_sandbox,
)
from yecai.sandbox.pm.models import DIRECT_CATEGORIES
from yecai.sandbox.pm.paging import page_of

CHINA = timezone(timedelta(hours=8))
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def body(response: httpx.Response) -> Any:
    """Parse as yecai's clients do: floats become Decimal, never binary floats."""
    assert response.headers["content-type"].startswith("application/json")
    return json.loads(response.text, parse_float=Decimal)


def as_json(record: Project | CostRecord) -> dict[str, Any]:
    return json.loads(dumps(record), parse_float=Decimal)


def crawl(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint, page by page, checking the envelope on the way."""
    items: list[dict[str, Any]] = []
    page, total = 1, None
    while True:
        answer = body(client.get(path, params={**params, "page": page}))
        assert (answer["code"], answer["message"]) == (0, "ok")
        data = answer["data"]
        total = data["total"] if total is None else total
        assert data["total"] == total
        assert data["page"] == page
        assert len(data["items"]) <= data["page_size"]
        items.extend(data["items"])
        assert data["has_more"] == (len(items) < total)
        if not data["has_more"]:
            break
        page += 1
    assert len(items) == total
    return items


def api_order(records: Sequence[Project | CostRecord]) -> list[dict[str, Any]]:
    return [as_json(r) for r in sorted(records, key=lambda r: (r.updated_at, r.key))]


# --- health and auth --------------------------------------------------------------------------


def test_healthz_needs_no_token(pm_sandbox: tuple[str, Dataset]) -> None:
    answer = httpx.get(f"{pm_sandbox[0]}/healthz").json()
    assert answer["status"] == "ok"
    assert answer["cost_records"] == len(pm_sandbox[1].cost_records)
    assert answer["projects"] == 50


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {DEFAULT_TOKEN}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {DEFAULT_TOKEN}x"},
        {"Authorization": DEFAULT_TOKEN},
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/projects", "/api/v1/cost-records"])
def test_missing_or_wrong_token_is_refused(
    pm_sandbox: tuple[str, Dataset], headers: dict[str, str], path: str
) -> None:
    response = httpx.get(f"{pm_sandbox[0]}{path}", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 40101, "message": "令牌无效或已过期 / invalid or expired token"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_auth_is_checked_before_parameters(pm_sandbox: tuple[str, Dataset]) -> None:
    response = httpx.get(f"{pm_sandbox[0]}/api/v1/cost-records", params={"page_size": 9999})
    assert response.status_code == 401


@pytest.mark.slow
def test_another_token_can_be_configured() -> None:
    server, _ = start_sandbox(projects=1, token="s3cret")
    with server:
        url = f"{server.base_url}/api/v1/projects"
        assert httpx.get(url, headers=AUTH).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer s3cret"}).status_code == 200


# --- complete, exact, ordered -----------------------------------------------------------------


def test_every_cost_record_is_served_once_and_exactly(client: httpx.Client, dataset: Dataset) -> None:
    items = crawl(client, "/api/v1/cost-records", page_size=500)
    assert items == api_order(dataset.cost_records)
    assert len({item["record_id"] for item in items}) == len(dataset.cost_records)


def test_every_project_is_served_once_and_exactly(client: httpx.Client, dataset: Dataset) -> None:
    items = crawl(client, "/api/v1/projects", page_size=7)
    assert items == api_order(dataset.projects)


def test_money_and_quantities_are_exact_json_numbers(client: httpx.Client, dataset: Dataset) -> None:
    response = client.get("/api/v1/cost-records", params={"page_size": 500})
    by_id = {r.record_id: r for r in dataset.cost_records}
    items = body(response)["data"]["items"]
    for item in items:
        record = by_id[item["record_id"]]
        for name in ("quantity", "unit_price", "amount", "tax_rate"):
            value = item[name]
            expected = getattr(record, name)
            # a JSON number (never a string), parsed to the same Decimal with the same scale
            assert isinstance(value, Decimal | int), (name, value)
            assert str(Decimal(value)) == str(expected), (record.record_id, name)
            assert f'"{name}":{format(expected, "f")},' in response.text
        assert Decimal(item["amount"]) == (Decimal(item["quantity"]) * Decimal(item["unit_price"])).quantize(
            Decimal("0.01"), rounding="ROUND_HALF_UP"
        )
    projects = body(client.get("/api/v1/projects", params={"page_size": 500}))["data"]["items"]
    for item in projects:
        assert isinstance(item["contract_amount"], Decimal)
        assert item["contract_amount"] == dataset.project(item["project_code"]).contract_amount


def test_totals_over_http_equal_the_dataset_totals(client: httpx.Client, dataset: Dataset) -> None:
    items = crawl(client, "/api/v1/cost-records", page_size=500)
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item["category"]] = totals.get(item["category"], Decimal(0)) + item["amount"]
    # without a category filter the endpoint answers the three daily direct categories, as it always did
    expected = dataset.totals_by_category()
    assert totals == {category.value: expected[category] for category in DIRECT_CATEGORIES}
    everything = crawl(client, "/api/v1/cost-records", page_size=500, category="all")
    assert len(everything) == len(dataset.all_cost_records)
    assert sum((item["amount"] for item in everything), Decimal(0)) == dataset.total_amount()


# --- pagination -------------------------------------------------------------------------------


@given(
    rows=st.lists(st.integers(), max_size=60),
    page_size=st.integers(min_value=1, max_value=70),
)
def test_pages_partition_any_sequence(rows: list[int], page_size: int) -> None:
    seen: list[int] = []
    page = 1
    while True:
        current = page_of(rows, page, page_size)
        assert current.total == len(rows)
        seen.extend(current.items)
        if not current.has_more:
            break
        page += 1
    assert seen == rows
    assert list(page_of(rows, page + 1, page_size).items) == []


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_any_page_size_and_filters_partition_the_records(
    client: httpx.Client, dataset: Dataset, data: st.DataObject
) -> None:
    # Narrow to one project and a date window so that even page_size=1 stays a few dozen requests.
    project = data.draw(
        st.sampled_from([p for p in dataset.projects if dataset.cost_records_of(p.project_code)])
    )
    first = data.draw(st.dates(date(2026, 9, 25), date(2026, 11, 5)))
    last = first + timedelta(days=data.draw(st.integers(0, 10)))
    stamps = sorted({r.updated_at for r in dataset.cost_records_of(project.project_code)})
    since = data.draw(st.none() | st.sampled_from(stamps))
    page_size = data.draw(st.integers(min_value=1, max_value=500))
    params: dict[str, Any] = {
        "project_code": project.project_code,
        "business_date_from": first.isoformat(),
        "business_date_to": last.isoformat(),
        "page_size": page_size,
    }
    if since is not None:
        params["updated_since"] = since.isoformat()
    expected = [
        r
        for r in dataset.cost_records_of(project.project_code)
        if first <= r.business_date <= last and (since is None or r.updated_at >= since)
    ]
    assert crawl(client, "/api/v1/cost-records", **params) == api_order(expected)


def test_a_page_past_the_end_is_empty(client: httpx.Client, dataset: Dataset) -> None:
    data = body(client.get("/api/v1/projects", params={"page": 99, "page_size": 10}))["data"]
    assert data == {"items": [], "page": 99, "page_size": 10, "total": 50, "has_more": False}


def test_default_page_size_is_100(client: httpx.Client, dataset: Dataset) -> None:
    data = body(client.get("/api/v1/cost-records"))["data"]
    assert (data["page"], data["page_size"], len(data["items"])) == (1, 100, 100)
    assert data["total"] == len(dataset.cost_records)
    assert data["has_more"] is True


def test_unknown_project_has_no_costs(client: httpx.Client) -> None:
    data = body(client.get("/api/v1/cost-records", params={"project_code": "XM1999001"}))["data"]
    assert (data["items"], data["total"], data["has_more"]) == ([], 0, False)


# --- updated_since ----------------------------------------------------------------------------


def test_updated_since_includes_the_boundary(client: httpx.Client, dataset: Dataset) -> None:
    stamps = sorted(r.updated_at for r in dataset.cost_records)
    cut = stamps[len(stamps) // 2]
    items = crawl(client, "/api/v1/cost-records", page_size=500, updated_since=cut.isoformat())
    assert items == api_order([r for r in dataset.cost_records if r.updated_at >= cut])
    assert items[0]["updated_at"] == cut.isoformat()


@pytest.mark.parametrize(
    "spelling",
    ["2026-10-15T10:00:00+08:00", "2026-10-15T02:00:00Z", "2026-10-15T02:00:00+00:00", "2026-10-15T10:00:00"],
)
def test_updated_since_spellings_of_one_instant_agree(
    client: httpx.Client, dataset: Dataset, spelling: str
) -> None:
    # An offset-less value is China time, as the records are.
    cut = datetime(2026, 10, 15, 10, 0, tzinfo=CHINA)
    data = body(client.get("/api/v1/cost-records", params={"updated_since": spelling}))["data"]
    assert data["total"] == sum(1 for r in dataset.cost_records if r.updated_at >= cut)


def test_updated_since_a_date_means_its_midnight(client: httpx.Client, dataset: Dataset) -> None:
    data = body(client.get("/api/v1/projects", params={"updated_since": "2026-01-01"}))["data"]
    cut = datetime(2026, 1, 1, tzinfo=CHINA)
    assert data["total"] == sum(1 for p in dataset.projects if p.updated_at >= cut)
    assert 0 < data["total"] < 50


# --- bad parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "must_mention"),
    [
        ({"page_size": 501}, ["page_size", "501", "500"]),
        ({"page_size": 0}, ["page_size", "'0'", "1"]),
        ({"page_size": "lots"}, ["page_size", "'lots'", "整数", "integer"]),
        ({"page": 0}, ["page", "'0'"]),
        ({"page": "1.5"}, ["page", "'1.5'"]),
        ({"updated_since": "yesterday"}, ["updated_since", "'yesterday'", "ISO 8601"]),
        ({"updated_since": "2026-10-32T00:00:00"}, ["updated_since", "2026-10-32"]),
        ({"business_date_from": "2026/10/08"}, ["business_date_from", "'2026/10/08'", "YYYY-MM-DD"]),
        ({"business_date_to": "tomorrow"}, ["business_date_to", "'tomorrow'"]),
        (
            {"business_date_from": "2026-10-09", "business_date_to": "2026-10-08"},
            ["2026-10-09", "2026-10-08"],
        ),
    ],
)
def test_bad_parameters_get_a_bilingual_400(
    client: httpx.Client, params: dict[str, Any], must_mention: list[str]
) -> None:
    response = client.get("/api/v1/cost-records", params=params)
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == 40001
    assert set(answer) == {"code", "message"}
    chinese, english = answer["message"].split(" / ", 1)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    assert english.isascii()
    for fragment in must_mention:
        assert fragment in answer["message"], (fragment, answer["message"])


def test_page_size_limit_applies_to_projects_too(client: httpx.Client) -> None:
    response = client.get("/api/v1/projects", params={"page_size": 1000})
    assert response.status_code == 400
    assert "page_size" in response.json()["message"]


def test_an_unencoded_plus_gets_a_hint(pm_sandbox: tuple[str, Dataset]) -> None:
    # "+08:00" typed into a URL by hand reaches the server as " 08:00"
    url = f"{pm_sandbox[0]}/api/v1/cost-records?updated_since=2026-10-15T10:00:00+08:00"
    response = httpx.get(url, headers=AUTH)
    assert response.status_code == 400
    assert "%2B" in response.json()["message"]


def test_unknown_paths_and_methods_answer_in_the_same_shape(client: httpx.Client) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["code"] == 40401
    wrong = client.post("/api/v1/projects")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == 40501


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_document_is_served(pm_sandbox: tuple[str, Dataset]) -> None:
    document = httpx.get(f"{pm_sandbox[0]}/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/projects", "/api/v1/cost-records", "/healthz"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operation = document["paths"]["/api/v1/cost-records"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {
        "page",
        "page_size",
        "updated_since",
        "project_code",
        "business_date_from",
        "business_date_to",
        "category",
        "contract_no",
        "include_deleted",
    }
    assert parameters["page_size"]["schema"]["maximum"] == 500
    assert operation["security"] == [{"HTTPBearer": []}]
    assert {"200", "400", "401"} <= set(operation["responses"])
    docs = httpx.get(f"{pm_sandbox[0]}/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


@pytest.mark.parametrize(
    ("schema", "record"),
    [
        ("ProjectOut", Project),
        ("CostRecordOut", CostRecord),
        ("BoqItemOut", BoqItem),
        ("BudgetLineOut", BudgetLine),
        ("ContractOut", Contract),
        ("ProgressReportOut", ProgressReport),
        ("PaymentRequestOut", PaymentRequest),
        ("InvoiceOut", Invoice),
        ("WorkerOut", Worker),
        ("AttendanceOut", Attendance),
        ("OpeningBalanceOut", OpeningBalance),
    ],
)
def test_openapi_schemas_match_the_records(
    pm_sandbox: tuple[str, Dataset], schema: str, record: type
) -> None:
    properties = httpx.get(f"{pm_sandbox[0]}/openapi.json").json()["components"]["schemas"][schema][
        "properties"
    ]
    assert list(properties) == [f.name for f in dataclasses.fields(record)]
    money = {
        Project: ["contract_amount"],
        CostRecord: ["quantity", "unit_price", "amount", "tax_rate"],
        Invoice: ["amount", "tax_rate", "tax_amount", "total_amount"],
        Worker: ["day_rate"],
        Attendance: ["days", "overtime_hours"],
    }.get(record, ["amount"] if "amount" in properties else [])
    for name in money:
        assert properties[name]["type"] == "number", name
    if record is Project:
        assert properties["status"]["enum"] == [status.value for status in ProjectStatus]
    if record is CostRecord:
        assert properties["category"]["enum"] == [category.value for category in CostCategory]
        assert properties["category_name"]["enum"] == [category.chinese for category in CostCategory]


@pytest.mark.parametrize(
    ("path", "paging"),
    [
        ("/api/v1/projects", {"page", "page_size"}),
        ("/api/v1/contracts", {"page", "page_size"}),
        ("/api/v1/progress-reports", {"page", "page_size"}),
        ("/api/v1/boq-items", {"offset", "limit"}),
        ("/api/v1/budget-lines", {"offset", "limit"}),
        ("/api/v1/payment-requests", {"offset", "limit"}),
        ("/api/v1/workers", {"offset", "limit"}),
        ("/api/v1/invoices", {"cursor", "page_size"}),
        ("/api/v1/attendance", {"cursor", "page_size"}),
        ("/api/v1/opening-balances", {"page", "page_size"}),
    ],
)
def test_openapi_documents_each_endpoints_pagination(
    pm_sandbox: tuple[str, Dataset], path: str, paging: set[str]
) -> None:
    operation = httpx.get(f"{pm_sandbox[0]}/openapi.json").json()["paths"][path]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert paging <= names
    assert {"updated_since", "include_deleted"} <= names
    assert ("project_code" in names) == (path != "/api/v1/projects")
    assert not ({"page", "offset", "cursor"} - paging) & names  # one style per endpoint
