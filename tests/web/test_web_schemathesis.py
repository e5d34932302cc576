"""Schemathesis against the OpenAPI of the app: generated requests to every operation, as an
administrator (who may call all of them) and as a project manager, must never make the server
fail (5xx) — bad input gets a 4xx with a message, whatever it is.

The operations are driven through schemathesis' Hypothesis strategies directly (one test per
operation), which keeps the test independent of its pytest plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.support.planting import plant
from yecai.store.db import open_store
from yecai.web.app import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    workdir: Path = tmp_path_factory.mktemp("schemathesis")
    store = open_store(f"sqlite:///{workdir / 'yecai.sqlite'}")
    planted = plant(store, workdir)
    app = create_app(store, settings=planted.settings)
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app), planted.tokens
    finally:
        store.close()


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize(("who", "examples"), [("admin", 25), ("pm1", 8)])
def test_no_server_errors(api: tuple[Any, dict[str, str]], who: str, examples: int) -> None:
    schema, tokens = api
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    operations = _operations(schema)
    assert len(operations) >= 35  # every API operation is in the schema
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        check()
