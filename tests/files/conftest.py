"""Fixtures of the file-import tests.

`sqlite_store` is a store on SQLite for tests of reading and parsing, whose outcome does not depend
on the database (the ones that do take the root conftest's `store`, on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from yecai.store.db import Store, open_store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'files.sqlite'}")
    try:
        yield opened
    finally:
        opened.close()
