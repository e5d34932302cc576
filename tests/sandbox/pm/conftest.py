"""Fixtures of the sandbox.pm tests: one sandbox.pm served over HTTP per module.

A module sets `SANDBOX = {...}` (keyword arguments of `start_sandbox`) to serve another dataset;
without it `pm_sandbox` serves 50 projects over one month, seed 42. `client` is an HTTP client
with the sandbox's bearer token, `dataset` what the sandbox serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from yecai.sandbox.pm import DEFAULT_TOKEN, Dataset, start_sandbox

DEFAULTS: dict[str, Any] = {"projects": 50, "months": 1, "seed": 42}


@pytest.fixture(scope="module")
def pm_sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[str, Dataset]]:
    """(base URL, dataset) of the module's running sandbox.pm."""
    server, dataset = start_sandbox(**getattr(request.module, "SANDBOX", DEFAULTS))
    with server:
        yield server.base_url, dataset


@pytest.fixture(scope="module")
def client(pm_sandbox: tuple[str, Dataset]) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(base_url=pm_sandbox[0], headers=auth, timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def dataset(pm_sandbox: tuple[str, Dataset]) -> Dataset:
    return pm_sandbox[1]
