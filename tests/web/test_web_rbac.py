"""The role matrix: every route of the app × every role (and nobody), against its declared rule.

A route without a rule stops the app from being built; an /api route missing from EXPECTED fails
here, so adding a route forces a decision about who may call it. For each route and role the
answer must be 403 exactly when the role lacks the permission, and never 401/403 when it has it;
a public route answers everyone alike.
"""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from tests.support.planting import ROLE_USERS, Planted
from yecai.auth.roles import ROLE_PERMISSIONS, Permission, Role
from yecai.store.db import Store
from yecai.web.security import PUBLIC, SIGNED_IN, api_routes, check_rules, rule_of

pytestmark = pytest.mark.slow

P = Permission
# Every /api route and the rule it must have. A new route fails the test until it is listed here.
EXPECTED: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/session"): PUBLIC,
    ("DELETE", "/api/v1/session"): SIGNED_IN,
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("POST", "/api/v1/me/password"): SIGNED_IN,
    ("GET", "/api/v1/dashboard"): P.READ,
    ("GET", "/api/v1/runs"): P.READ,
    ("GET", "/api/v1/projects"): P.READ,
    ("GET", "/api/v1/projects/{code}/pnl"): P.READ,
    ("GET", "/api/v1/reports/monthly"): P.READ,
    ("GET", "/api/v1/reports/monthly.xlsx"): P.READ,
    ("GET", "/api/v1/reports/monthly.html"): P.READ,
    ("GET", "/api/v1/documents"): P.READ,
    ("GET", "/api/v1/documents/{document_id}"): P.READ,
    ("GET", "/api/v1/postings"): P.READ,
    ("GET", "/api/v1/postings/{posting_id}"): P.READ,
    ("GET", "/api/v1/vouchers/{number}"): P.READ,
    ("GET", "/api/v1/reconciliations"): P.READ,
    ("GET", "/api/v1/reconciliations/{run_id}"): P.READ,
    ("GET", "/api/v1/reconciliations/{run_id}/workbook"): P.READ,
    ("POST", "/api/v1/reconciliations"): P.OPERATE,
    ("GET", "/api/v1/reconcile/matching"): P.READ,
    ("POST", "/api/v1/postings/{posting_id}/replay"): P.OPERATE,
    ("POST", "/api/v1/postings/{posting_id}/skip"): P.OPERATE,
    ("POST", "/api/v1/postings/approve"): P.APPROVE,
    ("GET", "/api/v1/jobs"): P.READ,
    ("POST", "/api/v1/jobs/{name}/run"): P.OPERATE,
    ("GET", "/api/v1/dead-letters"): P.READ,
    ("POST", "/api/v1/dead-letters/{letter_id}/replay"): P.OPERATE,
    ("POST", "/api/v1/dead-letters/{letter_id}/skip"): P.OPERATE,
    ("POST", "/api/v1/connections/{name}/pause"): P.OPERATE,
    ("POST", "/api/v1/connections/{name}/resume"): P.OPERATE,
    ("GET", "/api/v1/connections"): P.READ,
    ("PUT", "/api/v1/connections/{name}/secrets/{key}"): P.CONFIGURE,
    ("DELETE", "/api/v1/connections/{name}/secrets/{key}"): P.CONFIGURE,
    ("POST", "/api/v1/connections/{name}/test"): P.CONFIGURE,
    ("GET", "/api/v1/mappings/{job}"): P.READ,
    ("PUT", "/api/v1/mappings/{job}/{table}/{key}"): P.CONFIGURE,
    ("GET", "/api/v1/mappings/{job}/unmapped"): P.READ,
    ("GET", "/api/v1/rules"): P.READ,
    ("POST", "/api/v1/rules/check"): P.OPERATE,
    ("GET", "/api/v1/mappings/{job}/workbook"): P.READ,
    ("POST", "/api/v1/mappings/{job}/workbook"): P.CONFIGURE,
    ("POST", "/api/v1/imports"): P.OPERATE,
    ("GET", "/api/v1/column-templates"): P.READ,
    ("PUT", "/api/v1/column-templates"): P.CONFIGURE,
    ("DELETE", "/api/v1/column-templates/{name}"): P.CONFIGURE,
    ("GET", "/api/v1/users"): P.MANAGE_USERS,
    ("POST", "/api/v1/users"): P.MANAGE_USERS,
    ("PATCH", "/api/v1/users/{username}"): P.MANAGE_USERS,
    ("GET", "/api/v1/tokens"): SIGNED_IN,
    ("POST", "/api/v1/tokens"): SIGNED_IN,
    ("DELETE", "/api/v1/tokens/{token_id}"): SIGNED_IN,
    ("GET", "/api/v1/audit"): P.READ,
    ("GET", "/api/v1/alerts"): P.READ,
    ("POST", "/api/v1/alerts/{channel}/test"): P.CONFIGURE,
}

# values for path parameters: existing objects where the route reads one
PARAMS = {
    "document_id": "1",
    "posting_id": "1",
    "number": "JZ-0001",
    "name": "pm",
    "letter_id": "1",
    "key": "PM_TOKEN",
    "job": "books",
    "table": "suppliers",
    "username": "matrix.target",
    "token_id": "999999",
    "connection": "nowhere",
    "channel": "nowhere",
}
# one body that satisfies (or is harmlessly refused by) every route's model: extra keys are ignored
BODY = {
    "reason": "matrix",
    "ids": [999999],
    "value": "V01",
    "version": "stale",
    "name": "matrix",
    "current": "x",
    "new": "y",
}


def _normalise(path: str) -> str:
    return re.sub(r"\{(\w+):path\}", r"{\1}", path)


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: PARAMS.get(m.group(1), "1"), path)


def test_a_route_without_a_rule_stops_the_app() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/api/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {}

    app.include_router(router)
    with pytest.raises(RuntimeError, match="/api/v1/forgotten"):
        check_rules(app)


def test_every_api_route_is_listed_with_its_rule(rbac_world: tuple[FastAPI, Planted, Store]) -> None:
    app, _, _ = rbac_world
    declared = {
        (method, _normalise(path)): rule_of(route)
        for route, path in api_routes(app)
        if path.startswith("/api/")
        for method in route.methods
    }
    assert declared == EXPECTED


def _cases(app: FastAPI) -> list[tuple[str, str, object]]:
    return sorted(
        (method, path, rule_of(route))
        for route, path in api_routes(app)
        for method in route.methods
        if method != "HEAD"
    )


@pytest.mark.parametrize("who", [*ROLE_USERS, None])
def test_role_matrix(rbac_world: tuple[FastAPI, Planted, Store], who: str | None) -> None:
    app, planted, _ = rbac_world
    client = TestClient(app, follow_redirects=False)  # judge each route's own answer
    headers = {"Authorization": f"Bearer {planted.tokens[who]}"} if who else {}
    role = Role(ROLE_USERS[who][0]) if who else None
    wrong: list[str] = []
    checked = 0
    for method, path, rule in _cases(app):
        if path.startswith(("/docs", "/redoc", "/openapi")) or (
            path == "/api/v1/session" and method == "DELETE"
        ):
            continue  # signing out would end nothing for a bearer token; covered in test_web_api
        response = client.request(method, _url(path), headers=headers, json=BODY if method != "GET" else None)
        checked += 1
        status = response.status_code
        if rule == PUBLIC:
            # a public route may refuse for its own reasons (a webhook's signature, login CSRF),
            # but never because of who is signed in: the answer is the same as for nobody
            anonymous = client.request(method, _url(path), json=BODY if method != "GET" else None)
            ok = status == anonymous.status_code
        elif role is None:
            ok = status == 401
        elif rule == SIGNED_IN or Permission(str(rule)) in ROLE_PERMISSIONS[role]:
            ok = status not in (401, 403)
        else:
            ok = status == 403
        if not ok:
            wrong.append(f"{method} {path} as {who}: {status} {response.text[:200]}")
    assert checked >= len(EXPECTED)
    assert not wrong, "\n".join(wrong)


def test_html_clients_are_sent_to_the_login_page(rbac_world: tuple[FastAPI, Planted, Store]) -> None:
    app, _, _ = rbac_world
    client = TestClient(app, follow_redirects=False)
    response = client.get("/api/v1/dashboard", headers={"Accept": "text/html"})
    assert response.status_code == 401  # the API never redirects
    pages = [
        path
        for route, path in api_routes(app)
        if not path.startswith(("/api/", "/webhooks", "/healthz"))
        and "GET" in route.methods
        and rule_of(route) not in (PUBLIC, None)
        and "{" not in path
    ]
    for path in pages:
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
