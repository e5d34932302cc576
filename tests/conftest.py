"""Fixtures shared across the layers: stores on SQLite and on PostgreSQL, a running sandbox.kingdee.

Each layer's own fixtures are in its directory's conftest.py; plain helpers (builders, planted
data, fake receivers) are in tests/support/. A fixture is defined in one place only.

PostgreSQL tests use a throw-away database created on the machine's server (YECAI_TEST_PG_URL,
default postgresql+psycopg://postgres@127.0.0.1:5432/test) and dropped afterwards. They fail —
never skip — when the server does not answer: CI starts it, and a silent skip would hide a gap.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser
from sqlalchemy.engine import make_url

from tests.support.chromium import launched_chromium
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.store.db import Store, open_store

PG_URL = os.environ.get("YECAI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _admin_conninfo() -> str:
    url = make_url(PG_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that takes a PostgreSQL database is a `postgres` test, marked or not."""
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"yecai_t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} does not answer ({exc}); start it (see .ci/run)")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'yecai.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


def _running_kingdee(data_dir: Path) -> Iterator[dict[str, Any]]:
    server, credentials = start_kingdee(data_dir)
    try:
        yield credentials
    finally:
        server.stop()


@pytest.fixture
def kingdee(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The credentials of a sandbox.kingdee served for this test alone."""
    yield from _running_kingdee(tmp_path / "kd")


@pytest.fixture(scope="module")
def shared_kingdee(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The credentials of one sandbox.kingdee served for the whole module."""
    yield from _running_kingdee(tmp_path_factory.mktemp("kd"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, one per module (tests/support/chromium.py)."""
    with launched_chromium() as launched:
        yield launched
