"""The alert hook: a small registry of callables `(event, payload) -> None` that jobs report to.

Jobs emit events (a job moved to dead letters, a connection paused or resumed, a lease taken over,
a run needing attention, Kingdee unreachable or refusing, a stalled run); every registered hook
receives each one. The default hook logs; the alert channels (钉钉, 飞书, 企业微信, email — see
`yecai.alerts`) register here. A failing hook is logged and never fails the job that reported.
Payloads carry identifiers, never secrets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("yecai.observability.events")

AlertHook = Callable[[str, dict[str, Any]], None]

# event → (中文, English) title, for hooks that render a message
EVENTS: dict[str, tuple[str, str]] = {
    "job.dead": ("作业失败，已进入死信队列", "job failed and was moved to dead letters"),
    "job.retrying": ("作业失败，稍后重试", "job failed, will retry"),
    "job.attention": ("作业完成但需要关注", "job finished but needs attention"),
    "job.lost": (
        "作业执行进程多次失联，已进入死信队列",
        "job's worker was lost too often; moved to dead letters",
    ),
    "lease.taken_over": ("作业执行进程失联，作业已被接管", "job's worker was lost; the job was taken over"),
    "connection.paused": ("连接已暂停", "connection paused"),
    "connection.resumed": ("连接已恢复", "connection resumed"),
    "kingdee.disconnected": (
        "无法连接金蝶或会话反复丢失",
        "cannot reach Kingdee or keep a session with it",
    ),
    "kingdee.error": ("金蝶返回错误", "Kingdee reported an error"),
    "run.failed": ("运行失败", "run failed"),
    "run.stalled": ("运行停滞：执行进程的心跳已中断", "run stalled: its worker stopped sending heartbeats"),
    "alert.test": ("测试告警", "test alert"),
    "reconcile.differences": ("对账发现差异", "reconciliation found differences"),
}


def log_alert(event: str, payload: dict[str, Any]) -> None:
    """The default hook: one warning line per event."""
    zh, en = EVENTS.get(event, (event, event))
    detail = " ".join(f"{key}={value}" for key, value in payload.items() if value not in (None, ""))
    level = logging.INFO if event == "connection.resumed" else logging.WARNING
    log.log(level, "%s / %s [%s] %s", zh, en, event, detail)


class AlertHooks:
    """Named hooks, called in registration order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[str, AlertHook] = {"log": log_alert}

    def register(self, name: str, hook: AlertHook) -> None:
        with self._lock:
            self._hooks[name] = hook

    def unregister(self, name: str) -> None:
        with self._lock:
            self._hooks.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._hooks)

    def emit(self, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            hooks = list(self._hooks.items())
        for name, hook in hooks:
            try:
                hook(event, dict(payload))
            except Exception:
                log.exception("告警钩子 %s 出错 / alert hook %s failed on %s", name, name, event)


# The process-wide registry: `from yecai.observability.events import alerts; alerts.register("dingtalk", hook)`.
alerts = AlertHooks()
