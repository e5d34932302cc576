"""Imports in a worker process: a parser that aborts, runs out of memory or hangs costs one import.

`yecai serve` runs the web app, the queue consumers and the scheduler in one process, and a file
can make a parser take a process down: python-calamine aborts the whole process when an allocation
fails (a 5 KB workbook with one cell at XFD1048576 asks for 512 GB), and a native reader may
segfault or spin. So the API and `yecai import` never parse in their own process: `import_in_worker`
runs `importer.import_file` in a child and waits for it. `import_file` stays the library function.

- Children come from a multiprocessing "forkserver": a clean process started once (no fork of a
  threaded server), with this module and the importer already imported, so that a child costs
  milliseconds rather than the seconds the imports take. The parent's main script is not re-run in
  the child (`_Popen`): for `yecai` that would import the whole CLI and web app into every worker.
- Before reading a byte the child confines itself: address space (`RLIMIT_AS`,
  YECAI_IMPORT_MEMORY_MB), CPU seconds (as many as the wall-clock limit: a backstop should nobody be
  watching any more), no core files, SIGINT ignored (Ctrl-C is the parent's to handle), and death
  with the forkserver, which dies with the parent. Its stderr goes to a file the parent quotes.
- It opens its own store from the caller's URL (password included), takes the caller's environment
  (YECAI_* settings a test or an operator changed after the forkserver started), runs `import_file`
  and sends back over a pipe the `ImportResult` whole, or the error as data that the parent turns
  back into the same exception type and message (FileProblem, LockHeld, MappingError, any
  YecaiError). Progress crosses the pipe too: after each committed chunk the child waits for the
  parent's word, so a slow consumer slows the import instead of piling up messages.
- The parent waits with a wall-clock limit on the whole import, from the start of the worker to its
  answer, waiting for the lock included (YECAI_IMPORT_TIMEOUT_S), and runs at most
  YECAI_IMPORT_WORKERS children at once; further imports wait for a free slot (not counted).
- A child that ends without an answer (a signal, a non-zero exit, MemoryError, killed at the limit)
  becomes a `FileProblem` naming the file and what happened. The parent releases the child's import
  lock at once and, in the same transaction, marks its run interrupted: the file's `file_imports`
  row keeps its checkpoint, so importing the file again resumes after the last committed chunk.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import faulthandler
import importlib
import io
import logging
import math
import multiprocessing
import os
import resource
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import forkserver, popen_forkserver, spawn, util
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from multiprocessing.context import ForkServerProcess, reduction, set_spawning_popen
from pathlib import Path
from typing import Any

from yecai.errors import Action, ConfigurationError, Context, Fault, YecaiError
from yecai.files.importer import CHUNK_ROWS, DEFAULT_CONNECTION, ImportResult, Progress, import_file
from yecai.files.locks import STALE_AFTER, Owner, default_holder, release_owned, this_process
from yecai.files.mappings import ColumnMapping, MappingError
from yecai.files.problems import FileProblem
from yecai.files.report import problem_report
from yecai.files.resume import failed_run, interrupt_running, latest_run_id, runs_after
from yecai.localtime import ZONE_ENV, people_zone
from yecai.settings import Settings
from yecai.store.db import Store, open_store

log = logging.getLogger(__name__)

MB = 1024 * 1024
STDERR_TAIL = 8192  # bytes of the child's stderr read back when it dies
SETTLE_SECONDS = 10.0  # how long a child that has answered may take to exit before it is killed
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# imported once by the forkserver, so no child maps them under its memory limit: this module (and
# with it the importer, readers and store) and both database drivers (missing ones are skipped)
PRELOAD = [__name__, "sqlite3", "psycopg"]
# what allocators and loaders say when memory runs out: Rust (calamine), Python, C++, glibc, ld.so
MEMORY_MARKERS = (
    "memory allocation of",
    "MemoryError",
    "bad_alloc",
    "Cannot allocate memory",
    "out of memory",
    "failed to map segment",
)


@dataclass(frozen=True, slots=True)
class WorkerLimits:
    """How much one import worker may use, and how many run at once in this process."""

    memory_mb: int = 2048
    timeout_s: float = 3600.0
    workers: int = 2

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WorkerLimits:
        """YECAI_IMPORT_MEMORY_MB, YECAI_IMPORT_TIMEOUT_S, YECAI_IMPORT_WORKERS."""
        settings = settings or Settings()
        return cls(settings.import_memory_mb, settings.import_timeout_s, settings.import_workers)

    @property
    def cpu_seconds(self) -> int:
        # CPU time never exceeds wall time for this single-threaded child: the wall clock stops it
        # first, and this limit stops it should the parent no longer be watching
        return max(1, math.ceil(self.timeout_s))


# -- at most N workers at once ----------------------------------------------------------------


class _Slots:
    """A counting gate whose size is read at each import (settings may differ between callers)."""

    def __init__(self) -> None:
        self._busy = 0
        self._waiting = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def taken(self, limit: int) -> Iterator[None]:
        with self._changed:
            self._waiting += 1
            try:
                while self._busy >= max(1, limit):
                    self._changed.wait()
            finally:
                self._waiting -= 1
            self._busy += 1
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return self._waiting


_SLOTS = _Slots()


def busy_workers() -> int:
    """Import workers running in this process right now."""
    return _SLOTS.busy


def waiting_imports() -> int:
    """Imports in this process waiting for a free worker slot."""
    return _SLOTS.waiting


# -- the forkserver ---------------------------------------------------------------------------


# Our own forkserver rather than multiprocessing's shared one: its preload list is ours whoever
# else in the process uses a forkserver first. Started at the first import, it lives as long as
# this process (it ends when its parent does).
_SERVER = forkserver.ForkServer()
_SERVER.set_forkserver_preload(PRELOAD)


class _Popen(popen_forkserver.Popen):
    """The forkserver's Popen, on our forkserver, minus the parent's main module.

    multiprocessing re-runs the parent's main script in every child (as `__mp_main__`) so that
    functions defined there can be unpickled. Our target lives in this module, and for the `yecai`
    console script that re-run imports the whole CLI, web app and job runner: seconds per import.
    Otherwise the same steps as the standard library's `_launch`.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = _SERVER.connect_to_new_process(self._fds)
        # as in the standard library: a duplicate of the data pipe's write end is the child's
        # sentinel of its parent
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Worker(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


# -- what crosses the pipe --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Job:
    """Everything the child needs, pickled to it: the store's URL, the file, import_file's options."""

    url: str
    path: str
    options: dict[str, Any]
    memory_mb: int
    cpu_seconds: int
    environ: dict[str, str]
    stderr: str


def _error_data(exc: BaseException) -> dict[str, Any]:
    """An import error as plain data: yecai's exceptions do not survive pickling as themselves."""
    if isinstance(exc, MappingError):
        return {"type": "mapping", "zh": exc.zh, "en": exc.en}
    assert isinstance(exc, YecaiError)
    cls = type(exc)
    return {
        "type": f"{cls.__module__}:{cls.__qualname__}",
        "zh": exc.zh,
        "en": exc.en,
        "action": exc.action.value,
        "fault": exc.fault.value,
        "context": exc.context,
        "attrs": dict(vars(exc)),  # the subclass's own fields: code, holder, since, file_name …
    }


def _rebuilt(data: dict[str, Any]) -> Exception:
    """The same exception type and message as the child raised."""
    if data["type"] == "mapping":
        return MappingError(data["zh"], data["en"])
    module, _, name = str(data["type"]).partition(":")
    try:
        cls: Any = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        cls = YecaiError
    if not (isinstance(cls, type) and issubclass(cls, YecaiError)):
        cls = YecaiError
    context = data["context"] if isinstance(data["context"], Context) else Context()
    exc = cls.__new__(cls)
    # the dataclass initialiser of the base, not the subclass's: the message is already written
    YecaiError.__init__(exc, data["zh"], data["en"], Action(data["action"]), Fault(data["fault"]), context)
    exc.__dict__.update(data["attrs"])
    return exc


# -- the child --------------------------------------------------------------------------------


def _die_with_parent() -> None:
    # Linux: SIGKILL when the forkserver (our parent) ends; it ends when the importing process does
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the symbols already loaded, libc's among them
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the CPU limit still ends an orphan


def _limit(kind: int, soft: int, hard: int) -> None:
    """Lower a resource limit (never above the hard limit the process was given)."""
    _soft, ceiling = resource.getrlimit(kind)
    if ceiling != resource.RLIM_INFINITY:
        soft, hard = min(soft, ceiling), min(hard, ceiling)
    resource.setrlimit(kind, (soft, hard))


def _confine(job: _Job) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = os.open(job.stderr, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(fd, 2)
    os.close(fd)
    faulthandler.enable()  # a segfault or abort leaves the Python stack in that file
    os.environ.clear()
    os.environ.update(job.environ)
    # a symbolised backtrace of calamine's allocator helps nobody importing a file, and takes seconds
    os.environ["RUST_BACKTRACE"] = "0"
    time.tzset()
    _die_with_parent()
    _limit(resource.RLIMIT_CORE, 0, 0)  # an aborted parser must not leave gigabytes of core behind
    # SIGXCPU at the soft limit (told apart from other deaths), SIGKILL a little later if ignored
    _limit(resource.RLIMIT_CPU, job.cpu_seconds, job.cpu_seconds + 5)
    _limit(resource.RLIMIT_AS, job.memory_mb * MB, job.memory_mb * MB)


def _progress(pipe: Connection, rows: int) -> None:
    pipe.send(("progress", rows))
    try:
        pipe.recv()  # the parent's word to go on
    except (EOFError, OSError):
        raise SystemExit("the importing process has gone") from None


def _work(pipe: Connection, job: _Job) -> None:
    """The child: confine, open the store, import, answer."""
    _confine(job)
    pipe.send(("started", this_process()))
    try:
        store = open_store(job.url, upgrade=False)
        try:
            answer: tuple[Any, ...] = (
                "done",
                import_file(store, job.path, progress=lambda n: _progress(pipe, n), **job.options),
            )
        finally:
            store.close()
    except MemoryError:
        answer = ("memory",)
    except (YecaiError, MappingError) as exc:
        answer = ("error", _error_data(exc))
    except BaseException as exc:  # reported as data; the parent turns it into a FileProblem
        answer = ("crash", f"{type(exc).__name__}: {exc}"[:2000], traceback.format_exc()[-8000:])
    pipe.send(answer)


# -- the parent -------------------------------------------------------------------------------


def _store_url(store: Store) -> str:
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigurationError(
            "内存中的 SQLite 存储无法被导入进程打开；请使用数据库文件或 PostgreSQL",
            "an in-memory SQLite store cannot be opened by the import worker; use a database file or PostgreSQL",
        )
    return url.render_as_string(hide_password=False)


def import_in_worker(
    store: Store,
    path: Path | str,
    *,
    kind: str,
    connection: str = DEFAULT_CONNECTION,
    project: str | None = None,
    constants: dict[str, str] | None = None,
    mapping: ColumnMapping | str | None = None,
    sheet: str | None = None,
    report: Path | None = None,
    holder: str | None = None,
    wait: float = 0.0,
    stale_after: dt.timedelta = STALE_AFTER,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    limits: WorkerLimits | None = None,
) -> ImportResult:
    """`import_file` in a worker process, with the same arguments, result and exceptions.

    Raises FileProblem also when the worker dies (codes worker_memory, worker_timeout, worker_cpu,
    worker_died) or fails unexpectedly (worker_error). Waits for a free worker slot first.
    """
    limits = limits or WorkerLimits.from_settings()
    path = Path(path)
    options: dict[str, Any] = {
        "kind": kind,
        "connection": connection,
        "project": project,
        "constants": constants,
        "mapping": mapping,
        "sheet": sheet,
        "report": report,
        "holder": holder or default_holder(),  # the name people know: the caller's, not the worker's
        "wait": wait,
        "stale_after": stale_after,
        "chunk_rows": chunk_rows,
    }
    url = _store_url(store)
    with _SLOTS.taken(limits.workers), tempfile.TemporaryDirectory(prefix="yecai-import-worker-") as folder:
        job = _Job(
            url=url,
            path=str(path),
            options=options,
            memory_mb=limits.memory_mb,
            cpu_seconds=limits.cpu_seconds,
            # the caller's zone for the times the import's notes and report show (yecai.localtime)
            environ={**os.environ, ZONE_ENV: people_zone().key},
            stderr=str(Path(folder) / "stderr.txt"),
        )
        watch = _Watch(store, path, kind, connection, limits, progress, Path(job.stderr), report)
        return watch.run(job, deadline=time.monotonic() + limits.timeout_s)


@dataclass(slots=True)
class _Watch:
    """The parent's side of one worker: start it, relay progress, collect its answer or bury it."""

    store: Store
    path: Path
    kind: str
    connection: str
    limits: WorkerLimits
    progress: Progress | None
    stderr: Path
    report: Path | None = None  # the report asked for: written with the reason when the worker fails
    owner: Owner | None = None  # the child, once it has said hello
    timed_out: bool = False

    def run(self, job: _Job, *, deadline: float) -> ImportResult:
        before = latest_run_id(self.store)
        ours, theirs = multiprocessing.Pipe()
        worker = _Worker(target=_work, args=(theirs, job), daemon=True, name=f"yecai-import-{self.kind}")
        try:
            worker.start()
        except (OSError, AssertionError) as exc:  # AssertionError: we run in a daemonic process
            raise self._problem(
                "worker_start", f"无法启动导入进程（{exc}）", f"could not start the import worker ({exc})"
            ) from None
        finally:
            theirs.close()
        try:
            answer = self._answer(ours, worker, deadline)
        except BaseException as exc:  # Ctrl-C in the CLI, a progress callback that failed
            self._stop(worker)
            self._bury(before, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            ours.close()
        exitcode = self._settle(worker)
        if answer[0] == "done":
            result: ImportResult = answer[1]
            return result
        if answer[0] == "error":
            raise _rebuilt(answer[1])
        problem = self._verdict(answer, exitcode)
        tail = self._tail()
        log.warning(
            "import worker for %s: %s\n%s\n…%s", self.path.name, problem.en, self._detail(tail), tail[-2000:]
        )
        self._bury(before, problem.en)
        if self.report is not None:
            problem_report(
                self.report,
                file_name=self.path.name,
                kind=self.kind,
                connection=self.connection,
                problem=problem,
            )
        raise problem

    def _answer(self, pipe: Connection, worker: _Worker, deadline: float) -> tuple[Any, ...]:
        """The child's last word, or ("dead",) if it ended without one."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                self._stop(worker)
                return ("dead",)
            ready = wait_for([pipe, worker.sentinel], remaining)
            if pipe in ready:
                try:
                    message = pipe.recv()
                except (EOFError, OSError):
                    worker.join(SETTLE_SECONDS)  # it closed its end by exiting
                    return ("dead",)
                except Exception as exc:  # an answer that cannot be unpickled here
                    return ("crash", f"{type(exc).__name__}: {exc}"[:2000], traceback.format_exc())
                if message[0] == "started":
                    self.owner = message[1]
                elif message[0] == "progress":
                    if self.progress is not None:
                        self.progress(int(message[1]))
                    with contextlib.suppress(OSError):  # it died meanwhile: its sentinel says so next
                        pipe.send(("go",))
                else:
                    return tuple(message)
            elif worker.sentinel in ready:
                if pipe.poll():
                    continue  # its last words arrived with its exit: read them first
                worker.join(SETTLE_SECONDS)
                return ("dead",)

    def _stop(self, worker: _Worker) -> None:
        if worker.is_alive():
            worker.kill()
        worker.join(SETTLE_SECONDS)

    def _settle(self, worker: _Worker) -> int | None:
        """Wait for the child to exit (killing it if it lingers); its exit code."""
        worker.join(SETTLE_SECONDS)
        if worker.is_alive():  # answered but will not exit (stuck in a native destructor)
            self._stop(worker)
        exitcode = worker.exitcode
        with contextlib.suppress(ValueError):  # not reaped yet (a stuck forkserver): the finalizer will
            worker.close()
        return exitcode

    def _tail(self) -> str:
        try:
            with self.stderr.open("rb") as handle:
                handle.seek(max(0, self.stderr.stat().st_size - STDERR_TAIL))
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _detail(self, tail: str) -> str:
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        for line in lines:
            if any(marker in line for marker in MEMORY_MARKERS) or line.startswith("Fatal Python error"):
                return line[:200]
        return lines[-1][:200] if lines else ""

    def _verdict(self, answer: tuple[Any, ...], exitcode: int | None) -> FileProblem:
        name, limits = self.path.name, self.limits
        tail = self._tail()
        if self.timed_out:
            return self._problem(
                "worker_timeout",
                f"导入文件 {name} 超过 {limits.timeout_s:g} 秒仍未完成，已停止",
                f"importing {name} took longer than {limits.timeout_s:g} s (YECAI_IMPORT_TIMEOUT_S) "
                "and was stopped",
            )
        said = str(answer[1]) if answer[0] == "crash" else ""
        if answer[0] == "memory" or any(marker in tail + said for marker in MEMORY_MARKERS):
            return self._problem(
                "worker_memory",
                f"读取文件 {name} 时超出内存上限 {limits.memory_mb} MB，已停止"
                "（文件可能已损坏，或声明了过大的表格范围）",
                f"reading {name} exceeded the {limits.memory_mb} MB memory limit (YECAI_IMPORT_MEMORY_MB) "
                "and was stopped (the file may be damaged or declare a huge sheet range)",
            )
        if answer[0] == "crash":
            log.error("import worker for %s failed:\n%s", name, answer[2])
            return self._problem(
                "worker_error",
                f"导入文件 {name} 时出错：{answer[1]}",
                f"importing {name} failed: {answer[1]}",
            )
        if exitcode == -signal.SIGXCPU:
            return self._problem(
                "worker_cpu",
                f"读取文件 {name} 时用尽 CPU 时间上限 {limits.cpu_seconds} 秒，已停止",
                f"reading {name} used up the CPU time limit of {limits.cpu_seconds} s and was stopped",
            )
        detail = self._detail(tail)
        if exitcode is not None and exitcode < 0:
            try:
                how = signal.Signals(-exitcode).name
            except ValueError:
                how = f"signal {-exitcode}"
            zh, en = f"被信号 {how} 终止", f"was killed by {how}"
        else:
            zh, en = f"异常退出（退出码 {exitcode}）", f"exited with code {exitcode} without an answer"
        return self._problem(
            "worker_died",
            f"读取文件 {name} 的导入进程{zh}，已停止" + (f"（{detail}）" if detail else ""),
            f"the worker reading {name} {en}" + (f" ({detail})" if detail else ""),
        )

    def _problem(self, code: str, zh: str, en: str) -> FileProblem:
        return FileProblem(
            code,
            f"{zh}；已提交的部分保留，重新导入该文件会从中断处继续；若一再发生，请检查文件或请管理员调整上限",
            f"{en}; what was committed is kept and importing the file again resumes where it stopped; "
            "if this keeps happening, check the file or ask an administrator about the limit",
            path=str(self.path),
        )

    def _bury(self, before: int, message: str) -> None:
        """Release the dead child's lock and mark its run interrupted, in one transaction."""
        note = f"{self.path.name}: {message}"
        try:
            interrupted = 0
            if self.owner is not None:
                with self.store.transaction() as session:
                    if release_owned(session, connection=self.connection, kind=self.kind, owner=self.owner):
                        interrupted = interrupt_running(
                            session, connection=self.connection, kind=self.kind, message=note
                        )
            started = runs_after(self.store, connection=self.connection, kind=self.kind, after=before)
        except Exception:  # the store may be what failed; the caller's error matters more
            log.exception("could not clean up after the import worker for %s", self.path.name)
            return
        if not interrupted and not started:
            # it died before it had a run: the console still lists the attempt with its reason
            failed_run(self.store, connection=self.connection, kind=self.kind, message=note)
