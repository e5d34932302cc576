"""Helpers shared by the console tests and docs/make_screenshots.py (no tests here): a store full of
demo data with users, failures of every kind, a dead letter, alert deliveries and a workspace whose
sync job edits a mapping file; and the real app served by uvicorn on a free 127.0.0.1 port."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
import yaml
from fastapi import FastAPI
from sqlalchemy import select, update

from yecai.alerts.deliveries import reserve, settle
from yecai.auth.principal import SYSTEM
from yecai.auth.users import create_user, get_user, set_password, update_user
from yecai.demo import run_demo
from yecai.jobs.config import JobSettings
from yecai.jobs.deadletters import bury
from yecai.jobs.failures import JobFailure
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import Runtime, open_runtime
from yecai.mapping.rules import default_mapping
from yecai.observability.events import AlertHooks
from yecai.secrets import SecretBox, load_key
from yecai.services import health
from yecai.settings import Settings
from yecai.store.db import Store, open_store
from yecai.store.tables import Document, Posting, PostingLine, Run
from yecai.web.app import create_app

PASSWORD = "Console-Test-2026!"
PROJECT_1 = "XM2026001"  # pm1's
PROJECT_2 = "XM2026002"  # pm2's
USERS = {
    "admin": ("admin", ()),
    "integrator": ("integrator", ()),
    "finance": ("finance", ()),
    "auditor": ("auditor", ()),
    "pm1": ("project_manager", (PROJECT_1,)),
    "pm2": ("project_manager", (PROJECT_2,)),
}
CLOSED_URL = "http://127.0.0.1:9"  # the discard port: nothing listens, "test connection" fails fast


@dataclass(slots=True)
class Showcase:
    base: Path
    settings: Settings
    store: Store
    runtime: Runtime
    queue: JobQueue
    mapping: Path
    dead_letters: list[int]

    def app(self) -> FastAPI:
        return create_app(self.store, settings=self.settings, runtime=self.runtime, queue=self.queue)

    def close(self) -> None:
        self.runtime.close()
        self.store.close()


def _workspace(base: Path) -> Path:
    table = default_mapping().model_dump(mode="json", exclude_defaults=True)
    # three projects mapped by hand, the rest reported: the editor then has rows and unmapped values
    table["project_default"] = "report"
    table["projects"] = {
        code: {"number": code, "org": "100", "department": f"BM0{n}"}
        for n, code in enumerate(("XM2026001", "XM2026002", "XM2026003"), start=1)
    }
    mapping = base / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(table, allow_unicode=True, sort_keys=False), encoding="utf-8")
    space = {
        "connections": {
            "pm": {
                "kind": "source",
                "connector": "pm_sandbox",
                "base_url": CLOSED_URL,
                "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"},
            },
            "kingdee": {
                "kind": "kingdee",
                "server_url": f"{CLOSED_URL}/K3Cloud/",
                "acct_id": "66a0c0ffee0001",
                "user_name": "yecai_api",
                "app_id": "529159_demo",
                "app_secret": "${KD_APP_SECRET}",
                "org_num": "100",
                "timeout_seconds": 5,
            },
            "ops-dingtalk": {
                "kind": "alert",
                "channel": "dingtalk",
                "webhook_url": "${DINGTALK_URL}",
                "secret": "${DINGTALK_SECRET}",
                "events": ["job.dead", "kingdee", "connection"],
                "min_severity": "warning",
            },
        },
        "syncs": {
            "books": {
                "source": "pm",
                "target": "kingdee",
                "streams": ["projects", "cost_records"],
                "rule_sets": ["cost_actuals"],
                "mapping": "mapping.yaml",
                "schedule": {"cron": "0 2 * * *", "holidays": "next_workday"},
            }
        },
    }
    path = base / "yecai.yaml"
    path.write_text(yaml.safe_dump(space, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _posting_of(store: Store, project: str, skip: int = 0) -> int:
    with store.sessions() as session:
        ids = list(
            session.scalars(
                select(PostingLine.posting_id)
                .join(Document, Document.id == PostingLine.document_id)
                .where(Document.project_code == project)
                .order_by(PostingLine.posting_id)
                .distinct()
            )
        )
    return ids[skip]


def _set_posting(store: Store, posting_id: int, **values: object) -> None:
    with store.transaction() as session:
        session.execute(update(Posting).where(Posting.id == posting_id).values(**values))


def _failures(store: Store) -> None:
    """Postings in every state a person handles, spread over pm1's, pm2's and other projects."""
    unsent = {"kingdee_id": None, "kingdee_number": None, "kingdee_key": None, "step": None, "response": None}
    _set_posting(
        store,
        _posting_of(store, PROJECT_1),
        state="failed",
        attempts=1,
        error_fault="data",
        error_action="fail",
        error_code=0,
        error_message="凭证分录的核算维度“供应商”不能为空 / the supplier dimension of a line is empty",
        **unsent,
    )
    _set_posting(
        store,
        _posting_of(store, PROJECT_2),
        state="failed",
        attempts=3,
        error_fault="configuration",
        error_action="fail",
        error_message="科目 5401.01.09 不存在 / account 5401.01.09 does not exist",
        **unsent,
    )
    _set_posting(
        store,
        _posting_of(store, "XM2026003"),
        state="dead",
        attempts=3,
        error_fault="transient",
        error_action="retry",
        error_message="金蝶响应超时 / Kingdee timed out",
        **unsent,
    )
    for skip in range(3):
        _set_posting(store, _posting_of(store, "XM2026004", skip), state="awaiting_approval", **unsent)
    _set_posting(store, _posting_of(store, "XM2026005"), state="planned", **unsent)


def _dead_letters(store: Store) -> list[int]:
    failures = [
        JobFailure(
            "会话反复丢失，无法登录金蝶 / Kingdee session lost repeatedly",
            "cannot keep a session with Kingdee",
            "retry",
            "transient",
            "KingdeeSessionError",
            {"connection": "kingdee"},
        ),
        JobFailure(
            "映射表缺少项目 XM2026006 的组织",
            "the mapping table lacks the organisation of project XM2026006",
            "fail",
            "configuration",
            "ConfigurationError",
            {"connection": "pm", "stream": "cost_records"},
        ),
    ]
    found: list[int] = []
    for failure in failures:
        letter = bury(store, job="books", task_id=None, since=None, failure=failure, attempts=3)
        assert letter is not None
        found.append(letter)
    return found


def _deliveries(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    for minutes, event, title, status in (
        (50, "job.dead", "作业失败，已进入死信队列：books", "sent"),
        (30, "kingdee.error", "金蝶返回错误：GL_VOUCHER MsgCode 11", "sent"),
        (29, "kingdee.error", "金蝶返回错误：GL_VOUCHER MsgCode 11", None),
        (5, "connection.paused", "连接已暂停：kingdee", "failed"),
    ):
        delivery = reserve(
            store,
            channel="ops-dingtalk",
            event=event,
            dedupe_key=f"{event}:{title}",
            title=title,
            body=None,
            now=now - dt.timedelta(minutes=minutes),
            dedupe_minutes=30,
            max_per_hour=20,
        )
        if status is not None and delivery.status == "sending":
            settle(
                store,
                delivery.id,
                status=status,
                error="HTTP 502 from the robot" if status == "failed" else None,
            )


def _runs(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.transaction() as session:
        session.add(
            Run(
                kind="sync:books",
                connection="kingdee",
                status="failed",
                started_at=now - dt.timedelta(minutes=42),
                finished_at=now - dt.timedelta(minutes=41),
                counts={"send": {"sent": 12, "failed": 2}},
                message="2 张凭证被金蝶拒绝 / 2 vouchers refused by Kingdee",
            )
        )


def build_showcase(base: Path, *, projects: int = 6) -> Showcase:
    """Demo data (the real pipeline into sandbox.kingdee), then everything a console shows."""
    base.mkdir(parents=True, exist_ok=True)
    demo = base / "demo"
    run_demo(workdir=demo, projects=projects)
    settings = Settings(workspace=_workspace(base), workdir=demo)
    store = open_store(settings.store_url())
    box = SecretBox(store, load_key(demo))
    box.set("pm", "PM_TOKEN", "pm-sandbox-token")
    box.set("kingdee", "KD_APP_SECRET", "kd-app-secret")
    box.set("ops-dingtalk", "DINGTALK_URL", "https://oapi.dingtalk.com/robot/send?access_token=demo")
    for username, (role, codes) in USERS.items():
        if get_user(store, username) is None:
            create_user(store, username=username, role=role, by=SYSTEM, password=PASSWORD, projects=codes)
        else:  # the demo made some (with printed passwords): give them the test's role and password
            update_user(store, username, by=SYSTEM, role=role, projects=codes)
            set_password(store, username, PASSWORD, by=SYSTEM)
    _failures(store)
    letters = _dead_letters(store)
    _deliveries(store)
    _runs(store)
    health.record_failure(store, ["kingdee"], error="金蝶响应超时 / Kingdee timed out", pause_after=5)
    runtime = open_runtime(
        settings, options=JobSettings(workers=1), store=store, secrets=box, hooks=AlertHooks()
    )
    return Showcase(base, settings, store, runtime, JobQueue(runtime), base / "mapping.yaml", letters)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app on uvicorn in a thread; yields its base URL and stops it afterwards."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
