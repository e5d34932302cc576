"""What every command that touches the store needs: settings, the store, the workspace, secrets.

Opened lazily and closed by the caller; errors become bilingual messages and a non-zero exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from yecai.errors import YecaiError
from yecai.secrets import SecretBox, load_key
from yecai.settings import Settings
from yecai.store.db import Store, open_store
from yecai.workspace import Workspace, load_workspace


@dataclass(slots=True)
class CommandContext:
    settings: Settings
    store: Store
    secrets: SecretBox

    def workspace(self, path: Path | None = None) -> Workspace:
        return load_workspace(path or self.settings.workspace)

    def workspace_or_exit(self, console: Console, path: Path | None = None) -> Workspace:
        """The workspace, or its bilingual error printed and the command ended with exit 1."""
        try:
            return self.workspace(path)
        except YecaiError as exc:
            raise fail(console, exc) from None


@contextmanager
def opened(database_url: str | None = None) -> Iterator[CommandContext]:
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    store = open_store(settings.store_url())
    try:
        yield CommandContext(settings, store, SecretBox(store, load_key(settings.workdir)))
    finally:
        store.close()


def fail(console: Console, error: YecaiError | Exception, code: int = 1) -> typer.Exit:
    """Print an error (Chinese first, then English) and return the Exit to raise."""
    console.print(f"[red]{error}[/red]")
    return typer.Exit(code)
