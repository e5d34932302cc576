"""Starting sandbox.pm: in-process for the demo and the tests, in the foreground for the CLI.

`start_sandbox` generates the data, serves it on a real port in a background thread and hands
back both the running server and the very Dataset it serves, so callers can compute expected
totals without HTTP. `serve` is what `yecai sandbox pm` runs until interrupted.
"""

from __future__ import annotations

from yecai.sandbox.pm.app import DEFAULT_TOKEN, build_app
from yecai.sandbox.pm.data import generate
from yecai.sandbox.pm.models import Dataset
from yecai.sandbox.serving import ServerThread, serve_forever


class SandboxServer(ServerThread):
    """A ServerThread that may be entered after it was started (`with server:` then stops it)."""

    _started = False

    def start(self, timeout: float = 10.0) -> SandboxServer:
        if not self._started:
            super().start(timeout)
            self._started = True
        return self


def start_sandbox(
    projects: int = 50,
    months: int = 1,
    seed: int = 42,
    start_month: str = "2026-10",
    token: str = DEFAULT_TOKEN,
    host: str = "127.0.0.1",
    port: int = 0,
) -> tuple[ServerThread, Dataset]:
    """Serve a freshly generated Dataset on `host:port` (0 = any free port) and return both.

    The server is already running: call `server.stop()` when done, or use `with server: …`,
    which stops it on exit. `server.base_url` is where it answers.
    """
    dataset = generate(projects=projects, months=months, seed=seed, start_month=start_month)
    server = SandboxServer(build_app(dataset, token), host=host, port=port)
    return server.start(), dataset


def serve(dataset: Dataset, host: str, port: int, token: str = DEFAULT_TOKEN) -> None:
    """Serve `dataset` in the foreground until interrupted."""
    serve_forever(build_app(dataset, token), host, port)
