"""Whether a file sits inside a git work tree where `git add .` would pick it up.

Used to warn when the secret key file (`secret.key`, which decrypts every connection secret) lies in
a project folder that is under git and does not ignore it: one `git add .` and the key is in the
history for good. The work tree is found the way git finds it, by walking up for `.git` (a
folder, or a file in a linked work tree); no git needed for that. Whether the file is ignored is
asked of `git check-ignore` when git is installed and willing (it knows every rule: global excludes,
negations); otherwise the `.gitignore` files from the top of the work tree down to the file, and
`.git/info/exclude`, are read with git's pattern rules (`*`, `?`, `**`, a leading or inner `/`
anchors, a trailing `/` matches folders only, `!` re-includes, and nothing is re-included below an
ignored folder).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 5.0


def work_tree(start: Path) -> Path | None:
    """The top of the git work tree holding `start` (a file or folder), or None when there is none."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def is_ignored(path: Path, root: Path) -> bool:
    """True when git would not pick `path` up in the work tree at `root` (`git add .`)."""
    path, root = path.resolve(), root.resolve()
    verdict = _ask_git(path, root)
    return verdict if verdict is not None else _by_files(path, root)


def _ask_git(path: Path, root: Path) -> bool | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        # a file git already tracks is "not ignored" here (exit 1): right, it is exposed all the same
        done = subprocess.run(
            [git, "-C", str(root), "check-ignore", "-q", str(path)],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    # 0 ignored, 1 not; anything else (128: not a repository git accepts, e.g. another owner's)
    # leaves the question to the files
    return {0: True, 1: False}.get(done.returncode)


@dataclass(frozen=True, slots=True)
class _Pattern:
    base: str  # the folder (relative to the work tree, posix, "" for the top) whose file holds it
    regex: re.Pattern[str]
    negated: bool
    folders_only: bool

    def matches(self, relative: str, is_folder: bool) -> bool:
        if self.folders_only and not is_folder:
            return False
        if self.base:
            if not relative.startswith(self.base + "/"):
                return False
            relative = relative[len(self.base) + 1 :]
        return self.regex.fullmatch(relative) is not None


def _glob(text: str) -> str:
    """A gitignore glob as a regular expression over a posix path relative to its file's folder."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("/**", i) and i + 3 == len(text):
            out.append("/.*")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        elif text[i] == "[" and (end := text.find("]", i + 2)) > 0:
            body = text[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        elif text[i] == "\\" and i + 1 < len(text):
            out.append(re.escape(text[i + 1]))
            i += 2
        else:
            out.append(re.escape(text[i]))
            i += 1
    return "".join(out)


def _patterns(file: Path, base: str) -> list[_Pattern]:
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found: list[_Pattern] = []
    for line in lines:
        text = line.rstrip()
        if not text or text.startswith("#"):
            continue
        negated = text.startswith("!")
        text = text[1:] if negated else text
        folders_only = text.endswith("/")
        text = text.rstrip("/")
        if not text:
            continue
        # a slash at the start or in the middle anchors the pattern to its file's folder; without
        # one it matches a name at any depth
        anchored = "/" in text
        body = _glob(text.lstrip("/"))
        found.append(
            _Pattern(base, re.compile(body if anchored else f"(?:.*/)?{body}"), negated, folders_only)
        )
    return found


def _by_files(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False  # outside the work tree: nothing there can add it
    patterns: list[_Pattern] = []
    info = root / ".git" / "info" / "exclude"
    if info.is_file():
        patterns += _patterns(info, "")
    patterns += _patterns(root / ".gitignore", "")
    for depth in range(1, len(parts)):
        # each folder on the way down, then its own .gitignore for what lies below it
        relative = "/".join(parts[:depth])
        if _verdict(patterns, relative, is_folder=True):
            return True  # git never looks inside an ignored folder: nothing below can be re-included
        patterns += _patterns(root.joinpath(*parts[:depth], ".gitignore"), relative)
    return _verdict(patterns, "/".join(parts), is_folder=False)


def _verdict(patterns: list[_Pattern], relative: str, *, is_folder: bool) -> bool:
    ignored = False
    for pattern in patterns:  # the last matching pattern decides
        if pattern.matches(relative, is_folder):
            ignored = not pattern.negated
    return ignored
