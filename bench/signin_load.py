"""Sign-in load: does a flood of bad sign-ins slow down people who are already signed in?

Starts the web app under uvicorn on 127.0.0.1 (a free port, in its own process) over a temporary SQLite store with a
signed-in admin, then times the authenticated dashboard (`GET /api/v1/dashboard`) twice: alone
(the baseline, same run) and while `--attempts` bad sign-ins run `--concurrency` at a time, under
known and unknown names. Loopback only, bounded count and time. Prints one line with both 95th
percentiles, their ratio and the answers the sign-ins got. Not a test: no assertions.

    .venv/bin/python bench/signin_load.py --attempts 400 --concurrency 100
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

from yecai.auth import users
from yecai.auth.principal import SYSTEM
from yecai.settings import Settings
from yecai.store.db import open_store
from yecai.web.app import create_app

PASSWORD = "Bench-Password-42"
PAGE = "/api/v1/dashboard"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


async def time_page(
    client: httpx.AsyncClient, stop: asyncio.Event, *, at_least: int
) -> tuple[list[float], int]:
    """Fetch the page again and again until told to stop (and at least `at_least` times)."""
    samples: list[float] = []
    errors = 0
    while not stop.is_set() or len(samples) < at_least:
        started = time.perf_counter()
        answer = await client.get(PAGE)
        samples.append((time.perf_counter() - started) * 1000)
        errors += answer.status_code >= 500
        await asyncio.sleep(0.01)
    return samples, errors


async def flood(base: str, attempts: int, concurrency: int, deadline: float) -> collections.Counter[int]:
    statuses: collections.Counter[int] = collections.Counter()
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def one(n: int) -> None:
            async with gate:
                if time.monotonic() > deadline:
                    statuses[0] += 1  # not sent: the time bound was reached
                    return
                name = "admin" if n % 2 else f"no-such-user-{n % 7}"
                try:
                    answer = await client.post(
                        "/api/v1/session", json={"username": name, "password": f"wrong-guess-{n}"}
                    )
                    statuses[answer.status_code] += 1
                except httpx.HTTPError:
                    statuses[-1] += 1  # transport error (counted apart from 5xx)

        await asyncio.gather(*(one(n) for n in range(attempts)))
    return statuses


async def measure(base: str, cookie: str, args: argparse.Namespace) -> str:
    async with httpx.AsyncClient(base_url=base, cookies={"yecai_session": cookie}, timeout=120) as page:
        stop = asyncio.Event()
        stop.set()
        baseline, base_errors = await time_page(page, stop, at_least=args.samples)
        stop = asyncio.Event()
        timing = asyncio.create_task(time_page(page, stop, at_least=args.samples))
        started = time.monotonic()
        statuses = await flood(base, args.attempts, args.concurrency, started + args.max_seconds)
        flood_seconds = time.monotonic() - started
        stop.set()
        loaded, load_errors = await timing
    fivexx = sum(count for status, count in statuses.items() if status >= 500) + base_errors + load_errors
    answers = ",".join(f"{status}:{count}" for status, count in sorted(statuses.items()))
    return (
        f"page_p95_ms={p95(loaded):.1f} baseline_p95_ms={p95(baseline):.1f} "
        f"ratio={p95(loaded) / p95(baseline):.2f} signin_attempts={sum(statuses.values())} "
        f"concurrency={args.concurrency} flood_s={flood_seconds:.1f} page_requests={len(loaded)} "
        f"answers={answers} 5xx={fivexx}"
    )


def serve(workdir: Path, port: int, no_rate_limits: bool) -> None:
    """The server, in a process of its own (as `yecai serve` is): it shares no GIL with the load."""
    store = open_store(settings_for(workdir, no_rate_limits).store_url())
    app = create_app(store, settings=settings_for(workdir, no_rate_limits))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def settings_for(workdir: Path, no_rate_limits: bool) -> Settings:
    extra = {"login_rate_per_address": "100000/minute", "login_rate_per_account": "100000/minute"}
    return Settings(workspace=workdir / "yecai.yaml", workdir=workdir, **(extra if no_rate_limits else {}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=400, help="bad sign-ins in all (at most 5000)")
    parser.add_argument("--concurrency", type=int, default=100, help="bad sign-ins at once (at most 200)")
    parser.add_argument("--samples", type=int, default=50, help="page requests for each percentile")
    parser.add_argument("--max-seconds", type=float, default=120, help="stop sending sign-ins after this")
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="raise the per-address and per-name limits so every attempt reaches argon2 (the worst case)",
    )
    args = parser.parse_args()
    args.attempts = max(1, min(args.attempts, 5000))
    args.concurrency = max(1, min(args.concurrency, 200))
    with tempfile.TemporaryDirectory(prefix="yecai-signin-") as tmp:
        workdir = Path(tmp)
        store = open_store(settings_for(workdir, args.no_rate_limits).store_url())
        users.create_user(store, username="admin", role="admin", password=PASSWORD, by=SYSTEM)
        users.create_user(store, username="viewer", role="auditor", password=PASSWORD, by=SYSTEM)
        store.close()
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(workdir, port, args.no_rate_limits), daemon=True
        )
        server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):  # up to 60 s to start
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            signed_in = httpx.post(
                f"{base}/api/v1/session", json={"username": "viewer", "password": PASSWORD}
            )
            signed_in.raise_for_status()
            print(asyncio.run(measure(base, signed_in.cookies["yecai_session"], args)))
        finally:
            server.terminate()
            server.join(10)


if __name__ == "__main__":
    main()
