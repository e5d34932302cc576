"""Import locks die with their owner: a lock whose process on this machine is gone is taken at once.

The lock row names the process that holds it (host, pid, start time). A holder killed outright
(SIGKILL, an aborted parser) never releases its lock and stops heartbeating; before, every import
of the kind was refused for `STALE_AFTER` (10 minutes). Now a lock whose owner is on this host and
whose process is gone — or whose pid now belongs to another process — is taken over immediately,
with the takeover note naming the dead holder. A lock held from another host keeps the heartbeat rule.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import socket
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from sqlalchemy import update

from yecai.files import LockHeld, acquire, holder_of, release
from yecai.files.locks import owner_alive, takeover_note, this_process
from yecai.store.db import Store, open_store
from yecai.store.file_tables import FileImportLock

# Children from a forkserver (never a fork of this process, whose other threads may hold locks);
# with this module preloaded, a child holds the lock within milliseconds of starting.
FORK = multiprocessing.get_context("forkserver")
FORK.set_forkserver_preload([__name__])


def _hold(url: str, holder: str, pipe: Connection) -> None:
    """Take the lock in a process of its own, say so, then wait for the word to release it."""
    store = open_store(url, upgrade=False)
    lock = acquire(store, connection="file", kind="cost", file_name="十月成本.xlsx", holder=holder)
    pipe.send("locked")
    if pipe.poll(60):
        release(store, lock)
    store.close()
    pipe.send("released")


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def _holding(store: Store, holder: str) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    ours, theirs = FORK.Pipe()
    child = FORK.Process(target=_hold, args=(_url(store), holder, theirs), daemon=True)
    child.start()
    theirs.close()
    assert ours.poll(30), "the child never took the lock"
    assert ours.recv() == "locked"
    return child, ours


def test_a_killed_holder_s_lock_is_taken_over_at_once(store: Store) -> None:
    child, _pipe = _holding(store, "被杀的导入 killed@site-pc")
    held = holder_of(store, connection="file", kind="cost")
    assert held is not None
    assert held.owner is not None
    assert held.owner.pid == child.pid  # the row names the process, not just a label
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    # fresh heartbeat, default stale_after of 10 minutes, no waiting: taken all the same
    lock = acquire(store, connection="file", kind="cost", file_name="mine.xlsx", holder="me")
    assert lock.took_over is not None
    assert lock.took_over.holder == "被杀的导入 killed@site-pc"
    note = takeover_note(lock)
    assert note is not None
    assert "被杀的导入 killed@site-pc" in note.zh
    assert "十月成本.xlsx" in note.zh
    assert "被杀的导入 killed@site-pc" in note.en
    assert str(child.pid) in note.en
    assert "has ended" in note.en
    release(store, lock)
    assert holder_of(store, connection="file", kind="cost") is None


def test_a_live_holder_in_another_process_keeps_its_lock(store: Store) -> None:
    child, pipe = _holding(store, "还在导入 alive@site-pc")
    try:
        with pytest.raises(LockHeld) as caught:
            acquire(store, connection="file", kind="cost", file_name="mine.xlsx", holder="me")
        assert caught.value.holder == "还在导入 alive@site-pc"
        held = holder_of(store, connection="file", kind="cost")
        assert held is not None
        assert held.owner is not None
        assert owner_alive(held.owner) is True
    finally:
        pipe.send("go")
        assert pipe.poll(30)
        assert pipe.recv() == "released"
        child.join(10)
    assert holder_of(store, connection="file", kind="cost") is None


def _fake_lock(store: Store, *, host: str, pid: int, start: str | None, age: dt.timedelta) -> None:
    stamp = dt.datetime.now(dt.UTC) - age
    with store.transaction() as session:
        session.add(
            FileImportLock(
                connection="file",
                kind="cost",
                token="t0",
                holder="别人 someone",
                file_name="old.xlsx",
                started_at=stamp,
                heartbeat_at=stamp,
                owner_host=host,
                owner_pid=pid,
                owner_start=start,
            )
        )


def test_a_reused_pid_counts_as_dead(store: Store) -> None:
    me = this_process()
    assert me.start is not None  # Linux: the start time is known
    ticks, _, machine = me.start.partition("@")
    # our own pid is certainly alive, but the row says it started at another time: a reused pid
    _fake_lock(store, host=me.host, pid=me.pid, start=f"{int(ticks) + 1}@{machine}", age=dt.timedelta(0))
    lock = acquire(store, connection="file", kind="cost", file_name="mine.xlsx", holder="me")
    assert lock.took_over is not None
    assert lock.took_over.holder == "别人 someone"


def test_the_same_pid_and_start_time_is_alive(store: Store) -> None:
    me = this_process()
    _fake_lock(store, host=me.host, pid=me.pid, start=me.start, age=dt.timedelta(0))
    with pytest.raises(LockHeld):
        acquire(store, connection="file", kind="cost", file_name="mine.xlsx", holder="me")


def test_a_gone_pid_of_this_host_is_dead(store: Store, tmp_path: Path) -> None:
    me = this_process()
    gone = FORK.Process(target=os.getpid)
    gone.start()
    gone.join(10)  # reaped: its pid names no process now
    _fake_lock(store, host=me.host, pid=gone.pid or 0, start=me.start, age=dt.timedelta(0))
    assert acquire(store, connection="file", kind="cost", file_name="m.xlsx", holder="me").took_over


@pytest.mark.parametrize(
    "where",
    ["another host", "this host name, another machine or container"],
)
def test_a_lock_from_another_host_keeps_the_heartbeat_rule(store: Store, where: str) -> None:
    me = this_process()
    if where == "another host":
        host, start = "other-host.example", me.start
    else:  # the same name (a cloned VM, two containers) but another kernel or pid namespace
        host, start = me.host, "12345@00000000-0000-0000-0000-000000000000/pid:[1]"
    # pid 1 cannot be told from here: whatever it is on the other machine, only the heartbeat counts
    _fake_lock(store, host=host, pid=1, start=start, age=dt.timedelta(0))
    with pytest.raises(LockHeld):
        acquire(store, connection="file", kind="cost", file_name="mine.xlsx", holder="me")
    with store.transaction() as session:
        old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        session.execute(update(FileImportLock).values(heartbeat_at=old))
    lock = acquire(store, connection="file", kind="cost", file_name="mine.xlsx", holder="me")
    assert lock.took_over is not None
    note = takeover_note(lock)
    assert note is not None
    assert "stale" in note.en


def test_a_lock_row_without_an_owner_keeps_the_heartbeat_rule(store: Store) -> None:
    # rows written before the owner columns existed (or by an older yecai) carry no owner
    _fake_lock(store, host=socket.gethostname(), pid=0, start=None, age=dt.timedelta(0))
    with store.transaction() as session:
        session.execute(update(FileImportLock).values(owner_host=None, owner_pid=None))
    with pytest.raises(LockHeld):
        acquire(store, connection="file", kind="cost", file_name="mine.xlsx", holder="me")


def test_the_lock_records_its_owner(store: Store) -> None:
    lock = acquire(store, connection="file", kind="cost", file_name="a.xlsx", holder="me")
    held = holder_of(store, connection="file", kind="cost")
    assert held is not None
    assert held.owner == this_process()
    assert held.owner.host == socket.gethostname()
    assert held.owner.pid == os.getpid()
    release(store, lock)
