"""The demo as a service: both sandboxes in-process, the cost pipeline, and the proof.

Starts sandbox.pm (N projects × M months of deterministic costs) and sandbox.kingdee (a fresh or
remembered data centre under the work directory), runs the nightly cost pipeline once into
Kingdee, reads the vouchers back and compares Kingdee's totals with the PM system's own totals.
Run it twice with the same work directory and the second run posts nothing, because everything
is already in Kingdee exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.domain.money import money_sum
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.signing import Identity
from yecai.mapping.rules import default_mapping, default_rule_set
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.settings import Settings
from yecai.store import services
from yecai.store.db import open_store
from yecai.sync.pipeline import Step, SyncReport, run_cost_sync

SOURCE = "pm"
KINGDEE = "kingdee"


@dataclass(slots=True)
class DemoResult:
    source_records: int
    source_total: Decimal
    staged_records: int
    invalid_records: int
    deleted_records: int  # tombstones: records deleted in the source after they were created
    report: SyncReport

    @property
    def kingdee_debit(self) -> Decimal:
        return self.report.check.debit_total

    @property
    def kingdee_credit(self) -> Decimal:
        return self.report.check.credit_total

    @property
    def difference(self) -> Decimal:
        return self.kingdee_debit - self.source_total

    @property
    def ok(self) -> bool:
        check = self.report.check
        return (
            check.clean
            and not self.report.send.failed
            and self.invalid_records == 0
            and self.kingdee_debit == self.kingdee_credit == self.source_total
        )


def identity_of(credentials: dict[str, object]) -> Identity:
    return Identity(
        acct_id=str(credentials["acct_id"]),
        user_name=str(credentials["user_name"]),
        app_id=str(credentials["app_id"]),
        app_secret=str(credentials["app_secret"]),
        lcid=int(str(credentials["lcid"])),
        org_num=str(credentials["org_num"]),
    )


def run_demo(
    *,
    workdir: Path,
    projects: int = 50,
    months: int = 1,
    seed: int = 42,
    step: Step | None = None,
    on_started: Callable[[str, str], None] | None = None,
) -> DemoResult:
    settings = Settings()
    workdir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.store_url(workdir))
    pm_server, dataset = start_pm(projects=projects, months=months, seed=seed)
    kd_server, credentials = start_kingdee(workdir / "kingdee")
    try:
        if on_started:
            on_started(pm_server.base_url, str(credentials["server_url"]))
        connector = PmSandboxConnector(pm_server.base_url, DEFAULT_TOKEN, connection=SOURCE)
        with KingdeeClient(
            str(credentials["server_url"]),
            identity_of(credentials),
            connection=KINGDEE,
            timeout=settings.http_timeout(),
        ) as client:
            report = run_cost_sync(
                store,
                connector,
                client,
                rules=default_rule_set(),
                mapping=default_mapping(),
                source_connection=SOURCE,
                kingdee_connection=KINGDEE,
                batch_size=settings.kingdee_batch_size,
                max_attempts=settings.kingdee_max_attempts,
                step=step,
            )
        counts = services.record_counts(store, connection=SOURCE, stream="cost_records")
        return DemoResult(
            source_records=len(dataset.all_cost_records),
            source_total=money_sum(r.amount for r in dataset.all_cost_records),
            staged_records=sum(counts.values()),
            invalid_records=counts.get("invalid", 0),
            deleted_records=counts.get("deleted", 0),
            report=report,
        )
    finally:
        kd_server.stop()
        pm_server.stop()
        store.close()
