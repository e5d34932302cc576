"""`yecai sandbox kingdee`: the --print-credentials contract and a served instance the SDK can use."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.kingdee_calls import balanced_voucher, sdk_client, status_of
from yecai.cli.main import app

pytestmark = pytest.mark.slow

KEYS = ["server_url", "acct_id", "user_name", "app_id", "app_secret", "lcid", "org_num"]


def _print_credentials(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["sandbox", "kingdee", "--print-credentials", *args])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return json.loads(lines[0])


def test_print_credentials_initialises_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "kd"
    creds = _print_credentials("--data-dir", str(data_dir))
    assert list(creds) == KEYS
    assert creds["server_url"] == "http://127.0.0.1:8090/K3Cloud/"
    assert creds["acct_id"] == "66a0c0ffee0001"
    assert creds["user_name"] == "yecai_api"
    assert creds["lcid"] == 2052
    assert creds["org_num"] == 100
    assert (data_dir / "kingdee.sqlite").exists()
    # Stable: a second call prints the same secrets; --host/--port choose the URL.
    again = _print_credentials("--data-dir", str(data_dir), "--host", "10.0.0.5", "--port", "9000")
    assert again["server_url"] == "http://10.0.0.5:9000/K3Cloud/"
    assert {k: again[k] for k in KEYS[1:]} == {k: creds[k] for k in KEYS[1:]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.mark.sdk
def test_served_instance_works_with_printed_credentials(tmp_path: Path) -> None:
    data_dir = tmp_path / "served"
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "yecai.cli.main",
        "sandbox",
        "kingdee",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        _wait_for(port, process)
        creds = _print_credentials("--data-dir", str(data_dir))  # URL recorded by the serve command
        assert creds["server_url"] == f"http://127.0.0.1:{port}/K3Cloud/"
        sdk = sdk_client(creds)
        status = status_of(sdk.Save("GL_VOUCHER", {"Model": balanced_voucher("1234.56")}))
        assert status["IsSuccess"] is True
        rows = json.loads(sdk.ExecuteBillQuery({"FormId": "GL_VOUCHER", "FieldKeys": "FBillNo,FDEBITTOTAL"}))
        assert rows == [[status["SuccessEntitys"][0]["Number"], 1234.56]]
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr:
            process.stderr.close()
