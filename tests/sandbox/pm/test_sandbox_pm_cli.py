"""`yecai sandbox pm` serves the generated data on the given port until stopped."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import pytest

from yecai.jsonutil import dumps
from yecai.sandbox.pm import generate

pytestmark = pytest.mark.slow

COMMAND = [sys.executable, "-m", "yecai.cli.main", "sandbox", "pm"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base_url: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the sandbox exited early:\n{process.communicate()[0]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the sandbox did not answer /healthz in time")


def test_the_command_serves_the_data_until_interrupted() -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    options = ["--port", str(port), "--projects", "4", "--months", "2", "--seed", "7"]
    options += ["--start-month", "2027-03", "--token", "cli-token"]
    process = subprocess.Popen(
        [*COMMAND, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8"
    )
    try:
        wait_until_up(base_url, process)
        expected = generate(projects=4, months=2, seed=7, start_month="2027-03")
        headers = {"Authorization": "Bearer cli-token"}
        assert httpx.get(f"{base_url}/api/v1/projects", timeout=5).status_code == 401
        response = httpx.get(f"{base_url}/api/v1/projects", headers=headers, timeout=5)
        projects = json.loads(response.text, parse_float=Decimal)["data"]["items"]
        assert sorted(p["project_code"] for p in projects) == [p.project_code for p in expected.projects]
        response = httpx.get(
            f"{base_url}/api/v1/cost-records", params={"page_size": 500}, headers=headers, timeout=5
        )
        records = json.loads(response.text, parse_float=Decimal)["data"]
        assert records["total"] == len(expected.cost_records)
        in_api_order = sorted(expected.cost_records, key=lambda r: (r.updated_at, r.record_id))
        assert records["items"] == [json.loads(dumps(r), parse_float=Decimal) for r in in_api_order[:500]]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, output
    assert base_url in output
    assert "cli-token" in output


def test_a_bad_start_month_is_refused_before_serving() -> None:
    result = subprocess.run(
        [*COMMAND, "--port", str(free_port()), "--start-month", "2026-13"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
    )
    assert result.returncode == 2
    assert "2026-13" in result.stdout + result.stderr
