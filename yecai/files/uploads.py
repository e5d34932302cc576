"""The name an uploaded export is saved under while it is imported: the user's own, made harmless.

Messages, the import report and the console name the file the way its user knows it (`成本 10月.csv`,
not `upload.csv`), so the upload is saved under its own name — but only as a leaf inside a fresh
temporary folder: everything up to the last slash or backslash, control and format characters, and
leading dots are dropped, and the name is cut to fit file systems' 255-byte limit with its suffix kept.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath

MAX_NAME_BYTES = 200  # below the usual 255-byte limit, leaving room for what a file system adds


def safe_upload_name(filename: str | None, suffix: str) -> str:
    """A leaf name for the upload ending in `suffix` (lower-case, as checked); `upload{suffix}` if none is left."""
    text = unicodedata.normalize("NFC", filename or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C")).strip()
    stem = text[: -len(suffix)] if suffix and text.lower().endswith(suffix) else PurePosixPath(text).stem
    stem = stem.strip(". ")  # no hidden files, no "." or ".."
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return f"{stem}{suffix}" if stem else f"upload{suffix}"
