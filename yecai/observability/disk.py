"""Free disk space of the directories yecai writes, read when Prometheus scrapes.

The work directory holds the embedded store, the queue, the secrets key and logs; the archive
directory receives `yecai archive` files. Exporting their free space ourselves lets the disk alert
of deploy/prometheus/yecai-rules.yml work without node_exporter on the host. `volume` names the
role of the directory (stable across hosts), `path` the directory itself.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("yecai.observability")


def _existing(path: Path) -> Path:
    # A directory not made yet (a fresh archive dir) lives on the filesystem of its nearest parent.
    path = path.resolve()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


class DiskCollector(Collector):
    """`yecai_disk_free_bytes` and `yecai_disk_size_bytes` for each named directory."""

    def __init__(self, volumes: Mapping[str, Path]) -> None:
        self._volumes = dict(volumes)

    def describe(self) -> Iterable[Metric]:
        yield from self._families()

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "yecai_disk_free_bytes",
                "可用磁盘空间（非 root 可用）/ disk space available to yecai where it writes",
                labels=["volume", "path"],
            ),
            GaugeMetricFamily(
                "yecai_disk_size_bytes",
                "磁盘总容量 / size of the filesystem holding the directory",
                labels=["volume", "path"],
            ),
        )

    def collect(self) -> Iterable[Metric]:
        free, size = self._families()
        for volume, path in sorted(self._volumes.items()):
            try:
                # shutil's `free` is f_bavail: what a non-root process can still write
                usage = shutil.disk_usage(_existing(path))
            except OSError as exc:
                log.warning("无法读取磁盘空间 / cannot read free disk of %s (%s): %s", volume, path, exc)
                continue
            labels = [volume, str(path)]
            free.add_metric(labels, usage.free)
            size.add_metric(labels, usage.total)
        yield free
        yield size
