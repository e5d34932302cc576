"""A file's identity: the SHA-256 of its bytes, and a snapshot copy hashed in the same pass.

The same bytes under any name are one file (imported once); the snapshot is what is read, so a
file saved again while it is imported cannot mix two versions into one import.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

_BLOCK = 1 << 20


def fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes: the file's identity, whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot(path: Path, target: Path) -> str:
    """Copy `path` to `target` and return the copy's fingerprint."""
    # Copy and hash in one pass: the rows imported are exactly the bytes fingerprinted, even if
    # someone saves the file again while it is being read.
    digest = hashlib.sha256()
    with path.open("rb") as source, target.open("wb") as copy:
        while chunk := source.read(_BLOCK):
            digest.update(chunk)
            copy.write(chunk)
    shutil.copystat(path, target)
    return digest.hexdigest()
