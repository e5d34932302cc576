"""`yecai doctor`: is this installation able to run? Every check, every finding, one exit code.

Runs the checks of doctor_checks.py and doctor_connections.py in order — configuration, database and its
revision, Redis, the secrets key, every connection of the workspace (Kingdee login and clock
skew, the PM system, alert channels by dry run), TLS, free disk — each under a deadline so that an
unanswering host costs seconds, not minutes. Exit codes: 0 all well, 1 at least one error, 3
warnings only (2 stays "bad usage", as for every yecai command).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from yecai.services.doctor_checks import (
    Finding,
    Limits,
    check_database,
    check_disk,
    check_redis,
    check_secrets,
    check_workspace,
    database_directory,
    problem,
)
from yecai.services.doctor_connections import CHECKS
from yecai.settings import Settings

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_WARNINGS = 3


@dataclass(slots=True)
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.status == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.status == "warning")

    @property
    def exit_code(self) -> int:
        if self.errors:
            return EXIT_ERRORS
        return EXIT_WARNINGS if self.warnings else EXIT_OK

    def as_json(self) -> dict[str, Any]:
        """For monitoring: the overall status, the exit code and every finding."""
        status = "error" if self.errors else "warning" if self.warnings else "ok"
        return {
            "status": status,
            "exit_code": self.exit_code,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [asdict(f) for f in self.findings],
        }


def bounded(check: str, subject: str, seconds: float, run: Callable[[], list[Finding]]) -> list[Finding]:
    """`run()`'s findings, or one error when it has not finished within `seconds` (the thread is
    left to end on its own: a daemon, it never holds the process)."""
    box: list[list[Finding]] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            box.append(run())
        except BaseException as exc:  # a check that breaks is a finding, not a crash of the doctor
            failure.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=target, name=f"doctor:{check}:{subject}", daemon=True)
    worker.start()
    worker.join(seconds)
    took = round(time.monotonic() - started, 3)
    if worker.is_alive():
        return [
            problem(
                check,
                subject,
                "error",
                (f"{seconds:g} 秒内没有应答，已放弃等待", f"no answer within {seconds:g} s; gave up waiting"),
                (
                    "确认对方服务已启动、地址可达（防火墙、VPN、DNS）",
                    "check that the server runs and is reachable (firewall, VPN, DNS)",
                ),
            )
        ]
    if failure:
        exc = failure[0]
        return [
            problem(
                check,
                subject,
                "error",
                (f"检查失败：{type(exc).__name__}: {exc}", f"the check failed: {type(exc).__name__}: {exc}"),
                (
                    "按提示改正后再运行 yecai doctor",
                    "correct what the message says, then run yecai doctor again",
                ),
            )
        ]
    return [_timed(f, took) for f in box[0]]


def _timed(finding: Finding, seconds: float) -> Finding:
    return Finding(**{**asdict(finding), "seconds": seconds})


def run_doctor(
    settings: Settings,
    limits: Limits,
    *,
    first: list[Finding] | None = None,
    on_finding: Callable[[Finding], None] | None = None,
) -> DoctorReport:
    """Every check against `settings` (already located: workspace and work directory known)."""
    report = DoctorReport(list(first or []))

    def add(found: list[Finding]) -> None:
        for finding in found:
            report.findings.append(finding)
            if on_finding:
                on_finding(finding)

    for finding in report.findings:
        if on_finding:
            on_finding(finding)
    deadline = 2 * limits.timeout + 1  # a login can take two calls; after that, stop waiting
    space, found = check_workspace(settings.workspace)
    add([found])
    stores: list[Any] = []

    def database() -> list[Finding]:
        store, found = check_database(settings, limits)
        stores.append(store)
        return found

    add(bounded("database", "store", deadline, database))
    store = stores[0] if stores else None
    try:
        add(bounded("redis", "queue", deadline, lambda: check_redis(settings, limits)))
        boxes: list[Any] = []

        def secrets() -> list[Finding]:
            box, found = check_secrets(settings, store)
            boxes.append(box)
            return found

        add(bounded("secrets", "key", deadline, secrets))
        box = boxes[0] if boxes else None
        if space is not None:
            for name, connection in space.connections.items():
                kind, check = CHECKS[type(connection)]
                add(bounded(kind, name, deadline, lambda c=check, n=name: c(space, n, box, limits)))  # type: ignore[misc]
        add([check_disk("workdir", settings.workdir, ("工作目录", "work directory"), limits)])
        directory = database_directory(store, settings)
        if directory is not None and directory != settings.workdir:
            add([check_disk("database", directory, ("数据库目录", "database directory"), limits)])
    finally:
        if store is not None:
            store.close()
    return report
