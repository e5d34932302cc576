"""Text cells that a spreadsheet can never run: the formula-injection guard (CSV/Excel injection).

A project name, payee or description comes from the source system and may start with `=`, `+`,
`-`, `@`, a tab or a carriage return — Excel and WPS would read such text as a formula (or DDE
call) when a person edits the cell or re-saves as CSV. `inert` prefixes it with an apostrophe,
OWASP's recommendation, so it stays plain text; everything else is returned unchanged.
"""

from __future__ import annotations

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """The text with a leading apostrophe when it could start a formula, else unchanged."""
    return "'" + text if text.startswith(TRIGGERS) else text
