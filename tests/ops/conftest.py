"""Fixtures of the backup and restore tests: a second, empty database of the same kind to restore into."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url


@pytest.fixture
def empty_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database beside `store_url` (a new SQLite file, or a new PostgreSQL database, dropped after)."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'yecai.sqlite'}"
        return
    url = make_url(store_url)
    name = f"{url.database}_r{uuid.uuid4().hex[:6]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
