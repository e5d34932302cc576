"""sandbox.pm's simulated clock: records appear, change and disappear as "now" moves forward.

An incremental client polling `updated_since` (with `include_deleted=true` for tombstones) while
the clock advances day by day ends up with exactly the server's state; the admin endpoint says
how many creations, edits and deletions each move made; the same seed and clock give the same
answers; the clock never goes back, and can run by itself.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from yecai.jsonutil import dumps
from yecai.sandbox.pm import DEFAULT_TOKEN, Dataset, start_sandbox

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
CHINA = timezone(timedelta(hours=8))
START = datetime(2026, 10, 1, tzinfo=CHINA)


@pytest.fixture
def at_start() -> Iterator[tuple[httpx.Client, Dataset]]:
    server, dataset = start_sandbox(projects=3, months=1, seed=8, now=START)
    with server, httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as client:
        yield client, dataset


def data(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return json.loads(response.text, parse_float=Decimal)["data"]


def pull(client: httpx.Client, since: str | None) -> list[dict[str, Any]]:
    """One incremental pull of every cost line changed since `since`, tombstones included."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        params: dict[str, Any] = {
            "page": page,
            "page_size": 500,
            "category": "all",
            "include_deleted": "true",
        }
        if since:
            params["updated_since"] = since
        answer = data(client.get("/api/v1/cost-records", params=params))
        rows.extend(answer["items"])
        if not answer["has_more"]:
            return rows
        page += 1


def test_an_incremental_client_follows_creations_edits_and_deletions(
    at_start: tuple[httpx.Client, Dataset],
) -> None:
    client, dataset = at_start
    assert pull(client, None) == []  # nothing booked yet at midnight of the first day
    replica: dict[str, dict[str, Any]] = {}
    seen: Counter[str] = Counter()
    since: str | None = None
    for _ in range(40):
        moved = data(client.post("/admin/clock", json={"advance_days": 1}))
        for row in pull(client, since):
            if row.get("deleted"):
                seen["deleted"] += 1
                assert set(row) == {"record_id", "id", "project_code", "deleted", "updated_at"}
                replica.pop(row["record_id"], None)
            elif replica.get(row["record_id"], {}).get("updated_at") != row["updated_at"]:
                # (updated_since is inclusive: the newest rows of the last pull come again; skip them)
                seen["updated" if row["record_id"] in replica else "created"] += 1
                replica[row["record_id"]] = row
            since = max(since or row["updated_at"], row["updated_at"])
        assert moved["events"]["total"] >= 0
        if datetime.fromisoformat(moved["now"]) > datetime.combine(
            dataset.last_day, datetime.min.time(), CHINA
        ) + timedelta(days=10):
            break
    now = datetime.fromisoformat(data(client.get("/admin/clock"))["now"])
    expected = {
        r.record_id: json.loads(dumps(r), parse_float=Decimal) for r in dataset.at(now).all_cost_records
    }
    assert replica == expected
    assert seen["created"] > 0
    assert seen["updated"] > 0
    assert seen["deleted"] > 0


def test_a_clock_move_reports_what_happened_and_the_feed_shows_it(
    at_start: tuple[httpx.Client, Dataset],
) -> None:
    client, dataset = at_start
    moved = data(client.post("/admin/clock", json={"now": "2026-10-20T12:00:00"}))  # no offset: +08:00
    now = datetime(2026, 10, 20, 12, tzinfo=CHINA)
    assert datetime.fromisoformat(moved["previous"]) == START
    assert datetime.fromisoformat(moved["now"]) == now
    kinds: Counter[str] = Counter()
    for versions in dataset.histories.values():
        keys: set[str] = set()
        for version in versions:
            if START < version.at <= now:
                kinds[
                    "deleted" if version.deleted else "updated" if version.record.key in keys else "created"
                ] += 1
            keys.add(version.record.key)
    assert moved["events"] == {**kinds, "total": sum(kinds.values())}
    # a deleted record: gone from the live list and from get-by-key, a tombstone in the feed
    deleted = next(v.record for v in dataset.histories["cost_record"] if v.deleted and START < v.at <= now)
    live = data(
        client.get(
            "/api/v1/cost-records",
            params={"category": "all", "page_size": 500, "project_code": deleted.project_code},
        )
    )
    assert deleted.id not in {row["record_id"] for row in live["items"]}
    assert client.get(f"/api/v1/cost-records/{deleted.id}").status_code == 404
    feed = data(
        client.get(
            "/api/v1/cost-records",
            params={
                "category": "all",
                "include_deleted": "true",
                "updated_since": deleted.updated_at.isoformat(),
                "page_size": 500,
            },
        )
    )
    tombstones = [row for row in feed["items"] if row.get("deleted")]
    assert {
        "record_id": deleted.id,
        "id": deleted.id,
        "project_code": deleted.project_code,
        "deleted": True,
        "updated_at": deleted.updated_at.isoformat(),
    } in tombstones


def test_the_clock_only_moves_forward_and_wants_a_clear_request(
    at_start: tuple[httpx.Client, Dataset],
) -> None:
    client, _ = at_start
    data(client.post("/admin/clock", json={"advance_hours": 30}))
    back = client.post("/admin/clock", json={"now": "2026-10-01T08:00:00+08:00"})
    assert back.status_code == 409
    assert back.json()["code"] == 40901
    for body in ({}, {"now": "2026-11-01T00:00:00+08:00", "advance_days": 1}, {"advance_days": -1}):
        refused = client.post("/admin/clock", json=body)
        assert refused.status_code == 400, body
        assert refused.json()["code"] == 40001
    assert data(client.get("/admin/clock"))["now"] == "2026-10-02T06:00:00+08:00"


def test_same_seed_and_same_clock_give_the_same_answers() -> None:
    paths = [
        "/api/v1/cost-records?category=all&page_size=500",
        "/api/v1/invoices?page_size=500",
        "/api/v1/payment-requests?limit=500",
        "/api/v1/attendance?page_size=300",
    ]
    answers = []
    for _ in range(2):
        server, _ = start_sandbox(projects=2, months=1, seed=4, now=START + timedelta(days=9))
        with server, httpx.Client(base_url=server.base_url, headers=AUTH, timeout=10) as client:
            first = [client.get(path).content for path in paths]
            client.post("/admin/clock", json={"advance_days": 13, "advance_hours": 5})
            answers.append((first, [client.get(path).content for path in paths]))
    assert answers[0] == answers[1]
    assert answers[0][0] != answers[0][1]


def test_the_clock_can_run_by_itself() -> None:
    server, _ = start_sandbox(
        projects=1, now=START, clock_speed=86_400, clock_tick_seconds=0.05
    )  # a day a second
    with server:
        time.sleep(0.6)
        now = datetime.fromisoformat(
            httpx.get(f"{server.base_url}/admin/clock", headers=AUTH, timeout=10).json()["data"]["now"]
        )
    assert START + timedelta(hours=6) < now < START + timedelta(days=3)
