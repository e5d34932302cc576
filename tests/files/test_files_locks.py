"""The import lock: one importer per (connection, kind) across threads and processes; stale locks."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support.spreadsheets import GOOD, sheet_rows, write_xlsx
from yecai.files import LockHeld, LockLost, acquire, holder_of, import_file, release
from yecai.store.db import Store
from yecai.store.file_tables import FileImportLock
from yecai.store.tables import Record

ROOT = Path(__file__).resolve().parents[2]


def ledger(folder: Path, name: str, prefix: str, rows: int = 6) -> Path:
    header = ["单据编号", "项目编码", "成本类别", "日期", "金额"]
    data = [[f"{prefix}-{n:03d}", "XM2026001", "人工费", "2026-10-05", 100 + n] for n in range(rows)]
    return write_xlsx(folder / name, sheet_rows(header, data))


def test_a_second_importer_is_refused_with_the_holder_named(store: Store, tmp_path: Path) -> None:
    lock = acquire(
        store, connection="file", kind="cost", file_name="十月成本.xlsx", holder="王会计@site-pc pid 4242"
    )
    path = ledger(tmp_path, "mine.xlsx", "A")
    with pytest.raises(LockHeld) as caught:
        import_file(store, path, kind="cost")
    assert "王会计@site-pc pid 4242" in caught.value.zh
    assert "十月成本.xlsx" in caught.value.zh
    assert "王会计@site-pc pid 4242" in caught.value.en
    assert "since" in caught.value.en
    # another kind is not blocked
    other = write_xlsx(tmp_path / "w.xlsx", sheet_rows(*GOOD["worker"][:2]))
    assert import_file(store, other, kind="worker").counts.imported == 2
    release(store, lock)
    assert holder_of(store, connection="file", kind="cost") is None
    assert import_file(store, path, kind="cost").counts.imported == 6


def test_two_concurrent_imports_in_threads(store: Store, tmp_path: Path) -> None:
    first, second = ledger(tmp_path, "a.xlsx", "A"), ledger(tmp_path, "b.xlsx", "B")
    started, go_on = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def slow(_n: int) -> None:
        started.set()
        go_on.wait(20)

    def run(name: str, path: Path, **options: object) -> None:
        try:
            results[name] = import_file(store, path, kind="cost", **options)
        except Exception as exc:  # collected and checked below
            results[name] = exc

    a = threading.Thread(
        target=run, args=("a", first), kwargs={"holder": "甲 A", "chunk_rows": 2, "progress": slow}
    )
    a.start()
    assert started.wait(20)
    run("refused", second, holder="乙 B")  # no waiting: refused at once, naming who holds it
    assert isinstance(results["refused"], LockHeld)
    assert results["refused"].holder == "甲 A"
    assert "甲 A" in str(results["refused"])
    b = threading.Thread(target=run, args=("b", second), kwargs={"holder": "乙 B", "wait": 30})
    b.start()
    go_on.set()
    a.join(30)
    b.join(30)
    assert results["a"].counts.imported == 6
    assert results["b"].counts.imported == 6
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 12
        assert session.scalar(select(func.count()).select_from(FileImportLock)) == 0


@pytest.mark.slow
def test_a_second_process_is_refused_on_sqlite(tmp_path: Path) -> None:
    from yecai.store.db import open_store

    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    store = open_store(url)
    first, second = ledger(tmp_path, "a.xlsx", "A"), ledger(tmp_path, "b.xlsx", "B")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from yecai.files import import_file
        from yecai.store.db import open_store

        def pause(n):
            print("importing", flush=True)
            sys.stdin.readline()  # hold the lock until the test says go on

        store = open_store({url!r})
        result = import_file(store, Path({str(first)!r}), kind="cost", holder="其他进程 other process",
                             chunk_rows=3, progress=pause)
        print("done", result.counts.imported, flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline().strip() == "importing"
        with pytest.raises(LockHeld) as caught:
            import_file(store, second, kind="cost")
        assert caught.value.holder == "其他进程 other process"
        child.stdin.write("\n\n")
        child.stdin.flush()
        child.stdin.close()
        assert child.stdout.read().split() == ["importing", "done", "6"]
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
    assert import_file(store, second, kind="cost").counts.imported == 6
    store.close()


def test_a_stale_lock_is_taken_over_and_named(store: Store, tmp_path: Path) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    with store.transaction() as session:
        session.add(
            FileImportLock(
                connection="file",
                kind="cost",
                token="dead",
                holder="崩溃的导入 crashed@pc",
                file_name="old.xlsx",
                started_at=old,
                heartbeat_at=old,
            )
        )
    result = import_file(store, ledger(tmp_path, "a.xlsx", "A"), kind="cost")
    assert result.counts.imported == 6
    assert any("崩溃的导入 crashed@pc" in n.zh and "stale" in n.en for n in result.notes)
    assert holder_of(store, connection="file", kind="cost") is None


def test_a_fresh_lock_is_not_taken_over(store: Store) -> None:
    acquire(store, connection="file", kind="cost", file_name="a.xlsx", holder="A")
    with pytest.raises(LockHeld):
        acquire(store, connection="file", kind="cost", file_name="b.xlsx", holder="B")
    taken = acquire(
        store, connection="file", kind="cost", file_name="b.xlsx", holder="B", stale_after=dt.timedelta(0)
    )
    assert taken.took_over is not None
    assert taken.took_over.holder == "A"


def test_an_importer_that_lost_its_lock_commits_nothing_more(store: Store, tmp_path: Path) -> None:
    path = ledger(tmp_path, "a.xlsx", "A", rows=9)
    seen = 0

    def steal(_n: int) -> None:
        nonlocal seen
        seen += 1
        if seen == 1:  # someone decided we were dead and took the lock after our first chunk
            acquire(
                store, connection="file", kind="cost", file_name="x", holder="B", stale_after=dt.timedelta(0)
            )

    with pytest.raises(LockLost):
        import_file(store, path, kind="cost", chunk_rows=3, progress=steal)
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 3
    assert holder_of(store, connection="file", kind="cost").holder == "B"  # our release left B's lock alone
    with store.transaction() as session:
        session.execute(FileImportLock.__table__.delete())
    result = import_file(store, path, kind="cost", chunk_rows=3)
    assert (result.resumed_from, result.counts.imported) == (3, 9)
