"""A small posting world for the pipeline tests: sandbox.pm (2 projects, 1 month) and a served
sandbox.kingdee, synced with the default cost rules; and the corrections site, whose source clock
stands at the moment most cost records are still to be corrected or deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.timeline import busiest_moment
from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.demo import identity_of
from yecai.domain.money import money_sum
from yecai.kingdee.client import KingdeeClient
from yecai.kingdee.keys import BILL_NO, SUMMARY, present
from yecai.mapping.rules import RuleSet, default_mapping, default_rule_set
from yecai.sandbox.kingdee import SandboxSettings
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.kingdee.faults import FaultSettings
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.models import Dataset
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.store.db import Store
from yecai.sync.pipeline import SyncReport, run_sync_job

# yecai's vouchers: keyed by FBillNo ("YC" + 16 hex; their 摘要 carry no token) or by the 摘要 token.
YECAI_VOUCHERS = f"{present(BILL_NO)} or {present(SUMMARY)}"


@dataclass
class Systems:
    dataset: Dataset
    connector: Any
    kingdee: Any
    credentials: dict[str, Any]

    def client(self, **kwargs: Any) -> KingdeeClient:
        return KingdeeClient(
            str(self.credentials["server_url"]), identity_of(self.credentials), connection="kd", **kwargs
        )

    def sync(self, store: Store, rules: RuleSet, batch_size: int = 50, **kwargs: Any) -> SyncReport:
        with self.client(**kwargs) as client:
            return run_sync_job(
                store,
                self.connector,
                client,
                rule_sets=[rules],
                mapping=default_mapping(),
                source_connection="pm",
                kingdee_connection="kd",
                backoff=0.01,
                batch_size=batch_size,
            )

    def vouchers(self) -> list[list[Any]]:
        with self.client() as client:
            return list(
                client.query_all(
                    "GL_VOUCHER",
                    ["FVOUCHERID", "FBillNo", "FDate", "FDocumentStatus", "FDEBITTOTAL"],
                    YECAI_VOUCHERS,
                )
            )


def systems_for(
    tmp_path: Path, settings: SandboxSettings | None = None, faults: FaultSettings | None = None
) -> Iterator[Systems]:
    pm_server, dataset = start_pm(projects=2, months=1, seed=4)
    kd_server, credentials = start_kingdee(tmp_path / "kd", settings=settings, faults=faults)
    try:
        yield Systems(dataset, PmSandboxConnector(pm_server.base_url, DEFAULT_TOKEN), kd_server, credentials)
    finally:
        kd_server.stop()
        pm_server.stop()


def distinct_vouchers(rows: list[list[Any]]) -> dict[Any, list[Any]]:
    return {row[0]: row for row in rows}


def rules_with(**changes: Any) -> RuleSet:
    base = default_rule_set()
    kingdee = changes.pop("kingdee", None)
    if kingdee:
        changes["kingdee"] = base.kingdee.model_copy(update=kingdee)
    return base.model_copy(update=changes)


class Site:
    def __init__(self, tmp_path: Path) -> None:
        probe, dataset = start_pm(projects=2, months=1, seed=12)
        probe.stop()
        self.dataset = dataset
        self.pm, _ = start_pm(projects=2, months=1, seed=12, now=busiest_moment(dataset))
        self.kd, self.credentials = start_kingdee(tmp_path / "kd")
        self.connector = PmSandboxConnector(self.pm.base_url, DEFAULT_TOKEN)

    def sync(self, store: Store, rules: RuleSet) -> SyncReport:
        with KingdeeClient(
            str(self.credentials["server_url"]), identity_of(self.credentials), connection="kd"
        ) as client:
            return run_sync_job(
                store,
                self.connector,
                client,
                rule_sets=[rules],
                mapping=default_mapping(),
                source_connection="pm",
                kingdee_connection="kd",
                backoff=0.01,
            )

    def kingdee_total(self) -> Any:
        with KingdeeClient(str(self.credentials["server_url"]), identity_of(self.credentials)) as client:
            rows = client.query_all("GL_VOUCHER", ["FVOUCHERID", "FDEBITTOTAL"], YECAI_VOUCHERS)
            return money_sum({row[0]: row[1] for row in rows}.values())

    def stop(self) -> None:
        self.kd.stop()
        self.pm.stop()
