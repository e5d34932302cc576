"""Helpers shared by the job tests (no tests here): workspaces on running sandboxes, runtimes with a
private alert registry and fast timings, waiting, and reading what Kingdee holds."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from yecai.demo import identity_of
from yecai.jobs.config import JobSettings
from yecai.jobs.runner import Runtime, open_runtime
from yecai.kingdee.client import KingdeeClient
from yecai.observability.events import AlertHooks
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.secrets import SecretBox, load_key
from yecai.settings import Settings
from yecai.store.db import Store
from yecai.store.tables import Run
from yecai.sync.readback import read_yecai_vouchers

HOOK_SECRET = "hook-secret-for-tests"
FAST = {
    "lease_seconds": 3.0,
    "heartbeat_seconds": 0.3,
    "retry_base_seconds": 0.05,
    "retry_max_seconds": 0.2,
    "tick_seconds": 1,
    "limit_wait_seconds": 60.0,
}


def write_workspace(
    path: Path,
    *,
    kingdee: dict[str, Any],
    sources: dict[str, str],
    jobs: dict[str, dict[str, Any]],
    max_concurrency: int = 4,
) -> Path:
    """A yecai.yaml: source connections (name → base URL, builtin pm_sandbox connector, secrets as
    ${…} references), one Kingdee connection `kd` with the sandbox's credentials, and jobs."""
    connections: dict[str, Any] = {
        name: {
            "kind": "source",
            "connector": "pm_sandbox",
            "base_url": url,
            "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}", "PM_WEBHOOK_SECRET": "${PM_HOOK}"},
        }
        for name, url in sources.items()
    }
    connections["kd"] = {
        "kind": "kingdee",
        "server_url": str(kingdee["server_url"]),
        "acct_id": str(kingdee["acct_id"]),
        "user_name": str(kingdee["user_name"]),
        "app_id": str(kingdee["app_id"]),
        "app_secret": "${KD_APP_SECRET}",
        "lcid": int(kingdee["lcid"]),
        "org_num": str(kingdee["org_num"]),
        "max_concurrency": max_concurrency,
        "timeout_seconds": 30,
    }
    path.write_text(
        yaml.safe_dump({"connections": connections, "syncs": jobs}, allow_unicode=True), encoding="utf-8"
    )
    return path


def store_secrets(store: Store, workdir: Path, kingdee: dict[str, Any], sources: list[str]) -> None:
    """Secrets encrypted at rest, with the work directory's key (what a worker process will use)."""
    box = SecretBox(store, load_key(workdir))
    for name in sources:
        box.set(name, "PM_TOKEN", DEFAULT_TOKEN)
        box.set(name, "PM_HOOK", HOOK_SECRET)
    box.set("kd", "KD_APP_SECRET", str(kingdee["app_secret"]))


class Collector:
    """An alert hook that keeps what it hears."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.events.append((event, payload))

    def of(self, event: str) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for name, payload in self.events if name == event]


def make_runtime(
    tmp_path: Path,
    store: Store,
    workspace: Path,
    *,
    queue_url: str | None = None,
    collector: Collector | None = None,
    **options: Any,
) -> Runtime:
    settings = Settings(workspace=workspace, workdir=tmp_path / "work", queue_url=queue_url)
    hooks = AlertHooks()
    if collector is not None:
        hooks.register("test", collector)
    job_options = JobSettings(**{**FAST, **options})
    return open_runtime(settings, options=job_options, store=store, hooks=hooks)


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(interval)


def runs_of(store: Store, job: str) -> list[Run]:
    with store.transaction() as session:
        return list(session.scalars(select(Run).where(Run.kind == f"sync:{job}").order_by(Run.id)))


def kingdee_vouchers(credentials: dict[str, Any]) -> tuple[int, Counter[str], Decimal]:
    """Vouchers carrying a yecai key in Kingdee: how many, how often each key occurs, debit total."""
    with KingdeeClient(str(credentials["server_url"]), identity_of(credentials), connection="kd") as client:
        vouchers = read_yecai_vouchers(client)
    keys: Counter[str] = Counter(key for voucher in vouchers.values() for key in voucher.keys)
    debit = sum((voucher.debit for voucher in vouchers.values()), Decimal("0"))
    return len(vouchers), keys, debit


def expected_vouchers(dataset: Any) -> int:
    return len({(r.project_code, r.category.value, r.business_date) for r in dataset.all_cost_records})


# Credentials of a Kingdee nobody answers for (port 9, discard): runs fail on connecting.
KINGDEE = {
    "server_url": "http://127.0.0.1:9/K3Cloud/",
    "acct_id": "acct",
    "user_name": "demo",
    "app_id": "app",
    "app_secret": "s3cret-value",
    "lcid": 2052,
    "org_num": "100",
}


def closed_port() -> str:
    """A local URL nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
