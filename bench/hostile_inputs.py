"""Hostile inputs: 1,000+ malformed files and webhook deliveries through every way in.

Generates the corpus of `tests/support/hostile.py` (every column × bad values, damaged and
bomb-shaped xlsx/xls/ods/zip, wrong encodings, huge cells and lines, HTML-as-xls, CSV quoting
errors, malformed, unsigned, replayed and oversized webhook bodies), each input carrying known
good rows, and feeds them through `yecai import` (a memory-capped subprocess per file), `POST
/api/v1/imports` and `POST /webhooks/pm` of a real server (a memory-capped process) over a
temporary SQLite store. Prints a breakdown, then the line

    inputs=N crashes=0 http5xx=0 hangs=0 lost_good_rows=0

Not a test (no assertions); the suite runs a representative slice (tests/files/test_hostile_slice.py).

    .venv/bin/python bench/hostile_inputs.py --cli-every 6   # every input; one file in 6 via the CLI (~25 min)
    .venv/bin/python bench/hostile_inputs.py                 # every file through the CLI too (~90 min on 2 cores)
    .venv/bin/python bench/hostile_inputs.py --scale slice   # the suite's slice, a few minutes
    .venv/bin/python bench/hostile_inputs.py --ways api      # only the HTTP way for files
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.hostile import corpus
from tests.support.hostile_run import run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=("full", "slice"), default="full")
    parser.add_argument(
        "--ways", default="cli,api", help="ways in for files: cli, api or both (webhooks always)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds before an answer counts as a hang"
    )
    parser.add_argument("--only", default="", help="only cases whose name contains this text")
    parser.add_argument(
        "--cli-every",
        type=int,
        default=1,
        help="send every Nth file through `yecai import` too (each is a process of its own, ~3 s)",
    )
    args = parser.parse_args()
    found = corpus(args.scale)
    if args.only:
        found.files = [case for case in found.files if args.only in case.name]
        found.hooks = [case for case in found.hooks if args.only in case.name]
    ways = [way for way in args.ways.split(",") if way]
    started = time.monotonic()
    print(
        f"corpus: {len(found.files)} files, {len(found.hooks)} webhook deliveries; ways: {', '.join(ways)} + webhook"
        + (
            f" (one file in {args.cli_every} through the CLI too)"
            if args.cli_every > 1 and "cli" in ways
            else ""
        ),
        flush=True,
    )
    cli_cases = [case.name for case in found.files[:: max(1, args.cli_every)]] if args.cli_every > 1 else None
    tally = run(found, ways=ways, cli_cases=cli_cases, timeout=args.timeout, progress=True)
    for line in tally.details():
        print(line)
    print(f"seconds={time.monotonic() - started:.0f}")
    print(tally.line())


if __name__ == "__main__":
    main()
