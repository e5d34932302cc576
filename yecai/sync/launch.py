"""Sync jobs as a service: open a workspace's connections and run one named job, or all of them.

This is what `yecai sync`, the scheduler and the workers call. Jobs are identified by name only —
never by URLs or secrets — so a queued job carries nothing sensitive; connections are opened here,
with secrets decrypted at the last moment.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import httpx

from yecai.secrets import SecretBox
from yecai.store.db import Store
from yecai.sync.pipeline import Check, Planned, Send, Step, SyncReport, run_sync_job
from yecai.workspace import KingdeeConnection, Workspace


@dataclass(frozen=True, slots=True)
class Transports:
    """Optional httpx transports per connection (tests route through fault injectors)."""

    by_connection: dict[str, httpx.BaseTransport]

    def get(self, name: str) -> httpx.BaseTransport | None:
        return self.by_connection.get(name)


def jobs_for(workspace: Workspace, connection: str | None = None) -> list[str]:
    """Sync job names, all or those touching `connection` (as source or target)."""
    return [
        name
        for name, job in workspace.syncs.items()
        if connection is None or connection in (job.source, job.target)
    ]


def run_sync(
    store: Store,
    workspace: Workspace,
    name: str,
    *,
    secrets: SecretBox | None,
    since: str | None = None,
    step: Step | None = None,
    transports: Transports | None = None,
    backoff: float = 0.5,
    limiter: Callable[[], AbstractContextManager[object]] | None = None,
    send: Send | None = None,
    check: Check | None = None,
    planned: Planned | None = None,
) -> SyncReport:
    """Run the sync job `name` of the workspace once.

    `limiter` is held around every call to the job's Kingdee data centre (its concurrency limit);
    `send` and `check` replace the pipeline's send and check steps (a job fanned out to workers),
    and `planned` is told of each part of the first plan stored (`pipeline.Planned`).
    """
    job = workspace.syncs[name]
    target = workspace.connections[job.target]
    senders = target.max_concurrency if isinstance(target, KingdeeConnection) else 1
    routes = transports or Transports({})
    connector = workspace.source(job.source, secrets, transport=routes.get(job.source))
    with workspace.kingdee(job.target, secrets, transport=routes.get(job.target), limiter=limiter) as client:
        return run_sync_job(
            store,
            connector,
            client,
            rule_sets=workspace.rule_sets(job),
            mapping=workspace.mapping(job),
            source_connection=job.source,
            kingdee_connection=job.target,
            streams=job.streams,
            related=job.related,
            since=since,
            batch_size=job.batch_size,
            max_attempts=job.max_attempts,
            backoff=backoff,
            step=step,
            kind=f"sync:{name}",
            send=send,
            check=check,
            planned=planned,
            plan_part_documents=job.plan_part_documents,
            # as many calls at once as the data centre allows (the limiter enforces it globally)
            senders=senders,
        )
