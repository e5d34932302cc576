"""A small real world for the report tests: sandbox.pm and sandbox.kingdee running, one sync job
posting costs, revenue and payments, and a workspace file that names them.

The job is what a company that wants the monthly operating analysis runs: projects, costs,
contracts, budgets, progress and payment requests pulled; cost_actuals, revenue (投入法) and
payment rule sets posted into Kingdee. Secrets go into the store's SecretBox, never the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from yecai.demo import identity_of
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.data import Dataset
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.secrets import SecretBox, load_key
from yecai.settings import Settings
from yecai.store.db import Store, open_store
from yecai.sync.launch import run_sync
from yecai.workspace import Workspace, load_workspace

JOB = "books"
STREAMS = ["projects", "cost_records", "contracts", "budget_lines", "progress_reports", "payment_requests"]
RULE_SETS = ["cost_actuals", "revenue", "payment"]


@dataclass(slots=True)
class ReportWorld:
    workdir: Path
    settings: Settings
    store: Store
    workspace: Workspace
    secrets: SecretBox
    dataset: Dataset
    credentials: dict[str, Any]

    @property
    def identity(self) -> Any:
        return identity_of(self.credentials)


@contextmanager
def report_world(
    workdir: Path, *, projects: int = 4, months: int = 2, seed: int = 7, database_url: str | None = None
) -> Iterator[ReportWorld]:
    """Both sandboxes up, one full sync done; everything stopped and closed on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    pm_server, dataset = start_pm(projects=projects, months=months, seed=seed)
    kd_server, credentials = start_kingdee(workdir / "kingdee")
    space_file = workdir / "yecai.yaml"
    space_file.write_text(
        yaml.safe_dump(
            {
                "connections": {
                    "pm": {
                        "kind": "source",
                        "connector": "pm_sandbox",
                        "base_url": pm_server.base_url,
                        "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}", "PM_WEBHOOK_SECRET": "${PM_HOOK}"},
                    },
                    "kingdee": {
                        "kind": "kingdee",
                        "server_url": str(credentials["server_url"]),
                        "acct_id": str(credentials["acct_id"]),
                        "user_name": str(credentials["user_name"]),
                        "app_id": str(credentials["app_id"]),
                        "app_secret": "${KD_SECRET}",
                        "lcid": int(str(credentials["lcid"])),
                        "org_num": str(credentials["org_num"]),
                    },
                },
                "syncs": {
                    JOB: {"source": "pm", "target": "kingdee", "streams": STREAMS, "rule_sets": RULE_SETS}
                },
            },
            allow_unicode=True,
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    settings = Settings(workspace=space_file, workdir=workdir, database_url=database_url)
    store = open_store(settings.store_url())
    try:
        secrets = SecretBox(store, load_key(workdir))
        secrets.set("pm", "PM_TOKEN", DEFAULT_TOKEN)
        secrets.set("pm", "PM_HOOK", "report-hook-secret")
        secrets.set("kingdee", "KD_SECRET", str(credentials["app_secret"]))
        workspace = load_workspace(space_file)
        run_sync(store, workspace, JOB, secrets=secrets, backoff=0.01)
        yield ReportWorld(workdir, settings, store, workspace, secrets, dataset, dict(credentials))
    finally:
        store.close()
        kd_server.stop()
        pm_server.stop()
