"""File import on SQLite and PostgreSQL: every kind and format, bad rows, guards and the report."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from tests.support.spreadsheets import (
    ENCODINGS,
    FORMATS,
    GOOD,
    RARE,
    id_number,
    put,
    sheet_rows,
    shown,
    with_rare,
    write_csv,
    write_export,
    write_xlsx,
)
from yecai import jsonutil
from yecai.files import FileProblem, ImportResult, import_file
from yecai.files.columns import KINDS
from yecai.store.db import Store
from yecai.store.file_tables import FileImport, FileImportIssue
from yecai.store.tables import Document, Record, Run

LABELS = {"csv-gbk": "GBK", "csv-gb18030": "GB18030", "csv-utf8-bom": "UTF-8 (BOM)", "csv-utf8": "UTF-8"}


def documents(store: Store, connection: str, kind: str) -> list[dict]:
    with store.transaction() as session:
        rows = session.scalars(
            select(Document.data)
            .where(Document.connection == connection, Document.kind == kind)
            .order_by(Document.id)
        )
        return [jsonutil.loads(text) for text in rows]


@pytest.mark.parametrize("kind", list(GOOD))
def test_good_files_of_every_kind_and_format_import_every_row(
    store: Store, tmp_path: Path, kind: str
) -> None:
    _header, rows, _ = GOOD[kind]
    model = KINDS[kind].model
    for fmt in FORMATS:
        folder = tmp_path / fmt
        folder.mkdir()
        content = with_rare(kind) if fmt in ("csv-gb18030", "csv-utf8", "csv-utf8-bom", "xlsx") else None
        path = write_export(folder, kind, fmt, content)
        result = import_file(store, path, kind=kind, connection=f"file-{fmt}")
        assert result.status == "imported", fmt
        counts = result.counts
        assert (counts.imported, counts.rejected, counts.duplicate) == (len(rows), 0, 0), (fmt, result.issues)
        assert counts.skipped == 2, fmt  # 合计 and 备注 rows
        assert result.sheets[0]["header_rows"] == [4], fmt  # title, 导出时间 and a blank row above
        if fmt in LABELS:
            assert result.encoding == LABELS[fmt]
        docs = documents(store, f"file-{fmt}", model.kind)
        assert len(docs) == len(rows)
        if content is not None:
            text_field = (
                KINDS[kind].spec(next(c.field for c in _columns(result) if c.header == GOOD[kind][2])).name
            )
            assert all(RARE in doc[text_field] for doc in docs), fmt
    # the same content in six formats: six records per row, each under its own connection
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Record)) == len(rows) * len(FORMATS)


class _Column:
    def __init__(self, header: str, field: str | None) -> None:
        self.header, self.field = header, field


def _columns(result) -> list[_Column]:
    return [_Column(c["header"], c["field"]) for c in result.sheets[0]["columns"]]


def test_values_come_out_exact(store: Store, tmp_path: Path) -> None:
    path = write_export(tmp_path, "cost", "xlsx")
    import_file(store, path, kind="cost")
    docs = {d["source_key"]: d for d in documents(store, "file", "cost_record")}
    assert docs["CB-0001"]["amount"] == Decimal(3500)
    assert docs["CB-0001"]["tax_rate"] == Decimal("0.03")
    assert docs["CB-0002"]["quantity"] == Decimal("2.5")
    assert docs["CB-0002"]["unit_price"] == Decimal("3980.4")
    assert docs["CB-0003"]["amount"] == Decimal("0.3")  # 0.1 + 0.2 in a float cell
    assert docs["CB-0003"]["tax_rate"] == Decimal("0.09")
    assert [docs[k]["business_date"] for k in sorted(docs)] == ["2026-10-05", "2026-10-05", "2026-10-06"]
    assert docs["CB-0003"]["category"] == "machinery"
    with store.transaction() as session:
        record = session.scalars(select(Record).where(Record.source_key == "CB-0002")).one()
        payload = jsonutil.loads(record.payload)
        # the raw row is kept whole, unmapped 序号 included, with where it came from
        assert payload["origin"]["row"] == 6
        assert payload["origin"]["sheet"] == "导出"
        assert payload["cells"]["序号"] == 2
        assert payload["cells"]["业务日期"] == "2026/10/5"
        doc = session.scalars(select(Document).where(Document.source_key == "CB-0002")).one()
        assert (doc.project_code, doc.category, doc.amount) == ("XM2026001", "material", Decimal("9951.00"))
        assert doc.business_date == dt.date(2026, 10, 5)
        run = session.scalars(select(Run).where(Run.kind == "file_import")).one()
        assert run.status == "succeeded"
        assert run.counts["imported"] == 3


def test_bad_rows_are_reported_and_good_rows_import(store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["cost"]
    bad = [list(r) for r in rows] + [
        [4, "CB-0004", "XM2026001", "飞机费", "2026-10-07", "?", None, None, None, 100, None, "x"],
        [5, "CB-0005", "XM2026001", "人工费", "2026-13-45", "日期错", None, None, None, 100, None, "x"],
        [6, "CB-0006", "XM2026001", "人工费", "2026-10-07", "金额错", None, None, None, "12.345", None, "x"],
        [7, "CB-0007", None, "人工费", "2026-10-07", "无项目", None, None, None, 100, None, "x"],
        [8, "CB-0008", "XM2026001", "人工费", "2026-10-07", "零", None, None, None, 0, None, "x"],
    ]
    path = write_xlsx(tmp_path / "成本台账（含错误）.xlsx", sheet_rows(header, bad))
    result = import_file(store, path, kind="cost", report=tmp_path / "out" / "report.xlsx")
    assert (result.counts.imported, result.counts.rejected) == (3, 5)
    problems = {(i.row, i.column): i for i in result.issues}
    assert problems[(8, "成本类别")].value == "飞机费"
    assert "人工费" in problems[(8, "成本类别")].zh
    assert "cost category" in problems[(8, "成本类别")].en
    assert problems[(9, "业务日期")].value == "2026-13-45"
    assert "日期" in problems[(9, "业务日期")].zh
    assert "两位小数" in problems[(10, "金额")].zh
    assert "two decimal places" in problems[(10, "金额")].en
    assert problems[(11, "项目编码")].field == "project_code"
    assert "零" in problems[(12, "金额")].zh
    assert "zero" in problems[(12, "金额")].en
    with store.transaction() as session:
        statuses = dict(session.execute(select(Record.source_key, Record.status)).all())
        assert statuses["CB-0004"] == "invalid"
        assert statuses["CB-0001"] == "valid"
        invalid = session.scalars(select(Record).where(Record.source_key == "CB-0004")).one()
        assert invalid.issues[0]["field"] == "category"
        assert session.scalar(select(func.count()).select_from(Document)) == 3
    # the report, read back
    report = CalamineWorkbook.from_path(str(result.report))
    assert report.sheet_names == [
        "汇总 Summary",
        "已导入 Imported",
        "重复 Duplicates",
        "错误 Rejected",
        "警告 Warnings",
        "跳过 Skipped",
        "列对照 Columns",
    ]
    skipped = report.get_sheet_by_name("跳过 Skipped").to_python()
    assert [(int(r[1]), r[4]) for r in skipped[1:]] == [(13, "合计"), (14, "备注：以上数据由系统导出")]
    summary = {
        row[0]: row[1] for row in report.get_sheet_by_name("汇总 Summary").to_python() if row and row[0]
    }
    assert summary["已导入 imported"] == 3
    assert summary["已拒绝 rejected"] == 5
    assert summary["重复 duplicate"] == 0
    assert summary["文件 file"] == "成本台账（含错误）.xlsx"
    errors = report.get_sheet_by_name("错误 Rejected").to_python()
    assert errors[0] == ["工作表 sheet", "行号 row", "列 column", "字段 field", "值 value", "原因", "reason"]
    by_row = {int(r[1]): r for r in errors[1:]}
    assert set(by_row) == {8, 9, 10, 11, 12}
    assert by_row[8][2:5] == ["成本类别", "category", "飞机费"]
    assert by_row[9][4] == "2026-13-45"
    assert "not a valid date" in by_row[9][6]
    columns = report.get_sheet_by_name("列对照 Columns").to_python()
    assert ["导出", "4", "A", "序号", "（未导入 not imported）"] in columns


def test_warnings_are_listed_separately(store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["worker"]
    doubtful = [list(rows[0])]
    doubtful[0][5] = "6222021234567890123"  # fails Luhn: a warning, not a refusal
    doubtful[0][8] = "否"  # not registered: a warning too
    path = write_xlsx(tmp_path / "workers.xlsx", sheet_rows(header, doubtful))
    result = import_file(store, path, kind="worker", report=tmp_path / "r.xlsx")
    assert (result.counts.imported, result.counts.rejected, result.counts.warnings) == (1, 0, 2)
    warnings = (
        CalamineWorkbook.from_path(str(tmp_path / "r.xlsx")).get_sheet_by_name("警告 Warnings").to_python()
    )
    assert {row[3] for row in warnings[1:]} == {"bank_card", "registered"}
    assert any("Luhn" in row[6] for row in warnings[1:])
    assert (
        CalamineWorkbook.from_path(str(tmp_path / "r.xlsx"))
        .get_sheet_by_name("错误 Rejected")
        .to_python()[1:]
        == []
    )


def test_the_same_file_twice_imports_nothing_the_second_time(store: Store, tmp_path: Path) -> None:
    path = write_export(tmp_path, "cost", "xlsx")
    first = import_file(store, path, kind="cost")
    again = import_file(store, path, kind="cost")
    assert again.status == "already_imported"
    assert (again.counts.imported, again.counts.duplicate) == (0, 0)
    assert again.previous is not None
    assert again.previous.run_id == first.run_id
    message = again.notes[-1]
    assert f"运行 {first.run_id}" in message.zh
    assert f"run {first.run_id}" in message.en
    assert "already imported on" in message.en
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 3
        assert session.scalar(select(func.count()).select_from(FileImport)) == 1


def test_a_renamed_copy_is_the_same_file(store: Store, tmp_path: Path) -> None:
    path = write_export(tmp_path, "cost", "xlsx")
    import_file(store, path, kind="cost")
    copy = tmp_path / "copy of 成本 (1).xlsx"
    shutil.copy(path, copy)
    again = import_file(store, copy, kind="cost")
    assert again.status == "already_imported"
    assert "cost.xlsx" in again.notes[-1].zh
    assert "then named cost.xlsx" in again.notes[-1].en


def test_a_changed_reexport_imports_only_the_changed_rows(store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["cost"]
    first = write_xlsx(tmp_path / "october.xlsx", sheet_rows(header, rows))
    import_file(store, first, kind="cost")
    changed = [list(r) for r in rows]
    changed[1][9] = 9952.0  # amount changed (and so quantity × price no longer fits: tolerance 1 cent)
    changed[1][8] = 3980.8
    changed.insert(
        0, [0, "CB-0000", "XM2026001", "人工费", "2026-10-04", "新增", None, None, None, 10, None, "x"]
    )
    for i, row in enumerate(changed):
        row[0] = i + 1  # 序号 renumbered: not part of a row's content
    second = write_xlsx(tmp_path / "october-v2.xlsx", sheet_rows(header, changed))
    result = import_file(store, second, kind="cost")
    assert result.status == "imported"
    assert (result.counts.imported, result.counts.duplicate, result.counts.rejected) == (2, 2, 0)
    with store.transaction() as session:
        versions = session.scalars(select(Document.amount).where(Document.source_key == "CB-0002")).all()
        assert sorted(versions) == [Decimal("9951.00"), Decimal("9952.00")]  # a new version beside the old
        assert session.scalar(select(func.count()).select_from(Document)) == 5


def test_keyless_rows_are_matched_by_content_with_multiplicity(store: Store, tmp_path: Path) -> None:
    header = ["项目编码", "成本类别", "日期", "摘要", "金额"]
    row = ["XM2026001", "人工费", "2026-10-05", "零工", 100]
    first = write_csv(
        tmp_path / "a.csv", sheet_rows(header, [row, row, ["XM2026001", "材料费", "2026-10-05", "砂", 50]])
    )
    one = import_file(store, first, kind="cost")
    assert one.counts.imported == 3  # two identical rows are two costs
    second = write_csv(tmp_path / "b.csv", sheet_rows(header, [row, row, row]), delimiter=";")
    two = import_file(store, second, kind="cost")
    assert (two.counts.duplicate, two.counts.imported) == (2, 1)
    assert two.delimiter == ";"
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 4


def test_a_key_repeated_in_one_file_is_a_duplicate_or_a_conflict(store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["attendance"]
    same = list(rows[0])
    other = list(rows[0])
    other[4] = 0.5  # the same worker, day and project with other days: a conflict
    path = write_xlsx(tmp_path / "att.xlsx", sheet_rows(header, [*rows, same, other]))
    result = import_file(store, path, kind="attendance", chunk_rows=2)  # across chunk borders too
    assert (result.counts.imported, result.counts.duplicate, result.counts.rejected) == (3, 1, 1)
    conflict = next(i for i in result.issues if i.field == "source_key")
    assert conflict.row == 9
    assert "第 5 行" in conflict.zh
    assert "row 5" in conflict.en


def test_amounts_in_wan_yuan_are_converted(sqlite_store: Store, tmp_path: Path) -> None:
    rows = [
        ["成本台账"],
        ["单位：万元"],
        ["项目编码", "成本类别", "日期", "金额", "税率"],
        ["XM2026001", "材料费", "2026-10-05", 1.2345, "13%"],
    ]
    result = import_file(sqlite_store, write_xlsx(tmp_path / "wan.xlsx", rows), kind="cost")
    assert result.counts.imported == 1
    assert documents(sqlite_store, "file", "cost_record")[0]["amount"] == Decimal("12345")
    assert any("万元" in n.zh for n in result.notes)


def test_project_from_the_option_or_the_title(sqlite_store: Store, tmp_path: Path) -> None:
    rows = [["成本类别", "日期", "金额"], ["人工费", "2026-10-05", 100]]
    path = write_csv(tmp_path / "no-project.csv", rows)
    result = import_file(sqlite_store, path, kind="cost", project="XM2026009")
    assert result.counts.imported == 1
    assert documents(sqlite_store, "file", "cost_record")[0]["project_code"] == "XM2026009"
    titled = write_csv(tmp_path / "titled.csv", [["项目编码：XM2026010  合肥某工程"], *rows])
    result = import_file(sqlite_store, titled, kind="cost", connection="other")
    assert result.counts.imported == 1
    assert documents(sqlite_store, "other", "cost_record")[0]["project_code"] == "XM2026010"


def test_missing_required_columns_reject_rows_with_the_header_named(
    sqlite_store: Store, tmp_path: Path
) -> None:
    rows = [["成本类别", "日期", "金额"], ["人工费", "2026-10-05", 100]]
    result = import_file(sqlite_store, write_csv(tmp_path / "c.csv", rows), kind="cost")
    assert result.counts.rejected == 1
    issue = result.issues[0]
    assert issue.field == "project_code"
    assert issue.column.startswith("项目编码")
    assert any("项目编码" in n.zh and "--project" in n.en for n in result.notes)


def test_an_interrupted_import_resumes_from_its_checkpoint(store: Store, tmp_path: Path) -> None:
    header = ["单据编号", "项目编码", "成本类别", "日期", "金额"]
    rows = [[f"CB-{n:04d}", "XM2026001", "人工费", "2026-10-05", n] for n in range(1, 26)]
    path = write_xlsx(tmp_path / "big.xlsx", sheet_rows(header, rows))
    calls = 0

    def crash(_n: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C after two committed chunks

    with pytest.raises(KeyboardInterrupt):
        import_file(store, path, kind="cost", chunk_rows=10, progress=crash)
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 20
        state = session.scalars(select(FileImport)).one()
        assert (state.status, state.rows_done) == ("importing", 20)
        assert session.get(Run, state.run_id).status == "interrupted"
    result = import_file(store, path, kind="cost", chunk_rows=10)
    assert result.resumed_from == 20
    assert (result.counts.imported, result.counts.duplicate, result.counts.rows) == (25, 0, 25)
    assert any("断点" in n.zh or "继续" in n.zh for n in result.notes)
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 25
        assert session.scalars(select(FileImport.status)).one() == "imported"
        assert session.scalars(select(Run.status)).all() == ["succeeded"]  # the same run, finished


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda p: p / "nope.xlsx", "missing"),
        (lambda p: p, "directory"),
        (lambda p: put(p / "ledger.pdf", b"%PDF-1.4"), "extension"),
        (lambda p: put(p / "broken.xlsx", b"PK\x03\x04 this is not a zip"), "corrupt"),
        (lambda p: put(p / "empty.csv", b""), "empty_file"),
        (lambda p: put(p / "blank.csv", "\n\n,,\n"), "empty"),
        (
            lambda p: put(
                p / "locked.xlsx",
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1000 + "EncryptedPackage".encode("utf-16-le"),
            ),
            "password",
        ),
        (lambda p: put(p / "~$成本.xlsx", b"\x06tester"), "owner_file"),
        (lambda p: write_csv(p / "other.csv", [["姓名", "年龄"], ["张三", 30]]), "no_header"),
    ],
    ids=[
        "missing",
        "directory",
        "extension",
        "corrupt",
        "empty-file",
        "empty-sheet",
        "password",
        "owner-file",
        "no-header",
    ],
)
def test_unreadable_files_raise_a_clear_problem_and_leave_no_trace(
    sqlite_store: Store, tmp_path: Path, make, code: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(FileProblem) as caught:
        import_file(sqlite_store, path, kind="cost")
    assert caught.value.code == code
    assert caught.value.zh
    assert caught.value.en
    assert caught.value.zh != caught.value.en
    with sqlite_store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FileImport)) == 0
        assert session.scalar(select(func.count()).select_from(Record)) == 0
        run = session.scalars(select(Run)).one()  # the failed attempt is a run with its reason
        assert run.status == "failed"
        assert path.name in run.message


def test_file_names_with_spaces_brackets_and_chinese_work(sqlite_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "项目部 (二) 资料"
    folder.mkdir()
    path = write_export(folder, "cost", "xlsx").rename(folder / "成本台账 2026年10月 (最终版)[1].xlsx")
    result = import_file(sqlite_store, path, kind="cost")
    assert result.counts.imported == 3
    assert result.file_name == path.name


def test_mislabelled_files_are_read_as_what_they_are(sqlite_store: Store, tmp_path: Path) -> None:
    csv_as_xls = write_csv(
        tmp_path / "export.xls", sheet_rows(*GOOD["cost"][:2]), encoding="gbk", delimiter="\t"
    )
    result = import_file(sqlite_store, csv_as_xls, kind="cost")
    assert result.counts.imported == 3
    assert result.file_format == "csv"
    assert result.delimiter == "\t"
    assert any("扩展名" in n.zh for n in result.notes)
    header, rows, _ = GOOD["cost"]
    table = "".join(
        "<tr>" + "".join(f"<td>{shown(v)}</td>" for v in row) + "</tr>" for row in [header, *rows]
    )
    html = tmp_path / "web.xls"
    html.write_text(f"<html><body><table>{table}</table></body></html>", encoding="gbk")
    result = import_file(sqlite_store, html, kind="cost", connection="html")
    assert result.counts.imported == 3
    assert result.file_format == "html"


def test_a_file_open_in_excel_is_imported_with_a_note(sqlite_store: Store, tmp_path: Path) -> None:
    path = write_export(tmp_path, "cost", "xlsx")
    (tmp_path / f"~${path.name}").write_bytes(bytes([4]) + b"wang" + b"\0" * 50)
    result = import_file(sqlite_store, path, kind="cost")
    assert result.counts.imported == 3
    assert any("Excel" in n.zh and "wang" in n.en for n in result.notes)


def test_only_the_named_sheet_and_every_matching_sheet(store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["cost"]
    other = [[r[0], r[1].replace("CB", "CC"), *r[2:]] for r in rows]
    path = write_xlsx(
        tmp_path / "book.xlsx",
        sheet_rows(header, rows),
        sheet="十月",
        extra_sheets={"十一月": sheet_rows(header, other), "说明": [["本工作簿包含两个月的成本"]]},
    )
    only = import_file(store, path, kind="cost", sheet="十一月")
    assert only.counts.imported == 3
    assert [s["sheet"] for s in only.sheets] == ["十一月"]
    every = import_file(store, path, kind="cost")
    assert (every.counts.imported, every.counts.duplicate) == (3, 3)
    assert any("说明" in n.zh for n in every.notes)
    with pytest.raises(FileProblem) as caught:
        import_file(store, path, kind="cost", sheet="十二月")
    assert caught.value.code == "sheet"
    assert "十月" in caught.value.zh


def test_issue_rows_point_at_their_record(store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["invoice"]
    bad = [list(rows[0])]
    bad[0][11] = 11301  # total ≠ amount + tax
    bad[0][0] = "12345"  # neither 8 nor 20 digits
    path = write_csv(tmp_path / "inv.csv", sheet_rows(header, bad), encoding="gbk")
    result = import_file(store, path, kind="invoice")
    assert result.counts.rejected == 1
    with store.transaction() as session:
        issue = session.scalars(select(FileImportIssue)).first()
        assert issue is not None
        assert issue.record_id is not None
        record = session.get(Record, issue.record_id)
        assert record is not None
        assert record.status == "invalid"
        assert record.source_key == "12345"


def test_encodings_of_every_csv_variant_are_reported(sqlite_store: Store, tmp_path: Path) -> None:
    for fmt, codec in ENCODINGS.items():
        content = with_rare("cost") if codec != "gbk" else None
        path = write_export(tmp_path, "cost", fmt, content)
        result = import_file(sqlite_store, path, kind="cost", connection=fmt)
        assert (result.encoding, result.counts.imported) == (LABELS[fmt], 3)


def test_chinese_row_markers_and_repeated_headers_are_not_data(sqlite_store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["cost"]
    content = [
        header,
        rows[0],
        ["小计"],
        header,
        rows[1],
        ["本页合计", None, None, None, None, None, None, None, None, 3500],
        rows[2],
    ]
    result = import_file(sqlite_store, write_csv(tmp_path / "pages.csv", content), kind="cost")
    assert (result.counts.imported, result.counts.skipped, result.counts.rejected) == (3, 3, 0)


def test_an_id_number_typed_as_a_number_is_refused_with_advice(sqlite_store: Store, tmp_path: Path) -> None:
    header, rows, _ = GOOD["worker"]
    broken = [list(rows[0])]
    broken[0][0] = float(id_number(101)[:17] + "0")  # Excel keeps 15 digits of it
    result = import_file(
        sqlite_store, write_xlsx(tmp_path / "w.xlsx", sheet_rows(header, broken)), kind="worker"
    )
    assert result.counts.rejected == 1
    assert "文本" in result.issues[0].zh
    assert "format the column as text" in result.issues[0].en


def test_an_older_export_after_a_newer_one_is_flagged(sqlite_store: Store, tmp_path: Path) -> None:
    header = ["单据编号", "项目编码", "成本类别", "日期", "金额"]

    def export(name: str, stamp: str, amount: int) -> Path:
        rows = [[f"导出时间：{stamp}"], header, ["CB-1", "XM2026001", "人工费", "2026-10-01", amount]]
        return write_csv(tmp_path / name, rows)

    import_file(sqlite_store, export("new.csv", "2026-10-12 09:00:00", 200), kind="cost")
    older = import_file(sqlite_store, export("old.csv", "2026-10-05 09:00:00", 100), kind="cost")
    flagged = [n for n in older.notes if "new.csv" in n.zh]
    assert flagged
    assert "2026-10-12 09:00" in flagged[0].zh
    assert "newer export" in flagged[0].en


# ---- a value that changes back (issue 12): new means "differs from the latest version" ----

COST_HEADER = ["单据编号", "项目编码", "成本类别", "日期", "金额"]
EXPORTS = iter(range(1_000_000))


def import_amount(store: Store, folder: Path, key: str, amount: int) -> ImportResult:
    """One re-export of a single cost row: every export is its own file (its own export time)."""
    n = next(EXPORTS)
    stamp = (dt.datetime(2026, 10, 1, 9) + dt.timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S")
    rows = [[f"导出时间：{stamp}"], COST_HEADER, [key, "XM2026001", "人工费", "2026-10-01", amount]]
    return import_file(store, write_csv(folder / f"export-{n}.csv", rows), kind="cost")


def latest_amount(store: Store, key: str) -> Decimal:
    with store.transaction() as session:
        return session.scalars(
            select(Document.amount).where(Document.source_key == key).order_by(Document.id.desc()).limit(1)
        ).one()


def test_an_amount_that_changes_back_is_imported(store: Store, tmp_path: Path) -> None:
    counts = [import_amount(store, tmp_path, "CB-9", amount).counts for amount in (100, 200, 100)]
    assert [(c.imported, c.duplicate) for c in counts] == [(1, 0), (1, 0), (1, 0)]
    assert latest_amount(store, "CB-9") == Decimal("100.00")
    again = import_amount(store, tmp_path, "CB-9", 100).counts
    assert (again.imported, again.duplicate) == (0, 1)  # the same as the latest: a true duplicate


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from([100, 200, 300]), min_size=1, max_size=6))
def test_a_row_is_imported_exactly_when_it_differs_from_the_latest(
    store: Store, tmp_path_factory: pytest.TempPathFactory, amounts: list[int]
) -> None:
    folder = tmp_path_factory.mktemp("exports")
    key = f"CB-P{next(EXPORTS)}"
    latest: int | None = None
    for n, amount in enumerate(amounts):
        counts = import_amount(store, folder, key, amount).counts
        new = amount != latest
        assert (counts.imported, counts.duplicate) == ((1, 0) if new else (0, 1)), (amounts, n)
        latest = amount
        assert latest_amount(store, key) == Decimal(amount)
