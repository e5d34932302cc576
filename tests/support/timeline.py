"""Moments in sandbox.pm's timeline that tests serve the source at (no tests here)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def busiest_moment(dataset: Any) -> dt.datetime:
    """The moment when the most cost records have been created but not yet changed or deleted."""
    versions: dict[str, list[Any]] = {}
    for version in dataset.histories["cost_record"]:
        versions.setdefault(version.record.key, []).append(version)
    spans = [(v[0].at, v[1].at) for v in versions.values() if len(v) > 1]
    candidates = sorted({start + dt.timedelta(seconds=1) for start, _ in spans})
    return max(candidates, key=lambda t: sum(1 for start, end in spans if start < t < end))
