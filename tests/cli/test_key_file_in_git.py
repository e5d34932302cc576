"""The secret key file and git: the repository ignores `.yecai/`, and a key file that a work tree
would commit is warned about once, in Chinese and English, with the line to add to `.gitignore`."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from yecai import gitignore, secrets
from yecai.gitignore import is_ignored, work_tree
from yecai.secrets import load_key

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(secrets.KEY_ENV, raising=False)
    monkeypatch.setattr(secrets, "_WARNED", set(), raising=False)


def make_work_tree(folder: Path, *, real_git: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if real_git:
        subprocess.run(["git", "init", "-q", str(folder)], check=True)
    else:
        (folder / ".git").mkdir()  # what git leaves behind, without asking git anything
    return folder


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "yecai.secrets" and r.levelno == logging.WARNING
    ]


def test_the_repository_ignores_the_work_directory() -> None:
    lines = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".yecai/" in lines
    # what `git status` would say after the README's `yecai import` (no .git in an unpacked copy)
    if (REPO / ".git").exists():
        assert is_ignored(REPO / ".yecai" / "secret.key", REPO)
    assert gitignore._by_files(REPO / ".yecai" / "secret.key", REPO)


@pytest.mark.parametrize("real_git", [True, False], ids=["git", "no-git"])
def test_a_key_file_git_would_commit_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, real_git: bool
) -> None:
    if real_git and shutil.which("git") is None:
        pytest.fail("git is needed for this case (apt-get install git)")
    if not real_git:
        monkeypatch.setattr(gitignore.shutil, "which", lambda _name: None)  # as on a machine without git
    project = make_work_tree(tmp_path / "project", real_git=real_git)
    workdir = project / ".yecai"
    caplog.set_level(logging.WARNING, logger="yecai.secrets")
    key = load_key(workdir)  # created here
    found = warnings_of(caplog)
    assert len(found) == 1
    zh, en = found[0].split("\n")
    assert "git 工作区" in zh
    assert "未被忽略" in zh
    assert f"{project / '.gitignore'} 中加入一行 .yecai/" in zh
    assert "not ignored" in en
    assert f"Add the line .yecai/ to {project / '.gitignore'}" in en
    assert load_key(workdir) == key  # loaded again: no second warning
    assert len(warnings_of(caplog)) == 1
    # after the advice is followed, a new process (a fresh set of warnings) says nothing
    (project / ".gitignore").write_text("*.pyc\n.yecai/\n", encoding="utf-8")
    monkeypatch.setattr(secrets, "_WARNED", set(), raising=False)
    caplog.clear()
    assert load_key(workdir) == key
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("real_git", [True, False], ids=["git", "no-git"])
def test_an_ignored_key_file_or_one_outside_any_work_tree_is_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, real_git: bool
) -> None:
    if not real_git:
        monkeypatch.setattr(gitignore.shutil, "which", lambda _name: None)
    caplog.set_level(logging.WARNING, logger="yecai.secrets")
    project = make_work_tree(tmp_path / "project", real_git=real_git)
    (project / ".gitignore").write_text("# state\n*.key\n", encoding="utf-8")
    load_key(project / "deploy" / "state")
    assert work_tree(tmp_path / "elsewhere") is None
    load_key(tmp_path / "elsewhere" / ".yecai")
    assert warnings_of(caplog) == []


def test_ignore_rules_without_git(tmp_path: Path) -> None:
    root = make_work_tree(tmp_path / "repo", real_git=False)
    (root / ".gitignore").write_text(
        "/build/\nlogs/**\n!keep.key\nsecret?.key\n**/private/*.key\n", encoding="utf-8"
    )
    (root / "app").mkdir()
    (root / "app" / ".gitignore").write_text("state/\n", encoding="utf-8")

    def ignored(relative: str) -> bool:
        return gitignore._by_files(root / relative, root)

    assert ignored("build/secret.key")  # an anchored folder
    assert not ignored("src/build/secret.key")  # anchored: only at the top
    assert ignored("logs/a/b.key")
    assert ignored("x/secret1.key")  # a name pattern matches at any depth
    assert not ignored("x/secret12.key")
    assert ignored("a/b/private/k.key")
    assert ignored("app/state/secret.key")  # a nested .gitignore applies below its folder
    assert not ignored("state/secret.key")
    assert not ignored("keep.key")
    assert ignored("build/keep.key")  # nothing is re-included below an ignored folder
    assert not ignored("app/secret.key")
