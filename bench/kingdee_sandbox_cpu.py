"""sandbox.kingdee's own CPU per 1,000 vouchers saved and queried back, in-process (issue 15).

The nightly job's traffic without HTTP: 项目 and suppliers first, then vouchers in BatchSave calls
of 50 (two lines each, project and supplier dimensions, as yecai posts them), each call followed by
the ExecuteBillQuery that reads its vouchers back by number. Every request goes through
`KingdeeSandbox.handle`, so parsing, validation, SQLite and the answers' JSON are all counted.
The clock is fixed, so the answers are the same on every run and their SHA-256 is printed: two
versions of the sandbox must print the same digest.

    .venv/bin/python bench/kingdee_sandbox_cpu.py [--vouchers 13300]
    .venv/bin/python bench/kingdee_sandbox_cpu.py --trees /work/main . --rounds 3

With `--trees`, the run is repeated under each source tree in turn (old and new code interleaved,
best of `--rounds` on CPU time) and the digests compared. The last line is
`cpu_per_1000_s=… save_per_1000_s=… query_per_1000_s=… digest=…` (per tree with `--trees`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

SERVICE = "/K3Cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.{}.common.kdsvc"
BATCH = 50
PROJECTS = 200
SUPPLIERS = 400
READ_BACK_KEYS = (
    "FVOUCHERID,FBillNo,FDEBITTOTAL,FCREDITTOTAL,FVOUCHERGROUPID.FName,FVOUCHERGROUPNO,FYEAR,FPERIOD"
)


def _voucher(n: int) -> dict[str, Any]:
    project = f"XMB{n % PROJECTS:04d}"
    supplier = f"GYSB{n % SUPPLIERS:04d}"
    amount = Decimal(1000 + (n * 7919) % 90000) / 100
    text = f"项目{project} 材料费 第{n}笔 供应商{supplier}"
    common = {
        "FEXPLANATION": text,
        "FCURRENCYID": {"FNumber": "PRE001"},
        "FEXCHANGERATETYPE": {"FNumber": "HLTX01_SYS"},
        "FEXCHANGERATE": 1,
        "FAMOUNTFOR": amount,
    }
    return {
        "FAccountBookID": {"FNumber": "001"},
        "FDate": f"2026-10-{1 + n % 28:02d}",
        "FVOUCHERGROUPID": {"FNumber": "PRE001"},
        "FATTACHMENTS": 0,
        "FBillNo": f"YCB{n:012X}",
        "FEntity": [
            {
                **common,
                "FACCOUNTID": {"FNumber": "5401.06"},
                "FDetailID": {"FDETAILID__FF100001": {"FNumber": project}},
                "FDEBIT": amount,
                "FCREDIT": Decimal("0.0"),
            },
            {
                **common,
                "FACCOUNTID": {"FNumber": "2202.05"},
                "FDetailID": {
                    "FDETAILID__FF100001": {"FNumber": project},
                    "FDETAILID__FFLEX4": {"FNumber": supplier},
                },
                "FDEBIT": Decimal("0.0"),
                "FCREDIT": amount,
            },
        ],
    }


def _requests(vouchers: int) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(set-up requests, timed requests) as (service, body)."""
    from yecai import jsonutil

    def save(form_id: str, models: list[dict[str, Any]], **options: Any) -> tuple[str, bytes]:
        data = {"IsVerifyBaseDataField": True, **options, "Model": models}
        return "BatchSave", jsonutil.dumps({"formid": form_id, "data": data}).encode()

    projects = [
        {"FNumber": f"XMB{i:04d}", "FDataValue": f"基准项目{i}", "FId": {"FNumber": "XM01"}}
        for i in range(PROJECTS)
    ]
    suppliers = [
        {
            "FNumber": f"GYSB{i:04d}",
            "FName": f"基准供应商{i}有限公司",
            "FCreateOrgId": {"FNumber": "100"},
            "FUseOrgId": {"FNumber": "100"},
        }
        for i in range(SUPPLIERS)
    ]
    setup = [save("BOS_ASSISTANTDATA_DETAIL", projects), save("BD_Supplier", suppliers)]
    timed: list[tuple[str, bytes]] = []
    for start in range(0, vouchers, BATCH):
        models = [_voucher(n) for n in range(start, min(start + BATCH, vouchers))]
        timed.append(save("GL_VOUCHER", models, IsDeleteEntry=True))
        numbers = ",".join(f"'{m['FBillNo']}'" for m in models)
        query = {
            "FormId": "GL_VOUCHER",
            "FieldKeys": READ_BACK_KEYS,
            "FilterString": f"FBillNo in ({numbers})",
            "OrderString": "",
            "TopRowCount": 0,
            "StartRow": 0,
            "Limit": 2000,
        }
        timed.append(("ExecuteBillQuery", jsonutil.dumps({"data": query}).encode()))
    return setup, timed


def run(vouchers: int) -> dict[str, Any]:
    """Save and query `vouchers` vouchers in a fresh data centre; CPU seconds and the answers' digest."""
    from yecai.sandbox.kingdee import services
    from yecai.sandbox.kingdee.auth import Caller
    from yecai.sandbox.kingdee.services import Admission, KingdeeSandbox, WireRequest
    from yecai.sandbox.kingdee.settings import SandboxSettings

    setup, timed = _requests(vouchers)
    fixed = datetime(2026, 12, 1, 9, 30)
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = KingdeeSandbox(Path(tmp), settings=SandboxSettings(clock=lambda: fixed))
        credentials = sandbox.credentials
        caller = Caller(credentials.acct_id, credentials.user_name, 2052, str(credentials.org_num))

        # Sign-in is not what is measured: every request arrives with a live session.
        def admit(self: Any, spec: Any, request: Any, sid: Any) -> Admission:
            return Admission("session", caller=caller)

        services.KingdeeSandbox._admit = admit  # type: ignore[method-assign]
        digest = hashlib.sha256()
        for service, body in setup:
            sandbox.handle(WireRequest("http://sandbox/", SERVICE.format(service), {}, body))
        spent = {"BatchSave": 0.0, "ExecuteBillQuery": 0.0}
        for service, body in timed:
            started = time.process_time()
            reply = sandbox.handle(WireRequest("http://sandbox/", SERVICE.format(service), {}, body))
            spent[service] += time.process_time() - started
            digest.update(reply.text.encode("utf-8") + b"\0")
        saved = sandbox.store.records(sandbox.registry.get("GL_VOUCHER"))  # type: ignore[arg-type]
        sandbox.close()
    if len(saved) != vouchers:
        raise SystemExit(f"only {len(saved)} of {vouchers} vouchers were saved")
    per = 1000 / vouchers
    return {
        "cpu_per_1000_s": round((spent["BatchSave"] + spent["ExecuteBillQuery"]) * per, 4),
        "save_per_1000_s": round(spent["BatchSave"] * per, 4),
        "query_per_1000_s": round(spent["ExecuteBillQuery"] * per, 4),
        "digest": digest.hexdigest()[:16],
    }


def _line(result: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in result.items())


def compare(trees: list[str], vouchers: int, rounds: int) -> None:
    """Run under each tree in turn, `rounds` times; best CPU per tree, digests must agree."""
    best: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
            command = [sys.executable, str(Path(__file__).resolve()), "--vouchers", str(vouchers), "--json"]
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            kept = best.setdefault(tree, result)
            for key in ("cpu_per_1000_s", "save_per_1000_s", "query_per_1000_s"):
                kept[key] = min(kept[key], result[key])
            if result["digest"] != kept["digest"]:
                raise SystemExit(f"{tree}: answers differ between runs")
    for tree, result in best.items():
        print(f"{tree}: {_line(result)}")
    if len({result["digest"] for result in best.values()}) != 1:
        raise SystemExit("the trees answer differently")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vouchers", type=int, default=13300)
    parser.add_argument(
        "--trees", nargs="+", help="source trees to compare (each a directory holding yecai/)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trees:
        compare(args.trees, args.vouchers, args.rounds)
        return
    result = run(args.vouchers)
    print(json.dumps(result) if args.json else _line(result))


if __name__ == "__main__":
    main()
