"""Run an ASGI app on a real TCP port in a background thread.

The demo and the tests start both sandboxes in-process; they must speak real HTTP (so that the
official Kingdee SDK and our httpx client go through the same code as in production) without
spawning processes. Binding the socket ourselves to port 0 avoids the free-port race.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


class ServerThread:
    """A uvicorn server in a daemon thread; use as a context manager or call start()/stop()."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, date_header: bool = True) -> None:
        """`date_header=False`: the app sends its own `Date` (sandbox.kingdee, from its clock)."""
        self._sock = listening_socket(host, port)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, date_header=date_header
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"asgi:{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket with Nagle's algorithm off.

    Accepted connections inherit TCP_NODELAY on Linux; without it a response written in several
    pieces waits for the client's delayed ACK — about 40 ms per keep-alive request.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def serve_forever(app: Any, host: str, port: int, *, date_header: bool = True) -> None:
    """Serve in the foreground until interrupted (the `yecai sandbox …` commands)."""
    sock = listening_socket(host, port)
    try:
        config = uvicorn.Config(app, log_level="info", lifespan="off", date_header=date_header)
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled; stopping on it is the normal end
    finally:
        sock.close()
