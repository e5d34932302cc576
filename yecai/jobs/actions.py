"""What an operator does to jobs from the console, each with its audit entry and alert.

Replay or skip a dead letter, pause or resume a connection, queue a job now: the same services
as `yecai jobs …`, wrapped so that the person who acted is recorded (`yecai.auth.audit`) and the
alert channels hear of pauses — one place for the console (and any other caller) to get it right.
Refusals are `YecaiError`s with both languages.
"""

from __future__ import annotations

from yecai.auth import audit
from yecai.auth.principal import Principal
from yecai.errors import DataError, YecaiError
from yecai.jobs import deadletters
from yecai.jobs.deadletters import DeadLetterView
from yecai.jobs.queue import Enqueued, JobQueue
from yecai.observability.events import AlertHooks, alerts
from yecai.services import health
from yecai.store.db import Store
from yecai.workspace import Workspace


def replay_dead_letter(queue: JobQueue, store: Store, letter_id: int, *, by: Principal) -> Enqueued:
    result = queue.replay(letter_id, who=by.username)
    audit.log(
        store,
        by,
        action="deadletter.replay",
        target_type="dead_letter",
        target_id=letter_id,
        before={"status": "dead"},
        after={"status": "replayed", "queue": result.status},
    )
    return result


def skip_dead_letter(store: Store, letter_id: int, *, reason: str, by: Principal) -> DeadLetterView:
    why = reason.strip()
    if not why:
        raise DataError("请写明跳过原因", "give a reason for skipping")
    letter = deadletters.dead_letter(store, letter_id)
    if letter is None:
        raise DataError(f"没有编号为 {letter_id} 的死信", f"no dead letter {letter_id}")
    if not deadletters.mark_skipped(store, letter_id, who=by.username, reason=why):
        raise YecaiError(
            f"死信 {letter_id} 已是 {letter.status}，不能跳过",
            f"dead letter {letter_id} is already {letter.status}; cannot skip it",
        )
    audit.log(
        store,
        by,
        action="deadletter.skip",
        target_type="dead_letter",
        target_id=letter_id,
        before={"status": "dead"},
        after={"status": "skipped", "reason": why},
    )
    found = deadletters.dead_letter(store, letter_id)
    assert found is not None
    return found


def pause_connection(
    store: Store,
    space: Workspace,
    name: str,
    *,
    reason: str,
    by: Principal,
    hooks: AlertHooks | None = None,
) -> bool:
    """Pause; returns whether it changed anything (False: it was paused already)."""
    if name not in space.connections:
        raise DataError(f"工作区中没有连接 {name}", f"the workspace has no connection {name}")
    why = reason.strip() or "手动暂停 / paused by hand"
    changed = health.pause(store, name, who=by.username, reason=why)
    if changed:
        (hooks or alerts).emit("connection.paused", {"connection": name, "by": by.username, "reason": why})
        audit.log(
            store,
            by,
            action="connection.pause",
            target_type="connection",
            target_id=name,
            before={"paused": False},
            after={"paused": True, "reason": why},
        )
    return changed


def resume_connection(store: Store, name: str, *, by: Principal, hooks: AlertHooks | None = None) -> bool:
    changed = health.resume(store, name)
    if changed:
        (hooks or alerts).emit("connection.resumed", {"connection": name, "by": by.username})
        audit.log(
            store,
            by,
            action="connection.resume",
            target_type="connection",
            target_id=name,
            before={"paused": True},
            after={"paused": False},
        )
    return changed


def run_job(
    queue: JobQueue, store: Store, space: Workspace, name: str, *, by: Principal, since: str | None = None
) -> Enqueued:
    if name not in space.syncs:
        raise DataError(f"工作区中没有同步作业 {name}", f"the workspace has no sync job {name}")
    result = queue.enqueue(name, since=since, workspace=space)
    audit.log(
        store,
        by,
        action="job.run",
        target_type="job",
        target_id=name,
        after={"since": since, "status": result.status, "task": result.task_id},
    )
    return result
