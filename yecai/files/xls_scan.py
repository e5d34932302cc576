"""The DIMENSIONS records of a legacy .xls, read from its OLE container before calamine trusts them.

calamine reserves room for every cell a sheet's DIMENSIONS record declares (40 bytes each); the
record holds 32-bit row numbers, so 37 bytes changed in a valid .xls ask for 11 petabytes and
abort the process. BIFF8 has at most 65,536 rows and 256 columns (BIFF5 16,384 × 256), so any
record beyond that is damage or an attack. This module reads just enough of the compound file
(header, FAT, directory, the Workbook stream) to walk the BIFF records and return each sheet's
declared grid. Every chain is bounded by the file's own sector count, so a looping or lying FAT
ends in `XlsDamaged`, never in a hang.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
END_OF_CHAIN = 0xFFFFFFFE
FREE = 0xFFFFFFFF
MAX_STREAM_BYTES = 1 << 30  # an .xls is at most a few hundred MB
BOF, DIMENSIONS, EOF = 0x0809, 0x0200, 0x000A
BIFF_ROWS, BIFF_COLUMNS = 65_536, 256  # BIFF8; BIFF5 has fewer rows, never more


class XlsDamaged(Exception):
    """The compound file or its BIFF stream cannot be walked."""


@dataclass(frozen=True, slots=True)
class Dimensions:
    """A sheet's declared grid: rows and columns past its last used cell (first ones as given)."""

    first_row: int
    last_row: int  # one past the last row, as BIFF writes it
    first_col: int
    last_col: int  # one past the last column
    biff8: bool

    @property
    def area(self) -> int:
        return max(0, self.last_row) * max(0, self.last_col)

    @property
    def within_format(self) -> bool:
        # only the upper ends matter: calamine sizes its grid by them (an inverted or empty record
        # allocates nothing, and some writers leave zeros)
        return self.last_row <= BIFF_ROWS and self.last_col <= BIFF_COLUMNS


class _Compound:
    """Just enough of [MS-CFB] to read one stream."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 512 or not data.startswith(MAGIC):
            raise XlsDamaged("not an OLE compound file")
        self.data = data
        shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
        if shift not in (9, 12) or mini_shift != 6:
            raise XlsDamaged(f"sector size 2^{shift}")
        self.size = 1 << shift
        self.sectors = (len(data) - 512) // self.size + 1
        header = struct.unpack_from("<IIIIIIII", data, 0x2C)
        _, self.first_dir, _, self.cutoff, first_mini_fat, _, first_difat, difat_count = header
        locations = [s for s in struct.unpack_from("<109I", data, 0x4C) if s < FREE - 1]
        sector, hops = first_difat, 0
        while sector < FREE - 1 and hops <= difat_count and hops <= self.sectors:
            entries = struct.unpack_from(f"<{self.size // 4}I", self._sector(sector))
            locations += [s for s in entries[:-1] if s < FREE - 1]
            sector, hops = entries[-1], hops + 1
        self.fat: list[int] = []
        for location in locations[: self.sectors]:
            self.fat += struct.unpack_from(f"<{self.size // 4}I", self._sector(location))
        self.mini_fat_start = first_mini_fat

    def _sector(self, number: int) -> bytes:
        start = (number + 1) * self.size
        if start >= len(self.data):
            raise XlsDamaged(f"sector {number} is beyond the file")
        return self.data[start : start + self.size].ljust(self.size, b"\0")

    def _chain(self, start: int, fat: list[int]) -> list[int]:
        chain: list[int] = []
        sector = start
        while sector not in (END_OF_CHAIN, FREE):
            if sector >= len(fat) or len(chain) > len(fat):
                raise XlsDamaged("a sector chain runs off the table or loops")
            chain.append(sector)
            sector = fat[sector]
        return chain

    def _read(self, start: int, size: int) -> bytes:
        parts = b"".join(self._sector(s) for s in self._chain(start, self.fat))
        return parts[:size] if size else parts

    def stream(self, names: tuple[str, ...]) -> bytes | None:
        """The first stream of the root storage called one of `names` (case-insensitive)."""
        directory = self._read(self.first_dir, 0)
        root: tuple[int, int] | None = None
        wanted = {n.lower() for n in names}
        for at in range(0, len(directory) - 127, 128):
            entry = directory[at : at + 128]
            length = struct.unpack_from("<H", entry, 64)[0]
            kind = entry[66]
            start, size = struct.unpack_from("<IQ", entry, 116)
            if self.size == 512:
                size &= 0xFFFFFFFF  # version 3 files leave the high half undefined
            name = entry[: max(0, min(length, 64) - 2)].decode("utf-16-le", "replace")
            if kind == 5:
                root = (start, size)
            elif kind == 2 and name.lower() in wanted:
                if size > MAX_STREAM_BYTES:
                    raise XlsDamaged(f"stream {name} declares {size} bytes")
                if size >= self.cutoff:
                    return self._read(start, size)
                if root is None:
                    raise XlsDamaged("no root entry before the stream")
                return self._mini(start, size, root)
        return None

    def _mini(self, start: int, size: int, root: tuple[int, int]) -> bytes:
        mini_fat_bytes = self._read(self.mini_fat_start, 0) if self.mini_fat_start < FREE - 1 else b""
        mini_fat = list(struct.unpack_from(f"<{len(mini_fat_bytes) // 4}I", mini_fat_bytes))
        container = self._read(root[0], root[1])
        out = b"".join(container[s * 64 : s * 64 + 64] for s in self._chain(start, mini_fat))
        return out[:size]


def sheet_dimensions(path: Path) -> list[Dimensions]:
    """Every DIMENSIONS record of the workbook, in stream order; raises XlsDamaged."""
    compound = _Compound(path.read_bytes())
    stream = compound.stream(("Workbook", "Book"))
    if stream is None:
        raise XlsDamaged("no Workbook stream")
    found: list[Dimensions] = []
    at, end = 0, len(stream)
    biff8 = True
    while at + 4 <= end:
        record, length = struct.unpack_from("<HH", stream, at)
        body = at + 4
        if record == BOF and length >= 2:
            biff8 = struct.unpack_from("<H", stream, body)[0] == 0x0600
        elif record == DIMENSIONS:
            if length >= 14:
                first_row, last_row, first_col, last_col = struct.unpack_from("<IIHH", stream, body)
                found.append(Dimensions(first_row, last_row, first_col, last_col, biff8))
            elif length >= 8:
                first_row, last_row, first_col, last_col = struct.unpack_from("<HHHH", stream, body)
                found.append(Dimensions(first_row, last_row, first_col, last_col, False))
        at = body + length
    return found
