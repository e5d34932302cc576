"""yecai_disk_free_bytes / yecai_disk_size_bytes: the free space of the work and archive directories.

Compared with os.statvfs of the same filesystem (the size exactly; the free space within what other
processes on this shared machine may write meanwhile), for a directory that exists and one not made
yet, and through the real app's /metrics.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from yecai.observability.disk import DiskCollector
from yecai.settings import Settings
from yecai.store.db import open_store
from yecai.web.app import create_app

SLACK = 1 << 30  # other engineers' tests write to the same disk between two reads


def _values(collector: DiskCollector) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    return {
        (sample.name, sample.labels["volume"]): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def _statvfs(path: Path) -> tuple[int, int]:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize


def test_free_and_size_are_those_of_the_directory_filesystem(tmp_path: Path) -> None:
    not_yet = tmp_path / "archive" / "2026"  # a directory not made yet: its nearest parent's disk
    values = _values(DiskCollector({"workdir": tmp_path, "archive": not_yet}))
    free, size = _statvfs(tmp_path)
    for volume in ("workdir", "archive"):
        assert values[("yecai_disk_size_bytes", volume)] == size
        assert abs(values[("yecai_disk_free_bytes", volume)] - free) < SLACK
        assert 0 < values[("yecai_disk_free_bytes", volume)] <= size
    assert not not_yet.exists()  # reading never creates it


def test_the_app_exports_the_work_and_archive_directories(tmp_path: Path) -> None:
    settings = Settings(
        workdir=tmp_path / "work", workspace=tmp_path / "yecai.yaml", archive_dir=tmp_path / "arc"
    )
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        response = TestClient(create_app(store, settings=settings)).get("/metrics")
    finally:
        store.engine.dispose()
    found = {
        sample.labels["volume"]: sample.labels["path"]
        for family in text_string_to_metric_families(response.text)
        if family.name == "yecai_disk_free_bytes"
        for sample in family.samples
    }
    assert found == {"workdir": str(tmp_path / "work"), "archive": str(tmp_path / "arc")}
