"""A sheet's rows read in a child process and handed to the importer in batches.

Reading a large sheet (unzipping, parsing the XML, turning cells into values) costs about as
much CPU as preparing and storing its rows. `fed_rows` moves the reading into a forked child so
that both run at once on two cores: the child walks the very row iterator the importer would
have walked (a fork continues it where the importer left it, after the rows it scanned for the
header) and sends the rows in pickled batches through a pipe; the importer takes them in order.
What the rows are does not change: the same reader, with every guarantee it gives (formulas
without results named, merged titles, dates, damaged rows handed out as bad rows), runs in the
child.

The child is as bounded as the import that started it: it inherits the worker's limits (address
space, CPU seconds, no core files; `yecai.files.isolated`), dies when it cannot write to a parent
that is gone (the pipe breaks), and never runs the parent's cleanup (it leaves by `os._exit`, so
the parent's database connections, whose sockets it shares, are never touched). A child that
ends without finishing (killed, a crash in a native reader) becomes a FileProblem naming the
file; an exception the reader raises is raised again in the parent.

With `prepare` (the importer's per-row work: reading the cells, hashing, validating) the two
processes also share that work, so that neither waits for the other: the child prepares a batch
itself or sends it raw for the importer to prepare. Batches leave the child from a sending thread,
a few ready ahead, so that the child goes on while the importer commits a chunk. The child steers
the share by two signs: the importer had to wait for a batch (it has time to spare: the child
does less), or the batches ready for it pile up (it is the slower one: the child does more).
Whoever prepares a row, `prepare` is the same function, so the items that come out are the same,
in the same order.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from itertools import islice
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from yecai.files.problems import FileProblem
from yecai.files.raw import RawRow

BATCH_ROWS = 2000  # rows per message: large enough that pickling, not the pipe, is the cost
# A file smaller than this is read in the importer's own process: a fork is not worth it.
FEED_ABOVE_BYTES = 4 << 20
# the share of batches the child prepares itself: where it starts, and how far one batch moves it
START_SHARE, SHARE_STEP = 0.5, 0.05
AHEAD = 4  # batches the child may have ready before the importer takes them
_WAITED = 0  # byte of the shared page: 1 when the importer found no batch ready and had to wait

T = TypeVar("T")


def fed_rows(rows: Iterator[RawRow], file_name: str, *, batch: int = BATCH_ROWS) -> Iterator[RawRow]:
    """`rows`, read by a forked child; falls back to reading them here where fork is unavailable."""
    return _feed(rows, file_name, batch, None)  # type: ignore[arg-type]


def fed_items(
    rows: Iterator[RawRow],
    file_name: str,
    prepare: Callable[[RawRow], T | None],
    *,
    batch: int = BATCH_ROWS,
    share: float | None = None,
) -> Iterator[T]:
    """`prepare(row)` of each of `rows` that is not None, in order; rows read by a forked child.

    The child prepares part of the batches itself (`share`: a fixed share from 0 to 1, None to let
    the two processes balance it as they go) and sends the rest raw, prepared here.
    """
    return _feed(rows, file_name, batch, prepare, share)


def _feed(
    rows: Iterator[RawRow],
    file_name: str,
    batch: int,
    prepare: Callable[[RawRow], Any] | None,
    share: float | None = None,
) -> Iterator[Any]:
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: read in this process
        if prepare is None:
            yield from rows
        else:
            yield from (item for item in map(prepare, rows) if item is not None)
        return
    shared = mmap.mmap(-1, mmap.PAGESIZE)  # anonymous and shared: the child sees what the parent writes
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _child(rows, Connection(write_fd, readable=False), batch, prepare, share, shared)
    os.close(write_fd)
    pipe = Connection(read_fd, writable=False)
    finished = False
    try:
        while True:
            if prepare is not None and not pipe.poll():
                shared[_WAITED] = 1  # starved: the child is the slower one
            try:
                kind, payload = pipe.recv()
            except EOFError:
                break
            if kind == "rows":
                yield from payload
            elif kind == "raw":  # sent for this process to prepare
                for raw in payload:
                    if (item := prepare(raw)) is not None:  # type: ignore[misc]
                        yield item
            elif kind == "error":
                raise payload
            else:  # "done"
                finished = True
                break
    finally:
        pipe.close()  # a child still writing gets a broken pipe and ends
        status = _reap(pid, finished)
        shared.close()
    if not finished:
        raise FileProblem(
            "reader",
            f"读取文件 {file_name} 的子进程意外结束（{_describe(status)}），文件未能读完",
            f"the process reading {file_name} ended before the end of the file ({_describe(status, zh=False)})",
        )


def _child(
    rows: Iterator[RawRow],
    pipe: Connection,
    batch: int,
    prepare: Callable[[RawRow], Any] | None,
    share: float | None,
    shared: mmap.mmap,
) -> None:
    code = 0
    # batches go out from a thread of their own, up to AHEAD of them waiting: while the importer
    # commits a chunk (and reads nothing), this process goes on reading and preparing
    outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
    sender = threading.Thread(target=_send_all, args=(outbox, pipe), daemon=True)

    def send(message: tuple[str, Any]) -> None:
        outbox.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        # Ctrl-C is the importer's to handle; a parent that is gone breaks the pipe
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        # what the fork copied (the importer's ORM, pydantic, modules) is never garbage here: the
        # collector leaves it alone, and so does not copy its pages by touching them
        gc.freeze()
        sender.start()
        steer = share is None
        share = START_SHARE if share is None else min(1.0, max(0.0, share))
        credit = 0.0
        while part := list(islice(rows, batch)):
            if prepare is None:
                send(("rows", part))
                continue
            if steer:
                # the importer waited for a batch: it has time to spare, so send more raw; the
                # batches ready for it are piling up: it is the slower one, so prepare more here
                if shared[_WAITED] == 1:
                    shared[_WAITED] = 0
                    share = max(0.0, share - SHARE_STEP)
                elif outbox.full():
                    share = min(1.0, share + SHARE_STEP)
            credit += share
            if credit >= 1.0:
                credit -= 1.0
                send(("rows", [item for item in map(prepare, part) if item is not None]))
            else:
                send(("raw", part))
        send(("done", None))
    except BrokenPipeError:
        code = 1
    except BaseException as exc:  # the reader's own exception: raised again in the parent
        code = 1
        try:
            pickle.loads(pickle.dumps(exc))  # it must come back whole, not fail in the parent
            send(("error", exc))
        except Exception:
            with contextlib.suppress(Exception):
                send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        with contextlib.suppress(BaseException):
            if sender.is_alive():
                outbox.put(None)
                sender.join()
        os._exit(code)  # no cleanup of the parent's objects: its connections are not ours


def _send_all(outbox: queue.Queue[bytes | None], pipe: Connection) -> None:
    """The child's sending thread: each pickled batch written whole, in order, until None."""
    while (data := outbox.get()) is not None:
        pipe.send_bytes(data)  # a parent that is gone: SIGPIPE ends the child


def _reap(pid: int, finished: bool) -> int:
    """The child's wait status; a child not finished (the importer stopped early) is ended first."""
    if not finished:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    return status


def _describe(status: int, *, zh: bool = True) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return f"信号 {name}" if zh else f"signal {name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return f"退出码 {code}" if zh else f"exit code {code}"
