"""A real installation's first files and first user: what `yecai init` sets up in a folder.

A commented workspace (`yecai.yaml`) naming a Kingdee data centre and a PM system to fill in, the
two files it refers to — the mapping table and the PM system's connector, each starting from the
built-in one to edit —, the store with its first administrator, the encryption key, and a
`.gitignore` line so that key and store never reach a git repository. An existing workspace is
never overwritten unless asked (`force`); the store and its users are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from yecai.auth import users
from yecai.auth.principal import Principal
from yecai.connectors.registry import builtin_connectors
from yecai.errors import Action, Context, DataError, Fault, YecaiError
from yecai.mapping.rules import DEFAULTS
from yecai.secrets import load_key
from yecai.store.db import open_store
from yecai.workspace import load_workspace

TEMPLATE = Path(__file__).parent / "init_templates" / "yecai.yaml"
WORKSPACE_FILE = "yecai.yaml"
MAPPING_FILE = "mapping.yaml"  # as the template's sync job names it
CONNECTOR_FILE = Path("connectors") / "pm.yaml"  # as the template's pm connection names it

_MAPPING_HEAD = """\
# 映射表 · the mapping table of this workspace — written by `yecai init` from yecai's built-in one.
# Its accounts are those of a typical construction company's chart (the one sandbox.kingdee is
# seeded with): check them against your data centre with `yecai rules check`, edit them here, or in
# Excel (`yecai mapping export 映射表.xlsx`, then `yecai mapping import`). docs/rules.md explains it.

"""
_CONNECTOR_HEAD = """\
# 项目管理系统接口描述 · how yecai reads your PM system — written by `yecai init`.
# It starts as the description of sandbox.pm, yecai's reference PM system: change the paths, the
# paging and the field names to your system's API (docs/sources.md, "A connector is a YAML file").
# The ${PM_SANDBOX_TOKEN} below is filled from yecai.yaml's `secrets:` of the pm connection.

"""


class WorkspaceExists(YecaiError):
    """`yecai init` in a folder that already has a workspace, without `force`."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} 已存在，未做任何改动；要重新生成请加 --force（会替换该文件及其映射表和连接器文件，存储与用户保留）",
            f"{path} already exists; nothing was changed. Add --force to write it again (it replaces the "
            "file, its mapping table and connector file; the store and its users are kept)",
            Action.FAIL,
            Fault.CONFIGURATION,
            Context(source_key=str(path)),
        )


@dataclass(slots=True)
class Installation:
    """What `initialise` did, for the caller to tell the user."""

    workspace: Path
    workdir: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # files that existed and were left alone
    admin: str = "admin"
    admin_created: bool = False  # False: the admin existed and was kept as it was
    generated_password: str | None = None  # shown once; None when it was typed or the admin existed
    gitignore: Path | None = None  # the .gitignore that now keeps the work directory out of git


def git_root(folder: Path) -> Path | None:
    """The work tree `folder` is in (the nearest folder up holding `.git`), if any."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def ignore_in_git(root: Path, workdir: Path) -> Path | None:
    """Add `workdir` (key, store, queue) to `root`'s .gitignore unless a line already names it."""
    try:
        relative = workdir.resolve().relative_to(root.resolve())
    except ValueError:
        return None  # the work directory is outside the work tree: nothing to hide
    line = f"/{relative.as_posix()}/"
    path = root / ".gitignore"
    existing = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if any(entry.strip() in (line, line.rstrip("/"), line.lstrip("/")) for entry in existing):
        return path
    text = "\n".join(existing)
    addition = "# yecai: the encryption key, the store and the queue (yecai init)\n" + line + "\n"
    path.write_text((text + "\n" if text else "") + addition, encoding="utf-8")
    return path


def _write(target: Path, content: str, done: Installation, *, replace: bool) -> None:
    if target.exists() and not replace:
        done.kept.append(target)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    done.written.append(target)


def initialise(
    folder: Path,
    *,
    workdir: Path,
    store_url: str,
    admin: str,
    password: str | None,
    by: Principal,
    force: bool = False,
) -> Installation:
    """Set up a real installation in `folder` (see the module docstring); raises WorkspaceExists."""
    workspace = folder / WORKSPACE_FILE
    if workspace.exists() and not force:
        raise WorkspaceExists(workspace)
    done = Installation(workspace=workspace, workdir=workdir, admin=admin)
    folder.mkdir(parents=True, exist_ok=True)
    _write(workspace, TEMPLATE.read_text(encoding="utf-8"), done, replace=True)
    mapping = (DEFAULTS / MAPPING_FILE).read_text(encoding="utf-8")
    _write(folder / MAPPING_FILE, _MAPPING_HEAD + mapping, done, replace=force)
    connector = builtin_connectors()["pm_sandbox"].read_text(encoding="utf-8")
    _write(folder / CONNECTOR_FILE, _CONNECTOR_HEAD + connector, done, replace=force)
    load_workspace(workspace)  # what was written is a workspace the real parser accepts
    load_key(workdir)  # the key exists from the start, so that it is ignored before anything is stored
    store = open_store(store_url)
    try:
        if users.get_user(store, admin) is None:
            _, secret = users.create_user(
                store, username=admin, role="admin", password=password, display_name="管理员", by=by
            )
            done.admin_created = True
            done.generated_password = secret if password is None else None
        elif password is not None:
            raise DataError(
                f"用户 {admin} 已存在，密码未改；请用 yecai users set-password {admin}",
                f"user {admin} already exists and keeps its password; use `yecai users set-password {admin}`",
            )
    finally:
        store.close()
    root = git_root(folder.resolve())
    if root is not None:
        done.gitignore = ignore_in_git(root, workdir)
    return done
