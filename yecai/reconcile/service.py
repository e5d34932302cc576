"""Reconciliation as a service: run one for a sync job's Kingdee connection, store it, list it.

A run is a `runs` row of kind `reconcile` (counts per difference type, the period, the job, the
科目余额表 cross-check) plus one `recon_differences` row per difference; a run that finds
differences raises the `reconcile.differences` alert (identifiers and counts only). Reading is
scoped by the caller's projects in SQL: a project manager sees the differences of their projects
only — never one without a project — and counts computed from those rows alone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from yecai.auth.principal import Principal
from yecai.domain.money import round_money
from yecai.errors import ConfigurationError, DataError
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.vouchers import FORM_ID
from yecai.observability.events import AlertHooks, alerts
from yecai.reconcile import sides
from yecai.reconcile.classify import KINDS, Difference, classify, counts_of
from yecai.secrets import SecretBox
from yecai.store import runs as run_rows
from yecai.store.clock import as_utc
from yecai.store.db import Store
from yecai.store.recon_tables import ReconDifference
from yecai.store.tables import Run
from yecai.workspace import Workspace

KIND = "reconcile"
ALL = "all"
BEIJING = ZoneInfo("Asia/Shanghai")
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DEFAULT_DIMENSIONS = ("FF100001",)


def current_period(now: dt.datetime | None = None) -> str:
    """This month in Beijing time (what the books of a Chinese company call 本期)."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(BEIJING)
    return f"{moment.year:04d}-{moment.month:02d}"


def parse_period(text: str | None) -> str | None:
    """'YYYY-MM' → itself, 'all' → None (every period), None → the current month."""
    if text is None or not text.strip():
        return current_period()
    text = text.strip()
    if text.lower() == ALL:
        return None
    if not PERIOD.match(text):
        raise DataError(
            f"期间格式应为 YYYY-MM 或 all：{text!r}", f"the period must be YYYY-MM or all: {text!r}"
        )
    return text


@dataclass(slots=True)
class ReconcileReport:
    run_id: int
    period: str  # YYYY-MM or "all"
    counts: dict[str, int]
    differences: list[Difference]
    balance: dict[str, Any] = field(default_factory=dict)
    job: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _side(vouchers: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Per period: how many vouchers and lines one side holds, and their debit and credit totals."""
    out: dict[str, dict[str, Any]] = {}
    for voucher in vouchers:
        row = out.setdefault(
            str(voucher.period)[:7], {"vouchers": 0, "lines": 0, "debit": Decimal(0), "credit": Decimal(0)}
        )
        row["vouchers"] += 1
        row["lines"] += len(voucher.lines)
        row["debit"] += sum((line.debit for line in voucher.lines), Decimal(0))
        row["credit"] += sum((line.credit for line in voucher.lines), Decimal(0))
    return out


def evidence_of(posted: Sequence[Any], held: Sequence[Any]) -> list[dict[str, Any]]:
    """What a run compared, per period and side (JSON-ready: amounts as strings to the cent).

    A clean run shows this next to its zero counts, so "no difference" is seen to rest on vouchers
    actually read on both sides, not on an empty comparison.
    """
    ours, theirs = _side(posted), _side(held)
    rows: list[dict[str, Any]] = []
    for period in sorted(set(ours) | set(theirs)):
        row: dict[str, Any] = {"period": period}
        for name, side in (("yecai", ours), ("kingdee", theirs)):
            found = side.get(period, {"vouchers": 0, "lines": 0, "debit": Decimal(0), "credit": Decimal(0)})
            row[name] = {
                "vouchers": found["vouchers"],
                "lines": found["lines"],
                "debit": f"{round_money(found['debit']):.2f}",
                "credit": f"{round_money(found['credit']):.2f}",
            }
        rows.append(row)
    return rows


def reconcile(
    store: Store,
    client: KingdeeClient,
    *,
    kingdee_connection: str,
    period: str | None,
    dimensions: Sequence[str] = DEFAULT_DIMENSIONS,
    books: Sequence[str] = (),
    job: str | None = None,
    source_connection: str | None = None,
    hooks: AlertHooks | None = None,
) -> ReconcileReport:
    """Reconcile one Kingdee connection for one period (`None`: every period) and store the run."""
    label = period or ALL
    run_id = run_rows.start_run(store, kind=KIND, connection=kingdee_connection)
    head: dict[str, Any] = {"period": label, "job": job, "source": source_connection}
    try:
        numbers = sides.project_numbers(store, kingdee_connection)
        posted = sides.read_posted(
            store,
            kingdee_connection=kingdee_connection,
            period=period,
            dimensions=dimensions,
            numbers=numbers,
        )
        wanted_books = set(books) | posted.books
        held = sides.read_kingdee(
            client,
            period=period,
            books=wanted_books,
            dimensions=dimensions,
            numbers=numbers,
            custom_fields=posted.custom_fields,
        )
        matched = {v.number for v in held} | {t for v in held for t in v.tokens}
        unseen = [
            v
            for v in posted.vouchers
            if (v.kingdee_key or "") not in matched and v.posting_key not in matched
        ]
        # Only vouchers not found in the period are looked up elsewhere (re-dated, back to draft).
        elsewhere = sides.find_elsewhere(client, unseen) if unseen and period is not None else {}
        differences = classify(posted, held, elsewhere=elsewhere)
        balance: dict[str, Any] = {}
        if period is not None:
            try:
                balance = sides.balance_check(client, period=period, vouchers=held, accounts=posted.accounts)
            except Exception as exc:  # the report is a cross-check: its absence must not stop the run
                balance = {"unavailable": str(exc)[:500]}
    except Exception as exc:
        run_rows.finish_run(store, run_id=run_id, status="failed", counts=head, message=str(exc)[:2000])
        raise
    counts = counts_of(differences)
    _store_differences(store, run_id, differences)
    summary = {
        **head,
        "differences": counts,
        "vouchers": {"yecai": len(posted.vouchers), "kingdee": len(held)},
        "evidence": evidence_of(posted.vouchers, held),
        "balance_check": balance,
    }
    mismatched = len(balance.get("mismatched") or [])
    status = "succeeded" if not differences and not mismatched else "attention"
    message = None
    if mismatched:
        message = (
            f"科目余额表与凭证查询不一致的科目 {mismatched} 个 / "
            f"{mismatched} account(s) differ between the account-balance report and the vouchers read"
        )
    run_rows.finish_run(store, run_id=run_id, status=status, counts=summary, message=message)
    if differences:
        (hooks or alerts).emit(
            "reconcile.differences",
            {"connection": kingdee_connection, "job": job, "period": label, "run_id": run_id, **counts},
        )
    return ReconcileReport(run_id, label, counts, differences, balance, job)


def _store_differences(store: Store, run_id: int, differences: list[Difference]) -> None:
    with store.transaction() as session:
        for d in differences:
            session.add(
                ReconDifference(
                    run_id=run_id,
                    kind=d.kind,
                    project=d.project,
                    account=(d.account or "")[:200] or None,
                    period=d.period[:7],
                    source_amount=d.source_amount,
                    yecai_amount=d.yecai_amount,
                    kingdee_amount=d.kingdee_amount,
                    posting_id=d.posting_id,
                    posting_key=d.posting_key,
                    kingdee_number=(d.kingdee_number or "")[:80] or None,
                    kingdee_id=d.kingdee_id,
                    document_ids=list(d.document_ids),
                    message_zh=d.message_zh,
                    message_en=d.message_en,
                )
            )


def job_of(workspace: Workspace, job: str | None) -> str:
    """The named sync job, or the workspace's only one."""
    if job is not None:
        if job not in workspace.syncs:
            raise ConfigurationError(f"工作区中没有同步作业 {job}", f"the workspace has no sync job {job}")
        return job
    if len(workspace.syncs) != 1:
        names = ", ".join(workspace.syncs) or "-"
        raise ConfigurationError(
            f"请用 --job 指定同步作业（现有：{names}）", f"name the sync job with --job (there are: {names})"
        )
    return next(iter(workspace.syncs))


def reconcile_job(
    store: Store,
    workspace: Workspace,
    job: str | None,
    *,
    secrets: SecretBox | None,
    period: str | None,
    transport: httpx.BaseTransport | None = None,
    hooks: AlertHooks | None = None,
    limiter: Callable[[], AbstractContextManager[object]] | None = None,
) -> ReconcileReport:
    """Reconcile the Kingdee connection of a workspace's sync job (`period` as `parse_period` gives).

    `limiter` is held around every Kingdee call (the data centre's concurrency limit, from the jobs).
    """
    name = job_of(workspace, job)
    spec = workspace.syncs[name]
    vouchers = [r for r in workspace.rule_sets(spec) if r.form_id == FORM_ID]
    dimensions = tuple(dict.fromkeys(r.kingdee.project_dimension for r in vouchers)) or DEFAULT_DIMENSIONS
    books = sorted({r.kingdee.account_book for r in vouchers})
    with workspace.kingdee(spec.target, secrets, transport=transport, limiter=limiter) as client:
        return reconcile(
            store,
            client,
            kingdee_connection=spec.target,
            period=period,
            dimensions=dimensions,
            books=books,
            job=name,
            source_connection=spec.source,
            hooks=hooks,
        )


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunView:
    id: int
    status: str
    connection: str | None
    job: str | None
    period: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    counts: dict[str, int]  # as the caller may see them
    message: str | None
    balance: dict[str, Any]
    # what was compared, per period and side (company-wide callers; empty for runs before issue 14)
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def completed(self) -> bool:
        """Whether the run compared anything: a failed or unfinished run's zeros mean nothing."""
        return self.status in ("succeeded", "attention")


@dataclass(frozen=True, slots=True)
class DifferenceView:
    id: int
    kind: str
    project: str | None
    account: str | None
    period: str
    source_amount: Decimal | None
    yecai_amount: Decimal | None
    kingdee_amount: Decimal | None
    posting_id: int | None
    posting_key: str | None
    kingdee_number: str | None
    document_ids: list[int]
    message_zh: str
    message_en: str


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: RunView
    differences: list[DifferenceView]


def _difference_view(d: ReconDifference) -> DifferenceView:
    """A stored difference as shown: every DifferenceView field is the column of the same name."""
    values = {f.name: getattr(d, f.name) for f in fields(DifferenceView)}
    values["document_ids"] = [int(i) for i in d.document_ids or []]  # the JSON column, as ints
    return DifferenceView(**values)


def _scoped_counts(session: Any, who: Principal, run_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {run_id: dict.fromkeys(KINDS, 0) for run_id in run_ids}
    if not run_ids:
        return counts
    rows = session.execute(
        select(ReconDifference.run_id, ReconDifference.kind, func.count())
        .where(ReconDifference.run_id.in_(run_ids), who.project_clause(ReconDifference.project))
        .group_by(ReconDifference.run_id, ReconDifference.kind)
    )
    for run_id, kind, count in rows:
        counts[run_id][kind] = int(count)
    return counts


def _run_view(run: Run, counts: dict[str, int], who: Principal) -> RunView:
    info = dict(run.counts or {})
    # The cross-check names accounts company-wide: shown to those who see every project.
    balance = dict(info.get("balance_check") or {}) if who.projects is None else {}
    return RunView(
        run.id,
        run.status,
        run.connection,
        info.get("job"),
        str(info.get("period") or "—"),
        as_utc(run.started_at) or run.started_at,
        as_utc(run.finished_at),
        counts,
        run.message if who.projects is None else None,
        balance,
        list(info.get("evidence") or []) if who.projects is None else [],
    )


def runs(store: Store, who: Principal, *, limit: int = 50, offset: int = 0) -> list[RunView]:
    """Recent reconciliation runs, newest first, with the counts the caller may see."""
    with store.sessions() as session:
        found = session.scalars(
            select(Run).where(Run.kind == KIND).order_by(Run.id.desc()).limit(limit).offset(offset)
        ).all()
        counts = _scoped_counts(session, who, [r.id for r in found])
        return [_run_view(r, counts[r.id], who) for r in found]


def run_detail(
    store: Store,
    who: Principal,
    run_id: int,
    *,
    kind: str | None = None,
    project: str | None = None,
    limit: int | None = 500,
    offset: int = 0,
) -> RunDetail | None:
    """One run and its differences (filtered by type and project), or None if there is no such run."""
    with store.sessions() as session:
        run = session.get(Run, run_id)
        if run is None or run.kind != KIND:
            return None
        counts = _scoped_counts(session, who, [run.id])[run.id]
        query = select(ReconDifference).where(
            ReconDifference.run_id == run_id, who.project_clause(ReconDifference.project)
        )
        if kind is not None:
            query = query.where(ReconDifference.kind == kind)
        if project is not None:
            query = query.where(ReconDifference.project == project)
        query = query.order_by(ReconDifference.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        rows = [_difference_view(d) for d in session.scalars(query)]
        return RunDetail(_run_view(run, counts, who), rows)
