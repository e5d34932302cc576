"""The sources framework: pagination styles, HMAC auth, partitions, deletions and YAML connectors.

A fake PM API over httpx MockTransport serves the same rows with every pagination style; the
importer stores them on SQLite and PostgreSQL; hypothesis checks every page size partitions the
rows exactly once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from yecai.connectors.generic_rest import GenericRestConnector
from yecai.connectors.generic_rest.spec import parse_spec
from yecai.errors import ConfigurationError
from yecai.sources.auth import HmacAuth, HmacScheme, sorted_query
from yecai.sources.paging import CursorPagination, OffsetPagination, PageNumberPagination
from yecai.sources.rest import RestSource, RestStream
from yecai.store.db import Store
from yecai.store.tables import Document, Record, StreamState
from yecai.sync.intake import pull, validate_staged

BEIJING = dt.timezone(dt.timedelta(hours=8))


def row(n: int, project: str = "XM1", **change: Any) -> dict[str, Any]:
    stamp = dt.datetime(2026, 10, 1, 8, tzinfo=BEIJING) + dt.timedelta(minutes=n)
    return {
        "id": f"R{n:04d}",
        "proj": project,
        "type": "人工费",
        "date": "2026-10-01",
        "money": "100.00",
        "updated": stamp.isoformat(),
        **change,
    }


class FakeApi:
    """Serves `rows` under /page, /offset and /cursor, filtered by `since` and `proj`."""

    def __init__(self, rows: list[dict[str, Any]], secret: str | None = None) -> None:
        self.rows = rows
        self.secret = secret
        self.requests: list[httpx.Request] = []

    def _visible(self, params: dict[str, str]) -> list[dict[str, Any]]:
        rows = sorted(self.rows, key=lambda r: (r["updated"], r["id"]))
        if "since" in params:
            since = dt.datetime.fromisoformat(params["since"])
            rows = [r for r in rows if dt.datetime.fromisoformat(r["updated"]) >= since]
        if "proj" in params:
            rows = [r for r in rows if r["proj"] == params["proj"]]
        return rows

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.secret is not None:
            canonical = "\n".join(
                [
                    request.method,
                    request.url.path,
                    sorted_query(request),
                    request.headers["X-Timestamp"],
                    request.headers["X-Nonce"],
                ]
            )
            expected = hmac.new(self.secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
            if request.headers.get("X-Sign") != expected:
                return httpx.Response(401, json={"code": 401, "message": "bad signature"})
        params = dict(request.url.params)
        rows = self._visible(params)
        style = request.url.path.strip("/")
        if style == "page":
            page, size = int(params["page"]), int(params["page_size"])
            chunk = rows[(page - 1) * size : page * size]
            data = {"items": chunk, "has_more": page * size < len(rows)}
        elif style == "offset":
            offset, limit = int(params["offset"]), int(params["limit"])
            data = {"list": rows[offset : offset + limit], "total": len(rows)}
        else:
            start = int(params.get("cursor", "0"))
            size = int(params["page_size"])
            chunk = rows[start : start + size]
            data = {"items": chunk, "next": str(start + size) if start + size < len(rows) else None}
        text = (
            json.dumps({"code": 0, "data": data}, ensure_ascii=False)
            .replace('"money": "', '"money": ')
            .replace('", "updated"', ', "updated"')
        )
        return httpx.Response(200, text=text)


def spec_for(style: str, size: int, **extra: Any) -> dict[str, Any]:
    pagination: dict[str, Any] = {"style": style, "page_size": size}
    records = "data.items"
    if style == "offset":
        pagination["total_path"] = "data.total"
        records = "data.list"
    if style == "cursor":
        pagination["next_cursor_path"] = "data.next"
    return {
        "name": "fake",
        "base_url": "http://fake.test",
        "streams": {
            "costs": {
                "path": f"/{style}",
                "document": "cost_record",
                "primary_key": "id",
                "records_path": records,
                "cursor_field": "updated",
                "cursor_param": "since",
                "pagination": pagination,
                "fields": {
                    "source_key": "id",
                    "project_code": "proj",
                    "category": {"from": "type", "map": {"人工费": "labour", "材料费": "material"}},
                    "business_date": "date",
                    "amount": "money",
                },
                **extra,
            }
        },
    }


def connector(
    api: FakeApi, spec: dict[str, Any], secrets: dict[str, str] | None = None
) -> GenericRestConnector:
    return GenericRestConnector(
        parse_spec(spec, secrets=secrets or {}), connection="pm", transport=httpx.MockTransport(api)
    )


def read_all(api: FakeApi, style: str, size: int) -> list[str]:
    c = connector(api, spec_for(style, size))
    source = c.source()
    try:
        return [item["id"] for page in source.pages(c.streams["costs"].stream) for item in page.items]
    finally:
        source.close()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 60), st.integers(1, 25), st.sampled_from(["page", "offset", "cursor"]))
def test_every_style_reads_every_row_exactly_once(count: int, size: int, style: str) -> None:
    api = FakeApi([row(n) for n in range(count)])
    assert read_all(api, style, size) == [f"R{n:04d}" for n in range(count)]


@pytest.mark.parametrize("style", ["page", "offset", "cursor"])
def test_styles_end_cleanly_on_an_empty_source(style: str) -> None:
    api = FakeApi([])
    assert read_all(api, style, 10) == []
    assert len(api.requests) == 1


def test_pagination_objects_say_what_comes_next() -> None:
    page = PageNumberPagination(page_size=2)
    assert page.advance({"page": 1, "page_size": 2}, {"data": {"has_more": True}}, [1, 2]) == {
        "page": 2,
        "page_size": 2,
    }
    assert page.advance({"page": 1, "page_size": 2}, {"data": {}}, [1]) is None
    offset = OffsetPagination(page_size=2)
    assert offset.advance({"offset": 0, "limit": 2}, {"data": {"total": 3}}, [1, 2]) == {
        "offset": 2,
        "limit": 2,
    }
    assert offset.advance({"offset": 2, "limit": 2}, {"data": {"total": 3}}, [3]) is None
    cursor = CursorPagination(page_size=2)
    assert cursor.advance({"page_size": 2}, {"data": {"next_cursor": "abc"}}, [1]) == {
        "page_size": 2,
        "cursor": "abc",
    }
    assert cursor.advance({"page_size": 2}, {"data": {"next_cursor": None}}, [1]) is None


def test_yaml_connector_imports_with_value_maps(store: Store) -> None:
    api = FakeApi([row(1), row(2, type="材料费"), row(3, type="挖机费")])
    c = connector(api, spec_for("cursor", 2))
    result = pull(store, c, "costs", connection="pm")
    assert result.new == 3
    checked = validate_staged(store, c, "costs", connection="pm")
    assert (checked.valid, checked.invalid) == (2, 1)
    assert "挖机费" in checked.issues[0][1][0].zh  # unknown values pass through and are named
    with store.transaction() as session:
        docs = dict(session.execute(select(Document.source_key, Document.category)).all())
    assert docs == {"R0001": "labour", "R0002": "material"}


def test_partitions_keep_a_cursor_each(store: Store) -> None:
    projects = [
        {"code": "XM1", "updated": "2026-10-01T00:00:00+08:00"},
        {"code": "XM2", "updated": "2026-10-01T00:00:00+08:00"},
    ]
    costs = [row(1, "XM1"), row(2, "XM2"), row(3, "XM2")]
    spec = spec_for("page", 10, partition={"param": "proj", "parent": "projects", "key": "code"})
    spec["streams"]["projects"] = {
        "path": "/projects",
        "document": "project",
        "primary_key": "code",
        "cursor_field": "updated",
        "cursor_param": "since",
        "fields": {"code": "code", "name": "code"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/projects":
            return httpx.Response(200, json={"code": 0, "data": {"items": projects, "has_more": False}})
        return FakeApi(costs)(request)

    c = GenericRestConnector(
        parse_spec(spec, secrets={}), connection="pm", transport=httpx.MockTransport(handler)
    )
    pull(store, c, "projects", connection="pm")
    result = pull(store, c, "costs", connection="pm")
    assert result.new == 3
    with store.transaction() as session:
        states = dict(session.execute(select(StreamState.stream, StreamState.cursor)).all())
    assert states["costs[XM1]"] == row(1)["updated"]
    assert states["costs[XM2]"] == row(3)["updated"]


def test_tombstones_become_deleted_documents(store: Store) -> None:
    api = FakeApi([row(1), row(2)])
    spec = spec_for("page", 10, deleted_field="is_deleted")
    c = connector(api, spec)
    pull(store, c, "costs", connection="pm")
    validate_staged(store, c, "costs", connection="pm")
    api.rows[1] = {"id": "R0002", "is_deleted": 1, "updated": "2026-10-02T00:00:00+08:00"}
    pull(store, c, "costs", connection="pm")
    checked = validate_staged(store, c, "costs", connection="pm")
    assert checked.deleted == 1
    with store.transaction() as session:
        versions = session.execute(
            select(Document.deleted, Document.amount)
            .where(Document.source_key == "R0002")
            .order_by(Document.id)
        ).all()
        statuses = set(session.scalars(select(Record.status)))
    assert [tuple(v) for v in versions] == [(False, Decimal("100.00")), (True, None)]
    assert "deleted" in statuses


def test_hmac_auth_is_accepted_and_a_wrong_secret_is_refused() -> None:
    api = FakeApi([row(1)], secret="s3cret")
    spec = spec_for("page", 10)
    spec["auth"] = {"type": "hmac", "app_key": "${KEY}", "secret": "${SECRET}"}
    assert len(read_all_with(api, spec, {"KEY": "k1", "SECRET": "s3cret"})) == 1
    assert api.requests[-1].headers["X-App-Key"] == "k1"
    with pytest.raises(Exception, match="401"):
        read_all_with(api, spec, {"KEY": "k1", "SECRET": "wrong"})


def read_all_with(api: FakeApi, spec: dict[str, Any], secrets: dict[str, str]) -> list[str]:
    c = connector(api, spec, secrets)
    source = c.source()
    try:
        return [item["id"] for page in source.pages(c.streams["costs"].stream) for item in page.items]
    finally:
        source.close()


def test_hmac_signature_is_over_the_canonical_string() -> None:
    auth = HmacAuth(
        "k",
        "secret",
        HmacScheme(encoding="base64", signature_prefix="HMAC "),
        clock=lambda: 1700000000.5,
        nonce=lambda: "n1",
    )
    request = httpx.Request("GET", "http://x.test/api/v1/items?b=2&a=1&a=0")
    signed = next(auth.auth_flow(request))
    canonical = "GET\n/api/v1/items\na=0&a=1&b=2\n1700000000\nn1"
    expected = base64.b64encode(hmac.new(b"secret", canonical.encode(), hashlib.sha256).digest()).decode()
    assert signed.headers["X-Sign"] == "HMAC " + expected
    assert signed.headers["X-Timestamp"] == "1700000000"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"document": "costs"}, "unknown document"),
        ({"pagination": {"style": "pages"}}, "pagination.style"),
        ({"fields": {"amount": {"from": "a", "const": 1}}}, "exactly one of"),
        ({"partition": {"param": "p", "parent": "nope", "key": "k"}}, "not a stream"),
    ],
)
def test_spec_errors_are_clear(change: dict[str, Any], message: str) -> None:
    spec = spec_for("page", 10)
    spec["streams"]["costs"].update(change)
    with pytest.raises(ConfigurationError, match=message):
        parse_spec(spec, secrets={})


def test_missing_secrets_are_named() -> None:
    spec = spec_for("page", 10)
    spec["auth"] = {"type": "bearer", "token": "${PM_TOKEN}"}
    with pytest.raises(ConfigurationError) as caught:
        parse_spec(spec, secrets={})
    assert "PM_TOKEN" in caught.value.zh


def test_rest_source_raises_for_a_missing_record_list() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 0, "data": {"rows": []}})

    source = RestSource("http://x.test", transport=httpx.MockTransport(handler))
    with pytest.raises(Exception, match=r"data\.items"):
        list(source.pages(RestStream(name="s", path="/s", primary_key="id")))


# ---- a value that changes back (issue 12): new means "differs from the latest version" ----

ROW_KEYS = iter(range(1_000_000))


def latest_of(store: Store, key: str) -> tuple[dict[str, Any], Any, bool]:
    """The latest record's payload and the latest document's amount and deletion of `key`."""
    with store.transaction() as session:
        payload = session.scalars(
            select(Record.payload).where(Record.source_key == key).order_by(Record.id.desc()).limit(1)
        ).one()
        doc = session.execute(
            select(Document.amount, Document.deleted)
            .where(Document.source_key == key)
            .order_by(Document.id.desc())
            .limit(1)
        ).one()
    return json.loads(payload), doc.amount, doc.deleted


def test_a_row_that_changes_back_or_comes_back_after_deletion_is_new(store: Store) -> None:
    api = FakeApi([row(1)])
    c = connector(api, spec_for("page", 10, deleted_field="is_deleted"))
    news = []
    for change in ({"money": "100.00"}, {"money": "200.00"}, {"money": "100.00"}, {"is_deleted": 1}, {}):
        api.rows[0] = {**row(1), **change}
        news.append(pull(store, c, "costs", connection="pm").new)
        validate_staged(store, c, "costs", connection="pm")
    assert news == [1, 1, 1, 1, 1]
    _, amount, deleted = latest_of(store, "R0001")
    assert (amount, deleted) == (Decimal("100.00"), False)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(st.sampled_from(["100.00", "200.00", "300.00"]), st.just("deleted")), min_size=1, max_size=6
    )
)
def test_a_pulled_row_is_new_exactly_when_it_differs_from_the_latest(
    store: Store, sequence: list[str]
) -> None:
    key = f"RP{next(ROW_KEYS):04d}"
    api = FakeApi([])
    c = connector(api, spec_for("page", 10, deleted_field="is_deleted"))
    latest: dict[str, Any] | None = None
    amount = "100.00"
    for n, step in enumerate(sequence):
        deleted = step == "deleted"
        amount = amount if deleted else step
        item = {**row(1), "id": key, "money": amount, **({"is_deleted": 1} if deleted else {})}
        api.rows[:] = [item]
        result = pull(store, c, "costs", connection="pm")
        validate_staged(store, c, "costs", connection="pm")
        stored = {**item, "money": Decimal(amount)}
        assert result.new == (0 if stored == latest else 1), (sequence, n)
        latest = stored
        payload, doc_amount, doc_deleted = latest_of(store, key)
        assert (Decimal(str(payload["money"])), bool(payload.get("is_deleted"))) == (Decimal(amount), deleted)
        assert doc_deleted == deleted
        if not deleted:
            assert doc_amount == Decimal(amount)
