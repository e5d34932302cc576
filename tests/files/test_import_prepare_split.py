"""The million-row import's fast paths (issue 15, item 6) against what they replace.

Rows are prepared with each column's readings remembered, in the row reader's process or in the
importer's, and stored by positional `executemany` on SQLite: none of this may change a byte of
what is stored. Here: `prepare_row` against the per-row reading it replaced (kept below as the
reference) on generated rows, so content digests stay comparable with rows imported before (a
re-import is still found a duplicate); the digest of a known row as an earlier version stored it;
`excel_decimal`'s repr path and `clean_code`'s ASCII path against their general forms; a prepared
row across the pipe; an import whose rows are prepared by the child, by the importer or shared
between them, stored exactly as one read in a single process; and the SQLite bind path against
SQLAlchemy's own INSERT.
"""

from __future__ import annotations

import datetime as dt
import functools
import pickle
import sqlite3
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from yecai.domain.documents import ProgressReport, validate
from yecai.domain.text import INVISIBLE_CATEGORIES, clean_code
from yecai.files import import_file, importer, row_feed, rows
from yecai.files.cells import EXCEL_DIGITS, Cell, CellError, excel_decimal
from yecai.files.columns import KINDS, read_value
from yecai.files.layout import Column, Layout, column_letter
from yecai.files.rows import (
    TEXT_FORMATS,
    FileContext,
    PreparedRow,
    RowIssue,
    _formula_text,
    _locate,
    _payload_frame,
    _row_key,
    _shown,
    _uncached,
    clean,
    content_digest,
    document_json,
    flat_json,
    jsonable,
    prepare_row,
)
from yecai.store import staging
from yecai.store.db import open_store
from yecai.store.file_tables import FileImportIssue
from yecai.store.tables import Document, Record

# -- the reference: one row read the way it was before the readings were remembered ---------------


def reference_row(
    context: FileContext, layout: Layout, number: int, raw: list[Cell], uncached: dict[int, str] | None = None
) -> PreparedRow:
    spec = context.spec
    sheet = layout.sheet
    cells_out: dict[str, Any] = {}
    hashed: dict[str, Any] = {}
    data: dict[str, Any] = {}
    errors: list[RowIssue] = []
    notes: list[RowIssue] = []
    notices: list[RowIssue] = []
    broken: set[str] = set()
    width = len(raw)
    text_format = context.file_format in TEXT_FORMATS
    for column in layout.columns:
        cell = clean(raw[column.index]) if column.index < width else None
        if uncached and column.index in uncached:
            issue, fatal = _uncached(spec, sheet, number, column, uncached[column.index])
            if fatal:
                assert column.field is not None
                broken.add(column.field)
                errors.append(issue)
            else:
                notices.append(issue)
        if cell is None:
            continue
        if text_format and isinstance(cell, str) and cell.lstrip().startswith("="):
            notices.append(
                _formula_text(sheet, number, column.header, column.letter, column.field or "", cell)
            )
        cells_out[column.header] = jsonable(cell)
        if not column.field:
            continue
        item = spec.spec(column.field)
        try:
            value, note = read_value(item, cell, column.scale)
        except CellError as exc:
            broken.add(item.name)
            hashed[item.name] = ("raw", _shown(cell))
            errors.append(
                RowIssue(
                    sheet,
                    number,
                    column.header,
                    item.name,
                    _shown(cell),
                    f"{column.header}：{exc.zh}",
                    f"{column.header}: {exc.en}",
                )
            )
            continue
        if value is not None:
            data[item.name] = value
            hashed[item.name] = value
        if note:
            notes.append(RowIssue(sheet, number, column.header, item.name, _shown(cell), *note))
    for name, value in context.constants.items():
        if name not in data and name not in broken:
            data[name] = value
            hashed[name] = value
    for index in range(len(layout.columns), width):
        if (cell := clean(raw[index])) is not None:
            cells_out[f"({index + 1})"] = jsonable(cell)
            if text_format and isinstance(cell, str) and cell.lstrip().startswith("="):
                notices.append(_formula_text(sheet, number, f"({index + 1})", column_letter(index), "", cell))
    digest = content_digest(spec.kind, hashed)
    key, keyed = _row_key(context, sheet, number, data)
    if spec.key_field == "source_key" and "source_key" not in data:
        data["source_key"] = key
    head, tail = _payload_frame(
        context.file_name, context.fingerprint, sheet, tuple(context.constant_text.items())
    )
    payload = f'{head}{number}}},"cells":{flat_json(cells_out)}{tail}'
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
            notes.extend(_locate(w, layout, spec, sheet, number) for w in document.warnings())
            if keyed and spec.key_field != "source_key":
                key = document.key
            document_text = flat_json(document.model_dump())
    return PreparedRow(
        sheet=sheet,
        row=number,
        key=key,
        keyed=keyed,
        content_hash=digest,
        payload=payload,
        document=document if not errors else None,
        document_text=document_text if not errors else None,
        errors=errors,
        warnings=notes,
        notices=notices,
    )


def _outcome(row: PreparedRow) -> tuple[Any, ...]:
    return (
        row.key,
        row.keyed,
        row.content_hash,
        row.payload,
        row.valid,
        row.json if row.valid else None,
        row.business,
        row.errors,
        row.warnings,
        row.notices,
    )


LAYOUT = Layout(
    sheet="成本台账",
    header_rows=(1,),
    columns=[
        Column(i, chr(65 + i), header, header, field, scale)
        for i, (header, field, scale) in enumerate(
            [
                ("序号", None, None),
                ("单据编号", "source_key", None),
                ("项目编码", "project_code", None),
                ("成本类别", "category", None),
                ("业务日期", "business_date", None),
                ("数量", "quantity", None),
                ("单价", "unit_price", None),
                ("金额", "amount", None),
                ("税率", "tax_rate", None),
                ("供应商", "supplier_name", None),
                ("金额", "amount", Decimal(10000)),  # a repeated header, in 万元: the last one counts
            ]
        )
    ],
)
CONTEXTS = [
    FileContext(KINDS["cost"], "f" * 64, "台账.xlsx", {}, {}, None, "xlsx"),
    FileContext(
        KINDS["cost"],
        "e" * 64,
        "台账.csv",
        {"project_code": "XM2026001"},
        {"project_code": "XM2026001"},
        None,
        "csv",
    ),
]
# what ledgers hold, with a repeating pool so that remembered readings are hit as well as missed
POOL = st.sampled_from(
    [
        None,
        "",
        " ",
        "人工费",
        "材料费",
        "不是类别",
        "XM2026001",
        "ＸＭ２０２６００２",
        "XM2026001\u200b",
        "=SUM(A1)",
        "9%",
        "13%",
        "0.09",
        "9",
        "abc",
        "¥1,234.50",
        "（100.00）",
        0.0,
        -0.0,
        1.0,
        0.1 + 0.2,
        100.5,
        1234.56,
        12.345,
        1e20,
        float("inf"),
        dt.date(2026, 10, 5),
        dt.datetime(2026, 10, 5, 8, 30),
        dt.date(1899, 1, 1),
        True,
        7,
        Decimal("1.50"),
        Decimal("1.5"),
        "a\x00b",
        "2026-10-05",
        "20261005",
    ]
)
CELL = (
    POOL
    | st.floats(allow_nan=True, allow_infinity=False, width=64)
    | st.decimals(min_value=-(10**6), max_value=10**6, places=2).map(float)
    | st.text(max_size=12)
    | st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31))
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(CELL, max_size=14),
    st.sampled_from([0, 1]),
    st.none() | st.dictionaries(st.integers(0, 12), st.text(max_size=5), max_size=2),
)
def test_a_row_prepared_with_remembered_readings_is_the_row_read_cell_by_cell(
    cells: list[Cell], which: int, uncached: dict[int, str] | None
) -> None:
    context = CONTEXTS[which]
    expected = reference_row(context, LAYOUT, 9, list(cells), uncached)
    for _ in range(2):  # the second time from what the columns remember
        got = prepare_row(context, LAYOUT, 9, list(cells), uncached)
        assert _outcome(got) == _outcome(expected)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (0.0, -0.0),  # equal, one hash, written "0.0" and "-0.0": found by the suite in CI
        (-0.0, 0.0),
        (
            dt.datetime(2026, 10, 5, 8, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 5, 16, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        ),
    ],
)
def test_cells_that_compare_equal_but_read_differently_are_remembered_apart(first: Cell, then: Cell) -> None:
    context = CONTEXTS[0]
    for cell in (first, then):  # the second cell in every column right after the first
        cells: list[Cell] = [cell] * 14
        expected = reference_row(context, LAYOUT, 9, list(cells), None)
        assert _outcome(prepare_row(context, LAYOUT, 9, list(cells), None)) == _outcome(expected)


def test_a_column_of_unique_cells_stops_remembering_them_and_reads_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # small memos: a column of unique values (序号, amounts) fills its memo without a hit, stops
    # remembering for a while, then remembers again; none of it may change what a row becomes
    monkeypatch.setattr(rows, "_MEMO_SIZE", 8)
    monkeypatch.setattr(rows, "_MEMO_FEW", 2)
    monkeypatch.setattr(rows, "_MEMO_REST", 16)
    layout = Layout(sheet=LAYOUT.sheet, header_rows=LAYOUT.header_rows, columns=list(LAYOUT.columns))
    context = CONTEXTS[0]
    day = dt.datetime(2026, 10, 5, 8, 30)
    rested, remembered_again = False, False
    for n in range(120):
        unique = n < 60 or n % 3 == 0  # then repeating values the memo finds again
        value = float(n) + 0.25 if unique else 12.5
        cells: list[Cell] = [
            float(n + 1) if unique else -0.0 if n % 2 else 0.0,
            f"CB{n:08d}" if unique else "CB00000001",
            "XM2026001",
            "材料费",
            day + dt.timedelta(days=n % 5) if unique else day,
            value,
            value * 3,
            value * 100,
            "9%",
            "合肥恒通",
            value / 7,
        ]
        expected = reference_row(context, layout, n + 4, list(cells), None)
        assert _outcome(prepare_row(context, layout, n + 4, list(cells), None)) == _outcome(expected)
        first = rows._plan(context, layout).columns[0]  # 序号
        rested = rested or first.rest > 0
        remembered_again = remembered_again or (rested and not first.rest and bool(first.memo))
    assert rested
    assert remembered_again


def test_a_rows_digest_is_the_one_earlier_versions_stored() -> None:
    # computed by the import before this change: a re-import of its files must still match
    cells: list[Cell] = [
        1.0,
        "CB00000001",
        "XM2026001",
        "材料费",
        dt.date(2026, 10, 5),
        64.5,
        1237.27,
        79803.92,
        "9%",
        "合肥恒通",
    ]
    row = prepare_row(CONTEXTS[0], LAYOUT, 4, cells)
    assert row.valid, row.errors
    assert row.content_hash == content_digest(
        "cost",
        {
            "source_key": "CB00000001",
            "project_code": "XM2026001",
            "category": "material",
            "business_date": dt.date(2026, 10, 5),
            "quantity": Decimal("64.5"),
            "unit_price": Decimal("1237.27"),
            "amount": Decimal("79803.92"),
            "tax_rate": Decimal("0.09"),
            "supplier_name": "合肥恒通",
        },
    )
    assert row.content_hash == DIGEST_BEFORE


DIGEST_BEFORE = "0bb3cea69f5becd30911e662fbd481628854a402d2f6e21f85302660e7722ead"


def _excel_decimal_in_general(value: float) -> Decimal:
    result = Decimal(format(value, f".{EXCEL_DIGITS}g"))
    if result.as_tuple().exponent >= 0 or result == int(result):  # type: ignore[operator]
        return Decimal(int(result))
    return result.normalize()


@settings(max_examples=3000)
@given(
    st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(min_value=-(10**12), max_value=10**12, places=4).map(float)
    | st.integers(-(10**17), 10**17).map(float)
)
def test_a_doubles_short_form_reads_as_fifteen_significant_digits(value: float) -> None:
    if value == 0:
        return
    got = excel_decimal(value)
    expected = _excel_decimal_in_general(value)
    assert str(got) == str(expected)


def _clean_code_in_general(text: str) -> str:
    stripped = text.strip()
    for candidate in (stripped, unicodedata.normalize("NFKC", stripped)):
        for char in candidate:
            if unicodedata.category(char) in INVISIBLE_CATEGORIES:
                raise ValueError(f"U+{ord(char):04X}")
    return unicodedata.normalize("NFKC", stripped).strip()


@settings(max_examples=2000)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F)) | st.text())
def test_an_ascii_code_is_cleaned_as_any_other(text: str) -> None:
    try:
        expected: str | Exception = _clean_code_in_general(text)
    except ValueError as exc:
        expected = exc
    try:
        got: str | Exception = clean_code(text)
    except ValueError as exc:
        got = exc
    assert str(got) == str(expected)
    assert type(got) is type(expected)


def test_a_documents_json_is_the_one_model_dump_writes() -> None:
    for kind, data in [
        (
            "cost",
            {
                "source_key": "A",
                "project_code": "XM1",
                "category": "material",
                "business_date": "2026-10-05",
                "amount": "12.50",
                "quantity": "1",
                "unit_price": "12.5",
                "tax_rate": "0.13",
            },
        ),
        ("worker", {"id_number": "11010519491231002X", "name": "张三", "project_code": "XM1"}),
        (
            "invoice",
            {
                "invoice_no": "12345678",
                "project_code": "XM1",
                "direction": "in",
                "invoice_type": "special",
                "issue_date": "2026-10-05",
                "amount": "100",
                "tax_amount": "13",
                "total": "113",
                "seller_name": "某公司",
                "buyer_name": "合肥建工",
            },
        ),
        (
            ProgressReport,  # nested models: written by model_dump, as before
            {
                "source_key": "P1",
                "project_code": "XM1",
                "period": "2026-10",
                "report_date": "2026-10-31",
                "percent_complete": "12.5",
                "approved": True,
                "measured": [{"boq_code": "010101", "quantity": "3.5"}],
            },
        ),
    ]:
        model = KINDS[kind].model if isinstance(kind, str) else kind
        document, issues = validate(model, data)
        assert document is not None, issues
        assert document_json(document) == flat_json(document.model_dump())
        assert document_json(document) == flat_json(document.model_dump())  # remembered texts


def test_a_prepared_row_crosses_the_pipe_with_everything_the_importer_uses() -> None:
    good = prepare_row(
        CONTEXTS[0], LAYOUT, 4, ["1", "CB1", "XM2026001", "材料费", dt.date(2026, 10, 5), 2.0, 3.0, 6.0]
    )
    bad = prepare_row(
        CONTEXTS[0], LAYOUT, 5, ["2", "CB2", "XM2026001", "不是类别", dt.date(2026, 10, 5), 2.0, 3.0, 7.0]
    )
    assert good.valid
    assert not bad.valid
    for row in (good, bad):
        back = pickle.loads(pickle.dumps(row))
        assert _outcome(back) == _outcome(row)
        assert back.data == row.data
        assert back.model is None  # the pydantic document stays in the reader's process
    assert good.model is not None


# -- whole imports --------------------------------------------------------------------------------


def _ledger(path: Path, rows: int, repeats: int = 20) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("成本台账")
    sheet.merge_range(0, 0, 0, 6, "成本台账（2026年10月）")
    sheet.write_row(1, 0, ["单据编号", "项目编码", "成本类别", "业务日期", "摘要", "金额", "税率"])
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for n in range(rows):
        row = 2 + n
        sheet.write_string(row, 0, f"CB{n % (rows - repeats):05d}")  # keys given twice
        sheet.write_string(row, 1, f"XM2026{n % 7 + 1:03d}")
        sheet.write_string(row, 2, ("材料费", "人工费", "不是类别", "机械使用费")[n % 4])
        sheet.write_number(row, 3, 46300 + n % 28, day)
        sheet.write_string(row, 4, ("钢筋", "=cmd|' /C calc'!A0", "")[n % 3])
        if n % 97 == 5:
            sheet.write_formula(row, 5, "=1+1", None, "")
        else:
            sheet.write_number(row, 5, 100 + n * 0.25 + (0.001 if n % 61 == 3 else 0))
        sheet.write_string(row, 6, ("9%", "13%", "0.2")[n % 3])
        if n % 50 == 10:
            sheet.write_string(row, 0, "合计")
    book.close()


def _everything(url: str) -> tuple[Any, ...]:
    store = open_store(url)
    try:
        with store.transaction() as session:
            records = session.execute(
                select(
                    Record.source_key,
                    Record.content_hash,
                    Record.revision,
                    Record.version,
                    Record.payload,
                    Record.status,
                    Record.issues,
                ).order_by(Record.id)
            ).all()
            documents = session.execute(
                select(
                    Document.source_key,
                    Document.version,
                    Document.data,
                    Document.project_code,
                    Document.business_date,
                    Document.category,
                    Document.amount,
                    Document.deleted,
                ).order_by(Document.id)
            ).all()
            issues = session.execute(
                select(
                    FileImportIssue.severity,
                    FileImportIssue.sheet,
                    FileImportIssue.row_number,
                    FileImportIssue.column,
                    FileImportIssue.field,
                    FileImportIssue.value,
                    FileImportIssue.zh,
                    FileImportIssue.en,
                ).order_by(FileImportIssue.id)
            ).all()
        return tuple(records), tuple(documents), tuple(issues)
    finally:
        store.close()


def test_whoever_prepares_the_rows_the_store_holds_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "台账.xlsx"
    _ledger(path, 1200)
    outcomes = []
    for feed_above, share in ((1 << 40, None), (-1, 0.0), (-1, 1.0), (-1, 0.5), (-1, None)):
        monkeypatch.setattr(importer, "FEED_ABOVE_BYTES", feed_above)
        monkeypatch.setattr(
            importer, "fed_items", functools.partial(row_feed.fed_items, share=share, batch=50)
        )
        url = f"sqlite:///{tmp_path / f'{feed_above}-{share}.sqlite'}"
        store = open_store(url)
        try:
            result = import_file(store, path, kind="cost", chunk_rows=128)
            # the same bytes again: already imported, nothing stored
            assert import_file(store, path, kind="cost", chunk_rows=128).status == "already_imported"
        finally:
            store.close()
        outcomes.append((result.counts, _everything(url)))
    assert all(outcome == outcomes[0] for outcome in outcomes[1:])
    counts = outcomes[0][0]
    assert counts.imported > 0
    assert counts.rejected > 0  # bad cells, formulas without results, keys given twice
    assert counts.skipped > 0


def test_a_reexport_of_rows_imported_before_is_found_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the same rows in other bytes (another export): every row is matched by its key and digest
    first, second = tmp_path / "一.xlsx", tmp_path / "二.xlsx"
    _ledger(first, 600, repeats=0)
    _ledger(second, 600, repeats=0)
    with second.open("ab") as handle:
        handle.write(b"\0")  # other bytes, the same workbook
    monkeypatch.setattr(importer, "FEED_ABOVE_BYTES", -1)
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        before = import_file(store, first, kind="cost", chunk_rows=100).counts
        again = import_file(store, second, kind="cost", chunk_rows=100).counts
    finally:
        store.close()
    assert before.imported > 0
    assert again.imported == 0
    assert again.duplicate == before.imported
    assert again.rejected == before.rejected


def test_sqlite_rows_bound_positionally_are_stored_as_an_insert_stores_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    store = open_store(url)
    now = dt.datetime(2026, 10, 5, 8, 30, 1, 123456, tzinfo=dt.UTC)
    row = (
        "c",
        "cost",
        "K",
        "h" * 64,
        1,
        None,
        '{"a":1}',
        None,
        "invalid",
        [{"zh": "错", "en": "bad"}],
        None,
        now,
    )
    plain = (*row[:2], "L", *row[3:9], None, None, now)
    try:
        with store.transaction() as session:
            session.execute(
                insert(Record.__table__),
                [
                    {"id": 1, **dict(zip(staging._RECORD_COLUMNS, row, strict=True))},
                    {"id": 2, **dict(zip(staging._RECORD_COLUMNS, plain, strict=True))},
                ],
            )
            again = [(3, *row[:2], "K2", *row[3:]), (4, *plain[:2], "L2", *plain[3:])]
            staging._sqlite_many(session, Record.__table__, ("id", *staging._RECORD_COLUMNS), again)
    finally:
        store.close()
    raw = sqlite3.connect(str(tmp_path / "b.sqlite"))
    stored = raw.execute(
        "SELECT source_key, revision, version, payload, status, issues, typeof(issues), received_at, "
        "typeof(received_at), run_id FROM records ORDER BY id"
    ).fetchall()
    raw.close()
    assert stored[0][1:] == stored[2][1:]
    assert stored[1][1:] == stored[3][1:]
    assert stored[0][5:] == (
        '[{"zh": "\\u9519", "en": "bad"}]',
        "text",
        "2026-10-05 08:30:01.123456",
        "text",
        None,
    )
    assert stored[1][5:7] == ("null", "text")  # JSON null, as an INSERT writes None
