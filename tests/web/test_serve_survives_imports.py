"""A real `yecai serve` process outlives uploads that kill their parser, and imports on at once.

The all-in-one server (web app, queue, scheduler) is started as a process of its own with a
256 MB import-worker limit; a finance user uploads a workbook declaring a cell at XFD1048576 (which
made python-calamine abort the whole server) and one declaring a 640 MB range. Each is a 422 with
the reason; the server process is still running, answers, and imports a good ledger of the same
kind right after (no 409 from a dead worker's lock).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.memory_bombs import far_cell_workbook, wide_range_workbook
from tests.support.spreadsheets import GOOD, csv_text, sheet_rows
from yecai.auth import sessions, users
from yecai.auth.principal import SYSTEM
from yecai.store.db import open_store

pytestmark = pytest.mark.slow  # starts a server process

ROOT = Path(__file__).resolve().parents[2]
SERVE = "import typer; from yecai.cli.serve import serve_command; typer.run(serve_command)"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    workdir = tmp_path / "work"
    store = open_store(f"sqlite:///{workdir / 'yecai.sqlite'}")
    users.create_user(store, username="finance", role="finance", password="Pa55-word-long", by=SYSTEM)
    _view, token = sessions.create_token(store, username="finance", name="tests", by=SYSTEM)
    store.close()
    workspace = tmp_path / "yecai.yaml"
    workspace.write_text("connections: {}\n", encoding="utf-8")
    env = {
        **os.environ,
        "YECAI_WORKSPACE": str(workspace),
        "YECAI_WORKDIR": str(workdir),
        "YECAI_IMPORT_MEMORY_MB": "256",  # a normal import needs about 100 MB
    }
    port = _free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "--port", str(port), "--workers", "0"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "serve.log").read_text("utf-8", "replace")
            assert time.monotonic() < deadline, "yecai serve did not come up"
            time.sleep(0.2)
        yield process, base, token
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _upload(base: str, token: str, name: str, content: bytes) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/imports",
        data={"kind": "cost"},
        files={"file": (name, content, XLSX if name.endswith(".xlsx") else "text/csv")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )


def _good(prefix: str) -> bytes:
    header, rows, _ = GOOD["cost"]
    return csv_text(sheet_rows(header, [[row[0], f"{prefix}-{row[1]}", *row[2:]] for row in rows])).encode()


def test_the_server_survives_files_that_kill_their_parser(
    server: tuple[subprocess.Popen[bytes], str, str], tmp_path: Path
) -> None:
    process, base, token = server
    for number, hostile in enumerate(
        (far_cell_workbook(tmp_path / "xfd.xlsx"), wide_range_workbook(tmp_path / "wide.xlsx"))
    ):
        answer = _upload(base, token, hostile.name, hostile.read_bytes())
        if hostile.name == "xfd.xlsx":
            # once a SIGABRT of the whole server; now its real cells are read, the far one refused
            assert answer.status_code == 200, answer.text
            assert (answer.json()["counts"]["imported"], answer.json()["counts"]["rejected"]) == (1, 1)
        else:
            # a range the worker cannot hold under its limit: the worker is stopped, not the server
            assert answer.status_code == 422, answer.text
            detail = answer.json()["detail"]
            assert hostile.name in detail["message_zh"]  # the user's own file name, in both languages
            assert hostile.name in detail["message_en"]
        assert process.poll() is None  # the server process is alive
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        good = _upload(base, token, "成本.csv", _good(f"P{number}"))
        assert good.status_code == 200, good.text  # not 409: the dead worker's lock is gone
        assert good.json()["counts"]["imported"] == 3
