"""The seed case, yecai against Kingdee's own SDK: 50 projects × 1 month of costs into Kingdee.

Both write the same vouchers into a fresh sandbox.kingdee that answers like a real site: 50 ms per
call plus 5 ms per record. The baseline, measured in the same run, is the official Python SDK
saving one voucher per call — what most hand-written integrations do. yecai runs its whole
pipeline (pull from sandbox.pm, validate, bind projects, plan, BatchSave, read back and check).
Also prints the mapping throughput: cost lines planned into vouchers per second, on one core.

    .venv/bin/python bench/sync_vs_sdk.py [--projects 50 --months 1 --latency-ms 50 --per-record-ms 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from k3cloud_webapi_sdk.main import K3CloudApiSdk

from yecai import jsonutil
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.demo import identity_of
from yecai.domain.documents import CostRecord
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.vouchers import voucher_model
from yecai.mapping import registry
from yecai.mapping.interface import PlannableDocument, PlanningContext
from yecai.mapping.rules import default_mapping, default_rule_set
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.kingdee.faults import FaultSettings
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store.db import open_store
from yecai.sync.pipeline import run_cost_sync
from yecai.sync.planning import target_of


def documents_of(dataset: Any) -> list[PlannableDocument]:
    out = []
    for number, record in enumerate(dataset.all_cost_records, start=1):
        model = CostRecord(
            source_key=record.record_id,
            project_code=record.project_code,
            category=record.category.value,
            business_date=record.business_date,
            description=record.description,
            quantity=record.quantity,
            unit=record.unit,
            unit_price=record.unit_price,
            amount=record.amount,
            tax_rate=record.tax_rate,
        )
        out.append(PlannableDocument(number, f"v{number}", model))
    return out


def mapping_throughput(documents: list[PlannableDocument], repeat: int) -> float:
    rules, mapping = default_rule_set(), default_mapping()
    started = time.perf_counter()
    for n in range(repeat):
        registry.plan(documents, rules, mapping, PlanningContext(connection=f"bench{n}"))
    return len(documents) * repeat / (time.perf_counter() - started)


def run_sdk(dataset: Any, work: Path, faults: FaultSettings) -> tuple[float, int]:
    rules = default_rule_set()
    plan = registry.plan(documents_of(dataset), rules, default_mapping(), PlanningContext(connection="sdk"))
    target = target_of(rules)
    server, c = start_kingdee(work / "sdk", faults=faults)
    try:
        sdk = K3CloudApiSdk(str(c["server_url"]), timeout=120)
        sdk.InitConfig(
            c["acct_id"],
            c["user_name"],
            c["app_id"],
            c["app_secret"],
            c["server_url"],
            c["lcid"],
            c["org_num"],
        )
        projects = sorted({d.model.project_code for d in documents_of(dataset)})
        # the 项目 dimension values the vouchers need, created the same way for both contenders
        for code in projects:
            model = {"FId": {"FNumber": "XM01"}, "FNumber": code, "FDataValue": code}
            json.loads(sdk.Save("BOS_ASSISTANTDATA_DETAIL", {"Model": model}))
        started = time.perf_counter()
        for voucher in plan.vouchers:
            model = json.loads(jsonutil.dumps(voucher_model(voucher, target)))
            answer = json.loads(sdk.Save("GL_VOUCHER", {"Model": model}))
            assert answer["Result"]["ResponseStatus"]["IsSuccess"], answer
        return time.perf_counter() - started, len(plan.vouchers)
    finally:
        server.stop()


def run_yecai(dataset_args: dict[str, int], work: Path, faults: FaultSettings) -> tuple[float, int]:
    pm_server, _ = start_pm(**dataset_args)
    kd_server, credentials = start_kingdee(work / "yecai-kd", faults=faults)
    store = open_store(f"sqlite:///{work / 'yecai.sqlite'}")
    try:
        connector = PmSandboxConnector(pm_server.base_url, DEFAULT_TOKEN)
        started = time.perf_counter()
        with KingdeeClient(
            str(credentials["server_url"]), identity_of(credentials), connection="kd"
        ) as client:
            report = run_cost_sync(
                store,
                connector,
                client,
                rules=default_rule_set(),
                mapping=default_mapping(),
                source_connection="pm",
                kingdee_connection="kd",
                full_check=False,  # what a nightly job does: read back what it posted, by key
            )
        elapsed = time.perf_counter() - started
        assert report.check.clean, report.check
        return elapsed, report.check.vouchers
    finally:
        store.close()
        kd_server.stop()
        pm_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--per-record-ms", type=float, default=5.0)
    args = parser.parse_args()
    dataset_args = {"projects": args.projects, "months": args.months, "seed": args.seed}
    pm_server, dataset = start_pm(**dataset_args)
    pm_server.stop()
    faults = FaultSettings(latency_ms=args.latency_ms, per_record_ms=args.per_record_ms)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sdk_seconds, sdk_vouchers = run_sdk(dataset, work, faults)
        yecai_seconds, yecai_vouchers = run_yecai(dataset_args, work, faults)
    documents = documents_of(dataset)
    lines_per_second = mapping_throughput(documents, repeat=5)
    records = len(dataset.all_cost_records)
    print(f"seed case: {args.projects} projects × {args.months} month(s), {records:,} cost records")
    print(f"sandbox.kingdee: {args.latency_ms:g} ms per call + {args.per_record_ms:g} ms per record")
    print(f"baseline, official SDK Save × {sdk_vouchers:,} vouchers: {sdk_seconds:.1f} s")
    print(
        f"yecai full pipeline (pull → validate → plan → BatchSave → read back), {yecai_vouchers:,} vouchers: {yecai_seconds:.1f} s"
    )
    print(f"ratio SDK / yecai = {sdk_seconds / yecai_seconds:.1f}x")
    print(f"mapping throughput: {lines_per_second:,.0f} cost lines per second (one core)")


if __name__ == "__main__":
    main()
