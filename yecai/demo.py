"""The demo as a service: both sandboxes in-process, every default rule set, and the proof.

Starts sandbox.pm (N projects × M months of deterministic data) and sandbox.kingdee (a fresh or
remembered data centre under the work directory), pulls every stream the default rule sets need
(costs, invoices, payments, valuations, revenue, prepaid VAT, retention … and whatever rule set
joins them) and posts them once into Kingdee. Then it reads the books back: the vouchers against
what yecai posted, the cost vouchers against the PM system's own cost total, and the trial
balance (科目余额表) with the company P&L — the books must balance. Run it twice with the same work
directory and the second run posts nothing, because everything is already in Kingdee exactly once.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from sqlalchemy import func, select

from yecai.auth.principal import SYSTEM
from yecai.auth.roles import Role
from yecai.auth.users import ensure_user
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.connectors.pm_sandbox.connector import DEFAULT_WEBHOOK_SECRET
from yecai.domain.money import ZERO, money_sum
from yecai.domain.posting_states import PostingState
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.signing import Identity
from yecai.mapping import registry
from yecai.mapping.rules import Event, RuleSet, default_job_rule_sets, default_mapping
from yecai.reports.periods import Period
from yecai.reports.trial_balance import (
    CompanyPnl,
    TrialBalance,
    company_pnl,
    pnl_accounts,
    read_trial_balance,
)
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.secrets import open_box
from yecai.settings import Settings
from yecai.sources.connector import Connector
from yecai.store import runs
from yecai.store.db import Store, open_store
from yecai.store.tables import Posting
from yecai.sync.pipeline import Step, SyncReport, run_sync_job

SOURCE = "pm"
KINGDEE = "kingdee"
# where `yecai sandbox kingdee` / `yecai sandbox pm` listen by default: the demo workspace points
# there, so the console's "test connection" and "run now" work once both sandboxes are started
KINGDEE_PORT = 8090
PM_PORT = 8091


def kingdee_url(port: int = KINGDEE_PORT) -> str:
    return f"http://127.0.0.1:{port}/K3Cloud/"


def pm_url(port: int = PM_PORT) -> str:
    return f"http://127.0.0.1:{port}"


KINGDEE_URL = kingdee_url()
PM_URL = pm_url()
# beside the demo's workspace: what the sandboxes were started with, so that a later command on
# the demo workspace (yecai serve, sync, reconcile, report) starts the same two again
SANDBOXES_FILE = "sandboxes.yaml"


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
    trial_balance: TrialBalance
    pnl: CompanyPnl
    rule_sets: tuple[str, ...] = ()
    streams: tuple[str, ...] = ()
    cost_debit: Decimal = ZERO  # debit total of the cost rule set's vouchers yecai holds as posted
    cost_credit: Decimal = ZERO
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
        """Cost vouchers against the PM system's cost total (what the cost ledger must equal)."""
        return self.cost_debit - self.source_total

    @property
    def ok(self) -> bool:
        check = self.report.check
        return (
            check.clean
            and not self.report.send.failed
            and self.invalid_records == 0
            and self.kingdee_debit == self.kingdee_credit
            and self.cost_debit == self.cost_credit == self.source_total
            and self.trial_balance.balanced
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


def demo_rule_sets() -> list[RuleSet]:
    """Every default rule set of the daily practice (`yecai.mapping.rules.default_job_rule_sets`): a
    new one joins the demo by itself; `accrual` (invoice-driven books) stays out."""
    return list(default_job_rule_sets().values())


def needed_streams(connector: Connector, rule_sets: Sequence[RuleSet]) -> list[str]:
    """The connector's streams whose documents the rule sets read or consult, projects first.

    Each rule set reads its `document` and its event's spec names the kinds its planner consults
    (`related`); projects always come first because they bind the 项目 dimension. A stream the
    connector does not offer (a source without receipts) is simply not pulled.
    """
    kinds = {"project"}
    for rules in rule_sets:
        spec = registry.spec_of(rules.event)
        kinds.update((rules.document, spec.document, *spec.related))
    chosen = [name for name, binding in connector.streams.items() if binding.document_kind in kinds]
    return sorted(chosen, key=lambda name: connector.streams[name].document_kind != "project")


def books_period(store: Store, connection: str) -> tuple[Period, Period] | None:
    """The first and last period of what yecai posted to the connection (one year at most: the
    last one's, as Kingdee's 科目余额表 spans one year; earlier years are its opening)."""
    with store.transaction() as session:
        first, last = session.execute(
            select(func.min(Posting.business_date), func.max(Posting.business_date)).where(
                Posting.connection == connection
            )
        ).one()
    if first is None or last is None:
        return None
    end = Period.of(last)
    start = Period.of(first) if first.year == last.year else Period(last.year, 1)
    return start, end


def posted_totals(store: Store, connection: str, rule_set: str) -> tuple[Decimal, Decimal]:
    """Debit and credit totals of the rule set's postings that yecai holds as in Kingdee."""
    with store.transaction() as session:
        debit, credit = session.execute(
            select(func.sum(Posting.debit_total), func.sum(Posting.credit_total)).where(
                Posting.connection == connection,
                Posting.rule_set == rule_set,
                Posting.state == PostingState.POSTED,
            )
        ).one()
    return Decimal(debit or 0), Decimal(credit or 0)


def run_demo(
    *,
    workdir: Path,
    projects: int = 50,
    months: int = 1,
    seed: int = 42,
    step: Step | None = None,
    on_started: Callable[[str, str], None] | None = None,
    pm_port: int = PM_PORT,
    kingdee_port: int = KINGDEE_PORT,
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
        rule_sets = demo_rule_sets()
        streams = needed_streams(connector, rule_sets)
        with KingdeeClient(
            str(credentials["server_url"]),
            identity_of(credentials),
            connection=KINGDEE,
            timeout=settings.http_timeout(),
        ) as client:
            report = run_sync_job(
                store,
                connector,
                client,
                rule_sets=rule_sets,
                mapping=default_mapping(),
                source_connection=SOURCE,
                kingdee_connection=KINGDEE,
                streams=streams,
                batch_size=settings.kingdee_batch_size,
                max_attempts=settings.kingdee_max_attempts,
                step=step,
                kind="demo",
                full_check=True,
            )
            book = rule_sets[0].kingdee.account_book
            span = books_period(store, KINGDEE) or (Period.of(dataset.first_day), Period.of(dataset.last_day))
            balance = read_trial_balance(client, book=book, start=span[0], end=span[1])
        cost_rules = next(r.name for r in rule_sets if r.event is Event.COST)
        cost_debit, cost_credit = posted_totals(store, KINGDEE, cost_rules)
        counts = runs.record_counts(store, connection=SOURCE, stream="cost_records")
        managers = Counter(p.manager_name for p in dataset.projects)
        manager = min(managers, key=lambda name: (-managers[name], name)) if managers else None
        pm_projects = sorted(p.project_code for p in dataset.projects if p.manager_name == manager)
        demo_users = console_users(store, pm_projects)
        workspace = write_workspace(
            workdir,
            store,
            settings,
            credentials,
            streams=streams,
            rule_sets=[r.name for r in rule_sets],
            pm_port=pm_port,
            kingdee_port=kingdee_port,
        )
        write_sandboxes(
            workdir, projects=projects, months=months, seed=seed, pm_port=pm_port, kingdee_port=kingdee_port
        )
        return DemoResult(
            source_records=len(dataset.all_cost_records),
            source_total=money_sum(r.amount for r in dataset.all_cost_records),
            staged_records=sum(counts.values()),
            invalid_records=counts.get("invalid", 0),
            deleted_records=counts.get("deleted", 0),
            report=report,
            trial_balance=balance,
            pnl=company_pnl(balance, pnl_accounts(rule_sets)),
            rule_sets=tuple(r.name for r in rule_sets),
            streams=tuple(streams),
            cost_debit=cost_debit,
            cost_credit=cost_credit,
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


def write_workspace(
    workdir: Path,
    store: Store,
    settings: Settings,
    credentials: Mapping[str, object],
    *,
    streams: Sequence[str],
    rule_sets: Sequence[str],
    pm_port: int = PM_PORT,
    kingdee_port: int = KINGDEE_PORT,
) -> Path:
    """A workspace for `yecai serve` on the demo data: the two sandboxes, one sync job with the
    demo's streams and rule sets, an editable mapping table, and the secrets stored encrypted
    (never in the file). Kept if it exists."""
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
                    "base_url": pm_url(pm_port),
                    "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"},
                },
                KINGDEE: {
                    "kind": "kingdee",
                    "server_url": kingdee_url(kingdee_port),
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
                    "streams": list(streams),
                    "rule_sets": list(rule_sets),
                    "mapping": "mapping.yaml",
                }
            },
        }
        path.write_text(
            "# yecai demo 工作区 · the demo workspace: yecai serve / sync / reconcile … find it from this folder or above\n"
            + yaml.safe_dump(space, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
    box = open_box(store, workdir)
    box.set(SOURCE, "PM_TOKEN", DEFAULT_TOKEN)
    box.set(KINGDEE, "KD_SECRET", str(credentials["app_secret"]))
    # the connector's own placeholder, stored under its name: `yecai serve` receives the sandbox's pushes
    box.set(SOURCE, "PM_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET)
    return path


def write_sandboxes(
    workdir: Path,
    *,
    projects: int,
    months: int,
    seed: int,
    pm_port: int = PM_PORT,
    kingdee_port: int = KINGDEE_PORT,
) -> Path:
    """Record how the demo's sandboxes are started again (same data, the same Kingdee data centre)."""
    path = workdir / SANDBOXES_FILE
    record = {
        "pm": {"port": pm_port, "projects": projects, "months": months, "seed": seed},
        "kingdee": {"port": kingdee_port, "data_dir": "kingdee"},
    }
    path.write_text(
        "# yecai demo 沙箱 · how commands on the demo workspace start its sandboxes (written by yecai demo)\n"
        + yaml.safe_dump(record, sort_keys=False),
        encoding="utf-8",
    )
    return path


def _workspace_ports(path: Path) -> dict[str, int]:
    """The local ports the demo workspace's two connections point at (none when unreadable)."""
    try:
        space = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    connections = space.get("connections") or {}
    found: dict[str, int] = {}
    for name, key in ((SOURCE, "base_url"), (KINGDEE, "server_url")):
        url = (connections.get(name) or {}).get(key)
        port = urlsplit(url).port if isinstance(url, str) else None
        if port:
            found[name] = port
    return found


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def demo_sandboxes(workdir: Path, *, on_start: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """On a demo work directory (one holding `sandboxes.yaml`), both sandboxes answering on the
    ports its workspace names for as long as the block runs: started in-process unless something
    already answers there (another command's, `yecai serve`'s or `yecai sandbox …`). Elsewhere:
    nothing. Yields what it started."""
    path = workdir / SANDBOXES_FILE
    if not path.is_file():
        yield []
        return
    record = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    pm, kingdee = record.get("pm") or {}, record.get("kingdee") or {}
    # the workspace is kept across demo runs: where it points wins over the recorded ports
    pointed = _workspace_ports(workdir / "yecai.yaml")
    started: list[str] = []
    with ExitStack() as stack:
        pm_port = pointed.get(SOURCE) or int(pm.get("port", PM_PORT))
        if not _listening(pm_port):
            server, _ = start_pm(
                projects=int(pm.get("projects", 50)),
                months=int(pm.get("months", 1)),
                seed=int(pm.get("seed", 42)),
                port=pm_port,
            )
            stack.callback(server.stop)
            started.append(f"工程项目管理沙箱 PM sandbox: {server.base_url}")
        kd_port = pointed.get(KINGDEE) or int(kingdee.get("port", KINGDEE_PORT))
        if not _listening(kd_port):
            kd_server, credentials = start_kingdee(
                workdir / str(kingdee.get("data_dir", "kingdee")), port=kd_port
            )
            stack.callback(kd_server.stop)
            started.append(f"金蝶云星空沙箱 Kingdee sandbox: {credentials['server_url']}")
        for line in started:
            if on_start:
                on_start(f"已启动演示沙箱（本命令结束时停止）started for this command · {line}")
        yield started
