"""Property-based tests of the file parsers: numbers, dates, rates, headers, encodings, garbage rows."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.spreadsheets import RARE, csv_text
from yecai import jsonutil
from yecai.files import import_file
from yecai.files.cells import (
    CellError,
    cell_code,
    cell_date,
    cell_money,
    cell_rate,
    cell_time,
    excel_decimal,
    header_key,
    text_date,
    text_decimal,
)
from yecai.files.columns import KINDS, alias_index
from yecai.files.encoding import detect_encoding
from yecai.files.layout import Column, Layout
from yecai.files.rows import FileContext, prepare_row
from yecai.store.db import Store

MONEY = st.decimals(min_value=Decimal("-9999999999.99"), max_value=Decimal("9999999999.99"), places=2)
DATES = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31))


@given(MONEY)
def test_a_money_cell_comes_back_as_the_amount_typed(amount: Decimal) -> None:
    assert excel_decimal(float(amount)) == amount


@given(MONEY, MONEY)
def test_float_sums_of_money_lose_their_binary_tail(a: Decimal, b: Decimal) -> None:
    # what a formula cell like =A1+B1 holds: 0.1 + 0.2 = 0.30000000000000004, and with
    # cancellation 570235.04 - 519657.79 = 50577.25000000006 (15 digits: 50577.2500000001)
    value = cell_money(float(a) + float(b))
    assert value == a + b
    assert -value.as_tuple().exponent <= 2  # type: ignore[operator]


def test_a_genuine_third_decimal_is_kept_for_validation_to_refuse() -> None:
    assert cell_money(12.345) == Decimal("12.345")
    assert cell_money(570235.04 - 519657.79) == Decimal("50577.25")
    assert cell_money("12.3400000001") == Decimal("12.3400000001")  # text is taken as written


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_integral_cells_come_back_as_integers(number: int) -> None:
    value = excel_decimal(float(number))
    assert value == number
    assert value.as_tuple().exponent == 0


def test_known_float_artefacts() -> None:
    assert excel_decimal(0.1 + 0.2) == Decimal("0.3")
    assert excel_decimal(1.1 * 3) == Decimal("3.3")
    assert excel_decimal(100.0) == Decimal(100)
    assert excel_decimal(3980.4 * 2.5) == Decimal("9951")
    assert str(excel_decimal(1e20)) == "100000000000000000000"
    with pytest.raises(CellError):
        excel_decimal(float("nan"))


@given(MONEY)
def test_amounts_written_as_text_in_export_styles(amount: Decimal) -> None:
    plain = f"{abs(amount):,.2f}"
    assert text_decimal(f"{amount:,.2f}") == amount
    assert text_decimal(f"¥{amount}") == amount
    assert text_decimal(f" {amount}元 ") == amount
    if amount < 0:
        assert text_decimal(f"({plain})") == amount
        assert text_decimal(f"（{plain}）") == amount


@given(DATES)
def test_dates_in_every_chinese_export_style(day: dt.date) -> None:
    for text in (
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month:02d}.{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
        f"{day.isoformat()} 08:30:00",
    ):
        assert text_date(text) == day, text
    serial = (day - dt.date(1899, 12, 30)).days
    assert cell_date(float(serial)) == day
    assert cell_date(dt.datetime.combine(day, dt.time(9))) == day
    assert cell_date(int(day.strftime("%Y%m%d"))) == day


@pytest.mark.parametrize("text", ["2026-02-30", "2026/13/01", "明天", "10/05/2026", "2026-1", ""])
def test_impossible_dates_are_refused_with_the_value(text: str) -> None:
    if not text:
        assert cell_date(text) is None
        return
    with pytest.raises(CellError) as caught:
        text_date(text)
    assert text in caught.value.zh
    assert text in caught.value.en


@given(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=99))
def test_tax_rates_as_percent_text_fraction_or_number(whole: int, hundredths: int) -> None:
    percent = Decimal(whole) + Decimal(hundredths) / 100
    expected = percent / 100
    assert cell_rate(f"{percent}%")[0] == expected
    assert cell_rate(f"{percent} ％")[0] == expected  # full-width sign, a blank before it
    if percent < 100:
        assert cell_rate(float(expected))[0] == expected  # a percent-formatted cell holds the fraction
    if 1 < percent <= 100:
        value, note = cell_rate(percent)
        assert value == expected
        assert note is not None
        assert "%" in note[0]


def test_exempt_rates_and_bad_rates() -> None:
    assert cell_rate("免税") == (Decimal(0), None)
    assert cell_rate("***")[0] == 0
    with pytest.raises(CellError):
        cell_rate("九个点")


def test_times_and_codes() -> None:
    assert cell_time("7:30") == dt.time(7, 30)
    assert cell_time("7时30分") == dt.time(7, 30)
    assert cell_time("17点05分30秒") == dt.time(17, 5, 30)
    assert cell_time(0.75) == dt.time(18, 0)
    assert cell_time("2026-10-05 17:45") == dt.time(17, 45)
    assert cell_code(2026001.0) == "2026001"
    assert cell_code("6222 0212 3456") == "622202123456"
    with pytest.raises(CellError):
        cell_code(1.10105199001011e17)  # an ID number that Excel turned into a float


ALIASES = [
    (kind, item.name, alias) for kind, spec in KINDS.items() for item in spec.fields for alias in item.aliases
]


@given(
    st.sampled_from(ALIASES),
    st.sampled_from(["", " ", "\u3000", "\n"]),
    st.sampled_from(["", "*", "＊"]),
    st.sampled_from(["", "（元）", "(元)", "[万元]", "（%）"]),
)
def test_every_alias_is_recognised_however_it_is_decorated(
    alias: tuple[str, str, str], blank: str, mark: str, unit: str
) -> None:
    kind, field, text = alias
    index = alias_index(KINDS[kind])
    decorated = f"{blank}{text[:1]}{blank}{text[1:]}{unit}{mark}{blank}"
    assert index[header_key(decorated)] == field


def test_no_alias_is_claimed_by_two_fields_of_a_kind() -> None:
    for spec in KINDS.values():
        owners: dict[str, str] = {}
        for item in spec.fields:
            for alias in item.aliases:
                key = header_key(alias)
                assert owners.setdefault(key, item.name) == item.name, (spec.kind, alias)


def test_required_fields_follow_the_documents() -> None:
    for spec in KINDS.values():
        for item in spec.fields:
            model_required = spec.model.model_fields[item.name].is_required()
            assert item.required == (model_required and item.name != "source_key"), (spec.kind, item.name)


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
TEXT = st.text(st.one_of(CJK, st.sampled_from("ABCxyz0123456789 -_·（）")), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=8),
    st.sampled_from(["gbk", "gb18030", "utf-8", "utf-8-sig"]),
)
def test_encoding_detection_on_random_chinese_text(rows: list[tuple[str, str]], codec: str) -> None:
    content = [["项目编码", "摘要", "金额"], *[[a, b, "1.00"] for a, b in rows]]
    if codec == "gb18030":
        content.append(["XM1", f"生僻字{RARE}", "2.00"])
    text = csv_text(content)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        path.write_bytes(text.encode(codec))
        found = detect_encoding(path)
        assert path.read_bytes().decode(found.codec) == text.encode(codec).decode(codec)
    assert (
        found.label
        == {"gbk": "GBK", "gb18030": "GB18030", "utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)"}[codec]
    )


# -- garbage rows never crash the importer ------------------------------------------------

CELLS = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.sampled_from(["人工费", "2026-10-05", "XM2026001", "9%", "12.345", "=1+1", "合计", "\x00", "¥1,000"]),
)
COST_LAYOUT = Layout(
    sheet="导出",
    header_rows=(1,),
    columns=[
        Column(i, chr(65 + i), header, header, field)
        for i, (header, field) in enumerate(
            [
                ("单据编号", "source_key"),
                ("项目编码", "project_code"),
                ("成本类别", "category"),
                ("日期", "business_date"),
                ("数量", "quantity"),
                ("单价", "unit_price"),
                ("金额", "amount"),
                ("税率", "tax_rate"),
                ("备注", None),
            ]
        )
    ],
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CELLS, max_size=12))
def test_a_garbage_row_is_rejected_with_reasons_never_raises(cells: list) -> None:
    context = FileContext(KINDS["cost"], "f" * 64, "garbage.xlsx", {}, {})
    prepared = prepare_row(context, COST_LAYOUT, 7, cells)
    assert jsonutil.loads(prepared.payload)["origin"]["row"] == 7
    assert len(prepared.content_hash) == 64
    assert 0 < len(prepared.key) <= 200
    if prepared.document is None:
        assert prepared.errors
    for issue in prepared.errors:
        assert issue.zh
        assert issue.en
        assert issue.row == 7
        assert issue.sheet == "导出"


GARBAGE_LINE = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=15)
    | st.sampled_from(["人工费", "XM2026001", "2026-10-05", "100", "-0", "1e400", "合计", "0.1"]),
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(GARBAGE_LINE, min_size=1, max_size=15))
def test_a_file_of_garbage_under_a_header_imports_what_it_can(
    sqlite_store: Store, lines: list[list[str]]
) -> None:
    content = [["单据编号", "项目编码", "成本类别", "日期", "金额", "税率"], *lines]
    text = csv_text(content)
    assume(text.count("\n") >= 2)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "garbage.csv"
        path.write_text(text, encoding="utf-8")
        result = import_file(sqlite_store, path, kind="cost", connection=uuid.uuid4().hex[:12])
    counts = result.counts
    assert counts.imported + counts.rejected + counts.duplicate == counts.rows
    assert counts.rejected == 0 or any(i.zh and i.en for i in result.issues)
