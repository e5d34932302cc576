"""The demo as a service: both sandboxes in-process, the cost pipeline, and the proof.

Starts sandbox.pm (N projects × M months of deterministic costs) and sandbox.kingdee (a fresh or
remembered data centre under the work directory), runs the nightly cost pipeline once into
Kingdee, reads the vouchers back and compares Kingdee's totals with the PM system's own totals.
Run it twice with the same work directory and the second run posts nothing, because everything
is already in Kingdee exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

from yecai.auth.principal import SYSTEM
from yecai.auth.roles import Role
from yecai.auth.users import ensure_user
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.domain.money import money_sum
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.signing import Identity
from yecai.mapping.rules import default_mapping, default_rule_set
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.secrets import SecretBox, load_key
from yecai.settings import Settings
from yecai.store import runs
from yecai.store.db import Store, open_store
from yecai.sync.pipeline import Step, SyncReport, run_cost_sync

SOURCE = "pm"
KINGDEE = "kingdee"
# where `yecai sandbox kingdee` / `yecai sandbox pm` listen by default: the demo workspace points
# there, so the console's "test connection" and "run now" work once both sandboxes are started
KINGDEE_URL = "http://127.0.0.1:8090/K3Cloud/"
PM_URL = "http://127.0.0.1:8091"


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: Role
    password: str | None  # None: the user existed already (its password was not changed)
    projects: tuple[str, ...] = ()


@dataclass(slots=True)
class DemoResult:
    source_records: int
    source_total: Decimal
    staged_records: int
    invalid_records: int
    deleted_records: int  # tombstones: records deleted in the source after they were created
    report: SyncReport
    users: list[DemoUser] = field(default_factory=list)
    workspace: Path | None = None

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
        counts = runs.record_counts(store, connection=SOURCE, stream="cost_records")
        managers = Counter(p.manager_name for p in dataset.projects)
        manager = min(managers, key=lambda name: (-managers[name], name)) if managers else None
        pm_projects = sorted(p.project_code for p in dataset.projects if p.manager_name == manager)
        demo_users = console_users(store, pm_projects)
        workspace = write_workspace(workdir, store, settings, credentials)
        return DemoResult(
            source_records=len(dataset.all_cost_records),
            source_total=money_sum(r.amount for r in dataset.all_cost_records),
            staged_records=sum(counts.values()),
            invalid_records=counts.get("invalid", 0),
            deleted_records=counts.get("deleted", 0),
            report=report,
            users=demo_users,
            workspace=workspace,
        )
    finally:
        kd_server.stop()
        pm_server.stop()
        store.close()


def console_users(store: Store, pm_projects: Sequence[str]) -> list[DemoUser]:
    """admin, finance and pm1 (one project manager's projects) — created once, passwords printed once."""
    made: list[DemoUser] = []
    for username, role, projects in (
        ("admin", Role.ADMIN, ()),
        ("finance", Role.FINANCE, ()),
        ("pm1", Role.PROJECT_MANAGER, tuple(pm_projects)),
    ):
        view, password = ensure_user(store, username=username, role=role.value, projects=projects, by=SYSTEM)
        made.append(DemoUser(username, view.role, password, view.projects))
    return made


def write_workspace(workdir: Path, store: Store, settings: Settings, credentials: dict[str, object]) -> Path:
    """A workspace for `yecai serve` on the demo data: the two sandboxes, one sync job, an editable
    mapping table, and the secrets stored encrypted (never in the file). Kept if it exists."""
    path = workdir / "yecai.yaml"
    mapping = workdir / "mapping.yaml"
    if not mapping.exists():
        table = default_mapping().model_dump(mode="json", exclude_defaults=True)
        mapping.write_text(
            "# 演示映射表，可在控制台编辑 · the demo's mapping table, editable in the console\n"
            + yaml.safe_dump(table, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    if not path.exists():
        space = {
            "connections": {
                SOURCE: {
                    "kind": "rest",
                    "connector": "pm_sandbox",
                    "base_url": PM_URL,
                    "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"},
                },
                KINGDEE: {
                    "kind": "kingdee",
                    "server_url": KINGDEE_URL,
                    "acct_id": str(credentials["acct_id"]),
                    "user_name": str(credentials["user_name"]),
                    "app_id": str(credentials["app_id"]),
                    "app_secret": "${KD_SECRET}",
                    "lcid": int(str(credentials["lcid"])),
                    "org_num": str(credentials["org_num"]),
                },
            },
            "syncs": {
                "demo": {
                    "source": SOURCE,
                    "target": KINGDEE,
                    "streams": ["projects", "cost_records"],
                    "rule_sets": ["cost_actuals"],
                    "mapping": "mapping.yaml",
                }
            },
        }
        path.write_text(
            "# yecai demo 工作区 · the demo workspace (yecai serve --workspace this file)\n"
            + yaml.safe_dump(space, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    box = SecretBox(store, load_key(workdir))
    box.set(SOURCE, "PM_TOKEN", DEFAULT_TOKEN)
    box.set(KINGDEE, "KD_SECRET", str(credentials["app_secret"]))
    return path
