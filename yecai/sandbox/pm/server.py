"""Starting sandbox.pm: in-process for the demo and the tests, in the foreground for the CLI.

`start_sandbox` generates the data, serves it on a real port in a background thread and hands
back both the running server and the very Dataset it serves, so callers can compute expected
totals without HTTP. The server's `runtime` is its live state: the simulated clock and the
webhook dispatcher, started and stopped with it. `serve` is what `yecai sandbox pm` runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from yecai.sandbox.pm.app import DEFAULT_TOKEN, build_app
from yecai.sandbox.pm.auth import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, AuthConfig, AuthMode
from yecai.sandbox.pm.data import generate
from yecai.sandbox.pm.models import Dataset
from yecai.sandbox.pm.runtime import PmRuntime, ServerOptions
from yecai.sandbox.pm.webhooks import WebhookSettings
from yecai.sandbox.serving import ServerThread, serve_forever


class SandboxServer(ServerThread):
    """A ServerThread that may be entered after it was started, and runs the sandbox's clock and webhooks."""

    _started = False

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(app, host, port)  # the listening socket has TCP_NODELAY (serving.py)
        self.app = app
        self.runtime: PmRuntime = app.state.runtime

    def start(self, timeout: float = 10.0) -> SandboxServer:
        if not self._started:
            self.runtime.start()
            super().start(timeout)
            self._started = True
        return self

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self.runtime.stop()


def server_options(
    token: str = DEFAULT_TOKEN,
    *,
    auth: str | AuthMode = AuthMode.BEARER,
    app_key: str = DEFAULT_APP_KEY,
    app_secret: str = DEFAULT_APP_SECRET,
    now: datetime | None = None,
    clock_speed: float = 0.0,
    clock_tick_seconds: float = 1.0,
    webhooks: Iterable[tuple[str, str]] = (),
    webhook_settings: WebhookSettings | None = None,
) -> ServerOptions:
    """ServerOptions from plain arguments (what start_sandbox and the CLI take)."""
    return ServerOptions(
        auth=AuthConfig(mode=AuthMode(auth), token=token, app_key=app_key, app_secret=app_secret),
        now=now,
        clock_speed=clock_speed,
        clock_tick_seconds=clock_tick_seconds,
        webhooks=tuple(webhooks),
        webhook=webhook_settings or WebhookSettings(),
    )


def start_sandbox(
    projects: int = 50,
    months: int = 1,
    seed: int = 42,
    start_month: str = "2026-10",
    token: str = DEFAULT_TOKEN,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    bad_rate: float = 0.0,
    auth: str | AuthMode = AuthMode.BEARER,
    app_key: str = DEFAULT_APP_KEY,
    app_secret: str = DEFAULT_APP_SECRET,
    now: datetime | None = None,
    clock_speed: float = 0.0,
    clock_tick_seconds: float = 1.0,
    webhooks: Iterable[tuple[str, str]] = (),
    webhook_settings: WebhookSettings | None = None,
) -> tuple[SandboxServer, Dataset]:
    """Serve a freshly generated Dataset on `host:port` (0 = any free port) and return both.

    The server is already running: call `server.stop()` when done, or use `with server: …`,
    which stops it on exit. `server.base_url` is where it answers, `server.runtime` its clock
    and webhooks. The clock starts at `now` (default: the end of the timeline, everything
    visible); `auth` is bearer, hmac or either.
    """
    dataset = generate(
        projects=projects, months=months, seed=seed, start_month=start_month, bad_rate=bad_rate
    )
    options = server_options(
        token,
        auth=auth,
        app_key=app_key,
        app_secret=app_secret,
        now=now,
        clock_speed=clock_speed,
        clock_tick_seconds=clock_tick_seconds,
        webhooks=webhooks,
        webhook_settings=webhook_settings,
    )
    server = SandboxServer(build_app(dataset, token, options=options), host=host, port=port)
    return server.start(), dataset


def serve(
    dataset: Dataset, host: str, port: int, token: str = DEFAULT_TOKEN, options: ServerOptions | None = None
) -> None:
    """Serve `dataset` in the foreground until interrupted, with its clock and webhooks running."""
    app = build_app(dataset, token, options=options)
    runtime: PmRuntime = app.state.runtime
    runtime.start()
    try:
        serve_forever(app, host, port)
    finally:
        runtime.stop()
