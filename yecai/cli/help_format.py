"""Help screens that show every option name and every help text whole, at 80 columns too.

Typer draws `--help` as Rich tables whose cells cut what does not fit with "…": a Chinese phrase
has no space to wrap at, so at 80 columns `yecai import --help` ended half its help texts in "…",
and long option names were cut as well (`--drop-after-commit-r…`). Chinese may break between any
two characters, so folding a long word onto the next line is correct typography, and nothing is
lost. Typer has no setting for this; it builds each panel's table and then wraps it in a `Panel`,
so `install` gives Typer's help module a Panel that switches its table's cells from "…" to folding
before anything is drawn. tests/cli/test_cli_width.py checks every command's help at 80 columns.
"""

from __future__ import annotations

from typing import Any

from rich.columns import Columns
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _fold(renderable: object) -> None:
    """Fold instead of cutting, in a table, its cells, and the texts inside them."""
    if isinstance(renderable, Text):
        renderable.overflow = "fold"
    elif isinstance(renderable, Columns):
        for item in renderable.renderables:
            _fold(item)
    elif isinstance(renderable, Table):
        for column in renderable.columns:
            cells = list(column._cells)  # the cells as added: Rich has no public accessor
            column.overflow = "fold"
            # option names (--drop-after-commit-rate) stay on one line: the prose beside them folds
            column.no_wrap = bool(cells) and all(_option_name(cell) for cell in cells)
            for cell in cells:
                _fold(cell)


def _option_name(cell: object) -> bool:
    text = cell.plain if isinstance(cell, Text) else None
    return text is not None and (not text or (text.startswith("-") and not text.split()[1:]))


class FoldingPanel(Panel):
    """Typer's panel of options or commands, whose table folds long words instead of cutting them."""

    def __init__(self, renderable: Any, *args: Any, **kwargs: Any) -> None:
        _fold(renderable)
        super().__init__(renderable, *args, **kwargs)


def install() -> None:
    """Use `FoldingPanel` in Typer's help screens (idempotent)."""
    from typer import rich_utils

    rich_utils.Panel = FoldingPanel  # type: ignore[misc]
