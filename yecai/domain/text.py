"""Text rules shared by every way in and out: identifier codes, and cells a spreadsheet must not run.

`clean_code` NFKC-normalises a code or key (full-width ＸＭ２０２６ is XM2026) and refuses invisible
and control characters (U+200B, U+202E, U+0000, …), so a lookalike never becomes a second project;
`code_problem` says what is wrong. `inert` is the formula-injection guard of every workbook yecai
writes (import reports, reconciliation, monthly reports). Pure: no I/O, no yecai imports.
"""

from __future__ import annotations

import unicodedata

# Unicode general categories no identifier needs: controls, format characters (zero-width and bidi
# marks), surrogates, private use, unassigned, and the line and paragraph separators.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

# The leading characters Excel and WPS read as a formula or DDE call (OWASP: CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def hidden_character(text: str) -> str | None:
    """The first invisible or control character of `text` as `U+XXXX`, or None when there is none."""
    for char in text:
        if unicodedata.category(char) in INVISIBLE_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


def clean_code(text: str) -> str:
    """The code NFKC-normalised and stripped; raises ValueError (naming the character) if it hides one."""
    # surrounding whitespace (a tab or newline an export left) is noise, not part of the code
    stripped = text.strip()
    if stripped.isascii() and stripped.isprintable():
        # printable ASCII holds no invisible or control character and NFKC leaves it as it is
        return stripped
    for candidate in (stripped, unicodedata.normalize("NFKC", stripped)):
        if found := hidden_character(candidate):
            raise ValueError(found)
    return unicodedata.normalize("NFKC", stripped).strip()


def inert(text: str) -> str:
    """The text with a leading apostrophe when it could start a formula, else unchanged."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
