"""The projects list: search by code or name, the contract value column and the 合计 row (issue 14, item 9).

On the planted data (two projects, four cost records), on SQLite and PostgreSQL: totals are summed
server-side in Decimal over every row the search kept; a cost record changed in the source counts
once, at its latest amount; the page and the API search alike; a project manager's totals cover
their own projects only.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.support.planting import PASSWORD, Planted
from yecai import jsonutil
from yecai.auth.principal import SYSTEM, Principal
from yecai.auth.roles import Role
from yecai.services import trace
from yecai.store.db import Store
from yecai.store.tables import Document, Record


def _second_version(
    session: Session, *, kind: str, key: str, project: str, amount: str | None, data: dict
) -> None:
    """A key's second revision, as a later delivery from the source stores it."""
    record = Record(
        connection="pm",
        stream=f"{kind}s",
        source_key=key,
        content_hash=jsonutil.content_hash(data),
        revision=2,
        payload=jsonutil.dumps(data),
        status="valid",
    )
    session.add(record)
    session.flush()
    session.add(
        Document(
            record_id=record.id,
            connection="pm",
            kind=kind,
            source_key=key,
            version=record.content_hash,
            project_code=project,
            business_date=dt.date(2026, 10, 6),
            category="labour" if kind == "cost_record" else None,
            amount=Decimal(amount) if amount else None,
            data=jsonutil.dumps(data),
        )
    )


def _new_versions(store: Store) -> None:
    """As the source delivers them: P1 gets a contract value, cost record C1 a new amount."""
    with store.transaction() as session:
        _second_version(
            session,
            kind="project",
            key="P1",
            project="P1",
            amount=None,
            data={"code": "P1", "name": "一号楼工程", "contract_value": Decimal("105470397.80")},
        )
        _second_version(
            session,
            kind="cost_record",
            key="C1",
            project="P1",
            amount="1300.25",
            data={"source_key": "C1", "project_code": "P1", "amount": Decimal("1300.25"), "v": 2},
        )


def test_totals_are_decimal_sums_of_the_latest_versions(api_world: tuple[TestClient, Planted, Store]) -> None:
    _, _, store = api_world
    _new_versions(store)
    rows = {r.code: r for r in trace.projects(store, SYSTEM)}
    assert rows["P1"].cost_total == Decimal("1310.25")  # C1's latest 1300.25 + C4 10.00; not 1200.50 too
    assert rows["P1"].contract_value == Decimal("105470397.80")
    assert rows["P2"].contract_value is None
    totals = trace.project_totals(list(rows.values()))
    assert totals.cost_total == Decimal("1310.25") + Decimal("899.99")
    assert totals.contract_value == Decimal("105470397.80")
    assert isinstance(totals.cost_total, Decimal)
    assert totals.projects == 2
    mine = trace.project_totals(trace.projects(store, Principal("pm2", Role.PROJECT_MANAGER, ("P2",))))
    assert (mine.projects, mine.cost_total, mine.contract_value) == (1, Decimal("899.99"), Decimal("0.00"))


def test_search_by_code_or_name(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, store = api_world
    assert [r.code for r in trace.projects(store, SYSTEM, search="p2")] == ["P2"]
    assert [r.code for r in trace.projects(store, SYSTEM, search=" 一号楼 ")] == ["P1"]
    assert trace.projects(store, SYSTEM, search="no such project") == []
    bearer = {"Authorization": f"Bearer {planted.tokens['finance']}"}
    found = client.get("/api/v1/projects", params={"q": "二号桥"}, headers=bearer)
    assert found.status_code == 200, found.text
    assert [p["code"] for p in found.json()] == ["P2"]


def test_the_page_searches_and_shows_the_totals_row(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, _, store = api_world
    _new_versions(store)
    signed = client.post("/api/v1/session", json={"username": "finance", "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    page = client.get("/projects")
    assert page.status_code == 200
    assert 'data-testid="projects-q"' in page.text
    footer = re.search(r'<tfoot data-testid="projects-totals">(.*?)</tfoot>', page.text, re.S)
    assert footer is not None
    assert "合计（2 个项目）" in footer.group(1)
    assert f"{Decimal('1310.25') + Decimal('899.99'):,.2f}" in footer.group(1)
    assert "105,470,397.80" in footer.group(1)
    one = client.get("/projects", params={"q": "P2"})
    assert 'href="/projects/P2"' in one.text
    assert 'href="/projects/P1"' not in one.text
    assert "合计（1 个项目）" in one.text
    assert "899.99" in re.search(r"<tfoot.*?</tfoot>", one.text, re.S).group(0)  # type: ignore[union-attr]
    assert 'value="P2"' in one.text  # the box keeps what was searched
