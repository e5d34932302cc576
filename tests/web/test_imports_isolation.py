"""The server survives a file that kills its parser: one failed import (422), never a dead process.

Before the worker process, `POST /api/v1/imports` parsed in the server's own process, and a 5 KB
workbook with one cell at XFD1048576 made python-calamine abort it (SIGABRT: the web app, the queue
and the scheduler with it; under the test client, the test run itself). Its import lock outlived
it, so every import of the kind was refused (409) for ten minutes. Now each upload is parsed in a
memory-capped worker: the server answers 422 with the reason, keeps serving, and the next import
of the kind goes through at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.memory_bombs import far_cell_workbook, wide_range_workbook
from tests.support.planting import Planted
from tests.support.spreadsheets import GOOD, csv_text, sheet_rows

pytestmark = pytest.mark.slow  # worker processes and subprocesses: seconds apiece

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(client: TestClient, planted: Planted, who: str, name: str, content: bytes) -> object:
    return client.post(
        "/api/v1/imports",
        data={"kind": "cost"},
        files={"file": (name, content, XLSX if name.endswith(".xlsx") else "text/csv")},
        headers={"Authorization": f"Bearer {planted.tokens[who]}"},
    )


def _good_ledger(prefix: str) -> bytes:
    header, rows, _ = GOOD["cost"]
    fresh = [[row[0], f"{prefix}-{row[1]}", *row[2:]] for row in rows]
    return csv_text(sheet_rows(header, fresh)).encode("utf-8")


def _survives(
    client: TestClient, planted: Planted, who: str, hostile: bytes, prefix: str, status: int = 422
) -> dict:
    answer = _upload(client, planted, who, "巨大范围.xlsx", hostile)
    assert answer.status_code == status, answer.text  # never a 500, never a dead server
    if status == 200:
        detail = answer.json()
        assert detail["file_name"] == "巨大范围.xlsx"
        assert (detail["counts"]["imported"], detail["counts"]["rejected"]) == (1, 1)
        assert client.get("/healthz").status_code == 200
        again = _upload(client, planted, who, "成本.csv", _good_ledger(prefix))
        assert again.status_code == 200, again.text
        return detail
    detail = answer.json()["detail"]
    assert "巨大范围.xlsx" in detail["message_zh"]  # the user's file, named in both languages
    assert "巨大范围.xlsx" in detail["message_en"]
    # the same server answers the next request …
    assert client.get("/healthz").status_code == 200
    # … and takes the next import of the kind at once: no 409 from a dead worker's lock
    again = _upload(client, planted, who, "成本.csv", _good_ledger(prefix))
    assert again.status_code == 200, again.text
    assert again.json()["counts"]["imported"] == 3
    return detail


def test_a_workbook_that_aborted_the_server_imports_its_real_cells(
    planted_world: Callable[..., tuple[TestClient, Planted]], tmp_path: Path
) -> None:
    client, planted = planted_world()
    hostile = far_cell_workbook(tmp_path / "xfd.xlsx").read_bytes()
    assert len(hostile) < 10_000  # 5 KB that asked for 512 GB and aborted the process
    _survives(client, planted, "finance", hostile, "A", status=200)


def test_a_worker_past_its_memory_limit_costs_one_import(
    planted_world: Callable[..., tuple[TestClient, Planted]], tmp_path: Path
) -> None:
    # a limit a normal import fits in (about 100 MB) but a 640 MB sheet range does not
    client, planted = planted_world(import_memory_mb=256)
    detail = _survives(
        client, planted, "integrator", wide_range_workbook(tmp_path / "w.xlsx").read_bytes(), "B"
    )
    if "YECAI_IMPORT_MEMORY_MB" in detail["message_en"]:  # the worker was stopped (not refused earlier)
        assert "256 MB" in detail["message_zh"]
        assert "256 MB" in detail["message_en"]
