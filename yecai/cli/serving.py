"""`yecai serve` and `yecai worker` as services: the web app, the queue consumer and the scheduler.

Embedded (`serve`): one process runs the web app (webhook endpoints of every source connection
that defines webhooks, /healthz) in the foreground and the Huey consumer threads — which also run
the scheduler — beside it; Ctrl-C stops the web server, then the consumer finishes its running
jobs (up to a timeout) and the process exits. Distributed (`worker`): a Huey consumer on Redis.
Both tell the workspace's alert channels what their jobs report.

On PostgreSQL the web app runs in two processes (uvicorn's supervisor, sharing one socket), each
with its own webhook writer; on SQLite in one, the store's single writer. Webhook deliveries are
not access-logged (thousands a second, each already in `webhook_events`); other requests are.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from yecai import alerts as alert_channels
from yecai.errors import YecaiError
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Runtime, open_runtime
from yecai.observability.logs import configure_logging
from yecai.secrets import SecretBox
from yecai.settings import Settings
from yecai.sources.connector import Connector
from yecai.workspace import SourceConnection, Workspace, adopt_zone

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("yecai.jobs")

SHUTDOWN_SECONDS = 30.0  # running jobs get this long to finish on Ctrl-C; the rest are taken over later
POSTGRES_WEB_PROCESSES = 2
# what a web process started by the supervisor opens: the serving process's store and workspace
WEB_PROCESS_ENV = "YECAI_SERVE_WEB_PROCESS"
WEBHOOK_PATH = "/webhooks/"


class NoWebhookAccessLog(logging.Filter):
    """Drops uvicorn's access line of a webhook delivery; every other request keeps its line."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access: (client, method, path with query, HTTP version, status)
        args = record.args
        return not (isinstance(args, tuple) and len(args) > 2 and str(args[2]).startswith(WEBHOOK_PATH))


def quiet_webhook_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(each, NoWebhookAccessLog) for each in access.filters):
        access.addFilter(NoWebhookAccessLog())


def web_processes(runtime: Runtime, requested: int | None = None) -> int:
    """How many web processes serve: two on PostgreSQL, one on SQLite (its single writer)."""
    if runtime.store.engine.dialect.name != "postgresql":
        if requested not in (None, 1):
            log.warning("SQLite 存储只用一个 Web 进程 / a SQLite store is served by one web process")
        return 1
    return POSTGRES_WEB_PROCESSES if requested is None else requested


def webhook_connectors(workspace: Workspace, secrets: SecretBox | None) -> dict[str, Connector]:
    """Connectors of the source connections that accept pushes (their secrets resolved): the
    webhook kind, and a rest kind whose connector declares webhooks."""
    found: dict[str, Connector] = {}
    for name, connection in workspace.connections.items():
        if not isinstance(connection, SourceConnection):
            continue
        try:
            connector = workspace.source(name, secrets)
        except YecaiError as exc:
            log.warning("连接 %s 的 webhook 未启用：%s / webhooks of %s not served", name, exc, name)
            continue
        if connector.webhooks is not None:
            found[name] = connector
    return found


def install_alerts(runtime: Runtime) -> None:
    """Tell the workspace's alert channels (钉钉, 飞书, 企业微信, email) what this process's jobs
    report; the channels are read from the workspace file at each event."""
    alert_channels.install(runtime.alerts, runtime.store, runtime.settings.workspace, runtime.secrets)


def serve(runtime: Runtime, *, host: str, port: int, workers: int, web: int | None = None) -> None:
    """Run the web app, the consumer threads and the scheduler until interrupted."""
    # the web app needs the server extra; imported here so that `yecai worker` does not
    from yecai.web.app import create_app

    install_alerts(runtime)
    queue = JobQueue(runtime)
    connectors = webhook_connectors(runtime.workspace(), runtime.secrets)
    processes = web_processes(runtime, web)
    consumer = queue.consumer(workers=workers, embedded=True) if workers > 0 else None
    if consumer is not None:
        consumer.shutdown_timeout = SHUTDOWN_SECONDS
        consumer.start()
    log.info(
        "yecai serve：http://%s:%s，webhook 连接 %s，队列 %s，%s 个执行线程，%s 个 Web 进程"
        " / webhooks %s, queue %s, %s workers, %s web processes",
        host,
        port,
        ", ".join(connectors) or "-",
        "redis" if runtime.distributed else "sqlite",
        workers,
        processes,
        ", ".join(connectors) or "-",
        "redis" if runtime.distributed else "sqlite",
        workers,
        processes,
    )
    quiet_webhook_access_log()
    try:
        if processes > 1:
            _serve_processes(runtime, host=host, port=port, processes=processes)
        else:
            app = create_app(runtime.store, connectors, runtime=runtime, queue=queue)
            # log_config=None: uvicorn's records go through the process's handler (text or JSON, redacted)
            server = uvicorn.Server(
                uvicorn.Config(app, host=host, port=port, log_level="info", log_config=None)
            )
            server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled once it has shut down
    finally:
        if consumer is not None:
            log.info("正在停止执行线程 / stopping the consumer")
            consumer.stop(graceful=True)


def _serve_processes(runtime: Runtime, *, host: str, port: int, processes: int) -> None:
    """Web processes under uvicorn's supervisor (restarted if one dies); this one runs the jobs."""
    settings = runtime.settings
    opening: dict[str, Any] = {
        "workspace": str(settings.workspace),
        "workdir": str(settings.workdir),
        "database_url": settings.database_url,
        "queue_url": settings.queue_url,
    }
    os.environ[WEB_PROCESS_ENV] = json.dumps(opening)  # the spawned processes inherit it
    config = uvicorn.Config(
        f"{__name__}:web_process_app",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_level="info",
        log_config=None,
    )
    sock = config.bind_socket()
    try:
        if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn before 0.50
            supervisor = Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock])  # type: ignore[call-arg]
        else:
            supervisor = Multiprocess(config, sockets=[sock])
        supervisor.run()
    finally:
        sock.close()


def web_process_app() -> FastAPI:
    """The app of one web process the supervisor started (uvicorn calls this factory)."""
    from yecai.web.app import create_app

    opening = json.loads(os.environ[WEB_PROCESS_ENV])
    settings = Settings(**{k: v for k, v in opening.items() if v is not None})
    configure_logging(logging.INFO, json=settings.log_format == "json")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quiet_webhook_access_log()
    adopt_zone(settings.workspace)
    runtime = open_runtime(settings)  # lives as long as the process
    install_alerts(runtime)
    connectors = webhook_connectors(runtime.workspace(), runtime.secrets)
    return create_app(runtime.store, connectors, runtime=runtime, queue=JobQueue(runtime))


def work(runtime: Runtime, *, workers: int) -> None:
    """Consume the (Redis) queue until SIGINT (finish running jobs) or SIGTERM (stop now)."""
    install_alerts(runtime)
    queue = JobQueue(runtime)
    queue.consumer(workers=workers).run()
