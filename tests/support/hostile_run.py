"""Feed the hostile corpus through every way in and count what went wrong.

Used by `bench/hostile_inputs.py` (every input) and by the suite's slice. Three ways in, each in a
memory-capped process of its own, as in the field:

- `yecai import FILE --kind K --connection cli` — the CLI, a subprocess under RLIMIT_AS;
- `POST /api/v1/imports` — a real uvicorn server (spawned process under RLIMIT_AS) with an
  operator's API token; its imports run in yecai's own memory-capped worker processes;
- `POST /webhooks/pm` — the same server, a signed generic REST connector; every hostile delivery
  is followed by one good signed event that must be stored.

Counted: a crash is a traceback, a death by signal, an unknown exit code or a server that stops
answering; a 5xx is any 500–599; a hang is an answer later than the time bound; a good row is lost
when a file readable around its defect did not deliver it (as a document under its key), or when a
file that should have been refused was reported imported without it. Randomly damaged files promise
only "no crash". Refusals of unreadable files are counted apart and must name the file.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.hostile import Corpus, FileCase, HookCase

HOOK_SECRET = "hostile-bench-secret"
CAP_BYTES = 3 << 30  # each process of the bench: the CLI and the server (its import workers cap lower)
EXIT_OK, EXIT_UNREADABLE, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


HOOK_SPEC: dict[str, Any] = {
    "name": "pm",
    "base_url": "http://pm.test",
    "streams": {
        "cost_records": {
            "path": "/costs",
            "document": "cost_record",
            "primary_key": "record_id",
            "deleted_field": "deleted",
            "fields": {
                "source_key": "record_id",
                "project_code": "project_code",
                "category": "category",
                "business_date": "business_date",
                "amount": "amount",
            },
        }
    },
    "webhooks": {
        "secret": "${HOOK_SECRET}",
        "signature_header": "X-PM-Signature",
        "timestamp_header": "X-PM-Timestamp",
        "events": {
            "cost_record.created": {"stream": "cost_records"},
            "cost_record.updated": {"stream": "cost_records"},
            "cost_record.deleted": {"stream": "cost_records", "deleted": True},
        },
    },
}


def _connector() -> Any:
    from yecai.connectors.generic_rest import GenericRestConnector
    from yecai.connectors.generic_rest.spec import parse_spec

    return GenericRestConnector(parse_spec(HOOK_SPEC, secrets={"HOOK_SECRET": HOOK_SECRET}), connection="pm")


def _serve(workdir: str, port: int) -> None:
    """The server in a process of its own, memory-capped like the CLI; it dies with the bench."""
    _cap()
    with contextlib.suppress(OSError, AttributeError):  # Linux: end with the parent, even on a kill
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    import uvicorn

    from yecai.settings import Settings
    from yecai.store.db import open_store
    from yecai.web.app import create_app

    settings = Settings(workspace=Path(workdir) / "yecai.yaml", workdir=Path(workdir))
    store = open_store(settings.store_url())
    app = create_app(store, settings=settings, connectors={"pm": _connector()})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")


@dataclass
class Outcome:
    case: str
    way: str  # cli | api | webhook
    status: int  # exit code or HTTP status
    crashed: bool = False
    hung: bool = False
    fivexx: bool = False
    succeeded: bool = False  # imported (exit 0 / 200) or, for a webhook, the good event stored
    message: str = ""


@dataclass
class Tally:
    inputs: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    lost: list[tuple[str, str, str]] = field(default_factory=list)  # (case, way, key)
    refused_rows: int = 0
    unnamed: list[tuple[str, str]] = field(default_factory=list)  # refusals not naming the file

    @property
    def crashes(self) -> int:
        return sum(o.crashed for o in self.outcomes)

    @property
    def http5xx(self) -> int:
        return sum(o.fivexx for o in self.outcomes)

    @property
    def hangs(self) -> int:
        return sum(o.hung for o in self.outcomes)

    def line(self) -> str:
        return (
            f"inputs={self.inputs} crashes={self.crashes} http5xx={self.http5xx} hangs={self.hangs} "
            f"lost_good_rows={len(self.lost)}"
        )

    def details(self) -> list[str]:
        ways = Counter((o.way, o.succeeded) for o in self.outcomes)
        out = [
            "answers: "
            + ", ".join(f"{way} {'ok' if ok else 'refused'}={n}" for (way, ok), n in sorted(ways.items()))
            + f"; good rows in files refused whole (unreadable as a whole)={self.refused_rows}"
            + f"; refusals not naming the file={len(self.unnamed)}"
        ]
        for o in self.outcomes:
            if o.crashed or o.hung or o.fivexx:
                kind = "crash" if o.crashed else ("hang" if o.hung else "5xx")
                out.append(f"  {kind}: {o.way} {o.case} status={o.status} {o.message[:300]!r}")
        for case, way, key in self.lost[:50]:
            out.append(f"  lost: {way} {case} key={key}")
        for case, way in self.unnamed[:20]:
            out.append(f"  unnamed refusal: {way} {case}")
        return out


class World:
    """A store, an operator with a token, and the server, in a temporary directory."""

    def __init__(self, root: Path) -> None:
        from yecai.auth import sessions, users
        from yecai.auth.principal import SYSTEM
        from yecai.settings import Settings
        from yecai.store.db import open_store

        self.root = root
        self.workdir = root / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.files = root / "files"
        self.files.mkdir(exist_ok=True)
        settings = Settings(workspace=self.workdir / "yecai.yaml", workdir=self.workdir)
        self.url = settings.store_url()
        self.db_path = self.workdir / "yecai.sqlite"
        store = open_store(self.url)
        users.create_user(
            store, username="operator", role="integrator", password="Hostile-Bench-42", by=SYSTEM
        )
        _view, self.token = sessions.create_token(store, username="operator", name="bench", by=SYSTEM)
        store.close()
        self.server: multiprocessing.process.BaseProcess | None = None
        self.base = ""
        self.restarts = 0
        self.start()

    def start(self) -> None:
        port = free_port()
        self.server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(str(self.workdir), port)
        )  # not a daemon: like `yecai serve`, it starts import workers of its own
        self.server.start()
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(900):
            try:
                httpx.get(f"{self.base}/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start within 90 s")

    def alive(self) -> bool:
        return self.server is not None and self.server.is_alive()

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.join(10)
            if self.server.is_alive():
                self.server.kill()
                self.server.join(10)

    def write(self, case: FileCase, way: str) -> Path:
        folder = self.files / way / re.sub(r"[^\w.-]+", "_", case.name)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / case.filename
        path.write_bytes(case.make())
        return path

    def documents(self, connection: str) -> set[str]:
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=60)) as db:
            return {
                key
                for (key,) in db.execute(
                    "select source_key from documents where connection = ? and deleted = 0", (connection,)
                )
            }

    def records(self, connection: str) -> set[str]:
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=60)) as db:
            return {
                key
                for (key,) in db.execute("select source_key from records where connection = ?", (connection,))
            }


def _crashed_text(text: str) -> bool:
    return "Traceback (most recent call last)" in text


def run_cli(world: World, case: FileCase, *, timeout: float) -> Outcome:
    path = world.write(case, "cli")
    command = [
        str(Path(sys.executable).with_name("yecai")),
        "import",
        str(path),
        "--kind",
        case.kind,
        "--connection",
        "cli",
        "--database-url",
        world.url,
        "--wait",
        "600",
    ]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "YECAI_WORKDIR": str(world.workdir)}
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=timeout, env=env, preexec_fn=_cap, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(case.name, "cli", -1, hung=True, message="timed out")
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    text = (done.stdout + done.stderr).decode("utf-8", errors="replace")
    crashed = done.returncode < 0 or done.returncode not in (0, 1, 2, 3) or _crashed_text(text)
    return Outcome(
        case.name,
        "cli",
        done.returncode,
        crashed=crashed,
        succeeded=done.returncode == 0,
        message=text[-2000:],
    )


def run_api(world: World, client: httpx.Client, case: FileCase, *, timeout: float) -> Outcome:
    content = case.make()
    try:
        answer = client.post(
            "/api/v1/imports",
            data={"kind": case.kind},
            files={"file": (case.filename, content, "application/octet-stream")},
            timeout=timeout,
        )
    except httpx.TimeoutException:
        return Outcome(case.name, "api", -1, hung=True, message="timed out")
    except httpx.TransportError as exc:
        crashed = not world.alive()
        if crashed:
            world.restart()
        return Outcome(
            case.name,
            "api",
            -2,
            crashed=True,
            message=f"{type(exc).__name__}: {exc} (server died: {crashed})",
        )
    crashed = not world.alive()
    if crashed:
        world.restart()
    return Outcome(
        case.name,
        "api",
        answer.status_code,
        crashed=crashed,
        fivexx=answer.status_code >= 500,
        succeeded=answer.status_code == 200,
        message=answer.text[:2000],
    )


def run_hook(world: World, client: httpx.Client, case: HookCase, signer: Any, *, timeout: float) -> Outcome:
    import json

    from tests.support.hostile import _signed, hook_event

    statuses: list[int] = []
    try:
        bad = client.post(
            "/webhooks/pm", content=case.body, headers=case.headers(case.body, signer), timeout=timeout
        )
        statuses.append(bad.status_code)
        good_body = json.dumps(hook_event(f"GOOD-{case.good_key}", case.good_key)).encode()
        good = client.post(
            "/webhooks/pm", content=good_body, headers=_signed(good_body, signer), timeout=timeout
        )
        statuses.append(good.status_code)
    except httpx.TimeoutException:
        return Outcome(case.name, "webhook", -1, hung=True, message="timed out")
    except httpx.TransportError as exc:
        crashed = not world.alive()
        if crashed:
            world.restart()
        return Outcome(case.name, "webhook", -2, crashed=True, message=f"{type(exc).__name__}: {exc}")
    crashed = not world.alive()
    if crashed:
        world.restart()
    return Outcome(
        case.name,
        "webhook",
        statuses[0],
        crashed=crashed,
        fivexx=any(s >= 500 for s in statuses),
        succeeded=statuses[1] == 200,
        message=f"bad={statuses[0]} good={statuses[1]} {bad.text[:300]}",
    )


def _names_file(outcome: Outcome, case: FileCase, sent_as: str) -> bool:
    return case.filename in outcome.message or sent_as in outcome.message


def settle(
    world: World, corpus: Corpus, tally: Tally, ways: Sequence[str], results: dict[tuple[str, str], Outcome]
) -> None:
    """Compare what landed with what each case promised."""
    landed = {"cli": world.documents("cli"), "api": world.documents("file")}
    hooks = world.records("pm")
    for case in corpus.files:
        for way in ways:
            outcome = results.get((case.name, way))
            if outcome is None or outcome.crashed or outcome.hung or outcome.fivexx:
                continue
            missing = sorted(key for key in case.good if key not in landed[way])
            # rows: readable around its defect, every good row must land; refused: a "success" that
            # lacks them is a silent loss; either (random damage, an order Excel leaves undefined):
            # its rows may be damaged themselves, so only crashes, 5xx and hangs count
            if case.expect == "rows" or (case.expect == "refused" and outcome.succeeded):
                tally.lost.extend((case.name, way, key) for key in missing)
            elif not outcome.succeeded:
                tally.refused_rows += len(missing)
            refused = not outcome.succeeded and outcome.status not in (409, EXIT_LOCKED)
            if refused and not _names_file(outcome, case, "upload"):
                tally.unnamed.append((case.name, way))
    for hook in corpus.hooks:
        outcome = results.get((hook.name, "webhook"))
        if outcome is not None and not (outcome.crashed or outcome.hung) and hook.good_key not in hooks:
            tally.lost.append((hook.name, "webhook", hook.good_key))


def run(
    corpus: Corpus,
    *,
    ways: Sequence[str] = ("cli", "api"),
    cli_cases: Sequence[str] | None = None,
    timeout: float = 600,
    progress: bool = False,
    root: Path | None = None,
) -> Tally:
    """Every file case through each of `ways` (the CLI only for `cli_cases` when given), then the hooks."""
    from yecai.sources.webhooks import sign

    tally = Tally(inputs=len(corpus))
    results: dict[tuple[str, str], Outcome] = {}
    with contextlib.ExitStack() as stack:
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="yecai-hostile-")))
        world = World(root)
        stack.callback(world.stop)
        spec = _connector().spec.webhooks

        def signer(stamp: str, body: bytes) -> str:
            return sign(spec, stamp, body)

        def cli_part() -> None:
            for n, case in enumerate(corpus.files):
                if cli_cases is not None and case.name not in cli_cases:
                    continue
                results[(case.name, "cli")] = run_cli(world, case, timeout=timeout)
                if progress and n % 50 == 0:
                    print(f"  cli {n}/{len(corpus.files)}", file=sys.stderr, flush=True)

        def api_part() -> None:
            headers = {"Authorization": f"Bearer {world.token}"}
            with httpx.Client(base_url=world.base, headers=headers) as client:
                for n, case in enumerate(corpus.files):
                    client.base_url = httpx.URL(world.base)  # a restarted server has a new port
                    results[(case.name, "api")] = run_api(world, client, case, timeout=timeout)
                    if progress and n % 50 == 0:
                        print(f"  api {n}/{len(corpus.files)}", file=sys.stderr, flush=True)

        threads = []
        if "cli" in ways:
            threads.append(threading.Thread(target=cli_part))
        if "api" in ways:
            threads.append(threading.Thread(target=api_part))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with httpx.Client(base_url=world.base) as client:
            for hook in corpus.hooks:
                client.base_url = httpx.URL(world.base)
                results[(hook.name, "webhook")] = run_hook(world, client, hook, signer, timeout=timeout)
        tally.outcomes = list(results.values())
        settle(world, corpus, tally, [w for w in ways if w in ("cli", "api")], results)
    return tally


def cases_named(corpus: Corpus, names: Iterator[str] | Sequence[str]) -> list[str]:
    wanted = list(names)
    known = {case.name for case in corpus.files}
    missing = [name for name in wanted if name not in known]
    if missing:
        raise KeyError(missing)
    return wanted
