"""The progress display of commands that run the pipeline: one bar per step, counted and timed.

`yecai sync` and `yecai demo` show the same steps (pull, validate, plan, send …), so they show them
the same way; the file import keeps its own spinner because it counts rows of unknown total.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def step_progress(console: Console) -> Progress:
    """A progress display with a bar, done/total and elapsed time per step, printed on `console`."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
