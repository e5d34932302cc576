"""Scale-out: the nightly sync of the seed case ×4 run by 1, 2 and 4 `yecai worker` processes.

The store is PostgreSQL and the queue Redis, as when scaled out. sandbox.kingdee answers like a
real site (50 ms per call plus 5 ms per record) and lets 16 calls run at once; the workspace's
limit is the same 16, shared by every worker through Redis. Like a real data centre it runs apart
from everything else, in a process of its own (`bench/sync_vs_sdk.py`'s), so its CPU does not
take turns with sandbox.pm's and the polling's under one interpreter lock. Each worker count gets a fresh
database, a fresh Kingdee and the same source data (sandbox.pm, 200 projects × 1 month). The job
shares its sending among `--parts` senders (`parts:` in the workspace, yecai/jobs/parts.py).
The wall time runs from queueing the job until its outcome is recorded. Then, with the latency
switched off, every yecai voucher in Kingdee is read back: each posting key exactly once, as many
vouchers as posted postings, and the same debit total as the source's cost records.

    .venv/bin/python bench/scale_out.py [--projects 200 --workers 1,2,4 --parts 4]
      [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres --redis-url redis://127.0.0.1:6379/0]

The last line is `speedup_2=… speedup_4=…` (wall time of one worker / wall time of n workers).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import redis
import yaml
from sqlalchemy import select
from sqlalchemy.engine import make_url

from yecai.demo import identity_of
from yecai.domain.money import money_sum
from yecai.jobs import states
from yecai.jobs.config import JobSettings
from yecai.jobs.parts import part_kind
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import open_runtime
from yecai.kingdee.client import KingdeeClient
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.secrets import SecretBox, load_key
from yecai.settings import Settings
from yecai.store.db import Store, open_store
from yecai.store.tables import Posting, Run
from yecai.sync.readback import read_yecai_vouchers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_vs_sdk import Kingdee
from sync_vs_sdk import kingdee as kingdee_process

JOB = "nightly"
WORKER = "from yecai.cli.main import app; app()"
DONE = ("succeeded", "attention", "dead")


def workspace_file(path: Path, pm_url: str, kingdee: dict[str, Any], limit: int, parts: int) -> Path:
    connections = {
        "pm": {
            "kind": "source",
            "connector": "pm_sandbox",
            "base_url": pm_url,
            "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"},
        },
        "kd": {
            "kind": "kingdee",
            "server_url": str(kingdee["server_url"]),
            "acct_id": str(kingdee["acct_id"]),
            "user_name": str(kingdee["user_name"]),
            "app_id": str(kingdee["app_id"]),
            "app_secret": "${KD_APP_SECRET}",
            "lcid": int(kingdee["lcid"]),
            "org_num": str(kingdee["org_num"]),
            "max_concurrency": limit,
            "timeout_seconds": 120,
        },
    }
    jobs = {JOB: {"source": "pm", "target": "kd", "batch_size": 50, "parts": parts}}
    path.write_text(yaml.safe_dump({"connections": connections, "syncs": jobs}), encoding="utf-8")
    return path


def admin_conninfo(pg_url: str) -> str:
    return make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_database(pg_url: str) -> str:
    name = f"yecai_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_conninfo(pg_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return make_url(pg_url).set(database=name).render_as_string(hide_password=False)


def drop_database(pg_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(admin_conninfo(pg_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def in_kingdee(credentials: dict[str, Any], store: Store) -> tuple[int, Counter[str], Decimal]:
    """The yecai vouchers Kingdee holds: how many, how often each key occurs, their debit total.

    Every voucher carrying a yecai key is read (by 摘要 token and by FBillNo); the postings only
    name the key values (an FBillNo of a posting yecai lacks stands for itself: unknown)."""
    with store.transaction() as session:
        postings = list(session.scalars(select(Posting)))
    with KingdeeClient(str(credentials["server_url"]), identity_of(credentials), connection="kd") as client:
        vouchers = read_yecai_vouchers(client, postings)
    keys: Counter[str] = Counter(key for voucher in vouchers.values() for key in voucher.keys)
    return len(vouchers), keys, money_sum(voucher.debit for voucher in vouchers.values())


def posted_in_yecai(store: Store) -> dict[str, Decimal]:
    with store.transaction() as session:
        rows = session.execute(
            select(Posting.posting_key, Posting.debit_total).where(Posting.state == "posted")
        ).all()
    return {key: Decimal(debit) for key, debit in rows}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phases(store: Store) -> str:
    """Where the run's time went: planning before the senders, sharing, and settling alone after."""
    with store.transaction() as session:
        job = session.execute(select(Run.started_at, Run.finished_at).where(Run.kind == f"sync:{JOB}")).one()
        shares = session.execute(
            select(Run.started_at, Run.finished_at, Run.counts).where(Run.kind == part_kind(JOB))
        ).all()
    if not shares or job[1] is None:
        return "phases: not fanned out"
    first = min(start for start, _, _ in shares)
    last = max(end for _, end, _ in shares if end is not None)
    # per sender: postings taken / seconds from its start to its end (sending, numbering, checking)
    each = ",".join(
        f"{counts.get('taken', 0)}/{(end - start).total_seconds():.0f}"
        for start, end, counts in sorted(shares, key=lambda row: row[0])
        if end is not None
    )
    return (
        f"plan_s={(first - job[0]).total_seconds():.1f} share_s={(last - first).total_seconds():.1f} "
        f"settle_s={(job[1] - last).total_seconds():.1f} senders={len(shares)} taken/s={each}"
    )


def run_once(workers: int, args: argparse.Namespace, pm_url: str, source_total: Decimal, work: Path) -> float:
    """One worker count on a fresh database and a fresh Kingdee; the wall time (exactly once checked)."""
    with kingdee_process(work / f"kd-{workers}", args.latency_ms, args.per_record_ms, args.limit) as kingdee:
        return _run_once(workers, args, pm_url, source_total, work, kingdee)


def _run_once(
    workers: int, args: argparse.Namespace, pm_url: str, source_total: Decimal, work: Path, kingdee: Kingdee
) -> float:
    credentials = kingdee.credentials
    db_url = fresh_database(args.pg_url)
    queue_name = f"scale{uuid.uuid4().hex[:8]}"
    workdir = work / f"work-{workers}"
    workspace = workspace_file(work / f"yecai-{workers}.yaml", pm_url, credentials, args.limit, args.parts)
    store = open_store(db_url)
    processes: list[subprocess.Popen[bytes]] = []
    settings = Settings(workspace=workspace, workdir=workdir, database_url=db_url, queue_url=args.redis_url)
    runtime = open_runtime(settings, options=JobSettings(queue_name=queue_name), store=store)
    try:
        box = SecretBox(store, load_key(workdir))
        box.set("pm", "PM_TOKEN", DEFAULT_TOKEN)
        box.set("kd", "KD_APP_SECRET", str(credentials["app_secret"]))
        env = {
            **os.environ,
            "YECAI_WORKSPACE": str(workspace),
            "YECAI_WORKDIR": str(workdir),
            "YECAI_DATABASE_URL": db_url,
            "YECAI_QUEUE_URL": args.redis_url,
            "YECAI_JOBS_QUEUE_NAME": queue_name,
        }
        for n in range(workers):
            log = (work / f"worker-{workers}-{n}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, "worker", "--workers", "1"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        # the clock starts once every worker's consumer runs (imports and migrations are not timed)
        logs = [work / f"worker-{workers}-{n}.log" for n in range(workers)]
        deadline = time.monotonic() + args.startup_seconds
        while not all(b"consumer started" in log.read_bytes() for log in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit(f"the workers did not start; see {work}/worker-{workers}-*.log")
            time.sleep(0.1)
        queue = JobQueue(runtime)
        started, cpu_before, kingdee_before = time.perf_counter(), own_cpu(), cpu_seconds(kingdee.pid)
        workers_before = sum(cpu_seconds(p.pid) for p in processes)
        assert queue.enqueue(JOB).queued
        while True:
            state = states.state(store, JOB)
            if state is not None and state.last_outcome in DONE:
                break
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"a worker exited; see {work}/worker-{workers}-*.log")
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        # sandbox.kingdee's process, this process (sandbox.pm and the polling) and the workers
        used = sum(cpu_seconds(p.pid) for p in processes) - workers_before
        cpu = (
            f"cpu_kingdee_s={cpu_seconds(kingdee.pid) - kingdee_before:.1f} "
            f"cpu_pm_s={own_cpu() - cpu_before:.1f} cpu_workers_s={used:.1f}"
        )
        assert state.last_outcome == "succeeded", (state.last_outcome, state.last_message)
        kingdee.faults(latency_ms=0, per_record_ms=0, max_concurrency=0)
        count, keys, debit = in_kingdee(credentials, store)
        posted = posted_in_yecai(store)
        once = (
            count == len(posted)
            and set(keys) == set(posted)
            and set(keys.values()) == {1}
            and debit == money_sum(posted.values()) == source_total
        )
        print(
            f"workers={workers} wall_s={elapsed:.1f} vouchers={count} postings={len(posted)} "
            f"debit={debit} source={source_total} exactly_once={'yes' if once else 'NO'} "
            f"{phases(store)} {cpu}",
            flush=True,
        )
        if not once:
            twice = sorted(key for key, n in keys.items() if n > 1)[:5]
            raise SystemExit(
                "Kingdee does not hold every posting exactly once: "
                f"missing {sorted(set(posted) - set(keys))[:5]}, unknown {sorted(set(keys) - set(posted))[:5]}, "
                f"more than once {twice}, yecai debit {money_sum(posted.values())}"
            )
        return elapsed
    finally:
        for process in processes:
            process.kill()
            process.wait(10)
        runtime.close()
        store.close()
        drop_database(args.pg_url, db_url)
        client = redis.Redis.from_url(args.redis_url)
        keys = [*client.scan_iter(f"huey.*.{queue_name}*"), *client.scan_iter(f"yecai:{queue_name}:*")]
        if keys:
            client.delete(*keys)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, the first is the baseline")
    parser.add_argument("--parts", type=int, default=4, help="senders a run is shared among")
    parser.add_argument("--limit", type=int, default=16, help="concurrent calls Kingdee allows")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--per-record-ms", type=float, default=5.0)
    parser.add_argument("--startup-seconds", type=float, default=120.0, help="longest wait for the workers")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    pm, dataset = start_pm(projects=args.projects, months=args.months, seed=args.seed)
    source_total = money_sum(record.amount for record in dataset.all_cost_records)
    print(
        f"seed case ×{args.projects / 50:g}: {args.projects} projects × {args.months} month(s), "
        f"{len(dataset.all_cost_records):,} cost records; PostgreSQL + Redis; sandbox.kingdee "
        f"{args.latency_ms:g} ms/call + {args.per_record_ms:g} ms/record, {args.limit} calls at once; "
        f"{args.parts} senders per run",
        flush=True,
    )
    walls: dict[int, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for workers in counts:
                walls[workers] = run_once(workers, args, pm.base_url, source_total, Path(tmp))
    finally:
        pm.stop()
    base = walls[counts[0]]
    print(" ".join(f"speedup_{n}={base / walls[n]:.2f}" for n in counts[1:]))


if __name__ == "__main__":
    main()
