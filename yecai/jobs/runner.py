"""Running one queued job: take the lease, keep it alive, run the sync, settle the outcome.

The worker opens workspace, store and secrets itself (a task carries only the job's name). A
heartbeat renews the lease; the limiter given to `run_sync` holds a data-centre slot around every
Kingdee call and refuses to call once the lease may be lost (a fence). Failures are retried with
backoff while attempts remain and waiting can help, else dead-lettered; they count towards pauses.
Every failure, and every refusal by Kingdee, is reported to the alert hooks (see docs/alerts.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy import func, select

from yecai.errors import Action, ConfigurationError, Fault, YecaiError
from yecai.jobs import deadletters, leases, states
from yecai.jobs.calendar import WorkCalendar, load_overrides
from yecai.jobs.config import JobSettings
from yecai.jobs.failures import JobFailure, backoff
from yecai.jobs.limits import Limiter, Limits
from yecai.kingdee.results import KingdeeError
from yecai.observability.events import AlertHooks, alerts
from yecai.secrets import SecretBox, open_box
from yecai.services import health
from yecai.services.refusals import kingdee_failures
from yecai.settings import Settings
from yecai.store.clock import utcnow
from yecai.store.db import Store, open_store
from yecai.store.tables import Run
from yecai.sync.launch import run_sync
from yecai.sync.pipeline import Check, Planned, Send
from yecai.workspace import KingdeeConnection, SyncJob, Workspace, load_workspace

log = logging.getLogger("yecai.jobs")

# For a job whose sending is shared by several workers: (job name, its spec, the lease fence) →
# the send and check steps that replace the pipeline's own (`yecai.jobs.parts`), or None.
FanOut = Callable[[str, SyncJob, Callable[[], None]], tuple[Send, Check, Planned] | None]


def is_distributed(settings: Settings) -> bool:
    url = settings.queue_url or ""
    return url.startswith(("redis://", "rediss://", "unix://"))


@dataclass
class Runtime:
    """What running and scheduling jobs needs in one process; opened once, shared by its threads."""

    settings: Settings
    options: JobSettings
    store: Store
    secrets: SecretBox
    calendar: WorkCalendar
    limits: Limits
    alerts: AlertHooks = field(default_factory=lambda: alerts)
    owns_store: bool = False

    @property
    def distributed(self) -> bool:
        return is_distributed(self.settings)

    def workspace(self) -> Workspace:
        """Read afresh for every job, so an edited yecai.yaml applies without a restart."""
        return load_workspace(self.settings.workspace)

    def close(self) -> None:
        self.limits.close()
        if self.owns_store:
            self.store.close()


def holiday_table(settings: Settings, options: JobSettings) -> WorkCalendar:
    path = options.holidays_file or settings.workdir / "holidays.yaml"
    if options.holidays_file is None and not path.exists():
        return WorkCalendar()
    return WorkCalendar(load_overrides(path))


def open_runtime(
    settings: Settings | None = None,
    *,
    options: JobSettings | None = None,
    store: Store | None = None,
    secrets: SecretBox | None = None,
    hooks: AlertHooks | None = None,
) -> Runtime:
    settings = settings or Settings()
    options = options or JobSettings()
    owns = store is None
    opened = store or open_store(settings.store_url())
    if is_distributed(settings) and opened.engine.dialect.name == "sqlite":
        log.warning(
            "分布式队列却使用 SQLite 存储：多台主机的工作进程无法共享它，请配置 PostgreSQL / "
            "a distributed queue with a SQLite store: workers on other hosts cannot share it; use PostgreSQL"
        )
    return Runtime(
        settings=settings,
        options=options,
        store=opened,
        secrets=secrets or open_box(opened, settings.workdir),
        calendar=holiday_table(settings, options),
        limits=Limits(
            settings.queue_url if is_distributed(settings) else None,
            prefix=f"yecai:{options.queue_name}",
            wait_seconds=options.limit_wait_seconds,
        ),
        alerts=hooks or alerts,
        owns_store=owns,
    )


class LeaseLost(YecaiError):
    """This worker may no longer own the job: another took it over; stop before calling Kingdee."""

    def __init__(self, job: str) -> None:
        super().__init__(
            f"作业 {job} 的租约已失去（心跳未续上或已被其他进程接管），本进程停止调用金蝶",
            f"job {job} lost its lease (heartbeat not renewed or taken over); this worker stops calling Kingdee",
            Action.RETRY,
            Fault.TRANSIENT,
        )


class Heartbeat:
    """Renews a running lease in a thread; `check()` raises LeaseLost once the lease may be gone.

    The fence is conservative on purpose: a takeover needs `lease_seconds` without a heartbeat,
    and this holder stops itself after three quarters of that without a confirmed one, so the
    old and the new holder never call Kingdee at the same time (clocks within a few seconds).
    """

    def __init__(
        self, store: Store, lease: leases.Lease, holder: str, *, interval: float, lease_seconds: float
    ) -> None:
        self._store = store
        self._lease = lease
        self._holder = holder
        self._interval = interval
        self._limit = lease_seconds * 0.75
        self._stop = threading.Event()
        self._confirmed = time.monotonic()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"heartbeat:{lease.job}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                renewed = leases.beat(
                    self._store, self._lease.job, task_id=self._lease.task_id, holder=self._holder
                )
            except Exception:
                log.exception(
                    "作业 %s 心跳写入失败 / heartbeat of job %s failed", self._lease.job, self._lease.job
                )
                continue
            if not renewed:
                self.lost = True
                return
            self._confirmed = time.monotonic()

    def check(self) -> None:
        if self.lost or time.monotonic() - self._confirmed > self._limit:
            self.lost = True
            raise LeaseLost(self._lease.job)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one execution of a queued job ended."""

    # succeeded | attention | retry | dead | paused | superseded | lease_lost
    status: str
    retry_in: float | None = None
    run_id: int | None = None
    dead_letter_id: int | None = None
    message: str | None = None


def holder_name() -> str:
    """Who runs a task: host, process and a nonce (two tasks of one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def call_limiter(
    runtime: Runtime, connection: str, target: KingdeeConnection, heartbeat: Heartbeat, holder: str
) -> Limiter:
    """The data centre's call slots for a job's or a part's sender, fenced by its heartbeat."""
    return runtime.limits.limiter(
        connection,
        target.max_concurrency,
        # a slot outlives the longest call (a login and the call itself), then expires
        hold_seconds=2 * target.timeout_seconds + 30,
        fence=heartbeat.check,
        owner=holder,  # freed at once when this worker dies (takeover, or a stale part released)
    )


def _last_run_id(store: Store, job: str) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.max(Run.id)).where(Run.kind == f"sync:{job}")) or 0)


def _blame(job: SyncJob, failure: JobFailure) -> list[str]:
    """The connections a failed run counts against: the one its error names, else both."""
    if failure.connection in (job.source, job.target):
        return [failure.connection]
    return [job.source, job.target]


def execute(
    runtime: Runtime,
    name: str,
    *,
    task_id: str,
    since: str | None = None,
    fan_out: FanOut | None = None,
) -> Outcome:
    """Run the queued job `name` once as the task `task_id` (which must own its lease).

    `fan_out` may share the job's sending with other workers (a job with `parts` > 1)."""
    store = runtime.store
    holder = holder_name()
    lease = leases.start(store, name, task_id=task_id, holder=holder)
    if lease is None:
        # A duplicate delivery, or the lease was taken over while this task waited: not ours.
        log.info(
            "作业 %s 的任务 %s 已被取代，不运行 / task %s of job %s was superseded",
            name,
            task_id,
            task_id,
            name,
        )
        return Outcome("superseded")
    states.record_start(store, name)
    try:
        workspace = runtime.workspace()
        job = workspace.syncs.get(name)
        if job is None:
            raise ConfigurationError(f"工作区中没有同步作业 {name}", f"the workspace has no sync job {name}")
    except YecaiError as exc:
        return _bury(runtime, name, lease, JobFailure.of(exc, name), None)

    paused = health.paused_among(store, [job.source, job.target])
    if paused:
        return _paused(runtime, name, lease, paused)

    target = workspace.connections[job.target]
    assert isinstance(target, KingdeeConnection)
    before = _last_run_id(store, name)
    started = utcnow()
    options = runtime.options
    with Heartbeat(
        store, lease, holder, interval=options.heartbeat(), lease_seconds=options.lease_seconds
    ) as heartbeat:
        limiter = call_limiter(runtime, job.target, target, heartbeat, holder)
        steps = fan_out(name, job, heartbeat.check) if fan_out else None
        try:
            report = run_sync(
                store,
                workspace,
                name,
                secrets=runtime.secrets,
                since=since,
                limiter=limiter,
                send=steps[0] if steps else None,
                check=steps[1] if steps else None,
                planned=steps[2] if steps else None,
            )
            if job.reconcile:
                _reconcile_after(runtime, workspace, name, limiter)
        except Exception as exc:
            if isinstance(exc, LeaseLost) or heartbeat.lost:
                log.warning(
                    "作业 %s 的租约已失去，本进程放弃 / job %s lost its lease; giving up here", name, name
                )
                return Outcome("lease_lost")
            latest = _last_run_id(store, name)
            run_id = latest if latest > before else None
            failure = JobFailure.of(exc, name)
            _report_failure(runtime, job, name, exc, failure, run_id, attempt=lease.attempts)
            _report_refusals(runtime, job, name, run_id, started)
            return _failed(runtime, job, name, lease, holder, failure, run_id)

    leases.release(store, name, task_id=task_id)
    health.record_success(store, [job.source, job.target])
    _report_refusals(runtime, job, name, report.run_id, started)
    clean = report.check.clean and not report.send.failed
    status = "succeeded" if clean else "attention"
    message = None
    if not clean:
        message = (
            f"失败过账 {report.send.failed}，缺失 {len(report.check.missing)}，重复 {len(report.check.duplicated)} / "
            f"failed postings {report.send.failed}, missing {len(report.check.missing)}, "
            f"duplicated {len(report.check.duplicated)}"
        )
        runtime.alerts.emit(
            "job.attention",
            {"job": name, "run_id": report.run_id, "connection": job.target, "message": message},
        )
    states.record_finish(store, name, outcome=status, run_id=report.run_id, message=message)
    return Outcome(status, run_id=report.run_id, message=message)


def _reconcile_after(
    runtime: Runtime,
    workspace: Workspace,
    name: str,
    limiter: Callable[[], AbstractContextManager[object]],
) -> None:
    """The job's reconciliation of this month, right after its sync, under the same lease.

    Its differences raise `reconcile.differences`; a reconciliation that cannot run is logged and
    alerted, but never fails (or retries) the sync that has already done its work.
    """
    # Imported here: the reconciliation service uses the alert hooks of this package (a cycle).
    from yecai.reconcile.service import current_period, reconcile_job

    try:
        reconcile_job(
            runtime.store,
            workspace,
            name,
            secrets=runtime.secrets,
            period=current_period(),
            hooks=runtime.alerts,
            limiter=limiter,
        )
    except Exception as exc:
        if isinstance(exc, LeaseLost):
            raise
        log.exception("作业 %s 的对账失败 / the reconciliation of job %s failed", name, name)
        runtime.alerts.emit(
            "run.failed",
            {"job": name, "kind": "reconcile", "error_zh": "对账未能完成", "error_en": str(exc)[:500]},
        )


def _report_failure(
    runtime: Runtime,
    job: SyncJob,
    name: str,
    exc: BaseException,
    failure: JobFailure,
    run_id: int | None,
    *,
    attempt: int,
) -> None:
    """Alerts for a run that raised: Kingdee out of reach or refusing the call, then the run."""
    if isinstance(exc, KingdeeError):
        # A sync job talks to one Kingdee connection; a refused login carries no connection name.
        connection = exc.context.connection or job.target
        if exc.disconnected:
            runtime.alerts.emit(
                "kingdee.disconnected",
                {
                    "connection": connection,
                    "job": name,
                    "run_id": run_id,
                    "msg_code": exc.msg_code,
                    "error_zh": exc.zh,
                    "error_en": exc.en,
                },
            )
        elif exc.msg_code is not None:
            runtime.alerts.emit(
                "kingdee.error",
                {
                    "connection": connection,
                    "form": exc.context.form_id,
                    "msg_code": exc.msg_code,
                    "message": exc.detail or exc.zh,
                    "job": name,
                    "run_id": run_id,
                    "action": str(exc.action),
                    "fault": str(exc.fault),
                },
            )
    runtime.alerts.emit(
        "run.failed",
        {
            "job": name,
            "run_id": run_id,
            "connection": failure.connection,
            "attempt": attempt,
            "error_zh": failure.zh,
            "error_en": failure.en,
            "action": failure.action,
            "fault": failure.fault,
        },
    )


def _report_refusals(
    runtime: Runtime, job: SyncJob, name: str, run_id: int | None, since: dt.datetime
) -> None:
    """One `kingdee.error` per form and MsgCode among the postings Kingdee refused during the run."""
    try:
        found = kingdee_failures(runtime.store, connection=job.target, since=since)
    except Exception:
        # Reporting must not turn a finished run into a failed one.
        log.exception("无法读取作业 %s 的过账失败 / cannot read the failed postings of job %s", name, name)
        return
    for item in found:
        runtime.alerts.emit(
            "kingdee.error",
            {
                "connection": item.connection,
                "form": item.form_id,
                "msg_code": item.msg_code,
                "postings": item.postings,
                "message": item.message,
                "job": name,
                "run_id": run_id,
            },
        )


def _failed(
    runtime: Runtime,
    job: SyncJob,
    name: str,
    lease: leases.Lease,
    holder: str,
    failure: JobFailure,
    run_id: int | None,
) -> Outcome:
    store, options = runtime.store, runtime.options
    newly_paused = health.record_failure(
        store, _blame(job, failure), error=failure.text()[:2000], pause_after=options.pause_after_failures
    )
    for connection in newly_paused:
        runtime.alerts.emit(
            "connection.paused",
            {
                "connection": connection,
                "failures": options.pause_after_failures,
                "job": name,
                "error_zh": failure.zh,
                "error_en": failure.en,
                "action": failure.action,
                "fault": failure.fault,
                "by": "auto",
            },
        )
    # A paused connection stops the retries too: the dead letter keeps the job for a replay.
    paused = newly_paused or health.paused_among(store, [job.source, job.target])
    if failure.retryable and lease.attempts < job.max_attempts and not paused:
        delay = backoff(
            lease.attempts,
            base=options.retry_base_seconds,
            cap=options.retry_max_seconds,
            jitter=options.retry_jitter,
        )
        if not leases.requeue(store, name, task_id=lease.task_id, holder=holder, error=failure.as_json()):
            return Outcome("lease_lost")
        states.record_finish(store, name, outcome="retrying", run_id=run_id, message=failure.text())
        runtime.alerts.emit(
            "job.retrying",
            {
                "job": name,
                "attempt": lease.attempts,
                "max_attempts": job.max_attempts,
                "retry_in_seconds": round(delay, 1),
                "error_zh": failure.zh,
                "error_en": failure.en,
                "action": failure.action,
                "fault": failure.fault,
                "run_id": run_id,
            },
        )
        return Outcome("retry", retry_in=delay, run_id=run_id, message=failure.text())
    return _bury(runtime, name, lease, failure, run_id)


def _bury(
    runtime: Runtime,
    name: str,
    lease: leases.Lease,
    failure: JobFailure,
    run_id: int | None,
    *,
    attempts: int | None = None,
) -> Outcome:
    store = runtime.store
    attempts = lease.attempts if attempts is None else attempts
    letter = deadletters.bury(
        store,
        job=name,
        task_id=lease.task_id,
        since=lease.since,
        failure=failure,
        attempts=attempts,
        run_id=run_id,
    )
    if letter is None:
        return Outcome("lease_lost")
    states.record_finish(store, name, outcome="dead", run_id=run_id, message=failure.text())
    runtime.alerts.emit(
        "job.dead",
        {
            "job": name,
            "dead_letter_id": letter,
            "attempts": attempts,
            "error_zh": failure.zh,
            "error_en": failure.en,
            "action": failure.action,
            "fault": failure.fault,
            **{f"context_{k}": v for k, v in failure.context.items()},
            "run_id": run_id,
        },
    )
    return Outcome("dead", run_id=run_id, dead_letter_id=letter, message=failure.text())


def _paused(runtime: Runtime, name: str, lease: leases.Lease, paused: list[str]) -> Outcome:
    """The job reached a worker while a connection of it is paused: do not run it. A job that was
    waiting for a retry keeps its last error as a dead letter, so resuming can replay it."""
    names = ", ".join(paused)
    message = f"连接 {names} 已暂停，作业 {name} 未运行 / connection {names} is paused; job {name} not run"
    if lease.last_error:
        failure = JobFailure.from_json(lease.last_error)
        # this start was counted as an attempt, but nothing ran
        return _bury(runtime, name, lease, failure, None, attempts=lease.attempts - 1)
    leases.release(runtime.store, name, task_id=lease.task_id)
    states.record_finish(runtime.store, name, outcome="paused", message=message)
    log.warning(message)
    return Outcome("paused", message=message)


def lost_failure(job: str, attempts: int, holder: str | None) -> JobFailure:
    """The failure recorded when a job's worker disappeared more often than it may be retried."""
    return JobFailure(
        f"执行作业 {job} 的进程多次失联（已尝试 {attempts} 次，最后一次 {holder or '-'}）",
        f"the worker running job {job} was lost too often ({attempts} attempts, last {holder or '-'})",
        str(Action.RETRY),
        str(Fault.TRANSIENT),
        "WorkerLost",
    )


def abandon_runs(store: Store, job: str) -> int:
    """Mark the job's runs left 'running' by a lost worker as failed (its lease guarantees that no
    other run of the job is in progress when this is called)."""
    message = "执行进程失联，作业已被接管 / worker lost; the job was taken over"
    with store.transaction() as session:
        rows = session.scalars(select(Run).where(Run.kind == f"sync:{job}", Run.status == "running")).all()
        for run in rows:
            run.status = "failed"
            run.message = message
            run.finished_at = utcnow()
        return len(rows)
