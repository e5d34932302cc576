"""Benchmark: signed webhook deliveries per second durably stored through a real `yecai serve`.

Starts `yecai serve` (web only, `--workers 0`) on a fresh store — SQLite in a temporary work
directory, or a fresh PostgreSQL database — with a workspace whose `pm` connection takes the
sandbox connector's webhooks, its secret stored encrypted as in production. A load generator in
another process fires signed `cost_record.created` deliveries (one new record each) over many
keep-alive connections, with a minimal HTTP/1.1 client of its own so that the client is not what
is measured, and reports the 2xx count, the rate and the 99th-percentile latency. After the
server has stopped, the store is counted: every acknowledged event must be there.

The same run measures the baseline first: the same server with batching off
(YECAI_WEBHOOK_BATCH_EVENTS=1, one transaction per event — the unbatched way, which remains),
then the default (a batch closes after 5 ms or 200 events). Not a test: nothing here asserts a time.

    .venv/bin/python bench/webhook_ingest.py --db sqlite
    .venv/bin/python bench/webhook_ingest.py --db postgres --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/webhook_ingest.py --db sqlite --events 600 --connections 16   # a small slice

Last line: `events_per_s=… p99_ms=… stored=N sent=N` (the batched run). Goal: ≥ 2,000, stored = sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.secrets import SecretBox, load_key
from yecai.sources.webhooks import WebhookSpec, sign
from yecai.store.db import open_store
from yecai.store.tables import Record
from yecai.store.webhook_tables import WebhookEvent

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret"
SERVE = "from yecai.cli.main import app; app()"
# the pm_sandbox connector's signing (yecai/connectors/pm_sandbox/connector.yaml)
SPEC = WebhookSpec(
    secret=SECRET,
    signature_header="X-PM-Signature",
    timestamp_header="X-PM-Timestamp",
    event_id_header="X-PM-Event-Id",
    events={},
)


# ---- the load generator (its own process) ------------------------------------------------------


def _requests(port: int, events: int, prefix: str) -> list[bytes]:
    """Every delivery as the raw bytes of one HTTP request, signed before the clock starts."""
    stamp = str(int(time.time()))
    built = []
    for n in range(events):
        event_id = f"{prefix}-{n}"
        body = json.dumps(
            {
                "event_type": "cost_record.created",
                "data": {
                    "record_id": f"CB-{prefix}-{n}",
                    "project_code": f"XM{n % 50:03d}",
                    "category": "material",
                    "business_date": "2026-10-05",
                    "description": "钢筋 HRB400 Φ25",
                    "quantity": "12.500",
                    "unit": "吨",
                    "unit_price": "4100.00",
                    "amount": "51250.00",
                    "tax_rate": "0.13",
                    "supplier_name": "华北钢材有限公司",
                },
            },
            ensure_ascii=False,
        ).encode()
        head = (
            f"POST /webhooks/pm HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-PM-Timestamp: {stamp}\r\n"
            f"X-PM-Signature: {sign(SPEC, stamp, body)}\r\nX-PM-Event-Id: {event_id}\r\n\r\n"
        )
        built.append(head.encode("latin-1") + body)
    return built


async def _fire(port: int, requests: list[bytes], connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    next_one = iter(requests)

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in next_one:  # shared: each request is sent by one connection
                started = time.perf_counter()
                writer.write(request)
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    errors += 1
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    acked = sum(count for status, count in statuses.items() if 200 <= status < 300)
    return {
        "sent": len(requests),
        "acked": acked,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": errors,
        "elapsed": elapsed,
        "p99_ms": p99 * 1000,
    }


def load_main(port: int, events: int, connections: int, prefix: str) -> None:
    try:
        import uvloop  # the generator's own loop, fast like the server's

        uvloop.install()
    except ImportError:
        pass
    requests = _requests(port, events, prefix)
    print(json.dumps(asyncio.run(_fire(port, requests, connections))))


# ---- the server and the store ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _workspace(path: Path) -> Path:
    connections = {
        "pm": {
            "kind": "source",
            "connector": "pm_sandbox",
            "base_url": "http://127.0.0.1:9",  # never pulled here: only its webhooks are served
            "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}", "PM_WEBHOOK_SECRET": "${PM_HOOK}"},
        }
    }
    path.write_text(yaml.safe_dump({"connections": connections}, allow_unicode=True), encoding="utf-8")
    return path


def _new_database(db: str, pg_url: str, work: Path) -> tuple[str, str | None]:
    """(store URL, PostgreSQL database to drop afterwards)."""
    if db == "sqlite":
        return f"sqlite:///{work / 'yecai.sqlite'}", None
    name = f"yecai_hooks_{uuid.uuid4().hex[:10]}"
    admin = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(pg_url).set(database=name).render_as_string(hide_password=False), name


def _drop_database(pg_url: str, name: str) -> None:
    admin = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_healthy(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"yecai serve exited:\n{log.read_text(encoding='utf-8', errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("yecai serve did not answer /healthz within 60 s")


def measure(
    db: str,
    pg_url: str,
    *,
    events: int,
    connections: int,
    batch_events: int | None,
    label: str,
    web_processes: int | None = None,
) -> dict[str, Any]:
    """One run: a fresh store, `yecai serve`, the load, then what the store holds."""
    work = Path(tempfile.mkdtemp(prefix=f"yecai-hooks-{label}-"))
    url, database = _new_database(db, pg_url, work)
    try:
        store = open_store(url)
        box = SecretBox(store, load_key(work))
        box.set("pm", "PM_TOKEN", DEFAULT_TOKEN)
        box.set("pm", "PM_HOOK", SECRET)
        store.close()
        port = _free_port()
        env = {
            **os.environ,
            "YECAI_WORKSPACE": str(_workspace(work / "yecai.yaml")),
            "YECAI_WORKDIR": str(work),
            "YECAI_DATABASE_URL": url,
        }
        if batch_events is not None:
            env["YECAI_WEBHOOK_BATCH_EVENTS"] = str(batch_events)
        log = work / "serve.log"
        command = [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--workers", "0"]
        if web_processes is not None:
            command += ["--web-processes", str(web_processes)]
        with log.open("wb") as out:
            server = subprocess.Popen(
                command,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(ROOT),
            )
        try:
            _wait_healthy(port, server, log)
            fired = subprocess.run(
                [
                    *(sys.executable, __file__, "--load", str(port), "--events", str(events)),
                    *("--connections", str(connections), "--prefix", label),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=str(ROOT),
            )
            result: dict[str, Any] = json.loads(fired.stdout.strip().splitlines()[-1])
        finally:
            server.send_signal(signal.SIGINT)  # Ctrl-C: what an operator does
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        store = open_store(url, upgrade=False)
        try:
            with store.transaction() as session:
                result["events_stored"] = session.scalar(
                    select(func.count()).select_from(WebhookEvent).where(WebhookEvent.connection == "pm")
                )
                result["stored"] = session.scalar(
                    select(func.count())
                    .select_from(Record)
                    .where(Record.connection == "pm", Record.stream == "cost_records")
                )
        finally:
            store.close()
        if db == "postgres":
            # what serve says it runs: "…, N web processes"
            found = re.search(r"(\d+) web processes", log.read_text(encoding="utf-8"))
            result["web"] = f"{found.group(1) if found else '?'} web processes"
        return result
    finally:
        if database is not None:
            _drop_database(pg_url, database)


def main() -> None:
    parser = argparse.ArgumentParser(description="webhook deliveries durably stored per second")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("YECAI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server where a throw-away database may be created (with --db postgres)",
    )
    parser.add_argument("--events", type=int, default=20_000, help="deliveries in the batched run")
    parser.add_argument(
        "--baseline-events", type=int, default=0, help="deliveries in the unbatched run (default events/5)"
    )
    parser.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections")
    parser.add_argument(
        "--web-processes",
        type=int,
        help="yecai serve --web-processes (default: 2 on PostgreSQL, 1 on SQLite)",
    )
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)  # the generator process: a port
    parser.add_argument("--prefix", default="ev", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load, args.events, args.connections, args.prefix)
        return
    baseline_events = args.baseline_events or max(args.connections, args.events // 5)
    runs = {}
    for label, count, batch in (("unbatched", baseline_events, 1), ("batched", args.events, None)):
        run = runs[label] = measure(
            args.db,
            args.pg_url,
            events=count,
            connections=args.connections,
            batch_events=batch,
            label=label,
            web_processes=args.web_processes,
        )
        run["events_per_s"] = run["acked"] / run["elapsed"] if run["elapsed"] else 0.0
        print(
            f"{label}: {args.db}{' (' + run['web'] + ')' if 'web' in run else ''} sent={run['sent']} "
            f"acked={run['acked']} statuses={run['statuses']} errors={run['errors']} "
            f"events_per_s={run['events_per_s']:.0f} p99_ms={run['p99_ms']:.1f} "
            f"stored={run['stored']} event_rows={run['events_stored']}",
            flush=True,
        )
    batched, unbatched = runs["batched"], runs["unbatched"]
    ratio = batched["events_per_s"] / unbatched["events_per_s"] if unbatched["events_per_s"] else 0.0
    print(f"ratio_vs_unbatched={ratio:.1f} (one transaction per event through the same server)")
    print(
        f"events_per_s={batched['events_per_s']:.0f} p99_ms={batched['p99_ms']:.1f} "
        f"stored={batched['stored']} sent={batched['sent']}"
    )


if __name__ == "__main__":
    main()
