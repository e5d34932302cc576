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
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
from collections.abc import Iterator
from itertools import islice
from multiprocessing.connection import Connection

from yecai.files.problems import FileProblem
from yecai.files.raw import RawRow

BATCH_ROWS = 2000  # rows per message: large enough that pickling, not the pipe, is the cost
# A file smaller than this is read in the importer's own process: a fork is not worth it.
FEED_ABOVE_BYTES = 4 << 20


def fed_rows(rows: Iterator[RawRow], file_name: str, *, batch: int = BATCH_ROWS) -> Iterator[RawRow]:
    """`rows`, read by a forked child; falls back to reading them here where fork is unavailable."""
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: read in this process
        yield from rows
        return
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _child(rows, Connection(write_fd, readable=False), batch)
    os.close(write_fd)
    pipe = Connection(read_fd, writable=False)
    finished = False
    try:
        while True:
            try:
                kind, payload = pipe.recv()
            except EOFError:
                break
            if kind == "rows":
                yield from payload
            elif kind == "error":
                raise payload
            else:  # "done"
                finished = True
                break
    finally:
        pipe.close()  # a child still writing gets a broken pipe and ends
        status = _reap(pid, finished)
    if not finished:
        raise FileProblem(
            "reader",
            f"读取文件 {file_name} 的子进程意外结束（{_describe(status)}），文件未能读完",
            f"the process reading {file_name} ended before the end of the file ({_describe(status, zh=False)})",
        )


def _child(rows: Iterator[RawRow], pipe: Connection, batch: int) -> None:
    code = 0
    try:
        # Ctrl-C is the importer's to handle; a parent that is gone breaks the pipe
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        while part := list(islice(rows, batch)):
            pipe.send(("rows", part))
        pipe.send(("done", None))
    except BrokenPipeError:
        code = 1
    except BaseException as exc:  # the reader's own exception: raised again in the parent
        code = 1
        try:
            pickle.loads(pickle.dumps(exc))  # it must come back whole, not fail in the parent
            pipe.send(("error", exc))
        except Exception:
            with contextlib.suppress(Exception):
                pipe.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        os._exit(code)  # no cleanup of the parent's objects: its connections are not ours


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
