"""Merged ranges over a header row: the same labels as cell by cell, at any width and count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from yecai.files.layout import merged_row
from yecai.files.raw import Merge


def cell_by_cell(
    rows: dict[int, list[str]], merged: list[Merge], row_index: int, col: int, col_offset: int
) -> str | None:
    # the rule as first written (and still the reference): the first range over the cell with a label
    for (r0, c0), (r1, c1) in merged:
        if r0 <= row_index <= r1 and c0 <= col + col_offset <= c1:
            top = rows.get(r0)
            index = c0 - col_offset
            if top is not None and 0 <= index < len(top):
                return top[index]
    return None


ranges = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 12), st.integers(0, 3), st.integers(0, 6)).map(
        lambda t: ((t[0], t[1]), (t[0] + t[2], t[1] + t[3]))
    ),
    max_size=12,
)


@given(ranges, st.integers(0, 6), st.integers(0, 14), st.integers(0, 3))
def test_the_same_labels_as_cell_by_cell(merged: list[Merge], row: int, width: int, offset: int) -> None:
    rows = {r: [f"r{r}c{c}" if (r + c) % 3 else "" for c in range(width)] for r in range(0, 8, 2)}
    expected = [cell_by_cell(rows, merged, row, col, offset) for col in range(width)]
    assert merged_row(rows, merged, row, width, offset) == expected


def test_thousands_of_ranges_over_a_sheet_as_wide_as_excel() -> None:
    # 16,384 columns × 10,000 ranges: cell by cell this is 1.6 × 10^8 steps per row, about 40 rows
    # per layout, three times each; here it is one pass over the ranges and the columns
    width = 16_384
    rows = {0: [f"标题{c}" for c in range(width)]}
    merged = [((0, c), (40, min(c + 500, width - 1))) for c in range(0, 10_000)]
    out = merged_row(rows, merged, 3, width, 0)
    assert out[0] == "标题0"
    assert out[600] == "标题100"  # the first range over column 600 starts at column 100
    assert out[10_499] == "标题9999"  # the last range ends at column 10,499
    assert out[10_500:] == [None] * (width - 10_500)
