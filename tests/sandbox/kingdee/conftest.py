"""Fixtures of the sandbox.kingdee tests: the sandbox served over HTTP, and in-process.

`running` is one served sandbox per module (its data directory and the credentials it wrote);
`sdk` is Kingdee's official SDK signed in to it. `sandbox` is a fresh in-process sandbox per test;
`shared_sandbox` one per module, for tests whose state builds up across cases and hypothesis
examples (a function-scoped fixture would be reset under hypothesis).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.kingdee_calls import sdk_client
from yecai.sandbox.kingdee import KingdeeSandbox, SandboxServer, start_sandbox


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, dict[str, Any]]]:
    server, creds = start_sandbox(tmp_path_factory.mktemp("kingdee"))
    assert isinstance(server, SandboxServer)
    yield server, creds
    server.stop()


@pytest.fixture
def sandbox_server(running: tuple[SandboxServer, dict[str, Any]]) -> SandboxServer:
    return running[0]


@pytest.fixture
def sdk(running: tuple[SandboxServer, dict[str, Any]]) -> Any:
    return sdk_client(running[1])


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[KingdeeSandbox]:
    instance = KingdeeSandbox(tmp_path)
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KingdeeSandbox]:
    instance = KingdeeSandbox(tmp_path_factory.mktemp("kingdee-local"))
    yield instance
    instance.close()
