"""The monthly operating analysis on a schedule: written by a queue task, once per scheduled moment.

`reports.monthly` in the workspace names the sync job (its Kingdee books and rule sets), the
schedule (by default 07:00 on the 1st, Beijing time) and the output folder. The scheduler tick
claims each moment once (as for sync jobs); the task writes the *previous* month's report, so a
run on 1 November reports October. Rewriting the same month's files is harmless, which is why a
retry after a failure may simply run again. Outcomes go to `job_states` and failures to alerts.
"""

from __future__ import annotations

import datetime as dt
import logging

from yecai.auth.principal import SYSTEM
from yecai.errors import ConfigurationError, YecaiError
from yecai.jobs import states
from yecai.jobs.runner import Runtime
from yecai.jobs.schedule import beijing
from yecai.reports import service
from yecai.reports.periods import Period

log = logging.getLogger("yecai.jobs")

REPORT_JOB = "report:monthly"  # its name in job_states (schedule moments, last outcome)


def report_period(moment: dt.datetime) -> Period:
    """The month a run at `moment` reports on: the one before it (in Beijing time)."""
    return Period.of(beijing(moment).date()).previous()


def write_scheduled_monthly(runtime: Runtime, *, moment: dt.datetime) -> service.WrittenReport:
    space = runtime.workspace()
    spec = space.reports.monthly
    if spec is None:
        raise ConfigurationError(
            "工作区未配置 reports.monthly，计划的月度经营分析未生成",
            "the workspace has no reports.monthly; the scheduled monthly report was not written",
        )
    store = runtime.store
    period = report_period(moment)
    states.record_start(store, REPORT_JOB)
    try:
        report = service.monthly(
            store, space, period=period, who=SYSTEM, secrets=runtime.secrets, job=spec.job
        )
        written = service.write_monthly(report, space.base_dir / spec.out)
    except Exception as exc:
        zh, en = (exc.zh, exc.en) if isinstance(exc, YecaiError) else (str(exc), str(exc))
        states.record_finish(store, REPORT_JOB, outcome="failed", message=f"{zh} / {en}")
        runtime.alerts.emit(
            "run.failed", {"job": REPORT_JOB, "period": str(period), "error_zh": zh, "error_en": en}
        )
        raise
    message = f"{period}: {written.xlsx.name}, {written.html.name}"
    states.record_finish(store, REPORT_JOB, outcome="succeeded", message=message)
    log.info("月度经营分析已生成 / monthly report written: %s, %s", written.xlsx, written.html)
    return written
