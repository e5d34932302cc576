"""Every export sandbox.pm writes — xlsx, legacy xls, CSV in GBK / GB18030 / UTF-8 with BOM, with
title rows, two-row merged headers and 合计 footers — imports with no row rejected and no row lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from yecai.files import import_file
from yecai.sandbox.pm import generate
from yecai.sandbox.pm.exports import write_exports
from yecai.store.db import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> list:
    return write_exports(generate(projects=3, months=1, seed=5), tmp_path_factory.mktemp("exports"))


def test_every_sample_export_imports_cleanly(store: Store, exports: list) -> None:
    kinds = {export.kind for export in exports}
    assert kinds == {"cost", "attendance", "invoice", "payment_request", "budget", "worker"}
    assert {export.format for export in exports} == {"xlsx", "xls", "csv"}
    for export in exports:
        result = import_file(store, Path(export.path), kind=export.kind, connection=f"file-{export.format}")
        counts = result.counts
        assert counts.rejected == 0, (export.path.name, result.issues[:3])
        assert counts.imported + counts.duplicate == export.rows, export.path.name
