"""The seed case, yecai against Kingdee's own SDK and against the sandbox's floor, in one run.

50 projects × 1 month of costs from sandbox.pm into sandbox.kingdee, which answers like a real
site: 50 ms per call plus 5 ms per record (package saved or row returned), and handles at most 4
calls at once — the workspace's default `max_concurrency`. Each sandbox runs in a process of its
own, so its CPU does not compete with yecai's for the GIL.

- yecai runs its whole nightly pipeline (pull, validate, bind, plan, BatchSave with up to 4
  calls in flight, read back by key and check) into a fresh data centre.
- The baseline, the official Python SDK, saves the very vouchers yecai posted, one per call —
  what most hand-written integrations do — into a second fresh data centre with the same
  settings (its 项目 values and suppliers are created beforehand, untimed).
- The floor is what the sandbox made yecai wait, spread over the calls allowed at once:
  (calls × latency + records × per-record) / concurrency, counted by the sandbox itself.

The last line is `sdk_s=… yecai_s=… floor_s=… ratio_vs_sdk=… ratio_vs_floor=…`.

    .venv/bin/python bench/sync_vs_sdk.py [--projects 50 --months 1 --latency-ms 50 --per-record-ms 5]
                                          [--senders 4]   # 1: yecai one call at a time, for comparison
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from k3cloud_webapi_sdk.main import K3CloudApiSdk
from sqlalchemy import select

from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.demo import identity_of
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.vouchers import FORM_ID as VOUCHER_FORM
from yecai.mapping.rules import default_mapping, default_rule_set
from yecai.sandbox.kingdee.datadir import credentials
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.store.db import Store, open_store
from yecai.store.tables import Binding, Posting
from yecai.sync.pipeline import run_cost_sync

CONCURRENCY = 4  # the workspace's default max_concurrency per data centre


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"sandbox at {url} did not come up")


@contextmanager
def _process(args: list[str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "yecai.cli.main", "sandbox", *args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
    try:
        _wait_until_up(ready_url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Kingdee:
    """A sandbox.kingdee process: its SDK credentials and what it counted."""

    site: str
    credentials: dict[str, Any]
    pid: int = 0  # the sandbox's process: its CPU time is read from /proc

    def counts(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.site}admin/faults", timeout=10).json()["counts"])

    def faults(self, **changes: float) -> None:
        httpx.post(f"{self.site}admin/faults", json=changes, timeout=10).raise_for_status()

    def client(self) -> KingdeeClient:
        return KingdeeClient(
            str(self.credentials["server_url"]), identity_of(self.credentials), connection="kd"
        )


@contextmanager
def kingdee(
    data_dir: Path, latency_ms: float, per_record_ms: float, concurrency: int = CONCURRENCY
) -> Iterator[Kingdee]:
    port = _free_port()
    args = [
        "kingdee",
        f"--data-dir={data_dir}",
        f"--port={port}",
        f"--latency-ms={latency_ms}",
        f"--per-record-ms={per_record_ms}",
        f"--max-concurrency={concurrency}",
    ]
    site = f"http://127.0.0.1:{port}/"
    with _process(args, f"{site}admin/faults") as process:
        yield Kingdee(site, credentials(data_dir, f"{site}K3Cloud/"), process.pid)


@contextmanager
def pm(projects: int, months: int, seed: int) -> Iterator[str]:
    port = _free_port()
    args = ["pm", f"--port={port}", f"--projects={projects}", f"--months={months}", f"--seed={seed}"]
    base = f"http://127.0.0.1:{port}"
    with _process(args, f"{base}/openapi.json"):
        yield base


@dataclass
class YecaiRun:
    seconds: float
    vouchers: int
    calls: int
    records: int


def run_yecai(store: Store, pm_url: str, kd: Kingdee, senders: int = CONCURRENCY) -> YecaiRun:
    before = kd.counts()
    started = time.perf_counter()
    with kd.client() as client:
        report = run_cost_sync(
            store,
            PmSandboxConnector(pm_url, DEFAULT_TOKEN),
            client,
            rules=default_rule_set(),
            mapping=default_mapping(),
            source_connection="pm",
            kingdee_connection="kd",
            full_check=False,  # what a nightly job does: read back what it posted, by key
            senders=senders,
        )
    elapsed = time.perf_counter() - started
    assert report.check.clean, report.check
    assert report.pending == 0, report.send
    assert not report.send.failed, report.send
    after = kd.counts()
    return YecaiRun(
        elapsed, report.check.vouchers, after["calls"] - before["calls"], after["records"] - before["records"]
    )


def _sdk(kd: Kingdee) -> K3CloudApiSdk:
    c = kd.credentials
    sdk = K3CloudApiSdk(str(c["server_url"]), timeout=120)
    sdk.InitConfig(
        c["acct_id"], c["user_name"], c["app_id"], c["app_secret"], c["server_url"], c["lcid"], c["org_num"]
    )
    return sdk


def _prepare_base_data(sdk: K3CloudApiSdk, store: Store) -> None:
    """The 项目 values and suppliers yecai's vouchers reference, created in one go (untimed)."""
    with store.transaction() as session:
        bindings = list(session.scalars(select(Binding)))
    projects = [b.kingdee_number for b in bindings if b.kind == "project"]
    parties = [b for b in bindings if b.kind in ("supplier", "customer")]
    models = [{"FId": {"FNumber": "XM01"}, "FNumber": n, "FDataValue": n} for n in projects]
    for start in range(0, len(models), 200):
        json.loads(sdk.BatchSave("BOS_ASSISTANTDATA_DETAIL", {"Model": models[start : start + 200]}))
    for kind, form in (("supplier", "BD_Supplier"), ("customer", "BD_Customer")):
        rows = [
            {
                "FNumber": b.kingdee_number,
                "FName": b.source_key,
                "FCreateOrgId": {"FNumber": "100"},
                "FUseOrgId": {"FNumber": "100"},
            }
            for b in parties
            if b.kind == kind
        ]
        for start in range(0, len(rows), 200):
            json.loads(sdk.BatchSave(form, {"Model": rows[start : start + 200]}))


def run_sdk(store: Store, kd: Kingdee) -> tuple[float, int]:
    """The official SDK saving yecai's vouchers one per call, in a fresh data centre."""
    with store.transaction() as session:
        payloads = list(
            session.scalars(
                select(Posting.payload)
                .where(Posting.form_id == VOUCHER_FORM, Posting.state == "posted")
                .order_by(Posting.id)
            )
        )
    sdk = _sdk(kd)
    settings = {"latency_ms": 0.0, "per_record_ms": 0.0}
    restore = dict(httpx.get(f"{kd.site}admin/faults", timeout=10).json()["settings"])
    kd.faults(**settings)  # base data at full speed: the setup is not what is measured
    _prepare_base_data(sdk, store)
    kd.faults(**{name: restore[name] for name in settings})
    started = time.perf_counter()
    for payload in payloads:
        answer = json.loads(sdk.Save(VOUCHER_FORM, {"Model": json.loads(payload)}))
        assert answer["Result"]["ResponseStatus"]["IsSuccess"], answer
    return time.perf_counter() - started, len(payloads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--per-record-ms", type=float, default=5.0)
    parser.add_argument(
        "--senders",
        type=int,
        default=CONCURRENCY,
        help="yecai's calls in flight (1: one at a time, as before issue 15); the sandbox allows 4",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store = open_store(f"sqlite:///{work / 'yecai.sqlite'}")
        try:
            with (
                pm(args.projects, args.months, args.seed) as pm_url,
                kingdee(work / "kd-yecai", args.latency_ms, args.per_record_ms) as kd,
            ):
                yecai = run_yecai(store, pm_url, kd, args.senders)
            with kingdee(work / "kd-sdk", args.latency_ms, args.per_record_ms) as kd:
                sdk_seconds, sdk_vouchers = run_sdk(store, kd)
        finally:
            store.close()
    assert sdk_vouchers == yecai.vouchers, (sdk_vouchers, yecai.vouchers)
    waited = yecai.calls * args.latency_ms / 1000 + yecai.records * args.per_record_ms / 1000
    floor = waited / CONCURRENCY
    print(f"seed case: {args.projects} projects × {args.months} month(s), {yecai.vouchers:,} vouchers")
    print(
        f"sandbox.kingdee (own process): {args.latency_ms:g} ms per call + {args.per_record_ms:g} ms per "
        f"record, {CONCURRENCY} calls at once"
    )
    print(f"baseline, official SDK Save × {sdk_vouchers:,} vouchers, one at a time: {sdk_seconds:.1f} s")
    print(
        f"yecai full pipeline (pull → validate → bind → plan → BatchSave ∥ read back → check), "
        f"{args.senders} sender(s): {yecai.seconds:.1f} s"
    )
    print(
        f"floor = (calls × latency + records × per-record) / concurrency = ({yecai.calls:,} × "
        f"{args.latency_ms:g} ms + {yecai.records:,} × {args.per_record_ms:g} ms) / {CONCURRENCY} = "
        f"{waited:.2f} s / {CONCURRENCY} = {floor:.2f} s"
    )
    print(
        f"sdk_s={sdk_seconds:.2f} yecai_s={yecai.seconds:.2f} floor_s={floor:.3f} "
        f"ratio_vs_sdk={sdk_seconds / yecai.seconds:.2f} ratio_vs_floor={yecai.seconds / floor:.2f}"
    )


if __name__ == "__main__":
    main()
