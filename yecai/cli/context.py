"""What every command that touches the store needs: settings, the store, the workspace, secrets.

Where they are is found the way git finds `.git` (`locate`): `--workspace` or `YECAI_WORKSPACE`
when given, else the nearest `yecai.yaml` or `.yecai-demo/yecai.yaml` walking up from the current
directory. The work directory (store, secret key) is `YECAI_WORKDIR` when set, else the folder
holding that workspace's state. Each command says in one line (on stderr) which it uses.
Opened lazily and closed by the caller; errors become bilingual messages and a non-zero exit
under one convention (docs/cli.md): 0 ran, 1 could not run, 2 bad usage or input.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from yecai.errors import YecaiError
from yecai.secrets import KEY_ENV, SecretBox, open_box
from yecai.services.connections import without_retry
from yecai.settings import Settings
from yecai.store.db import Store, open_store
from yecai.workspace import Workspace, adopt_zone, load_workspace

WORKSPACE_FILE = "yecai.yaml"
DEMO_DIR = ".yecai-demo"
STATE_DIR = ".yecai"  # a real installation's work directory, beside its yecai.yaml
# what a work directory holds: a workspace sitting among these is inside its own work directory
STATE_FILES = ("secret.key", "yecai.sqlite")

# exit codes, one convention for every command (docs/cli.md)
EXIT_OK = 0
EXIT_FAILED = 1  # could not run: configuration, connection, a failed run
EXIT_USAGE = 2  # bad usage or input: an unknown option, a malformed period (typer uses 2 as well)


@dataclass(frozen=True, slots=True)
class Located:
    """Which workspace and work directory a command uses, and how they were found."""

    workspace: Path
    workdir: Path
    found: bool  # False: nothing was found; the defaults (./yecai.yaml, ./.yecai) stand
    how_zh: str
    how_en: str


def os_user() -> str:
    """Who runs the command, for the audit log: the operating-system user ("unknown" in a container
    whose uid has no passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def find_workspace(start: Path) -> Path | None:
    """The nearest `yecai.yaml` or `.yecai-demo/yecai.yaml` from `start` up to the root."""
    for folder in (start, *start.parents):
        for candidate in (folder / WORKSPACE_FILE, folder / DEMO_DIR / WORKSPACE_FILE):
            if candidate.is_file():
                return candidate
    return None


def _workdir_of(workspace: Path) -> Path:
    folder = workspace.parent
    if folder.name == DEMO_DIR or any((folder / name).exists() for name in STATE_FILES):
        return folder  # the demo's workspace lives inside its work directory
    return folder / STATE_DIR


def locate(settings: Settings, workspace: Path | None = None, start: Path | None = None) -> Located:
    """Where the workspace and the work directory are, by the rules in this module's docstring."""
    given_workdir = "workdir" in settings.model_fields_set
    if workspace is not None:
        path, zh, en = workspace, "--workspace", "--workspace"
    elif "workspace" in settings.model_fields_set:
        path, zh, en = settings.workspace, "YECAI_WORKSPACE", "YECAI_WORKSPACE"
    else:
        here = (start or Path.cwd()).resolve()
        found = find_workspace(here)
        if found is None:
            return Located(
                settings.workspace,
                settings.workdir,
                False,
                f"在 {here} 及其上级目录中未找到 {WORKSPACE_FILE} 或 {DEMO_DIR}/{WORKSPACE_FILE}",
                f"no {WORKSPACE_FILE} or {DEMO_DIR}/{WORKSPACE_FILE} in {here} or above",
            )
        path, zh, en = found, f"自 {here} 向上查找", f"found from {here}"
    workdir = settings.workdir if given_workdir else _workdir_of(path.resolve())
    return Located(path, workdir, True, zh, en)


def located_settings(settings: Settings, located: Located) -> Settings:
    return settings.model_copy(update={"workspace": located.workspace, "workdir": located.workdir})


def announce(console: Console, located: Located, settings: Settings) -> None:
    """The one line saying which workspace, work directory, key and store a command uses."""
    key = KEY_ENV if os.environ.get(KEY_ENV) else str(located.workdir / "secret.key")
    store = "YECAI_DATABASE_URL / --database-url" if settings.database_url else str(located.workdir)
    if not located.found:
        console.print(f"[yellow]{located.how_zh} / {located.how_en}[/yellow]", soft_wrap=True)
    console.print(
        f"工作区 workspace: {located.workspace}（{located.how_zh} / {located.how_en}）· "
        f"工作目录 workdir: {store} · 密钥 key: {key}",
        soft_wrap=True,
        highlight=False,
    )


@dataclass(slots=True)
class CommandContext:
    settings: Settings
    store: Store
    _secrets: SecretBox | None = None

    @property
    def secrets(self) -> SecretBox:
        """The secret box, its key read (or created) only by a command that uses secrets."""
        if self._secrets is None:
            self._secrets = open_box(self.store, self.settings.workdir)
        return self._secrets

    def workspace(self, path: Path | None = None) -> Workspace:
        return load_workspace(path or self.settings.workspace)

    def workspace_or_exit(self, console: Console, path: Path | None = None) -> Workspace:
        """The workspace, or its bilingual error printed and the command ended with exit 1."""
        try:
            return self.workspace(path)
        except YecaiError as exc:
            raise fail(console, exc) from None

    @contextmanager
    def sandboxes(self, console: Console) -> Iterator[None]:
        """On a demo workspace, the two sandboxes answering for the command's lifetime."""
        from yecai.demo import demo_sandboxes  # the demo pulls in both sandboxes: only when needed

        with demo_sandboxes(self.settings.workdir, on_start=lambda line: console.print(line, soft_wrap=True)):
            yield


@contextmanager
def opened(
    database_url: str | None = None,
    workspace: Path | None = None,
    *,
    quiet: bool = False,
    upgrade: bool = True,  # False: `yecai db …`, which checks or upgrades the schema itself
) -> Iterator[CommandContext]:
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    located = locate(settings, workspace)
    settings = located_settings(settings, located)
    errors = Console(stderr=True)
    if not quiet:
        announce(errors, located, settings)
    try:
        adopt_zone(settings.workspace)  # times printed by any command: the workspace's zone, labelled
    except YecaiError as exc:
        raise fail(errors, exc) from None
    try:
        store = open_store(settings.store_url(), upgrade=upgrade)
    except YecaiError as exc:  # a schema a newer yecai migrated: said once, no traceback
        raise fail(errors, exc) from None
    try:
        yield CommandContext(settings, store)
    finally:
        store.close()


def once(error: YecaiError | Exception) -> str:
    """The error as a one-shot command reports it: what failed and what to do, no promise to retry."""
    if not isinstance(error, YecaiError):
        return str(error)
    zh, en = without_retry(error.zh, error.en)
    where = error.context.describe()
    return f"{zh} / {en}" + (f" [{where}]" if where else "")


def fail(console: Console, error: YecaiError | Exception, code: int = EXIT_FAILED) -> typer.Exit:
    """Print an error (Chinese first, then English) and return the Exit to raise."""
    # escaped: a message is text, and its brackets ("yecai[server]", "[connection=…]") are not markup
    console.print(f"[red]{escape(once(error))}[/red]", soft_wrap=True, highlight=False)
    return typer.Exit(code)
