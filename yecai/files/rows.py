"""One data row of a file → the staged record's payload, key and content hash, and its document.

Pure: no database. Every cell is read with its field's reader; a cell that cannot be read and
every validation problem become issues naming the sheet, row, column header, value and reason
(中文 / English), so a bad row is reported precisely and never stops the rows beside it. Nothing
of the row is dropped: the payload keeps every cell as read, mapped or not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from yecai import jsonutil
from yecai.domain.documents import DateWindow, Issue, validate
from yecai.files.cells import EXCEL_DIGITS, Cell, CellError, excel_decimal
from yecai.files.columns import FieldSpec, FieldType, KindSpec, read_value
from yecai.files.layout import Column, Layout, column_letter
from yecai.files.raw import RawRow
from yecai.store.staging import document_columns

MISSING_COLUMN = "（无此列）missing column"
CONSTANT_COLUMN = "（常量）constant"
KEY_LIMIT = 200  # records.source_key
# with the document key (the source reference), what identifies a record: a row equal in these to
# a stored one is the same cost, whatever its 摘要, remarks or links say
BUSINESS_FIELDS = ("project_code", "business_date", "category", "amount")
TEXT_FORMATS = frozenset({"csv", "html"})  # cells are text as typed: "=…" was never a formula


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A problem of one row, located the way a person finds it in the file."""

    sheet: str
    row: int
    column: str
    field: str
    value: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.sheet}!{self.row} [{self.column}] {self.zh} / {self.en}"


@dataclass(slots=True)
class PreparedRow:
    """What the importer stores for one data row."""

    sheet: str
    row: int
    key: str
    keyed: bool  # False: the key is the row's place in this file (no key column, no natural key)
    content_hash: str
    payload: str  # canonical JSON: origin + every cell as read
    document: Any | None
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)  # doubts about the document, if imported
    # doubts about the file's cells (a formula without its result, CSV text starting with "="):
    # listed whatever becomes of the row — imported, duplicate or rejected
    notices: list[RowIssue] = field(default_factory=list)
    document_text: str | None = None  # `document_json(document)`, written once (stored as documents.data)
    _data: dict[str, Any] | None = None
    _business: tuple[str | None, dt.date | None, str | None, Decimal | None] | None = None

    @property
    def valid(self) -> bool:
        return self.document is not None and not self.errors

    @property
    def model(self) -> Any | None:
        """The validated document itself; None when it was validated in the row reader's process."""
        return None if self.document is None or self.document is SHIPPED else self.document

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # what crosses the pipe from the row reader's process: the texts, not the pydantic document
        # (pickling it costs more than validating it again); its query columns come along
        valid = self.document is not None
        return (
            _arrived,
            (
                self.sheet,
                self.row,
                self.key,
                self.keyed,
                self.content_hash,
                self.payload,
                valid,
                self.errors,
                self.warnings,
                self.notices,
                self.json if valid else None,
                self.business if valid else None,
            ),
        )

    @property
    def json(self) -> str:
        """The document's canonical JSON text, written once however often it is asked for."""
        if self.document_text is None:
            self.document_text = document_json(self.document)
        return self.document_text

    @property
    def data(self) -> dict[str, Any]:
        """The document as stored (`documents.data`, parsed back): what other versions compare with."""
        if self._data is None:
            self._data = jsonutil.loads(self.json) if self.document is not None else {}
        return self._data

    @property
    def business(self) -> tuple[str | None, dt.date | None, str | None, Decimal | None]:
        """(project, date, category, amount) of the document: with the key, what identifies a record."""
        if self._business is None:
            columns = document_columns(self.document) if self.document is not None else {}
            self._business = (
                columns.get("project_code"),
                columns.get("business_date"),
                columns.get("category"),
                columns.get("amount"),
            )
        return self._business


class _Shipped:
    """Stands for a document validated in the row reader's process (`row_feed`): only its JSON text
    (`PreparedRow.json`) and query columns (`PreparedRow.business`) came across."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<document validated in the row reader's process>"


SHIPPED = _Shipped()


def _arrived(
    sheet: str,
    row: int,
    key: str,
    keyed: bool,
    content_hash: str,
    payload: str,
    valid: bool,
    errors: list[RowIssue],
    warnings: list[RowIssue],
    notices: list[RowIssue],
    document_text: str | None,
    business: tuple[str | None, dt.date | None, str | None, Decimal | None] | None,
) -> PreparedRow:
    return PreparedRow(
        sheet,
        row,
        key,
        keyed,
        content_hash,
        payload,
        SHIPPED if valid else None,
        errors,
        warnings,
        notices,
        document_text,
        None,
        business,
    )


@dataclass(frozen=True, slots=True)
class FileContext:
    """What every row of one file shares."""

    spec: KindSpec
    fingerprint: str
    file_name: str
    constants: dict[str, Any]  # field → value already read (from --project, a template, the title)
    constant_text: dict[str, str]  # the same as given, for the content hash
    window: DateWindow | None = None  # business dates accepted (None: the domain's default)
    file_format: str = ""  # xlsx | xls | ods | csv | html: text formats are checked for formula text


def clean(cell: Cell) -> Cell:
    # PostgreSQL text cannot hold NUL; damaged exports carry them.
    if isinstance(cell, str) and "\x00" in cell:
        return cell.replace("\x00", "")
    return cell


def jsonable(cell: Cell) -> Any:
    """A cell as it goes into the payload: numbers exact (Decimal), dates ISO, text as is."""
    if type(cell) is str:
        return cell
    if isinstance(cell, float):
        try:
            return excel_decimal(cell)
        except CellError:
            return repr(cell)
    if isinstance(cell, dt.time | dt.timedelta):
        return str(cell) if isinstance(cell, dt.timedelta) else cell.isoformat()
    return cell


def _shown(cell: Cell) -> str:
    value = jsonable(cell)
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _key_part(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    # ID numbers end in x or X alike; project codes are not case-sensitive either
    return "" if value is None else str(value).strip().upper()


def _json_value(value: Any) -> str:
    kind = type(value)  # exact types first: nearly every value of a row is one of these
    if kind is str:
        return encode_basestring(value)
    if kind is Decimal:
        return jsonutil.decimal_text(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return encode_basestring(value.value if isinstance(value, Enum) else value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Decimal):
        return jsonutil.decimal_text(value)
    if isinstance(value, dt.date | dt.time):
        return f'"{value.isoformat()}"'
    if isinstance(value, dict):
        return flat_json(value)
    return jsonutil.dumps(value)


_KEYS: dict[Any, str] = {}  # a dict key's JSON text: headers and field names repeat on every row


def _json_key(key: Any) -> str:
    text = _KEYS.get(key)
    if text is None:
        text = encode_basestring(str(key))
        if len(_KEYS) < 10_000 and type(key) is str:
            _KEYS[key] = text
    return text


def flat_json(values: dict[str, Any]) -> str:
    """The JSON text jsonutil.dumps writes for a flat dict, several times faster (one row, many times).

    Decimals are written digit for digit, floats are refused, like jsonutil; nested lists fall back
    to jsonutil itself.
    """
    return "{" + ",".join([f"{_json_key(k)}:{_json_value(v)}" for k, v in values.items()]) + "}"


def document_json(document: Any) -> str:
    """`flat_json(document.model_dump())`, from the document's own values where they are flat.

    The documents have no serializers of their own, so their values are what `model_dump` returns
    except nested models and sequences, for which it is asked. A field's text for a repeated
    value (a project, a category, a supplier, an empty field) is written once.
    """
    parts: list[str] = []
    append = parts.append
    for name, value in vars(document).items():
        kind = type(value)
        if kind is Decimal and value and value.is_finite():
            # `jsonutil.decimal_text` of a finite Decimal other than zero: digit for digit
            append(f"{_KEYS.get(name) or _json_key(name)}:{format(value, 'f')}")
        elif kind is str or value is None or kind in _ENUMS or kind is dt.date:
            # exact types whose equal values are written alike (a Decimal 1.0 equals 1.00: not here)
            texts = _FIELD_TEXTS.get(name)
            if texts is None:
                texts = _FIELD_TEXTS[name] = {}
            text = texts.get(value)
            if text is None:
                text = f"{_json_key(name)}:{_json_value(value)}"
                if len(texts) >= 10_000:
                    texts.clear()  # unique values (document numbers) are not found again anyway
                texts[value] = text
            append(text)
        elif kind in _FLAT:
            append(f"{_json_key(name)}:{_json_value(value)}")
        elif isinstance(value, Enum):
            _ENUMS.add(kind)
            append(f"{_json_key(name)}:{_json_value(value)}")
        else:  # a nested model or a sequence: as model_dump writes it
            return flat_json(document.model_dump())
    return "{" + ",".join(parts) + "}"


_FIELD_TEXTS: dict[str, dict[Any, str]] = {}  # field → value → its `"name":value` text
_FLAT = frozenset({Decimal, int, bool, dt.datetime, dt.time})
_ENUMS: set[type] = set()  # the document enums seen (StrEnums: written as their value)


def _canonical(value: Any) -> Any:
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, Decimal | int):
        # 1234.5, 1234.50 and 1234.500 are one amount
        return ["n", format(Decimal(value).normalize(), "f") if value else "0"]
    if isinstance(value, dt.date | dt.time):
        return ["d", value.isoformat()]
    if isinstance(value, tuple):
        return [str(part) for part in value]
    return ["s", str(value)]


def _canonical_text(value: Any) -> str:
    """`json.dumps(_canonical(value), ensure_ascii=False)`, written directly (once per cell)."""
    kind = type(value)  # exact types first: most values are one of these
    if kind is str:
        return f'["s", {encode_basestring(value)}]'
    if kind is Decimal:
        return f'["n", "{format(value.normalize(), "f") if value else "0"}"]'
    if isinstance(value, bool):
        return '["b", true]' if value else '["b", false]'
    if isinstance(value, Decimal | int):
        return f'["n", "{format(Decimal(value).normalize(), "f") if value else "0"}"]'
    if isinstance(value, dt.date | dt.time):
        return f'["d", "{value.isoformat()}"]'
    if isinstance(value, tuple):
        return "[" + ", ".join(encode_basestring(str(part)) for part in value) + "]"
    return f'["s", {encode_basestring(str(value))}]'


def content_digest(kind: str, fields: dict[str, Any]) -> str:
    """SHA-256 of a row's meaning: its fields' values as read, in field order, with the kind.

    Values are hashed after reading, so a re-export that writes a date as text instead of a date
    cell, 1234.5 as 1234.50 or puts columns in another order is still the same content; the row's
    place in the file (and columns that feed no field, like 序号) are not part of it. The text hashed
    is `json.dumps([kind, sorted((name, _canonical(value)) …)], ensure_ascii=False)`, byte for byte
    (digests stored by earlier versions stay comparable), written without building the lists.
    """
    inner = ", ".join(
        f"[{encode_basestring(name)}, {_canonical_text(value)}]" for name, value in sorted(fields.items())
    )
    text = f"[{encode_basestring(kind)}, [{inner}]]"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _identity_fields(spec: KindSpec) -> frozenset[str]:
    """Fields without which a row cannot be identified or is refused anyway: key, natural key,
    business key (project, date, category, amount) and every required field."""
    names = {spec.key_field, *spec.natural_key, *BUSINESS_FIELDS}
    names |= {item.name for item in spec.fields if item.required}
    return frozenset(name for name in names if name in spec.field_names)


def _uncached(spec: KindSpec, sheet: str, number: int, column: Column, formula: str) -> tuple[RowIssue, bool]:
    """A formula cell saved without its result: an error in a field that identifies the row, else a
    warning (the value is unknown; read as empty). The bool says whether it is an error."""
    ref = f"{column.letter}{number}"
    shown = f"={formula}" if formula else "="
    if column.field and column.field in _identity_fields(spec):
        return RowIssue(
            sheet,
            number,
            column.header,
            column.field,
            shown[:200],
            f"单元格 {ref}（{column.header}）是公式，但文件中没有保存它的计算结果，无法读取它的值；"
            "请在 Excel 中打开文件、保存后重新导入",
            f"cell {ref} ({column.header}) holds a formula whose result was not saved in the file, so its "
            "value cannot be read; open the file in Excel, save it and import it again",
        ), True
    return RowIssue(
        sheet,
        number,
        column.header,
        column.field or "-",
        shown[:200],
        f"单元格 {ref}（{column.header}）是公式，文件中没有保存它的计算结果，已按空值读取；"
        "它不影响记录的识别（重复判断只看业务键）。要读到它的值，请在 Excel 中打开文件、保存后重新导出",
        f"cell {ref} ({column.header}) holds a formula whose result was not saved in the file; read as "
        "empty. It does not decide the record's identity (duplicates are judged by the business key). "
        "To read its value, open the file in Excel, save it and export it again",
    ), False


def _formula_text(sheet: str, number: int, header: str, letter: str, field_name: str, text: str) -> RowIssue:
    # CSV/formula injection: harmless here (read as text), dangerous in a spreadsheet that runs it
    ref = f"{letter}{number}"
    return RowIssue(
        sheet,
        number,
        header,
        field_name or "-",
        text[:200],
        f"单元格 {ref}（{header}）的文本以“=”开头（{text[:40]}），像一个公式：已按文本读取，不会被执行；"
        "yecai 写出的工作簿中它也只是文本。请确认源系统导出的数据没有被篡改（CSV 公式注入）",
        f"cell {ref} ({header}) holds text starting with '=' ({text[:40]}) that looks like a formula: read as "
        "text, never run, and written as plain text in every workbook yecai produces. Check that the "
        "export was not tampered with (CSV/formula injection)",
    )


@lru_cache(maxsize=64)
def _payload_frame(
    file_name: str, fingerprint: str, sheet: str, constants: tuple[tuple[str, str], ...]
) -> tuple[str, str]:
    """The payload's JSON text before the row number and after the cells (see `prepare_row`)."""
    origin = flat_json({"file": file_name, "fingerprint": fingerprint, "sheet": sheet})
    return '{"origin":' + origin[:-1] + ',"row":', ',"constants":' + flat_json(dict(constants)) + "}"


# One cell as a column reads it: every part of the row it feeds, worked out once per distinct cell.
# A plain tuple (built and unpacked in C, where a dataclass costs a Python call per row and column):
#   text     the payload's `"header":value` text
#   shown    the cell as a person sees it (issue values; "" when no issue can show it)
#   value    the field's value (None: empty, or no field)
#   hashed   the content digest's `[name, value]` text (None: nothing to hash)
#   note     a doubt about the value (a rate read as percent …)
#   error    why the cell cannot be read, prefixed with its header
#   formula  text starting with "=" (checked in text formats only)
# A ledger's text cells repeat down their column (projects, categories, suppliers, units, rates)
# and its numbers and dates repeat often enough (quantities, dates): what a cell becomes depends
# only on the column and the cell, so it is remembered per column (`_ColumnReads`).
_Read = tuple[str, str, Any, str | None, tuple[str, str] | None, tuple[str, str] | None, bool]

_MEMO_SIZE = 4096  # distinct cells remembered per column (a column of unique amounts never hits)
# a column whose remembered cells were found fewer times than this before the memo filled up holds
# unique values (序号, amounts, document numbers): it stops remembering for `_MEMO_REST` cells, then
# tries again (a sheet may change character halfway)
_MEMO_FEW = _MEMO_SIZE // 16
_MEMO_REST = 8 * _MEMO_SIZE


@dataclass(slots=True)
class _ColumnReads:
    """How one column of one layout reads its cells, with the cells it has read already.

    Remembered by exact type: text and dates by themselves, doubles other than zero by themselves
    (0.0 and -0.0 compare equal but are written differently: zero is never remembered), datetimes by
    their text (one instant in two zones compare equal, written differently). Decimals and ints are
    not remembered (Decimal("1.0") equals Decimal("1.00") but is written otherwise).
    """

    column: Column
    item: FieldSpec | None
    key: str  # the header's JSON text
    index: int = 0  # the column's place in a row
    header: str = ""
    name: str | None = None  # the field it feeds
    hash_head: str = ""  # the digest text's `[name, ` (see `_hash_text`)
    memo: dict[Any, _Read] = field(default_factory=dict)  # cell (or (datetime, its text)) → its read
    looked: int = 0  # rows read since `memo` was last emptied (counted per row: `prepare_row`)
    rest: int = 0  # cells still to read without remembering them (a column of unique values)
    # 1: money, 2: a decimal, read from a double in `fresh` directly; 0: by `read_value`
    numbers: int = 0

    def __post_init__(self) -> None:
        self.index = self.column.index
        self.header = self.column.header
        self.name = self.item.name if self.item is not None else None
        if self.item is not None:
            self.hash_head = f"[{encode_basestring(self.item.name)}, "
            if self.column.scale is None:
                self.numbers = {FieldType.MONEY: 1, FieldType.DECIMAL: 2}.get(self.item.type, 0)

    def read(self, cell: Cell) -> _Read:
        """The cell's read, remembered or worked out (`prepare_row` looks in `memo` itself first)."""
        kind = type(cell)
        if kind is str or kind is dt.date or (kind is float and cell):
            mark: Any = cell
        elif kind is dt.datetime:
            mark = (kind, repr(cell))
        else:
            return self.fresh(cell)
        if self.rest:
            self.rest -= 1
            return self.fresh(cell)
        self.looked += 1
        known = self.memo.get(mark)
        return known if known is not None else self.remember(mark, cell)

    def remember(self, mark: Any, cell: Cell) -> _Read:
        """The read of a cell not in `memo`, put there."""
        found = self.fresh(cell)
        memo = self.memo
        if len(memo) >= _MEMO_SIZE:
            # cells looked up since the memo was last emptied: barely more than it holds, and the
            # column is one of unique values
            if self.looked < _MEMO_SIZE + _MEMO_FEW:
                self.rest = _MEMO_REST
            memo.clear()
            self.looked = 0
        memo[mark] = found
        return found

    def fresh(self, cell: Cell) -> _Read:
        """The cell read without the memo."""
        if self.numbers and type(cell) is float and cell:
            # what `read_value` makes of a double in a number column, where it is plain: the
            # shortest text of the double (the `excel_decimal` of it, see `_cell_json`) is its
            # value, its payload text and, having no trailing zeros, its digest's normal form;
            # within the limits by its 15 digits; money already in whole cents needs no rounding
            text = repr(cell)
            if len(text) <= _SHORT_REPR and "e" not in text and "n" not in text:
                if text.endswith(".0"):
                    text = text[:-2]
                point = text.find(".")
                if self.numbers == 2 or point < 0 or len(text) - point <= 3:
                    return (
                        f"{self.key}:{text}",
                        "",
                        Decimal(text),
                        f'{self.hash_head}["n", "{text}"]]',
                        None,
                        None,
                        False,
                    )
        if type(cell) is str:
            if "\x00" in cell:
                cell = clean(cell)  # PostgreSQL text cannot hold NUL
            formula = cell.lstrip().startswith("=")  # type: ignore[union-attr]
        else:
            formula = isinstance(cell, str) and cell.lstrip().startswith("=")
        item = self.item
        value, hashed, note, error = None, None, None, None
        if item is not None:
            column = self.column
            try:
                # (not remembered there: a column remembers its own cells, see `read`)
                value, note = read_value(item, cell, column.scale, remember=False)
            except CellError as exc:
                error = (f"{column.header}：{exc.zh}", f"{column.header}: {exc.en}")
                hashed = f"{self.hash_head}{_canonical_text(('raw', _shown(cell)))}]"
            else:
                if value is not None:
                    hashed = f"{self.hash_head}{_canonical_text(value)}]"
        shown = _shown(cell) if error or note else ""  # only issues show it
        return (f"{self.key}:{_cell_json(cell)}", shown, value, hashed, note, error, formula)


def _cell_json(cell: Cell) -> str:
    """`_json_value(jsonable(cell))`: a cell's JSON text in the payload."""
    kind = type(cell)
    if kind is str:
        return encode_basestring(cell)
    if kind is float and cell:
        # a finite double whose shortest text has at most 15 digits (and no exponent) is that
        # text as a Decimal (`excel_decimal`), written digit for digit (`jsonutil.decimal_text`):
        # the text itself, an integral one without its ".0"
        text = repr(cell)
        if len(text) <= _SHORT_REPR and "e" not in text and "n" not in text:
            return text[:-2] if text.endswith(".0") else text
    return _json_value(jsonable(cell))


_SHORT_REPR = EXCEL_DIGITS + 1  # sign or point, and at most 15 digits (see `excel_decimal`)


def _hash_text(name: str, value: Any) -> str:
    return f"[{encode_basestring(name)}, {_canonical_text(value)}]"


@dataclass(slots=True)
class _Plan:
    """What every row of one layout shares: its columns' readers and the constants' digest texts."""

    columns: list[_ColumnReads]
    constants: list[tuple[str, Any, str]]  # (field, value, digest text)
    head: str
    tail: str
    width: int  # the columns named by the header
    dense: bool  # column i is the row's cell i, for every column


# (id of the context, id of the layout) → the plan, with both kept so the ids stay theirs
_PLANS: dict[tuple[int, int], tuple[FileContext, Layout, _Plan]] = {}


def _plan(context: FileContext, layout: Layout) -> _Plan:
    found = _PLANS.get((id(context), id(layout)))
    if found is not None and found[0] is context and found[1] is layout:
        return found[2]
    spec = context.spec
    columns = [
        _ColumnReads(column, spec.spec(column.field) if column.field else None, _json_key(column.header))
        for column in layout.columns
    ]
    constants = [(name, value, _hash_text(name, value)) for name, value in context.constants.items()]
    # flat_json({"origin": {"file", "fingerprint", "sheet", "row"}, "cells", "constants"}), the
    # parts that every row of the sheet shares written once
    head, tail = _payload_frame(
        context.file_name, context.fingerprint, layout.sheet, tuple(context.constant_text.items())
    )
    dense = [column.index for column in layout.columns] == list(range(len(layout.columns)))
    plan = _Plan(columns, constants, head, tail, len(layout.columns), dense)
    if len(_PLANS) >= 64:
        _PLANS.clear()
    _PLANS[(id(context), id(layout))] = (context, layout, plan)
    return plan


def prepare_row(
    context: FileContext,
    layout: Layout,
    number: int,
    raw: list[Cell],
    uncached: dict[int, str] | None = None,
) -> PreparedRow:
    """Read, key, hash and validate one data row (never raises for bad data).

    `uncached`: index → formula text of the formula cells saved without a result (their value is
    unknown): an error where the cell identifies the row, a warning elsewhere.
    """
    spec = context.spec
    sheet = layout.sheet
    plan = _plan(context, layout)
    cells_out: dict[str, str] = {}  # header → its `"header":value` text (a repeated header: the last)
    hashed: dict[str, str] = {}  # field → its digest text
    data: dict[str, Any] = {}
    errors: list[RowIssue] = []
    notes: list[RowIssue] = []
    notices: list[RowIssue] = []
    broken: set[str] = set()
    width = len(raw)
    text_format = context.file_format in TEXT_FORMATS
    pairs: Any
    if plan.dense and width >= plan.width:
        pairs = zip(plan.columns, raw, strict=False)  # a cell for each column, in order (the usual row)
    else:
        pairs = [(reads, raw[reads.index] if reads.index < width else None) for reads in plan.columns]
    for reads, cell in pairs:
        if uncached and reads.index in uncached:
            issue, fatal = _uncached(spec, sheet, number, reads.column, uncached[reads.index])
            if fatal:
                assert reads.name is not None  # identity fields are mapped ones
                broken.add(reads.name)
                errors.append(issue)
            else:
                notices.append(issue)
        if cell is None:
            continue
        # `reads.read(cell)`, the remembered cells looked up here: most cells are found
        kind = type(cell)
        if (kind is str or kind is dt.date or (kind is float and cell)) and not reads.rest:
            reads.looked += 1
            read = reads.memo.get(cell)
            if read is None:
                read = reads.remember(cell, cell)
        else:
            read = reads.read(cell)
        text, shown, value, digest_text, note, error, formula = read
        header = reads.header
        if formula and text_format:
            column = reads.column
            notices.append(
                _formula_text(sheet, number, header, column.letter, column.field or "", clean(cell))  # type: ignore[arg-type]
            )
        cells_out[header] = text
        name = reads.name
        if name is None:
            continue
        if error is not None:
            broken.add(name)
            hashed[name] = digest_text  # type: ignore[assignment]
            errors.append(RowIssue(sheet, number, header, name, shown, *error))
            continue
        if value is not None:
            data[name] = value
            hashed[name] = digest_text  # type: ignore[assignment]
        if note:
            notes.append(RowIssue(sheet, number, header, name, shown, *note))
    for name, value, constant_text in plan.constants:
        if name not in data and name not in broken:
            data[name] = value
            hashed[name] = constant_text
    if width > plan.width:
        for index in range(plan.width, width):
            # cells beyond the header (no column name): kept, never silently dropped
            if (cell := clean(raw[index])) is not None:
                cells_out[f"({index + 1})"] = f"{_json_key(f'({index + 1})')}:{_json_value(jsonable(cell))}"
                if text_format and isinstance(cell, str) and cell.lstrip().startswith("="):
                    notices.append(
                        _formula_text(sheet, number, f"({index + 1})", column_letter(index), "", cell)
                    )
    # content_digest(spec.kind, fields), from the texts already written
    inner = ", ".join([hashed[name] for name in sorted(hashed)])
    digest = hashlib.sha256(f"[{_kind_text(spec.kind)}, [{inner}]]".encode()).hexdigest()
    key, keyed = _row_key(context, sheet, number, data)
    if spec.key_field == "source_key" and "source_key" not in data:
        data["source_key"] = key
    payload = f'{plan.head}{number}}},"cells":{{{",".join(cells_out.values())}}}{plan.tail}'
    document = None
    document_text = None
    if not cells_out:
        errors.append(RowIssue(sheet, number, "-", "-", "", "该行没有可识别的数据", "the row holds no data"))
    else:
        document, issues = validate(spec.model, data, window=context.window)
        for issue in issues:
            if issue.field in broken:
                continue
            errors.append(_locate(issue, layout, spec, sheet, number))
        if document is not None and not errors:
            if doubts := document.warnings():
                notes.extend(_locate(w, layout, spec, sheet, number) for w in doubts)
            if keyed and spec.key_field != "source_key":
                key = document.key  # normalised by validation (ID numbers in upper case …)
            document_text = document_json(document)
    if errors:
        document = document_text = None
    # by position (a row of every file): sheet, row, key, keyed, content_hash, payload, document,
    # errors, warnings, notices, document_text
    return PreparedRow(
        sheet, number, key, keyed, digest, payload, document, errors, notes, notices, document_text
    )


@lru_cache(maxsize=64)
def _kind_text(kind: str) -> str:
    return encode_basestring(kind)


def _locate(issue: Issue, layout: Layout, spec: KindSpec, sheet: str, number: int) -> RowIssue:
    column = layout.fields.get(issue.field)
    if column is not None:
        header = column.header
    else:
        try:
            item: FieldSpec | None = spec.spec(issue.field)
        except KeyError:
            item = None
        header = f"{item.header} {MISSING_COLUMN}" if item else issue.field
    return RowIssue(sheet, number, header, issue.field, issue.value, issue.zh, issue.en)


def _row_key(context: FileContext, sheet: str, number: int, data: dict[str, Any]) -> tuple[str, bool]:
    """The document key, else the kind's natural key, else this row's place in this file."""
    spec = context.spec
    explicit = data.get(spec.key_field)
    if isinstance(explicit, str) and explicit and len(explicit) <= KEY_LIMIT:
        return explicit, True
    needed = [name for name in spec.natural_key if spec.spec(name).required]
    if spec.natural_key and all(data.get(name) not in (None, "") for name in needed):
        text = "nk:" + "|".join(_key_part(data.get(name)) for name in spec.natural_key)
        if len(text) > 80:  # a document key is at most 80 characters
            text = "nk:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]
        return text, True
    place = hashlib.sha256(f"{context.fingerprint}\n{sheet}\n{number}".encode()).hexdigest()
    return f"row:{place[:32]}", False


def prepare_raw(context: FileContext, layout: Layout, raw: RawRow) -> PreparedRow:
    """`prepare_row` for a row as read, also when the reader could not read it: never raises."""
    if raw.error is not None:
        return _broken(context, layout, raw, raw.error)
    try:
        formulas = dict(raw.uncached) if raw.uncached else None
        return prepare_row(context, layout, raw.number, raw.cells, formulas)
    except Exception as exc:  # a row must never stop the file: report it and go on
        return _broken(
            context,
            layout,
            raw,
            (
                f"无法处理此行（{type(exc).__name__}: {exc}）",
                f"the row could not be processed ({type(exc).__name__}: {exc})",
            ),
        )


def _broken(context: FileContext, layout: Layout, raw: RawRow, error: tuple[str, str]) -> PreparedRow:
    # Kept as an invalid record (never lost) under its place in the file: it has no usable key. The
    # place is marked as a bad row's: a reader may hand out a good row and a bad one under one
    # number (a repeated <row r="6"> is refused beside the first), and the good row's own keyless
    # key (`_row_key`) must not become a revision of the bad one's.
    place = hashlib.sha256(f"{context.fingerprint}\n{layout.sheet}\n{raw.number}\nbad".encode()).hexdigest()
    payload = jsonutil.dumps(
        {
            "origin": {
                "file": context.file_name,
                "fingerprint": context.fingerprint,
                "sheet": layout.sheet,
                "row": raw.number,
            },
            "cells": {f"({i + 1})": str(c) for i, c in enumerate(raw.cells) if c is not None},
            "error": list(error),
        },
        canonical=True,
    )
    return PreparedRow(
        sheet=layout.sheet,
        row=raw.number,
        key=f"row:{place[:32]}",
        keyed=False,
        content_hash=hashlib.sha256(payload.encode("utf-8")).hexdigest(),
        payload=payload,
        document=None,
        errors=[RowIssue(layout.sheet, raw.number, "-", "-", "", error[0], error[1])],
    )


def skipped_issue(layout: Layout, raw: RawRow) -> RowIssue:
    """A footer or repeated header row, listed so nobody has to trust the detection blindly."""
    text = " | ".join(str(c).strip() for c in raw.cells if c is not None and str(c).strip())[:200]
    return RowIssue(
        layout.sheet,
        raw.number,
        "-",
        "-",
        text,
        "已跳过：合计、备注或重复的表头行，不是数据",
        "skipped: a total, note or repeated header row, not data",
    )
