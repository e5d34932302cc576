"""POST /api/v1/imports: the same file types as the CLI, 415 for the rest, and reports never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.planting import Planted
from tests.support.spreadsheets import GOOD, csv_text, sheet_rows
from yecai.files import IMPORT_EXTENSIONS
from yecai.store.db import Store

pytestmark = pytest.mark.slow  # each test serves the API over a fresh store


def bearer(planted: Planted, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {planted.tokens[who]}"}


def _bad_ledger(delimiter: str = ",") -> bytes:
    header, rows, _ = GOOD["cost"]
    bad = [*rows, [4, "CB-0004", "XM2026001", "飞机费", "2026-10-07", "1", "个", 1, 1, 1, None, "x"]]
    return csv_text(sheet_rows(header, bad), delimiter).encode("utf-8")


@pytest.mark.parametrize("suffix", [".tsv", ".txt"])
def test_text_types_the_cli_takes_are_taken(
    api_world: tuple[TestClient, Planted, Store], suffix: str
) -> None:
    client, planted, _ = api_world
    delimiter = "\t" if suffix == ".tsv" else ","
    answer = client.post(
        "/api/v1/imports",
        data={"kind": "cost"},
        files={"file": (f"成本{suffix}", _bad_ledger(delimiter), "text/plain")},
        headers=bearer(planted, "integrator"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["imported"] == 3


def test_every_cli_kind_is_taken_opening_balances_too(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, _ = api_world
    header, rows, _ = GOOD["opening_balance"]
    answer = client.post(
        "/api/v1/imports",
        data={"kind": "opening_balance"},
        files={"file": ("期初余额.csv", csv_text(sheet_rows(header, rows)).encode("utf-8"), "text/csv")},
        headers=bearer(planted, "integrator"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["imported"] == len(rows)
    listed = client.get(
        "/api/v1/documents", params={"kind": "opening_balance"}, headers=bearer(planted, "integrator")
    )
    assert listed.status_code == 200, listed.text
    assert len(listed.json()) == len(rows)


def test_every_cli_type_passes_the_type_gate(api_world: tuple[TestClient, Planted, Store]) -> None:
    client, planted, _ = api_world
    assert {".ods", ".tsv", ".txt", ".xlsx", ".xls", ".csv"} <= IMPORT_EXTENSIONS
    for suffix in sorted(IMPORT_EXTENSIONS):
        answer = client.post(
            "/api/v1/imports",
            data={"kind": "cost"},
            files={"file": (f"x{suffix}", b"not really", "application/octet-stream")},
            headers=bearer(planted, "integrator"),
        )
        assert answer.status_code != 415, (suffix, answer.text)
        assert "不支持的文件类型" not in answer.text, (suffix, answer.text)


@pytest.mark.parametrize("name", ["payload.exe", "noextension", "成本.pdf"])
def test_an_unsupported_type_is_415(api_world: tuple[TestClient, Planted, Store], name: str) -> None:
    client, planted, _ = api_world
    answer = client.post(
        "/api/v1/imports",
        data={"kind": "cost"},
        files={"file": (name, b"MZ\x90\x00", "application/octet-stream")},
        headers=bearer(planted, "integrator"),
    )
    assert answer.status_code == 415, answer.text
    detail = answer.json()["detail"]
    assert "不支持" in detail["message_zh"]
    assert "unsupported" in detail["message_en"]


def test_reports_of_imports_in_the_same_second_are_all_kept(
    api_world: tuple[TestClient, Planted, Store], tmp_path: Path
) -> None:
    client, planted, _ = api_world
    names = set()
    for n in range(4):
        header, _rows, _ = GOOD["cost"]
        bad = [[n, f"CB-X{n}", "XM2026001", "飞机费", "2026-10-07", "1", "个", 1, 1, 1, None, "x"]]
        answer = client.post(
            "/api/v1/imports",
            data={"kind": "cost"},
            files={"file": (f"成本{n}.csv", csv_text(sheet_rows(header, bad)).encode(), "text/csv")},
            headers=bearer(planted, "integrator"),
        )
        assert answer.status_code == 200, answer.text
        names.add(answer.json()["report"])
    assert None not in names
    assert len(names) == 4
    assert planted.settings is not None
    kept = {p.name for p in (planted.settings.workdir / "import-reports").iterdir()}
    assert names <= kept
