"""Imports in a worker process: the same answers as `import_file`, and a dead worker costs one import.

`import_in_worker` is what the API and `yecai import` call. It must give back what `import_file`
gives (the whole ImportResult, or the same exception with the same message), run the parser in
another process, and turn a worker that dies — killed, out of memory, past its time — into a
FileProblem naming the file, with the worker's lock released and its run left resumable.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.memory_bombs import far_cell_workbook
from tests.support.spreadsheets import GOOD, csv_text, put, sheet_rows, write_xlsx
from yecai.files import (
    FileProblem,
    LockHeld,
    MappingError,
    acquire,
    first_issues,
    holder_of,
    isolated,
    release,
)
from yecai.files import importer as importer_module
from yecai.files.isolated import WorkerLimits, busy_workers, import_in_worker, waiting_imports
from yecai.store.db import Store
from yecai.store.file_tables import FileImport
from yecai.store.tables import Run

LIMITS = WorkerLimits()


def ledger(folder: Path, name: str = "成本.xlsx", *, bad: bool = True) -> Path:
    header, rows, _ = GOOD["cost"]
    extra = [[4, "CB-0004", "XM2026001", "飞机费", "2026-10-07", "?", None, None, None, 100, None, "x"]]
    return write_xlsx(folder / name, sheet_rows(header, [*rows, *(extra if bad else [])]))


def long_ledger(folder: Path, rows: int) -> Path:
    header = ["单据编号", "项目编码", "成本类别", "业务日期", "金额"]
    data = [[f"CB-{n:05d}", "XM2026001", "人工费", "2026-10-05", 100 + n] for n in range(rows)]
    return put(folder / "长台账.csv", csv_text([header, *data]))


def runs(store: Store) -> list[Run]:
    with store.transaction() as session:
        return list(session.scalars(select(Run).where(Run.kind == "file_import").order_by(Run.id)))


def test_the_result_comes_back_whole_from_another_process(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_here(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("import_file ran in the caller's process")

    # the worker is a fresh process from the forkserver: what is patched here does not reach it
    monkeypatch.setattr(importer_module, "import_file", not_here)
    monkeypatch.setattr(isolated, "import_file", not_here)
    seen: list[int] = []
    owners: set[int] = set()

    def progress(rows: int) -> None:
        seen.append(rows)
        held = holder_of(store, connection="file", kind="cost")
        assert held is not None
        assert held.owner is not None
        owners.add(held.owner.pid)

    report = tmp_path / "报告.xlsx"
    result = import_in_worker(
        store, ledger(tmp_path), kind="cost", report=report, holder="王会计", progress=progress, limits=LIMITS
    )
    assert result.status == "imported"
    assert (result.counts.imported, result.counts.rejected, result.counts.skipped) == (3, 1, 2)
    assert sum(seen) == 4  # the live row count crossed the pipe
    assert owners
    assert os.getpid() not in owners  # the lock was held by the worker process
    assert result.file_name == "成本.xlsx"
    assert result.sheets[0]["header_rows"]
    assert [issue.row for issue in result.issues] == [first_issues(store, result.import_id or 0)[0].row]
    assert "飞机费" in {issue.value for issue in result.issues}
    assert result.report == report
    assert report.exists()
    assert holder_of(store, connection="file", kind="cost") is None
    with store.transaction() as session:
        record = session.scalars(select(FileImport)).one()
        assert record.imported_by == "王会计"
    assert [run.status for run in runs(store)] == ["succeeded"]
    renamed = tmp_path / "改名.xlsx"
    renamed.write_bytes((tmp_path / "成本.xlsx").read_bytes())
    again = import_in_worker(store, renamed, kind="cost", limits=LIMITS)
    assert again.status == "already_imported"
    assert again.previous is not None
    assert again.previous.file_name == "成本.xlsx"


def test_errors_come_back_as_the_same_exceptions(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    with pytest.raises(FileProblem) as missing:
        import_in_worker(store, tmp_path / "没有.xlsx", kind="cost", limits=LIMITS)
    with pytest.raises(FileProblem) as here:
        importer_module.import_file(store, tmp_path / "没有.xlsx", kind="cost")
    assert missing.value.code == here.value.code == "missing"
    assert (missing.value.zh, missing.value.en, str(missing.value)) == (
        here.value.zh,
        here.value.en,
        str(here.value),
    )
    assert missing.value.fault == here.value.fault

    with pytest.raises(MappingError) as template:
        import_in_worker(store, ledger(tmp_path), kind="cost", mapping="没有的模板", limits=LIMITS)
    assert "没有的模板" in template.value.zh
    assert "no column template" in template.value.en

    lock = acquire(store, connection="file", kind="cost", file_name="十月.xlsx", holder="李出纳@pc")
    with pytest.raises(LockHeld) as held:
        import_in_worker(store, ledger(tmp_path), kind="cost", limits=LIMITS)
    assert held.value.holder == "李出纳@pc"
    assert held.value.file_name == "十月.xlsx"
    assert isinstance(held.value.since, dt.datetime)
    assert "李出纳@pc" in held.value.zh
    assert "十月.xlsx" in held.value.en
    release(store, lock)


def test_a_worker_killed_mid_import_leaves_a_resumable_import(store: Store, tmp_path: Path) -> None:
    path = long_ledger(tmp_path, 30)
    killed: list[int] = []

    def kill_after_the_first_chunk(_rows: int) -> None:
        # the worker waits for our word after each chunk: it is holding the lock, mid-import, now
        if not killed:
            held = holder_of(store, connection="file", kind="cost")
            assert held is not None
            assert held.owner is not None
            killed.append(held.owner.pid)
            os.kill(held.owner.pid, signal.SIGKILL)

    with pytest.raises(FileProblem) as caught:
        import_in_worker(
            store, path, kind="cost", chunk_rows=5, progress=kill_after_the_first_chunk, limits=LIMITS
        )
    assert caught.value.code == "worker_died"
    assert "长台账.csv" in caught.value.zh
    assert "长台账.csv" in caught.value.en
    assert "SIGKILL" in caught.value.en
    assert "重新导入" in caught.value.zh
    assert "resumes" in caught.value.en
    # released by the parent at once: the next import needs no waiting and gets no LockHeld
    assert holder_of(store, connection="file", kind="cost") is None
    (run,) = runs(store)
    assert run.status == "interrupted"
    assert "SIGKILL" in (run.message or "")
    with store.transaction() as session:
        record = session.scalars(select(FileImport)).one()
        assert (record.status, record.rows_done) == ("importing", 5)
    result = import_in_worker(store, path, kind="cost", chunk_rows=5, limits=LIMITS)
    assert result.resumed_from == 5
    assert result.counts.imported == 30
    assert [r.status for r in runs(store)] == ["succeeded"]  # the same run, resumed and finished


def test_a_caller_that_gives_up_stops_the_worker_and_leaves_the_import_resumable(
    sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    path = long_ledger(tmp_path, 12)

    def give_up(_rows: int) -> None:  # as Ctrl-C in `yecai import` does, between two chunks
        raise RuntimeError("用户取消 cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        import_in_worker(store, path, kind="cost", chunk_rows=4, progress=give_up, limits=LIMITS)
    assert holder_of(store, connection="file", kind="cost") is None
    (run,) = runs(store)
    assert run.status == "interrupted"
    assert "cancelled" in (run.message or "")
    result = import_in_worker(store, path, kind="cost", chunk_rows=4, limits=LIMITS)
    assert (result.resumed_from, result.counts.imported) == (4, 12)


def test_a_worker_out_of_memory_is_stopped_with_the_limit_named(sqlite_store: Store, tmp_path: Path) -> None:
    # below what a worker needs to start at all (about 100 MB): it cannot read anything
    with pytest.raises(FileProblem) as caught:
        import_in_worker(sqlite_store, ledger(tmp_path), kind="cost", limits=WorkerLimits(memory_mb=64))
    assert caught.value.code == "worker_memory"
    assert "成本.xlsx" in caught.value.zh
    assert "64 MB" in caught.value.zh
    assert "64 MB memory limit" in caught.value.en
    assert holder_of(sqlite_store, connection="file", kind="cost") is None
    # the attempt is listed with its reason, and the next one (with room) goes through
    assert [(r.status, "64 MB" in (r.message or "")) for r in runs(sqlite_store)] == [("failed", True)]
    assert import_in_worker(sqlite_store, ledger(tmp_path), kind="cost", limits=LIMITS).counts.imported == 3


def test_a_workbook_that_aborted_the_parser_imports_its_real_cells(
    sqlite_store: Store, tmp_path: Path
) -> None:
    # once a SIGABRT of the whole process (calamine asked for 512 GB); the preflight now sends the
    # sheet to the streaming reader, and the worker stays the second line of defence
    result = import_in_worker(
        sqlite_store, far_cell_workbook(tmp_path / "xfd.xlsx"), kind="cost", limits=LIMITS
    )
    assert result.counts.imported == 1
    assert holder_of(sqlite_store, connection="file", kind="cost") is None
    assert import_in_worker(sqlite_store, ledger(tmp_path), kind="cost", limits=LIMITS).counts.imported == 3


def test_a_worker_past_its_time_is_stopped(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    # someone alive holds the lock: the worker waits for it (up to a minute) past its own limit
    lock = acquire(store, connection="file", kind="cost", file_name="别人的.xlsx", holder="别人")
    with pytest.raises(FileProblem) as caught:
        import_in_worker(store, ledger(tmp_path), kind="cost", wait=60, limits=WorkerLimits(timeout_s=0.5))
    assert caught.value.code == "worker_timeout"
    assert "成本.xlsx" in caught.value.zh
    assert "0.5 秒" in caught.value.zh
    assert "longer than 0.5 s" in caught.value.en
    # the lock it waited for is not its to release
    held = holder_of(store, connection="file", kind="cost")
    assert held is not None
    assert held.holder == "别人"
    release(store, lock)


def test_the_caller_s_environment_reaches_the_worker(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # settings changed after the forkserver started must count: the worker takes the caller's
    monkeypatch.setenv("YECAI_BUSINESS_DATE_MAX", "2026-10-05")
    header = ["单据编号", "项目编码", "成本类别", "业务日期", "金额"]
    path = put(tmp_path / "late.csv", csv_text([header, ["CB-LATE", "XM2026001", "人工费", "2026-10-06", 1]]))
    result = import_in_worker(sqlite_store, path, kind="cost", limits=LIMITS)
    assert result.counts.rejected == 1
    assert any(issue.field == "business_date" and "2026-10-05" in issue.en for issue in result.issues)


def test_at_most_n_workers_run_at_once(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    one = WorkerLimits(workers=1)
    first_in, go_on = threading.Event(), threading.Event()
    observed: dict[str, int] = {}
    results: dict[str, object] = {}

    def hold(_rows: int) -> None:
        first_in.set()
        go_on.wait(30)

    def run(name: str, path: Path, kind: str, **options: object) -> None:
        try:
            results[name] = import_in_worker(store, path, kind=kind, limits=one, **options)
        except Exception as exc:  # collected and checked below
            results[name] = exc

    a = threading.Thread(target=run, args=("a", ledger(tmp_path), "cost"), kwargs={"progress": hold})
    a.start()
    assert first_in.wait(30)
    worker_file = write_xlsx(tmp_path / "w.xlsx", sheet_rows(*GOOD["worker"][:2]))
    b = threading.Thread(target=run, args=("b", worker_file, "worker"))  # another kind: no lock between
    b.start()
    for _ in range(600):  # until b is queued behind a's slot
        if waiting_imports() == 1:
            break
        threading.Event().wait(0.05)
    observed["waiting"], observed["busy"] = waiting_imports(), busy_workers()
    go_on.set()
    a.join(30)
    b.join(30)
    assert observed == {"waiting": 1, "busy": 1}
    assert getattr(results["a"], "status", results["a"]) == "imported"
    assert getattr(results["b"], "status", results["b"]) == "imported"
    assert busy_workers() == 0
