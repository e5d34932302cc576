"""Chaos: thousands of source records through the whole pipeline while everything goes wrong.

sandbox.kingdee injects HTTP 500 error pages, calls that hang past the worker's timeout and still
commit afterwards, answers lost after commit and a session loss every N calls; meanwhile the
worker process (`yecai sync`) is killed with SIGKILL at random moments and started again. At the
end Kingdee's contents are compared, voucher by voucher, with the postings expected from the
source's own data (computed here, independently of yecai's store). The last line is

    missing=N duplicated=N amount_diff=X

    .venv/bin/python bench/chaos.py --records 20000 --kills 10 [--senders 4]

`--senders N` (default 4) is the data centre's concurrency limit: the worker sends and reads back
up to N calls at once, and sandbox.kingdee handles at most N at once (`--senders 1`: one by one).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import yaml

from yecai.domain.money import money_sum
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.keys import BILL_NO, SUMMARY, present
from yecai.kingdee.signing import Identity
from yecai.mapping.rules import default_rule_set
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.kingdee.faults import FaultSettings
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.data import generate
from yecai.sandbox.pm.server import start_sandbox as start_pm

COST_RECORDS_PER_PROJECT_MONTH = 126  # about what sandbox.pm generates (50 × 1 month → 6,312)


def size_for(records: int) -> tuple[int, int]:
    """(projects, months) giving at least `records` cost records, at most 999 projects."""
    months = 1
    while True:
        projects = -(-records // (COST_RECORDS_PER_PROJECT_MONTH * months))
        if projects <= 999:
            while len(generate(projects=projects, months=months, seed=7).all_cost_records) < records:
                projects += 1
            return projects, months
        months += 1


def write_workspace(
    path: Path,
    pm_url: str,
    credentials: dict[str, object],
    timeout: float,
    batch_size: int = 50,
    senders: int = 4,
) -> None:
    workspace = {
        "connections": {
            "pm": {
                "kind": "source",
                "connector": "pm_sandbox",
                "base_url": pm_url,
                "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}", "PM_WEBHOOK_SECRET": "${PM_HOOK}"},
            },
            "kd": {
                "kind": "kingdee",
                "server_url": credentials["server_url"],
                "acct_id": credentials["acct_id"],
                "user_name": credentials["user_name"],
                "app_id": credentials["app_id"],
                "app_secret": "${KD_SECRET}",
                "lcid": credentials["lcid"],
                "org_num": str(credentials["org_num"]),
                "timeout_seconds": timeout,
                "max_concurrency": senders,
            },
        },
        "syncs": {
            "costs": {
                "source": "pm",
                "target": "kd",
                "streams": ["projects", "cost_records"],
                "rule_sets": ["cost_actuals"],
                "batch_size": batch_size,
                "max_attempts": 10,
            }
        },
    }
    path.write_text(yaml.safe_dump(workspace, allow_unicode=True), encoding="utf-8")


def expected_groups(dataset: object) -> dict[tuple[str, str, str], Decimal]:
    """(project, debit account, date) → amount, from the source's data and the rule set's accounts."""
    rules = default_rule_set()
    groups: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: Decimal("0.00"))
    for record in dataset.all_cost_records:  # type: ignore[attr-defined]
        account = rules.categories[record.category].debit
        groups[(record.project_code, account, record.business_date.isoformat())] += record.amount
    return {key: amount for key, amount in groups.items() if amount}


def kingdee_groups(client: KingdeeClient) -> tuple[dict[tuple[str, str, str], list[Decimal]], Decimal]:
    """(project, debit account, date) → the debit amount of every yecai voucher Kingdee holds."""
    fields = ["FVOUCHERID", "FDate", "FACCOUNTID.FNumber", "FDetailID.FF100001.FNumber", "FDEBIT"]
    found: dict[tuple[str, str, str], list[Decimal]] = defaultdict(list)
    total = Decimal("0.00")
    # yecai's vouchers: the key in FBillNo (the 摘要 then carries no token) or in the 摘要
    yecai = f"({present(BILL_NO)} or {present(SUMMARY)})"
    for row in client.query_all("GL_VOUCHER", fields, f"{yecai} and FDEBIT <> 0"):
        amount = Decimal(row[4])
        found[(str(row[3]), str(row[2]), str(row[1])[:10])].append(amount)
        total += amount
    return found, total


def main() -> None:
    parser = argparse.ArgumentParser(description="chaos test of exactly-once posting")
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fail-rate", type=float, default=0.10)
    parser.add_argument("--timeout-rate", type=float, default=0.05)
    parser.add_argument("--drop-rate", type=float, default=0.03)
    parser.add_argument("--session-loss-every", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=50, help="vouchers per BatchSave")
    parser.add_argument(
        "--senders",
        type=int,
        default=4,
        help="calls at once to Kingdee: the workspace's max_concurrency, also the sandbox's limit",
    )
    parser.add_argument("--max-runs", type=int, default=60, help="give up after this many worker runs")
    parser.add_argument(
        "--database-url", default=None, help="store of the worker (default: SQLite in a temp dir)"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    projects, months = size_for(args.records)
    work = Path(tempfile.mkdtemp(prefix="yecai-chaos-"))
    timeout = 1.5
    faults = FaultSettings(
        fail_rate=args.fail_rate,
        timeout_rate=args.timeout_rate,
        hang_seconds=timeout + 1.0,
        drop_after_commit_rate=args.drop_rate,
        session_loss_every=args.session_loss_every,
        max_concurrency=args.senders,
        seed=args.seed,
    )
    pm_server, dataset = start_pm(projects=projects, months=months, seed=args.seed)
    kd_server, credentials = start_kingdee(work / "kingdee", faults=faults)
    records = len(dataset.all_cost_records)
    print(
        f"source: {projects} projects × {months} months = {records:,} cost records; work dir {work}",
        flush=True,
    )
    write_workspace(
        work / "yecai.yaml", pm_server.base_url, credentials, timeout, args.batch_size, args.senders
    )
    env = {
        **os.environ,
        "YECAI_WORKDIR": str(work / "yecai"),
        "YECAI_DATABASE_URL": args.database_url or f"sqlite:///{work / 'yecai' / 'yecai.sqlite'}",
        "PM_TOKEN": DEFAULT_TOKEN,
        "PM_HOOK": "unused",
        "KD_SECRET": str(credentials["app_secret"]),
        "COLUMNS": "160",
    }
    command = [
        sys.executable,
        "-m",
        "yecai.cli.main",
        "sync",
        "--job",
        "costs",
        "--workspace",
        str(work / "yecai.yaml"),
    ]
    kills = runs = 0
    started = time.monotonic()
    try:
        while runs < args.max_runs:
            runs += 1
            log = open(work / f"run-{runs:02d}.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
            worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            if kills < args.kills:
                time.sleep(rng.uniform(0.5, 6.0))
                if worker.poll() is None:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
                    kills += 1
                    log.close()
                    print(f"run {runs}: killed (kill {kills}/{args.kills})", flush=True)
                    continue
            code = worker.wait()
            log.close()
            print(f"run {runs}: exit {code}", flush=True)
            if code == 0 and kills >= args.kills:
                break
        kd_server.faults.update({"fail_rate": 0.0, "timeout_rate": 0.0, "drop_after_commit_rate": 0.0})
        time.sleep(timeout + 1.5)  # every hung write has landed or been refused by now
        identity = Identity(
            str(credentials["acct_id"]),
            str(credentials["user_name"]),
            str(credentials["app_id"]),
            str(credentials["app_secret"]),
            int(str(credentials["lcid"])),
            str(credentials["org_num"]),
        )
        with KingdeeClient(str(credentials["server_url"]), identity) as client:
            found, kingdee_total = kingdee_groups(client)
    finally:
        kd_server.stop()
        pm_server.stop()
    expected = expected_groups(dataset)
    counts = Counter({key: len(amounts) for key, amounts in found.items()})
    missing = [key for key in expected if key not in found]
    duplicated = sum(count - 1 for count in counts.values() if count > 1)
    wrong = [key for key in expected if key in found and money_sum(found[key]) != expected[key]]
    source_total = money_sum(expected.values())
    print(
        f"runs={runs} kills={kills} seconds={time.monotonic() - started:.0f} vouchers={sum(counts.values()):,} "
        f"expected={len(expected):,} wrong_amounts={len(wrong)} senders={args.senders} "
        f"faults={kd_server.faults.counts}",
        flush=True,
    )
    print(
        f"missing={len(missing)} duplicated={duplicated} amount_diff={abs(kingdee_total - source_total):.2f}"
    )


if __name__ == "__main__":
    main()
