"""Issue 14 item 16: `yecai init` starts a real (non-demo) installation.

It writes a commented workspace the real parser accepts, with a Kingdee data centre and a PM system
to fill in, the mapping table and connector it names, the store and the first admin; it refuses to
overwrite a workspace without --force, keeps the key and the store out of git, and says what next.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yecai.auth import users
from yecai.cli import init_workspace
from yecai.cli.main import app
from yecai.store.db import open_store
from yecai.workspace import KingdeeConnection, SourceConnection, load_workspace

STRONG = "Kuaiji-2026-ok"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "YECAI_WORKDIR",
        "YECAI_WORKSPACE",
        "YECAI_DATABASE_URL",
        "YECAI_SECRET_KEY",
        "YECAI_TIMEZONE",
    ):
        monkeypatch.delenv(name, raising=False)


def _init(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["init", *args], input=stdin, env={"COLUMNS": "80"})
    return result.exit_code, result.output


def _store(folder: Path):
    return open_store(f"sqlite:///{folder / '.yecai' / 'yecai.sqlite'}")


def test_init_sets_up_a_workspace_the_real_parser_accepts_and_the_first_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()  # the company's configuration repository
    monkeypatch.chdir(tmp_path)
    code, out = _init("--dir", "site", "--admin", "boss")
    assert code == 0, out
    site = tmp_path / "site"

    space = load_workspace(site / "yecai.yaml")
    assert isinstance(space.connections["kd"], KingdeeConnection)
    pm = space.connections["pm"]
    assert isinstance(pm, SourceConnection)
    assert pm.source_kind == "rest"
    job = space.syncs["books"]
    assert (job.source, job.target, job.mapping) == ("pm", "kd", "mapping.yaml")
    assert space.timezone == "Asia/Shanghai"
    assert "填写 FILL IN" in (site / "yecai.yaml").read_text(encoding="utf-8")  # commented, to fill in
    assert space.mapping(job).accounting_standard  # the mapping table beside it loads
    assert len(space.rule_sets(job)) == len(job.rule_sets)
    monkeypatch.setenv("PM_TOKEN", "token-for-the-test")  # as `connections set-secret pm PM_TOKEN` would
    connector = space.source("pm", None)  # the connector file it names opens as a connector
    assert set(job.streams) <= set(connector.streams)

    store = _store(site)
    try:
        password = re.search(r"初始密码 password \(shown once\): (\S+)", out)
        assert password, out
        signed = users.authenticate(store, "boss", password[1])
        assert signed.outcome == users.LoginOutcome.OK
        assert signed.user is not None
        assert signed.user.role.value == "admin"
    finally:
        store.close()
    key = site / ".yecai" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "/site/.yecai/" in (tmp_path / ".gitignore").read_text(encoding="utf-8").splitlines()

    lines = out.splitlines()
    for command in (
        "yecai connections set-secret kd KD_SECRET",
        "yecai rules check",
        "yecai serve",
        "yecai sync",
    ):
        assert any(line.strip().endswith(command) for line in lines), (command, out)  # whole, on one line

    # from the new folder every command finds the workspace by itself
    monkeypatch.chdir(site)
    listed = CliRunner().invoke(app, ["users", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert f"工作区 workspace: {site / 'yecai.yaml'}" in listed.output
    assert "boss" in listed.output


def test_an_existing_workspace_is_refused_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _init()[0] == 0
    workspace = tmp_path / "yecai.yaml"
    workspace.write_text(workspace.read_text(encoding="utf-8") + "# 我改过 edited\n", encoding="utf-8")
    code, out = _init()
    assert code == 2
    assert "已存在" in out
    assert "--force" in out
    assert workspace.read_text(encoding="utf-8").endswith("# 我改过 edited\n")  # untouched
    code, out = _init("--force")
    assert code == 0, out
    assert "# 我改过 edited" not in workspace.read_text(encoding="utf-8")
    assert "admin 已存在，密码未改" in out  # the store and its users are kept
    assert not (tmp_path / ".gitignore").exists()  # not in a git work tree: nothing to ignore


def test_the_password_is_asked_twice_at_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(init_workspace, "_interactive", lambda: True)
    code, out = _init("--dir", "a", stdin=f"{STRONG}\nsomething-else1\n")
    assert code == 2
    assert "两次输入的密码不一致" in out
    assert not (tmp_path / "a" / "yecai.yaml").exists()  # nothing written
    code, out = _init("--dir", "b", stdin=f"{STRONG}\n{STRONG}\n")
    assert code == 0, out
    assert STRONG not in out  # typed, so never printed
    store = _store(tmp_path / "b")
    try:
        assert users.authenticate(store, "admin", STRONG).outcome == users.LoginOutcome.OK
    finally:
        store.close()
