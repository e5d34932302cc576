"""Fixtures of the web tests (API, role matrix, console pages, browser).

`api_world` is the planted data (tests/support/planting.py) behind a test client, on SQLite and
PostgreSQL, fresh for each test; `rbac_world` the same data and app once per module on SQLite, for
the role matrix, which only reads. `showcase` is a store full of demo data for the console
(tests/support/showcase.py), once per module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.planting import Planted, plant
from tests.support.showcase import Showcase, build_showcase
from yecai.auth import users
from yecai.auth.principal import SYSTEM
from yecai.store.db import Store, open_store
from yecai.web.app import create_app


@pytest.fixture
def api_world(store: Store, tmp_path: Path) -> Iterator[tuple[TestClient, Planted, Store]]:
    planted = plant(store, tmp_path)
    app = create_app(store, settings=planted.settings)
    with TestClient(app) as client:
        yield client, planted, store


@pytest.fixture
def planted_world(store: Store, tmp_path: Path) -> Iterator[Callable[..., tuple[TestClient, Planted]]]:
    """Like `api_world`, with settings changed for the test (e.g. tighter sign-in limits)."""
    clients: list[TestClient] = []

    def build(**settings: object) -> tuple[TestClient, Planted]:
        planted = plant(store, tmp_path)
        assert planted.settings is not None
        app = create_app(store, settings=planted.settings.model_copy(update=settings))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client, planted

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def rbac_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Planted, Store]]:
    workdir: Path = tmp_path_factory.mktemp("rbac")
    store = open_store(f"sqlite:///{workdir / 'yecai.sqlite'}")
    planted = plant(store, workdir)
    # the user the matrix's user routes act on: disabling it or resetting its password revokes its
    # tokens for good, so it must not be one of the roles the matrix signs in as
    users.create_user(store, username="matrix.target", role="auditor", by=SYSTEM)
    app = create_app(store, settings=planted.settings)
    try:
        yield app, planted, store
    finally:
        store.close()


@pytest.fixture(scope="module")
def showcase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Showcase]:
    built = build_showcase(tmp_path_factory.mktemp("console"))
    try:
        yield built
    finally:
        built.close()
