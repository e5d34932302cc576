"""The nightly job's first steps for planning tests: a sandbox.pm served for the moment, its
projects and cost records pulled and validated into the store, as `run_sync_job` does."""

from __future__ import annotations

from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store.db import Store
from yecai.sync import intake


def pull_and_validate(store: Store, *, projects: int, seed: int) -> None:
    server, _dataset = start_pm(projects=projects, months=1, seed=seed)
    try:
        connector = PmSandboxConnector(server.base_url, DEFAULT_TOKEN)
        for stream in ("projects", "cost_records"):
            intake.pull(store, connector, stream, connection="pm")
            intake.validate_staged(store, connector, stream, connection="pm")
    finally:
        server.stop()
