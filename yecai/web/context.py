"""What the web routes reach: the store, settings, the job runtime and queue, the secret box.

Held on `app.state.ctx`. The runtime and queue exist when the app runs inside `yecai serve`;
a bare app (tests of the webhook endpoint) has neither, and routes that need them answer 503
with a clear message instead of failing obscurely.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from yecai.errors import ConfigurationError
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Runtime
from yecai.secrets import SecretBox, open_box
from yecai.settings import Settings
from yecai.store.db import Store
from yecai.workspace import Workspace, load_workspace


@dataclass(slots=True)
class WebContext:
    store: Store
    settings: Settings
    runtime: Runtime | None = None
    queue: JobQueue | None = None
    _secrets: SecretBox | None = None

    @property
    def secrets(self) -> SecretBox:
        if self.runtime is not None:
            return self.runtime.secrets
        if self._secrets is None:
            self._secrets = open_box(self.store, self.settings.workdir)
        return self._secrets

    def workspace(self) -> Workspace:
        """Read afresh on every request: an edited yecai.yaml applies without a restart."""
        return load_workspace(self.settings.workspace)

    def job_queue(self) -> JobQueue:
        if self.queue is None:
            raise ConfigurationError(
                "此服务未运行作业队列（请用 yecai serve 启动）",
                "this server runs no job queue (start it with `yecai serve`)",
            )
        return self.queue


def context(request: Request) -> WebContext:
    return request.app.state.ctx
