"""Issue 14 item 2: how a command finds its workspace and work directory without flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from yecai.cli.context import locate
from yecai.demo import demo_sandboxes
from yecai.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("YECAI_WORKDIR", "YECAI_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)


def test_the_nearest_workspace_wins_walking_up(tmp_path: Path) -> None:
    (tmp_path / ".yecai-demo").mkdir()
    (tmp_path / ".yecai-demo" / "yecai.yaml").write_text("connections: {}\n", encoding="utf-8")
    below = tmp_path / "x" / "y"
    below.mkdir(parents=True)
    found = locate(Settings(), start=below)
    assert found.found
    assert found.workspace == tmp_path / ".yecai-demo" / "yecai.yaml"
    assert found.workdir == tmp_path / ".yecai-demo"  # the demo's state lives beside its workspace
    # a real installation's yecai.yaml nearer to here is preferred, its state in .yecai beside it
    (tmp_path / "x" / "yecai.yaml").write_text("connections: {}\n", encoding="utf-8")
    nearer = locate(Settings(), start=below)
    assert nearer.workspace == tmp_path / "x" / "yecai.yaml"
    assert nearer.workdir == tmp_path / "x" / ".yecai"


def test_flags_and_environment_come_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "yecai.yaml").write_text("connections: {}\n", encoding="utf-8")
    other = tmp_path / "elsewhere" / "w.yaml"
    given = locate(Settings(), other, start=tmp_path)
    assert given.workspace == other
    assert given.workdir == tmp_path / "elsewhere" / ".yecai"
    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path / "state"))
    assert locate(Settings(), other, start=tmp_path).workdir == tmp_path / "state"


def test_nothing_found_keeps_the_old_defaults(tmp_path: Path) -> None:
    found = locate(Settings(), start=tmp_path)
    assert not found.found
    assert found.workspace == Path("yecai.yaml")
    assert found.workdir == Path(".yecai")


def test_a_workdir_that_is_no_demo_starts_no_sandbox(tmp_path: Path) -> None:
    with demo_sandboxes(tmp_path) as started:
        assert started == []
