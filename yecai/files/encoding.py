"""Which encoding a CSV/text export is in: UTF-8 (with or without BOM), GBK, GB18030, UTF-16.

Chinese exports are mostly GBK (CP936); rare-character names need GB18030; newer systems write
UTF-8, with a BOM when they mean Excel to open it; Excel's "Unicode text" is UTF-16 with a BOM.
The order is deterministic (a BOM first, then strict decoding, then charset-normalizer for
anything else), because a statistical guess on a short file is worse than a strict decode.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from yecai.files.problems import FileProblem

SAMPLE_BYTES = 1 << 20  # enough to decide; the whole file is still checked before it is trusted
READ_CHUNK = 1 << 20

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 (BOM)"),
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32 (BOM)"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (BOM)"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (BOM)"),
    (b"\x84\x31\x95\x33", "gb18030", "GB18030 (BOM)"),
)


@dataclass(frozen=True, slots=True)
class Detected:
    """The codec to decode with, a label to show the user, and how it was found."""

    codec: str
    label: str
    method: str  # bom | strict | charset-normalizer

    def __str__(self) -> str:
        return self.label


def _decodes(path: Path, codec: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sample_text(sample: bytes, codec: str) -> str | None:
    # An incremental decoder tolerates a character cut at the end of the sample.
    try:
        return codecs.getincrementaldecoder(codec)(errors="strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return None


SCORE_CHARS = 65536
_NEUTRAL = "\u00a0\u00b7\u00d7\u00f7\u2014\u2026\u2018\u2019\u201c\u201d"


def _common_hanzi(char: str) -> bool:
    """One of the 3,755 most used characters (GB 2312 level 1): what real Chinese text is made of."""
    try:
        code = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 0xB0 <= code[0] <= 0xD7


def plausibility(text: str) -> int:
    """How much a decoding reads like a Chinese export: common Hanzi count, odd characters count against.

    Decoding with the wrong codec (GBK bytes as UTF-8, or UTF-8 bytes as GBK) yields Latin, Greek
    and Cyrillic letters or rare Hanzi, never mostly common Hanzi.
    """
    score = 0
    for char in text[:SCORE_CHARS]:
        if (
            char.isascii()
            or char in _NEUTRAL
            or 0x3000 <= ord(char) <= 0x303F
            or 0xFF00 <= ord(char) <= 0xFFEF
        ):
            continue
        score += 1 if _common_hanzi(char) else -1
    return score


def detect_bytes(sample: bytes) -> list[Detected]:
    """Candidate encodings for a sample, most likely first (a BOM decides alone)."""
    for bom, codec, label in _BOMS:
        if sample.startswith(bom):
            return [Detected(codec, label, "bom")]
    utf8 = _sample_text(sample, "utf-8")
    if utf8 is not None and utf8.isascii():
        return [Detected("utf-8", "ASCII", "strict")]
    gbk = _sample_text(sample, "gbk")
    candidates = [Detected("gbk", "GBK", "strict"), Detected("gb18030", "GB18030", "strict")]
    if utf8 is not None:
        # Both decode: the one that reads like Chinese wins; a tie goes to UTF-8.
        if gbk is None or plausibility(utf8) >= plausibility(gbk):
            return [Detected("utf-8", "UTF-8", "strict"), *candidates]
        candidates.append(Detected("utf-8", "UTF-8", "strict"))
    return candidates


def detect_encoding(path: Path) -> Detected:
    """The encoding of a text file; raises FileProblem when no encoding decodes it."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    for candidate in detect_bytes(sample):
        if candidate.method == "bom" or _decodes(path, candidate.codec):
            return candidate
    # Neither UTF-8 nor the GB family: Big5 from Hong Kong/Taiwan, UTF-16 without BOM, Latin …
    best = from_bytes(sample).best()
    if best is not None and best.encoding and _decodes(path, best.encoding):
        return Detected(best.encoding, f"{best.encoding} (charset-normalizer)", "charset-normalizer")
    raise FileProblem(
        "encoding",
        f"无法识别文件 {path.name} 的编码（已尝试 UTF-8、GBK、GB18030）；请另存为 UTF-8 或 GBK 的 CSV",
        f"cannot tell the encoding of {path.name} (tried UTF-8, GBK, GB18030); save it as UTF-8 or GBK CSV",
        path=str(path),
    )
