"""Issue 14 items 2 and 14: after `yecai demo` in a folder, the README's next commands run from that
folder with no flags — the demo's workspace found as git finds `.git`, the sandboxes started for
the command — a one-shot command never promises to retry, and the common options and exit codes
are the same for every command."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yecai.cli.main import app
from yecai.cli.serving import webhook_connectors
from yecai.jobs.runner import Runtime
from yecai.services import connections as connection_service
from yecai.sync.launch import run_sync

pytestmark = pytest.mark.slow

ENV = {"COLUMNS": "200"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder where `yecai demo --projects 2` ran (on free ports: other suites may hold 8090)."""
    folder = tmp_path_factory.mktemp("world")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("YECAI_WORKDIR", "YECAI_WORKSPACE", "YECAI_DATABASE_URL", "YECAI_SECRET_KEY"):
            patch.delenv(name, raising=False)
        patch.chdir(folder)
        ports = ["--pm-port", str(_free_port()), "--kingdee-port", str(_free_port())]
        ran = CliRunner().invoke(app, ["demo", "--projects", "2", *ports], env=ENV)
        assert ran.exit_code == 0, ran.output
        assert "yecai serve\n" in ran.output  # the printed command needs no flags from here
        yield folder


@pytest.fixture
def in_demo(demo_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("YECAI_WORKDIR", "YECAI_WORKSPACE", "YECAI_DATABASE_URL", "YECAI_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(demo_folder)
    return demo_folder


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={**ENV, **(env or {})})
    return result.exit_code, result.output


def test_sync_finds_the_demo_workspace_and_its_sandboxes(in_demo: Path) -> None:
    code, output = _run("sync")
    assert code == 0, output
    workspace = in_demo / ".yecai-demo" / "yecai.yaml"
    assert f"工作区 workspace: {workspace}" in output  # one line says which, and how it was found
    assert "工作目录 workdir:" in output
    assert "已启动演示沙箱" in output  # nothing was running: the command started both
    assert "PM_WEBHOOK_SECRET" not in output


def test_sync_from_a_subfolder_walks_up(in_demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    below = in_demo / "a" / "b"
    below.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(below)
    code, output = _run("postings", "list")
    assert code == 0, output
    assert str(in_demo / ".yecai-demo" / "yecai.yaml") in output
    assert "posted" in output


def test_reconcile_and_reports_run_with_no_flags(in_demo: Path) -> None:
    code, output = _run("reconcile", "--period", "2026-10", "--excel", "对账差异.xlsx")
    assert code == 0, output
    assert (in_demo / "对账差异.xlsx").stat().st_size > 0
    code, output = _run("report", "monthly", "--period", "2026-10", "--out", "reports")
    assert code == 0, output
    assert (in_demo / "reports" / "monthly-2026-10.xlsx").exists()


def test_postings_list_takes_the_common_options(in_demo: Path) -> None:
    code, output = _run("postings", "list", "--workspace", ".yecai-demo/yecai.yaml")
    assert code == 0, output
    assert "posted" in output


@pytest.mark.parametrize("command", [["reconcile"], ["report", "monthly", "--out", "x"], ["match"]])
def test_a_bad_period_exits_2_everywhere(in_demo: Path, command: list[str]) -> None:
    code, output = _run(*command, "--period", "2026-13")
    assert code == 2, output


def test_a_one_shot_command_never_promises_to_retry(in_demo: Path, tmp_path: Path) -> None:
    # a workspace whose Kingdee is not running (and is no demo: nothing starts it)
    space = (in_demo / ".yecai-demo" / "yecai.yaml").read_text(encoding="utf-8")
    dead = _free_port()
    lines = [
        f"    server_url: http://127.0.0.1:{dead}/K3Cloud/" if "server_url:" in line else line
        for line in space.splitlines()
    ]
    other = tmp_path / "yecai.yaml"
    other.write_text("\n".join(lines) + "\n", encoding="utf-8")
    work = in_demo / ".yecai-demo"  # the demo's store and key: the secrets are there
    code, output = _run(
        "reconcile", "--period", "2026-10", "--workspace", str(other), env={"YECAI_WORKDIR": str(work)}
    )
    assert code == 1, output
    assert "无法连接金蝶服务器" in output
    assert "稍后重试" not in output
    assert "will retry" not in output
    assert "然后再试一次" in output, output  # it says what to do instead


def test_serve_on_the_demo_starts_the_sandboxes_and_its_jobs_work(
    in_demo: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What the console does under `yecai serve`: 测试连接 passes for both connections and the
    same as the health column, 立即运行's sync completes (no dead letter), and no webhook warning."""
    seen: dict[str, object] = {}

    def serving(runtime: Runtime, *, host: str, port: int, workers: int, web: int | None = None) -> None:
        space = runtime.workspace()
        for name in ("pm", "kingdee"):
            result = connection_service.test_connection(space, runtime.secrets, name, store=runtime.store)
            seen[name] = result.ok
            seen[f"{name}.message"] = result.message_en
        seen["hooks"] = sorted(webhook_connectors(space, runtime.secrets))
        report = run_sync(runtime.store, space, "demo", secrets=runtime.secrets)
        seen["clean"] = report.check.clean and not report.send.failed
        seen["health"] = {
            row.name: row.consecutive_failures
            for row in connection_service.connection_rows(runtime.store, space, runtime.secrets)
        }

    monkeypatch.setattr("yecai.cli.serve.serve", serving)
    with caplog.at_level(logging.WARNING, logger="yecai"):
        code, output = _run("serve", "--workers", "0")
    assert code == 0, output
    assert "已启动演示沙箱" in output
    assert seen["pm"] is True, seen
    assert seen["kingdee"] is True, seen
    assert seen["hooks"] == ["pm"]  # the demo stored the sandbox's webhook secret: pushes are received
    assert seen["clean"] is True
    assert seen["health"] == {"pm": 0, "kingdee": 0}
    assert not [r for r in caplog.records if "webhook" in r.getMessage()]
