"""Benchmark: import a 1,000,000-row xlsx cost ledger; print rows/s, peak memory and a baseline ratio.

Generates a realistic Chinese cost ledger (merged title, 导出时间/单位 line, header, 合计 and 制表人
footers) with XlsxWriter in constant-memory mode unless `--file` names an existing one, then runs
the measurements in the same run, each in a fresh process so its peak RSS is its own: the baseline
(python-calamine alone reading every row of the same file), yecai's streaming reader alone, and
the full import into a fresh store (SQLite in a temp folder, or a PostgreSQL database created for
the run and dropped after it). The import's peak RSS is its own process's plus its row reader's
(a child process: `yecai.files.row_feed`). Not a test: nothing here asserts a time. The last line
is the goal's: ≥ 16,700 rows/s (a million rows in a minute) and ≤ 500 MB.

    .venv/bin/python bench/import_speed.py                          # 1,000,000 rows, SQLite
    .venv/bin/python bench/import_speed.py --rows 200000 --db postgres
    → … rows_per_s=… peak_rss_mb=…

PostgreSQL: the server of `--database-url`, else $YECAI_BENCH_PG_URL, else $YECAI_TEST_PG_URL, else
postgresql+psycopg://postgres@127.0.0.1:5432/postgres; a database `yecai_bench_import_<pid>` is
created on it and dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HEADERS = (
    "序号",
    "单据编号",
    "项目编码",
    "项目名称",
    "成本类别",
    "业务日期",
    "摘要",
    "数量",
    "单位",
    "单价",
    "金额",
    "税率",
    "供应商",
)
LINES = (
    ("人工费", "钢筋班组 工日", "工日", (280, 420), Decimal("0.03"), "江苏宏达劳务分包有限公司"),
    ("人工费", "木工班组 工日", "工日", (300, 450), Decimal("0.03"), "安徽建工劳务有限公司"),
    ("材料费", "HRB400E 螺纹钢 Φ20", "吨", (3600, 4300), Decimal("0.13"), "马鞍山钢铁股份有限公司"),
    ("材料费", "商品混凝土 C30", "立方米", (380, 520), Decimal("0.03"), "合肥城建商砼有限公司"),
    ("材料费", "蒸压加气混凝土砌块", "立方米", (210, 290), Decimal("0.13"), "巢湖新型建材有限公司"),
    ("机械使用费", "塔吊租赁 QTZ80", "台班", (900, 1400), Decimal("0.13"), "安徽中联机械租赁有限公司"),
    ("机械使用费", "挖掘机台班", "台班", (1200, 1800), Decimal("0.09"), "合肥恒通工程机械有限公司"),
)
PROJECTS = [f"XM2026{n:03d}" for n in range(1, 51)]
NAMES = {code: f"合肥市第{n}标段安置房工程" for n, code in enumerate(PROJECTS, start=1)}


def generate(path: Path, rows: int, seed: int = 42) -> None:
    import xlsxwriter

    rng = random.Random(seed)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("成本台账")
    title = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
    head = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    money = workbook.add_format({"num_format": "#,##0.00"})
    sheet.merge_range(0, 0, 0, len(HEADERS) - 1, "合肥建工集团 成本台账（2026年10月）", title)
    sheet.write_string(1, 0, "导出时间：2026-11-01 08:00:00")
    sheet.write_string(1, 10, "单位：元")
    for col, name in enumerate(HEADERS):
        sheet.write_string(2, col, name, head)
    start = dt.datetime(2026, 10, 1)
    total = Decimal(0)
    for n in range(rows):
        row = 3 + n
        category, text, unit, (low, high), rate, supplier = LINES[rng.randrange(len(LINES))]
        project = PROJECTS[rng.randrange(len(PROJECTS))]
        quantity = Decimal(rng.randrange(1, 4000)) / 10
        price = Decimal(rng.randrange(low * 100, high * 100)) / 100
        amount = (quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        total += amount
        sheet.write_number(row, 0, n + 1)
        sheet.write_string(row, 1, f"CB{n + 1:08d}")
        sheet.write_string(row, 2, project)
        sheet.write_string(row, 3, NAMES[project])
        sheet.write_string(row, 4, category)
        sheet.write_datetime(row, 5, start + dt.timedelta(days=n % 31), day)
        sheet.write_string(row, 6, text)
        sheet.write_number(row, 7, float(quantity))
        sheet.write_string(row, 8, unit)
        sheet.write_number(row, 9, float(price))
        sheet.write_number(row, 10, float(amount), money)
        sheet.write_string(row, 11, f"{int(rate * 100)}%")
        sheet.write_string(row, 12, supplier)
    sheet.write_string(3 + rows, 0, "合计")
    sheet.write_number(3 + rows, 10, float(total), money)
    sheet.write_string(4 + rows, 0, "制表人：张会计    审核：李经理")
    workbook.close()


def _peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def phase_read(path: Path) -> dict[str, float]:
    import python_calamine

    began = time.perf_counter()
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    sheet = workbook.get_sheet_by_index(0)
    count = 0
    for _row in sheet.iter_rows():
        count += 1
    seconds = time.perf_counter() - began
    return {"rows": count, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def phase_stream(path: Path) -> dict[str, float]:
    from yecai.files.xlsx_stream import StreamedWorkbook

    began = time.perf_counter()
    workbook = StreamedWorkbook(str(path))
    count = sum(1 for _ in workbook.rows(next(iter(workbook.sheets))))
    seconds = time.perf_counter() - began
    return {"rows": count, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def phase_import(path: Path, url: str, chunk: int, trace: bool) -> dict[str, float]:
    from yecai.files import import_file
    from yecai.store.db import open_store

    store = open_store(url)
    if trace:
        tracemalloc.start()
    began, cpu = time.perf_counter(), time.process_time()
    result = import_file(store, path, kind="cost", chunk_rows=chunk)
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    reader = resource.getrusage(resource.RUSAGE_CHILDREN)
    traced = tracemalloc.get_traced_memory()[1] / (1024 * 1024) if trace else 0.0
    store.close()
    counts = result.counts
    return {
        "rows": counts.rows,
        "imported": counts.imported,
        "rejected": counts.rejected,
        "duplicate": counts.duplicate,
        "skipped": counts.skipped,
        "seconds": seconds,
        "cpu_s": cpu,  # the importer's process
        "reader_cpu_s": reader.ru_utime + reader.ru_stime,  # its row reader (a child)
        # the importer's process and its row reader run at once: count both peaks
        "peak_rss_mb": _peak_rss_mb() + _peak_rss_mb(resource.RUSAGE_CHILDREN),
        "python_peak_mb": traced,
    }


def _child(args: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def _database(kind: str, given: str | None, folder: Path) -> Iterator[str]:
    """The store URL of the run: SQLite in `folder`, or a PostgreSQL database made for it."""
    if kind == "sqlite":
        yield given or f"sqlite:///{folder / 'bench.sqlite'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(
        given or os.environ.get("YECAI_BENCH_PG_URL") or os.environ.get("YECAI_TEST_PG_URL") or PG_DEFAULT
    )
    name = f"yecai_bench_import_{os.getpid()}"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--file", type=Path, help="an existing ledger to import instead of generating one")
    parser.add_argument(
        "--database-url", help="SQLite store URL, or the PostgreSQL server to create the database on"
    )
    parser.add_argument("--chunk", type=int, default=5000, help="rows per committed chunk")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap (slower)")
    parser.add_argument("--phase", choices=("read", "stream", "import"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "read":
        print(json.dumps(phase_read(args.file)))
        return
    if args.phase == "stream":
        print(json.dumps(phase_stream(args.file)))
        return
    if args.phase == "import":
        print(json.dumps(phase_import(args.file, args.database_url, args.chunk, args.tracemalloc)))
        return
    with tempfile.TemporaryDirectory(prefix="yecai-bench-") as folder:
        path = args.file
        if path is None:
            path = Path(folder) / f"成本台账-{args.rows}.xlsx"
            began = time.perf_counter()
            generate(path, args.rows)
            print(
                f"generated {path.name}: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB "
                f"in {time.perf_counter() - began:.1f} s",
                flush=True,
            )
        read = _child(["--phase", "read", "--file", str(path)])
        print(
            f"baseline (python-calamine alone, every row): {read['seconds']:.1f} s, "
            f"{read['rows'] / read['seconds']:,.0f} rows/s, peak RSS {read['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        streamed = _child(["--phase", "stream", "--file", str(path)])
        print(
            f"yecai's streaming xlsx reader alone (used for sheets over 64 MB of XML): "
            f"{streamed['seconds']:.1f} s, {streamed['rows'] / streamed['seconds']:,.0f} rows/s, "
            f"peak RSS {streamed['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        extra = ["--tracemalloc"] if args.tracemalloc else []
        with _database(args.db, args.database_url, Path(folder)) as url:
            shown = url.split(":", 1)[0].split("+", 1)[0]
            done = _child(
                [
                    "--phase",
                    "import",
                    "--file",
                    str(path),
                    "--database-url",
                    url,
                    "--chunk",
                    str(args.chunk),
                    *extra,
                ]
            )
        rate = done["rows"] / done["seconds"]
        print(
            f"import ({shown}, chunks of {args.chunk:,}): {done['rows']:,} data rows "
            f"(imported {done['imported']:,}, rejected {done['rejected']:,}, duplicate {done['duplicate']:,}, "
            f"footers skipped {done['skipped']:,}) in {done['seconds']:.1f} s = {rate:,.0f} rows/s",
        )
        print(
            f"CPU: importer {done['cpu_s']:.1f} s ({done['cpu_s'] / done['rows'] * 1e6:.0f} µs/row), "
            f"row reader {done['reader_cpu_s']:.1f} s ({done['reader_cpu_s'] / done['rows'] * 1e6:.0f} µs/row), "
            f"running at once on {os.cpu_count()} CPUs: on idle cores the import would take about "
            f"{max(done['cpu_s'], done['reader_cpu_s']):.1f} s"
        )
        print(
            f"peak RSS {done['peak_rss_mb']:.0f} MB, importer and its row reader together "
            f"(raw read alone: {read['peak_rss_mb']:.0f} MB)"
            + (
                f"; Python heap peak (tracemalloc) {done['python_peak_mb']:.0f} MB"
                if args.tracemalloc
                else ""
            )
        )
        print(
            f"ratio importer / raw read: {done['seconds'] / read['seconds']:.1f}× the time, "
            f"{done['peak_rss_mb'] / read['peak_rss_mb']:.2f}× the peak memory"
        )
        print(
            f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}"
        )
        print(f"rows_per_s={rate:.0f} peak_rss_mb={done['peak_rss_mb']:.0f}")


if __name__ == "__main__":
    main()
