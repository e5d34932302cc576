"""The task queue: Huey, one code path — SQLite storage embedded, Redis when scaled out.

A task carries the sync job's name and `since`, never URLs or secrets. Its lease (the identity
key) is claimed in the store before it is queued, so a job is never queued twice; stale leases are
taken over. Every consumer — threads in `yecai serve`, or `yecai worker` processes — also runs the
scheduler tick: take over stale leases, enqueue due runs, each scheduled moment claimed once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey, Task
from huey.consumer import Consumer, Scheduler
from huey.exceptions import RetryTask

from yecai.errors import ConfigurationError, YecaiError
from yecai.jobs import deadletters, leases, states
from yecai.jobs.parts import Fanout, execute_part, is_part, job_of
from yecai.jobs.reporting import REPORT_JOB, write_scheduled_monthly
from yecai.jobs.runner import Runtime, abandon_runs, execute, is_distributed, lost_failure
from yecai.jobs.schedule import due_run
from yecai.jobs.stalls import check_stalled
from yecai.services import health
from yecai.settings import Settings
from yecai.store.clock import utcnow
from yecai.store.db import private_file
from yecai.sync.pipeline import Check, Planned, Send
from yecai.workspace import SyncJob, Workspace

log = logging.getLogger("yecai.jobs")

RUN_TASK = "yecai.run_sync_job"
PART_TASK = "yecai.run_sync_part"
REPORT_TASK = "yecai.write_monthly_report"
# a report that failed (Kingdee unreachable at 07:00) is tried again twice, 10 minutes apart
REPORT_RETRIES, REPORT_RETRY_DELAY = 2, 600


def make_huey(settings: Settings, queue_name: str = "yecai") -> Huey:
    """RedisHuey for `redis://…` queue URLs, else SqliteHuey in the work directory."""
    if is_distributed(settings):
        assert settings.queue_url is not None
        return RedisHuey(queue_name, url=settings.queue_url, results=False)
    if settings.queue_url:
        raise ConfigurationError(
            f"不支持的队列地址 {settings.queue_url}：请用 redis://…，或不设以使用内嵌队列",
            f"unsupported queue URL {settings.queue_url}: use redis://…, or leave it unset for the embedded queue",
        )
    queue_file = settings.workdir / "queue.sqlite3"
    private_file(queue_file)  # owner only, like the store: it holds every queued task's arguments
    return SqliteHuey(queue_name, filename=str(queue_file), results=False)


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What asking for a run got: queued (a new task), or why not."""

    job: str
    queued: bool
    # queued | taken_over | already_queued | already_running | paused | lost
    status: str
    task_id: str | None = None
    message: str = ""


@dataclass(slots=True)
class TickResult:
    enqueued: dict[str, dt.datetime] = field(default_factory=dict)  # job → scheduled moment
    coalesced: list[str] = field(default_factory=list)  # due, but already queued or running
    paused: list[str] = field(default_factory=list)  # due, but a connection is paused
    taken_over: list[str] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)  # running, but silent past stall_seconds
    errors: dict[str, str] = field(default_factory=dict)


class _QueueSnapshot:
    """Which task ids wait in the queue or its retry schedule, read once per question."""

    def __init__(self, huey: Huey) -> None:
        self._huey = huey
        self._ids: set[str] | None = None

    def __call__(self, task_id: str) -> bool:
        if self._ids is None:
            try:
                self._ids = {t.id for t in self._huey.pending()} | {t.id for t in self._huey.scheduled()}
            except Exception:
                # Cannot read the queue: assume the task is there rather than run a job twice.
                log.exception("无法读取队列 / cannot read the queue")
                return True
        return task_id in self._ids


class JobQueue:
    """Huey plus the identity keys, takeover, replay and the scheduler tick."""

    def __init__(self, runtime: Runtime, huey: Huey | None = None) -> None:
        self.runtime = runtime
        self.huey = huey or make_huey(runtime.settings, runtime.options.queue_name)
        self._run = self.huey.task(context=True, name=RUN_TASK)(self._run_task)
        self._part = self.huey.task(context=True, name=PART_TASK)(self._part_task)
        self._report = self.huey.task(
            name=REPORT_TASK, retries=REPORT_RETRIES, retry_delay=REPORT_RETRY_DELAY
        )(self._report_task)

    # --- the task -------------------------------------------------------------------------------

    def _run_task(self, job: str, since: str | None = None, task: Task | None = None) -> None:
        assert task is not None
        outcome = execute(self.runtime, job, task_id=task.id, since=since, fan_out=self._fan_out)
        if outcome.retry_in is not None:
            # Same task id, put on Huey's schedule: the lease (still ours, 'queued') waits for it.
            raise RetryTask(delay=outcome.retry_in)

    def _part_task(self, job: str, part: str, token: str, task: Task | None = None) -> None:
        assert task is not None
        execute_part(self.runtime, job, part, task_id=task.id, token=token)

    def _fan_out(
        self, job: str, spec: SyncJob, fence: Callable[[], None]
    ) -> tuple[Send, Check, Planned] | None:
        """The send and check steps of a job whose sending `parts` workers share.

        PostgreSQL only: there `FOR UPDATE SKIP LOCKED` hands each batch to one sender. SQLite's
        deferred transactions would let two senders read the same planned postings (the embedded
        queue runs in one process anyway; its job sends alone)."""
        if spec.parts < 2 or self.runtime.store.engine.dialect.name != "postgresql":
            return None
        fanout = Fanout(
            self.runtime.store,
            job=job,
            parts=spec.parts,
            enqueue=self.enqueue_part,
            lease_seconds=self.runtime.options.lease_seconds,
            fence=fence,
        )
        return fanout.send, fanout.check, fanout.planned

    def enqueue_part(self, job: str, part: str, token: str) -> str | None:
        """Queue one part of a fanned-out run, its lease claimed first; its task id, or None."""
        task = self._part.s(job, part, token)
        if not leases.claim(self.runtime.store, part, task_id=task.id, since=None, origin="part"):
            return None  # still held by a part of an earlier run: one sender fewer
        self._put(part, task)
        return task.id

    def _report_task(self, moment: str) -> None:
        write_scheduled_monthly(self.runtime, moment=dt.datetime.fromisoformat(moment))

    # --- enqueueing -----------------------------------------------------------------------------

    def enqueue(
        self,
        job: str,
        *,
        since: str | None = None,
        origin: str = "manual",
        scheduled_for: dt.datetime | None = None,
        workspace: Workspace | None = None,
    ) -> Enqueued:
        """Queue a run of `job` unless it is already queued or running (or a connection is paused)."""
        space = workspace or self.runtime.workspace()
        spec = space.syncs.get(job)
        if spec is None:
            raise ConfigurationError(f"工作区中没有同步作业 {job}", f"the workspace has no sync job {job}")
        store = self.runtime.store
        paused = health.paused_among(store, [spec.source, spec.target])
        if paused:
            names = ", ".join(paused)
            return Enqueued(
                job,
                False,
                "paused",
                message=f"连接 {names} 已暂停：先 yecai jobs resume {paused[0]} / connection {names} is paused: "
                f"`yecai jobs resume {paused[0]}` first",
            )
        for _ in range(3):  # a lease released between our claim and our look is simply claimed again
            task = self._run.s(job, since)
            if leases.claim(
                store, job, task_id=task.id, since=since, origin=origin, scheduled_for=scheduled_for
            ):
                self._put(job, task)
                return Enqueued(job, True, "queued", task.id, f"已排队 / queued ({task.id})")
            existing = leases.get(store, job)
            if existing is None:
                continue
            if self._stale(existing):
                taken = self._take_over(existing, space)
                if taken is not None:
                    return taken
                continue
            status = "already_running" if existing.state == "running" else "already_queued"
            where = f"{existing.state} since {existing.queued_at:%Y-%m-%d %H:%M:%S} UTC"
            return Enqueued(
                job,
                False,
                status,
                existing.task_id,
                f"作业 {job} 已在队列中或正在运行（{existing.state}），不重复排队 / "
                f"job {job} is already {where}; not queued twice",
            )
        return Enqueued(
            job,
            False,
            "already_queued",
            message=f"作业 {job} 正被并发排队 / job {job} is being queued concurrently",
        )

    def _put(self, job: str, task: Task) -> None:
        try:
            self.huey.enqueue(task)
        except Exception:
            # The queue refused: give the identity key back so the next attempt is not blocked.
            leases.release(self.runtime.store, job, task_id=task.id)
            raise

    def _stale(self, lease: leases.Lease, snapshot: Callable[[str], bool] | None = None) -> bool:
        return leases.is_stale(
            lease,
            now=utcnow(),
            lease_seconds=self.runtime.options.lease_seconds,
            in_queue=snapshot or _QueueSnapshot(self.huey),
        )

    def _take_over(self, lease: leases.Lease, workspace: Workspace) -> Enqueued | None:
        """Hand a stale lease to a new task (or bury the job if its workers keep disappearing)."""
        store, job = self.runtime.store, lease.job
        spec = workspace.syncs.get(job)
        if spec is None:  # the job was removed from the workspace: nothing to take over
            leases.release(store, job, task_id=lease.task_id)
            return None
        if lease.state == "running" and lease.attempts >= spec.max_attempts:
            failure = lost_failure(job, lease.attempts, lease.holder)
            letter = deadletters.bury(
                store,
                job=job,
                task_id=lease.task_id,
                since=lease.since,
                failure=failure,
                attempts=lease.attempts,
            )
            if letter is None:
                return None
            abandon_runs(store, job)
            states.record_finish(store, job, outcome="dead", message=failure.text())
            self.runtime.alerts.emit(
                "job.lost",
                {"job": job, "dead_letter_id": letter, "attempts": lease.attempts, "holder": lease.holder},
            )
            return Enqueued(job, False, "lost", message=failure.text())
        task = self._run.s(job, lease.since)
        if not leases.take_over(store, lease, task_id=task.id):
            return None  # someone else took it over first
        if lease.state == "running":
            abandon_runs(store, job)
            if lease.holder:
                # The dead worker may hold every call slot of the data centre (a job sends with
                # up to max_concurrency calls in flight): free them now, not when they expire.
                self.runtime.limits.release_owner(spec.target, lease.holder)
        states.record_takeover(store, job)
        self.runtime.alerts.emit(
            "lease.taken_over",
            {
                "job": job,
                "state": lease.state,
                "holder": lease.holder,
                "attempts": lease.attempts,
                "heartbeat_at": lease.heartbeat_at.isoformat() if lease.heartbeat_at else None,
            },
        )
        try:
            self.huey.enqueue(task)
        except Exception:
            # The lease now names a task that is not queued: the next tick finds it stale again.
            log.exception("接管作业 %s 后无法入队 / cannot enqueue job %s after taking it over", job, job)
            raise
        return Enqueued(job, True, "taken_over", task.id, f"已接管并排队 / taken over and queued ({task.id})")

    def recover(self, workspace: Workspace | None = None) -> list[str]:
        """Take over every stale lease; the jobs taken over (or buried)."""
        space = workspace or self.runtime.workspace()
        snapshot = _QueueSnapshot(self.huey)
        done: list[str] = []
        for lease in leases.all_leases(self.runtime.store):
            if is_part(lease.job):
                # A part is never retried: its job's final step settles what a lost part left.
                if self._stale(lease, snapshot):
                    leases.release(self.runtime.store, lease.job, task_id=lease.task_id)
                    spec = space.syncs.get(job_of(lease.job))
                    if lease.holder and spec is not None:
                        # its calls died with it: free its slots now, not when they expire
                        self.runtime.limits.release_owner(spec.target, lease.holder)
                continue
            if self._stale(lease, snapshot) and self._take_over(lease, space) is not None:
                done.append(lease.job)
        return done

    def replay(self, letter_id: int, *, who: str) -> Enqueued:
        """Queue a dead letter's job again with the same arguments, and mark the letter replayed."""
        letter = deadletters.dead_letter(self.runtime.store, letter_id)
        if letter is None:
            raise YecaiError(f"没有编号为 {letter_id} 的死信", f"no dead letter {letter_id}")
        if letter.status != "dead":
            raise YecaiError(
                f"死信 {letter_id} 已是 {letter.status}（{letter.who}），不能重放",
                f"dead letter {letter_id} is already {letter.status} (by {letter.who}); cannot replay it",
            )
        result = self.enqueue(letter.job, since=letter.since, origin="replay")
        if result.status in ("queued", "taken_over", "already_queued", "already_running"):
            # A run already waiting or running does the same work: the letter is answered by it.
            note = None if result.queued else result.message
            if not deadletters.mark_replayed(self.runtime.store, letter_id, who=who, note=note):
                raise YecaiError(
                    f"死信 {letter_id} 已被他人处理", f"dead letter {letter_id} was handled by someone else"
                )
        return result

    # --- scheduling -----------------------------------------------------------------------------

    def tick(self, now: dt.datetime | None = None) -> TickResult:
        """Report stalled runs, take over stale leases, then enqueue every scheduled run that
        became due (once each)."""
        result = TickResult()
        try:
            # Before the takeovers: a lease silent past stall_seconds is reported even when the
            # takeover that follows (past lease_seconds) cannot happen. Heartbeats are wall-clock
            # time, whatever moment `now` asks the schedules about.
            result.stalled = check_stalled(
                self.runtime.store, utcnow(), self.runtime.options.stall(), hooks=self.runtime.alerts
            )
        except Exception:
            log.exception("检查停滞运行出错 / checking for stalled runs failed")
        try:
            space = self.runtime.workspace()
        except YecaiError as exc:
            log.error("调度：%s / scheduler: cannot read the workspace", exc)
            result.errors["*"] = str(exc)
            return result
        result.taken_over = self.recover(space)
        moment_now = now or utcnow()
        store, calendar = self.runtime.store, self.runtime.calendar
        for name, spec in space.syncs.items():
            if spec.schedule is None:
                continue
            try:
                start = states.schedule_start(store, name, now=moment_now)
                due = due_run(spec.schedule, start, moment_now, calendar, job=name)
                if due is None or not states.claim_moment(store, name, due):
                    continue  # nothing due, or another scheduler enqueued this moment
                queued = self.enqueue(name, origin="schedule", scheduled_for=due, workspace=space)
            except YecaiError as exc:
                log.error("调度作业 %s 失败 / scheduling job %s failed: %s", name, name, exc)
                result.errors[name] = str(exc)
                continue
            if queued.queued:
                result.enqueued[name] = due
                log.info("已按计划排队 %s（%s）/ scheduled run of %s queued", name, due.isoformat(), name)
            elif queued.status == "paused":
                result.paused.append(name)
                log.warning("计划运行未排队：%s / scheduled run not queued: %s", queued.message, name)
            else:
                result.coalesced.append(name)
        self._tick_report(space, moment_now, result)
        return result

    def _tick_report(self, space: Workspace, now: dt.datetime, result: TickResult) -> None:
        """Queue the scheduled monthly report when its moment has come (once per moment)."""
        monthly = space.reports.monthly
        if monthly is None:
            return
        store = self.runtime.store
        try:
            start = states.schedule_start(store, REPORT_JOB, now=now)
            due = due_run(monthly.schedule, start, now, self.runtime.calendar, job=REPORT_JOB)
            if due is None or not states.claim_moment(store, REPORT_JOB, due):
                return
            self.huey.enqueue(self._report.s(due.isoformat()))
        except YecaiError as exc:
            log.error("调度月度经营分析失败 / scheduling the monthly report failed: %s", exc)
            result.errors[REPORT_JOB] = str(exc)
            return
        result.enqueued[REPORT_JOB] = due
        log.info("已按计划排队月度经营分析（%s）/ scheduled monthly report queued", due.isoformat())

    # --- consuming ------------------------------------------------------------------------------

    def consumer(
        self, *, workers: int | None = None, embedded: bool = False, max_delay: float = 2.0
    ) -> Consumer:
        """A Huey consumer with `workers` threads whose scheduler also ticks this queue.

        `embedded` leaves signal handling to the host process (`yecai serve` runs it next to
        the web server, which owns Ctrl-C)."""
        cls = _EmbeddedConsumer if embedded else _JobConsumer
        return cls(
            self.huey,
            job_queue=self,
            workers=workers or self.runtime.options.workers,
            periodic=True,
            worker_type="thread",
            max_delay=max_delay,
            scheduler_interval=1,
        )


class _TickingScheduler(Scheduler):
    """Huey's scheduler (moves due retries onto the queue every second) that, instead of Huey's
    periodic tasks, runs our tick every `tick_seconds` in its own thread: a busy queue never
    delays scheduling, and no tick tasks pile up in the queue."""

    def __init__(
        self, huey: Huey, stop_flag: Any, interval: int, periodic: bool, job_queue: JobQueue
    ) -> None:
        super().__init__(huey, stop_flag, interval, periodic)
        self.job_queue = job_queue
        self.periodic_task_seconds = job_queue.runtime.options.tick_seconds

    def enqueue_periodic_tasks(self, now: dt.datetime | None) -> None:
        try:
            self.job_queue.tick()
        except Exception:
            log.exception("调度出错 / scheduler tick failed")


class _JobConsumer(Consumer):
    def __init__(self, huey: Huey, *, job_queue: JobQueue, **options: Any) -> None:
        self.job_queue = job_queue  # before super().__init__, which creates the scheduler
        super().__init__(huey, **options)

    def _create_scheduler(self) -> Scheduler:
        return _TickingScheduler(
            self.huey, self.stop_flag, self.scheduler_interval, self.periodic, self.job_queue
        )


class _EmbeddedConsumer(_JobConsumer):
    def _set_signal_handlers(self) -> None:
        pass  # the web server in the same process owns SIGINT/SIGTERM; `stop()` is called on exit
