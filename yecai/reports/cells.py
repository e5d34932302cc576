"""Text cells that a spreadsheet can never run: the formula-injection guard (CSV/Excel injection).

A project name, payee or description comes from the source system and may start with `=`, `+`,
`-`, `@`, a tab or a carriage return — Excel and WPS would read such text as a formula (or DDE
call). The one guard lives in `yecai.domain.text` (the import report uses it too); this module
keeps the name the report writers import.
"""

from __future__ import annotations

from yecai.domain.text import FORMULA_TRIGGERS as TRIGGERS
from yecai.domain.text import inert

__all__ = ["TRIGGERS", "inert"]
