"""Posting speed: yecai's BatchSave sender against Kingdee's own SDK saving one voucher per call.

Both post the same N balanced vouchers into a fresh sandbox.kingdee with a per-call latency (a
real K/3 Cloud site answers in 0.2–1.5 s, WebAPI §4.2) and a per-record cost. The baseline is
measured in the same run, on the same machine: the official SDK's `Save`, one voucher per call, as
integrations commonly do. Prints seconds, vouchers/s and the ratio. Not a test: no assertions.

    .venv/bin/python bench/posting_speed.py --vouchers 500 --latency-ms 50 --per-record-ms 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from k3cloud_webapi_sdk.main import K3CloudApiSdk

from yecai import jsonutil
from yecai.demo import identity_of
from yecai.kingdee.client import KingdeeClient
from yecai.sandbox.kingdee import start_sandbox
from yecai.sandbox.kingdee.faults import FaultSettings


def voucher(n: int) -> dict[str, Any]:
    amount = Decimal(100 + n % 900) + Decimal(n % 100) / 100
    line = {
        "FCURRENCYID": {"FNumber": "PRE001"},
        "FEXCHANGERATETYPE": {"FNumber": "HLTX01_SYS"},
        "FEXCHANGERATE": 1,
    }
    return {
        "FAccountBookID": {"FNumber": "001"},
        "FDate": "2026-10-15",
        "FVOUCHERGROUPID": {"FNumber": "PRE001"},
        "FEntity": [
            {
                **line,
                "FEXPLANATION": f"bench {n}",
                "FACCOUNTID": {"FNumber": "6602"},
                "FDetailID": {"FDETAILID__FFLEX5": {"FNumber": "BM02"}},
                "FDEBIT": amount,
                "FCREDIT": 0,
            },
            {
                **line,
                "FEXPLANATION": f"bench {n}",
                "FACCOUNTID": {"FNumber": "1001"},
                "FDEBIT": 0,
                "FCREDIT": amount,
            },
        ],
    }


def run_sdk(credentials: dict[str, Any], models: list[dict[str, Any]]) -> float:
    sdk = K3CloudApiSdk(credentials["server_url"], timeout=120)
    c = credentials
    sdk.InitConfig(
        c["acct_id"], c["user_name"], c["app_id"], c["app_secret"], c["server_url"], c["lcid"], c["org_num"]
    )
    started = time.perf_counter()
    for model in models:
        answer = json.loads(sdk.Save("GL_VOUCHER", {"Model": json.loads(jsonutil.dumps(model))}))
        assert answer["Result"]["ResponseStatus"]["IsSuccess"], answer
    return time.perf_counter() - started


def run_yecai(credentials: dict[str, Any], models: list[dict[str, Any]], batch: int) -> float:
    started = time.perf_counter()
    with KingdeeClient(credentials["server_url"], identity_of(credentials)) as client:
        for start in range(0, len(models), batch):
            result = client.batch_save("GL_VOUCHER", models[start : start + batch])
            assert result.ok, [p.describe() for p in result.packages if not p.ok][:3]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vouchers", type=int, default=300)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--per-record-ms", type=float, default=2.0)
    args = parser.parse_args()
    models = [voucher(n) for n in range(args.vouchers)]
    faults = FaultSettings(latency_ms=args.latency_ms, per_record_ms=args.per_record_ms)
    timings: dict[str, float] = {}
    for name in ("sdk", "yecai"):
        with tempfile.TemporaryDirectory() as tmp:
            server, credentials = start_sandbox(Path(tmp) / "kd", faults=faults)
            try:
                if name == "sdk":
                    timings[name] = run_sdk(credentials, models)
                else:
                    timings[name] = run_yecai(credentials, models, args.batch)
            finally:
                server.stop()
    n = args.vouchers
    print(f"vouchers={n} latency_ms={args.latency_ms} per_record_ms={args.per_record_ms} batch={args.batch}")
    print(f"baseline official SDK Save x{n}: {timings['sdk']:.2f} s ({n / timings['sdk']:.1f} vouchers/s)")
    print(
        f"yecai BatchSave x{-(-n // args.batch)}: {timings['yecai']:.2f} s ({n / timings['yecai']:.1f} vouchers/s)"
    )
    print(f"speed ratio yecai/sdk = {timings['sdk'] / timings['yecai']:.1f}x")


if __name__ == "__main__":
    main()
