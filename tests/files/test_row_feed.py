"""Rows read in a child process (`row_feed`): the same rows, in order; a dying reader is reported.

The importer hands a large sheet's reading to a forked child; the contract of the readers (the
rest of tests/files) must hold through it. Here: the rows come back equal and in order, the
reader's exception is raised in the importer, a reader killed by a signal becomes a FileProblem
naming the file, and an import through the child stores exactly what one without it stores.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import xlsxwriter
from sqlalchemy import select

from yecai.files import import_file, importer
from yecai.files.problems import FileProblem
from yecai.files.raw import RawRow
from yecai.files.row_feed import fed_rows
from yecai.store.db import open_store
from yecai.store.tables import Document, Record


def _rows(count: int) -> Iterator[RawRow]:
    for number in range(1, count + 1):
        yield RawRow(number, [f"CB{number:06d}", number * 1.5, None], uncached=((2, "A1*2"),))


def test_rows_come_back_equal_and_in_order() -> None:
    got = list(fed_rows(_rows(5003), "a.xlsx", batch=1000))
    assert got == list(_rows(5003))


def test_the_readers_exception_is_raised_in_the_importer() -> None:
    def broken() -> Iterator[RawRow]:
        yield RawRow(1, ["ok"])
        raise ValueError("the reader broke")

    feed = fed_rows(broken(), "a.xlsx", batch=1)
    assert next(feed) == RawRow(1, ["ok"])
    with pytest.raises(ValueError, match="the reader broke"):
        next(feed)


def test_a_reader_killed_by_a_signal_is_a_file_problem() -> None:
    def dies() -> Iterator[RawRow]:
        yield RawRow(1, ["ok"])
        os.kill(os.getpid(), signal.SIGKILL)  # in the child: a native reader's crash
        yield RawRow(2, ["never"])

    with pytest.raises(FileProblem) as caught:
        list(fed_rows(dies(), "账本.xlsx", batch=1))
    assert caught.value.code == "reader"
    assert "账本.xlsx" in str(caught.value)
    assert "SIGKILL" in str(caught.value)


def _children() -> set[str]:
    return {
        pid for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()
    }


def test_stopping_early_ends_the_child() -> None:
    before = _children()
    feed = fed_rows(_rows(100_000), "a.xlsx", batch=10)
    assert next(feed).number == 1
    assert _children() - before  # the reader runs in a child of its own
    feed.close()  # the importer failed mid-way: no child is left behind
    assert not _children() - before


def _ledger(path: Path) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("成本台账")
    sheet.merge_range(0, 0, 0, 5, "成本台账（2026年10月）")
    sheet.write_row(1, 0, ["单据编号", "项目编码", "成本类别", "业务日期", "摘要", "金额"])
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for n in range(300):
        row = 2 + n
        sheet.write_string(row, 0, f"CB{n % 290:05d}")  # ten keys twice: duplicates and conflicts
        sheet.write_string(row, 1, f"XM2026{n % 7 + 1:03d}")
        sheet.write_string(row, 2, ("材料费", "人工费", "不是类别")[n % 3])
        sheet.write_number(row, 3, 46300 + n % 28, day)
        sheet.write_string(row, 4, "钢筋")
        if n % 50 == 7:
            sheet.write_formula(row, 5, "=1+1", None, "")  # a formula saved without its result
        else:
            sheet.write_number(row, 5, 100 + n * 0.25)
    sheet.write_string(302, 0, "合计")
    book.close()


def _stored(url: str) -> tuple[object, ...]:
    store = open_store(url)
    try:
        with store.transaction() as session:
            records = session.execute(
                select(Record.source_key, Record.content_hash, Record.status, Record.revision).order_by(
                    Record.source_key, Record.revision
                )
            ).all()
            documents = session.execute(
                select(Document.source_key, Document.version, Document.data).order_by(Document.source_key)
            ).all()
        return tuple(records), tuple(documents)
    finally:
        store.close()


def test_an_import_through_the_child_stores_what_one_without_it_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "台账.xlsx"
    _ledger(path)
    outcomes = []
    for feed_above in (1 << 40, -1):  # never through the child, then always
        monkeypatch.setattr(importer, "FEED_ABOVE_BYTES", feed_above)
        url = f"sqlite:///{tmp_path / f'{feed_above}.sqlite'}"
        store = open_store(url)
        try:
            result = import_file(store, path, kind="cost", chunk_rows=64)
        finally:
            store.close()
        outcomes.append((result.counts, [str(issue) for issue in result.issues], _stored(url)))
    assert outcomes[0] == outcomes[1]
    counts = outcomes[0][0]
    assert (counts.rows, counts.skipped) == (300, 1)
    assert counts.imported > 0
    assert counts.rejected > 0
