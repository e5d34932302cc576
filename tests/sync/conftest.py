"""Fixtures of the pipeline tests: the posting world and the corrections site, each served fresh
for the test and stopped after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.posting_world import Site, Systems, systems_for


@pytest.fixture
def posting_systems(tmp_path: Path) -> Iterator[Systems]:
    yield from systems_for(tmp_path)


@pytest.fixture
def correction_site(tmp_path: Path) -> Iterator[Site]:
    running = Site(tmp_path)
    yield running
    running.stop()
