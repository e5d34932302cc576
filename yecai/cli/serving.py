"""`yecai serve` and `yecai worker` as services: the web app, the queue consumer and the scheduler.

Embedded (`serve`): one process runs the web app (webhook endpoints of every source connection
that defines webhooks, /healthz) in the foreground and the Huey consumer threads — which also run
the scheduler — beside it; Ctrl-C stops the web server, then the consumer finishes its running
jobs (up to a timeout) and the process exits. Distributed (`worker`): a Huey consumer on Redis.
Both tell the workspace's alert channels what their jobs report.
"""

from __future__ import annotations

import logging

import uvicorn

from yecai import alerts as alert_channels
from yecai.errors import YecaiError
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Runtime
from yecai.secrets import SecretBox
from yecai.sources.connector import Connector
from yecai.web.app import create_app
from yecai.workspace import SourceConnection, Workspace

log = logging.getLogger("yecai.jobs")

SHUTDOWN_SECONDS = 30.0  # running jobs get this long to finish on Ctrl-C; the rest are taken over later


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


def serve(runtime: Runtime, *, host: str, port: int, workers: int) -> None:
    """Run the web app, the consumer threads and the scheduler until interrupted."""
    install_alerts(runtime)
    queue = JobQueue(runtime)
    connectors = webhook_connectors(runtime.workspace(), runtime.secrets)
    app = create_app(runtime.store, connectors, runtime=runtime, queue=queue)
    consumer = queue.consumer(workers=workers, embedded=True) if workers > 0 else None
    if consumer is not None:
        consumer.shutdown_timeout = SHUTDOWN_SECONDS
        consumer.start()
    log.info(
        "yecai serve：http://%s:%s，webhook 连接 %s，队列 %s，%s 个执行线程 / webhooks %s, queue %s, %s workers",
        host,
        port,
        ", ".join(connectors) or "-",
        "redis" if runtime.distributed else "sqlite",
        workers,
        ", ".join(connectors) or "-",
        "redis" if runtime.distributed else "sqlite",
        workers,
    )
    # log_config=None: uvicorn's records go through the process's handler (text or JSON, redacted)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", log_config=None))
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled once it has shut down
    finally:
        if consumer is not None:
            log.info("正在停止执行线程 / stopping the consumer")
            consumer.stop(graceful=True)


def work(runtime: Runtime, *, workers: int) -> None:
    """Consume the (Redis) queue until SIGINT (finish running jobs) or SIGTERM (stop now)."""
    install_alerts(runtime)
    queue = JobQueue(runtime)
    queue.consumer(workers=workers).run()
