"""The production topology as real processes: PostgreSQL + Redis, nginx with TLS in front of
`yecai serve` (2 web processes, no jobs), and three `yecai worker` processes — each started with
the command line its systemd unit in deploy/systemd/ runs (ExecStart= parsed and expanded with an
environment file, so unit and test cannot drift), nginx with deploy/nginx/yecai.conf itself.

The nightly sync starts from the schedule, as in production: every worker runs the scheduler and
the job's newest missed moment is due. Mid-sync the worker holding the job and the web process
are SIGKILLed; the web comes back as systemd restarts it (its whole control group stopped, then
started again after RestartSec=). The sync then finishes exactly once: every posting key once in
Kingdee, as many vouchers as postings, the source's amount to the cent, one scheduled run however
many schedulers looked, one takeover. Through nginx: TLS, HSTS once, Secure cookies, https
redirects, the client address yecai sees, /metrics only from the allow list, signed webhooks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import func, select

from tests.support.job_runtime import (
    FAST,
    HOOK_SECRET,
    expected_vouchers,
    kingdee_vouchers,
    runs_of,
    store_secrets,
    wait_for,
    write_workspace,
)
from tests.support.topology import (
    SYSTEMD,
    Nginx,
    exec_start,
    kill_group,
    nginx_main,
    nginx_site,
    seconds,
    self_signed,
    unit_environment,
    unit_file,
    wait_https,
)
from yecai.auth import users
from yecai.auth.principal import SYSTEM
from yecai.connectors.generic_rest import load_connector
from yecai.domain.money import money_sum
from yecai.jobs import leases, states
from yecai.jobs.calendar import WorkCalendar
from yecai.jobs.schedule import BEIJING, due_run
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.kingdee.faults import FaultSettings
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.sources.webhooks import sign
from yecai.store.auth_tables import WebSession
from yecai.store.clock import utcnow
from yecai.store.db import Store, open_store
from yecai.store.tables import Posting
from yecai.store.webhook_tables import WebhookEvent
from yecai.workspace import BUILTIN_CONNECTORS, Schedule

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/0"
JOB = "nightly"
WORKERS = 3
SCHEDULED = "scheduled run of nightly queued"
ADMIN = "topology.admin"
CLIENT_ADDRESS = "127.0.0.2"  # a client that is not nginx's own address


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def posted(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).where(Posting.state == "posted")) or 0)


def nightly_schedule() -> Schedule:
    """Once a day, twelve hours away from now: the last moment was missed (the job is due at once)
    and the next cannot arrive while the test runs."""
    hour = (utcnow().astimezone(BEIJING).hour + 12) % 24
    return Schedule(cron=f"0 {hour} * * *", holidays="run")


class Role:
    """One systemd unit's process: its argv from the unit, the environment systemd would give it,
    its own process group (a unit's control group)."""

    def __init__(self, name: str, unit: str, env: dict[str, str], workdir: Path, logs: Path) -> None:
        self.name = name
        self.unit = unit_file(SYSTEMD / unit)
        self.environment = unit_environment(self.unit, env)
        self.argv = exec_start(self.unit, self.environment)
        self.workdir = workdir
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        # systemd starts services with a clean environment: only PATH and the interpreter's
        # PYTHONPATH come from here, the rest from the unit and its EnvironmentFile
        inherited = {key: os.environ[key] for key in ("PATH", "PYTHONPATH", "HOME") if key in os.environ}
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}: {' '.join(self.argv[3:])}\n".encode())
            self.process = subprocess.Popen(
                self.argv,
                env={**inherited, **self.environment},
                cwd=self.workdir,  # WorkingDirectory=
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def crash(self) -> None:
        """SIGKILL the main process, then what systemd does when a unit's main process dies:
        KillSignal= to the rest of its control group, SIGKILL after a grace period."""
        assert self.process is not None
        os.kill(self.pid, signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL
        kill_signal = getattr(signal, self.unit["Service"]["KillSignal"][0])
        try:
            os.killpg(self.pid, kill_signal)
            time.sleep(2)
        except ProcessLookupError:
            return
        kill_group(self.process)

    def stop(self) -> None:
        if self.process is not None:
            kill_group(self.process)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def tls_client(cert: Path, **transport: Any) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(cert))
    return httpx.Client(
        verify=context,
        timeout=10,
        follow_redirects=False,
        transport=httpx.HTTPTransport(verify=context, **transport) if transport else None,
    )


def redis_cleanup(queue_name: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = [
        *client.scan_iter(f"huey.*.{queue_name}*"),
        *client.scan_iter(f"yecai:{queue_name}:*"),
        # the sign-in counters (Redis-backed when the queue is): this test's account and address
        *client.scan_iter(f"LIMITS:LIMITER/signin-account/{ADMIN}/*"),
        *client.scan_iter(f"LIMITS:LIMITER/signin-address/{CLIENT_ADDRESS}/*"),
    ]
    if keys:
        client.delete(*keys)
    client.close()


def test_the_production_topology_finishes_the_nightly_sync_exactly_once_through_kills(
    tmp_path: Path, pg_url: str
) -> None:
    # latency per call keeps the sync running for several seconds: "mid-sync" is a real moment
    pm, dataset = start_pm(projects=3, months=1, seed=11)
    kingdee, credentials = start_kingdee(
        tmp_path / "kingdee", faults=FaultSettings(latency_ms=100, max_concurrency=0)
    )
    queue_name = f"topo{uuid.uuid4().hex[:10]}"
    workdir = tmp_path / "var-lib-yecai"  # StateDirectory=
    workdir.mkdir()
    schedule = nightly_schedule()
    (tmp_path / "workspace").mkdir()  # /etc/yecai/workspace
    workspace = write_workspace(
        tmp_path / "workspace" / "yecai.yaml",
        kingdee=credentials,
        sources={"pm": pm.base_url},
        jobs={
            JOB: {
                "source": "pm",
                "target": "kd",
                "batch_size": 4,
                "parts": 2,
                "schedule": {"cron": schedule.cron, "holidays": schedule.holidays},
            }
        },
    )
    store = open_store(pg_url)
    store_secrets(store, workdir, credentials, ["pm"])
    # yecai knew of the job three days ago and the scheduled moments since were missed (all of
    # them collapse into one run of the newest): what job_states holds after an outage
    known_since = utcnow() - dt.timedelta(days=3)
    states.schedule_start(store, JOB, now=known_since)
    due = due_run(schedule, known_since, utcnow(), WorkCalendar())
    assert due is not None

    web_port, https_port, http_port = free_port(), free_port(), free_port()
    # /etc/yecai/yecai.env of this host: the example's keys, this test's values; short leases so
    # the killed worker's job is taken over within seconds
    env = {
        "YECAI_WORKSPACE": str(workspace),
        "YECAI_WORKDIR": str(workdir),
        "YECAI_DATABASE_URL": pg_url,
        "YECAI_QUEUE_URL": REDIS_URL,
        "YECAI_COOKIE_SECURE": "true",
        "FORWARDED_ALLOW_IPS": "127.0.0.1,::1",
        "YECAI_WEB_HOST": "127.0.0.1",
        "YECAI_WEB_PORT": str(web_port),
        "YECAI_WEB_PROCESSES": "2",
        "YECAI_JOBS_WORKERS": "1",
        "YECAI_JOBS_QUEUE_NAME": queue_name,
        **{f"YECAI_JOBS_{key.upper()}": str(value) for key, value in FAST.items()},
        "YECAI_JOBS_LEASE_SECONDS": "8",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    web = Role("web", "yecai-web.service", env, workdir, logs)
    workers = [
        Role(f"worker-{n}", "yecai-worker@.service", env, workdir, logs) for n in range(1, WORKERS + 1)
    ]
    certificate = self_signed(tmp_path / "tls")
    nginx = Nginx(
        nginx_main(
            tmp_path / "nginx",
            nginx_site(certificate, https_port=https_port, http_port=http_port, upstream_port=web_port),
        )
    )
    base = f"https://127.0.0.1:{https_port}"
    client = tls_client(certificate.cert)
    try:
        web.start()
        wait_https(client, f"{base}/readyz", timeout=90)
        for worker in workers:
            worker.start()

        # the scheduler of some worker queues the due moment; the job runs and posts
        wait_for(lambda: posted(store) >= 8, timeout=120, interval=0.05)
        lease = leases.get(store, JOB)
        assert lease is not None
        assert lease.state == "running"
        assert lease.origin == "schedule"
        assert lease.scheduled_for == due
        (holder,) = [w for w in workers if lease.holder and f":{w.pid}:" in lease.holder]

        # SIGKILL the worker holding the job and the web process, mid-sync
        holder.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        assert holder.process.wait(10) == -signal.SIGKILL  # type: ignore[union-attr]
        at_kill = posted(store)
        web.crash()
        total = expected_vouchers(dataset)
        assert at_kill < total
        unfinished = states.state(store, JOB)
        assert unfinished is not None
        assert unfinished.last_outcome is None  # both kills landed while the sync was running
        # nothing listens behind nginx now: it says so (502), it does not hang
        assert client.get(f"{base}/healthz").status_code == 502
        time.sleep(seconds(web.unit["Service"]["RestartSec"][0]))
        web.start()  # Restart=on-failure: the same command line
        wait_https(client, f"{base}/readyz", timeout=90)

        wait_for(
            lambda: (s := states.state(store, JOB)) and s.last_outcome is not None, timeout=240, interval=0.2
        )
        job_state = states.state(store, JOB)
        assert job_state is not None
        assert job_state.last_outcome == "succeeded", job_state.last_message
        # one takeover of the killed worker's job; the run it left is failed, the resumed one succeeded
        assert job_state.takeovers == 1
        killed, finished = runs_of(store, JOB)
        assert killed.status == "failed"
        assert "taken over" in (killed.message or "")
        assert finished.status == "succeeded"
        assert leases.all_leases(store) == []
        # the schedule ran once: one scheduler claimed the moment, however many looked every second
        assert job_state.last_moment == due
        scheduled = sum(w.log().count(SCHEDULED) for w in workers)
        assert scheduled == 1, [w.log_path for w in workers]

        # exactly once in Kingdee (read without the latency): each key once, vouchers = postings,
        # the amounts of the source
        kingdee.faults.update({"latency_ms": 0, "per_record_ms": 0, "max_concurrency": 0})
        count, keys, debit = kingdee_vouchers(credentials)
        assert posted(store) == total
        assert count == total
        assert len(keys) == total
        assert set(keys.values()) == {1}
        assert debit == money_sum(r.amount for r in dataset.all_cost_records)

        # the survivors are still serving: two workers and the restarted web
        assert [w.alive() for w in workers].count(True) == WORKERS - 1
        assert web.alive()
        assert web.starts == 2
        print(
            f"topology: web_processes=2 workers={WORKERS} vouchers={count} postings={posted(store)} "
            f"posted_at_kill={at_kill} takeovers={job_state.takeovers} scheduled_runs={scheduled} "
            f"debit={debit} exactly_once=yes"
        )

        _check_the_edge(client, base, http_port, certificate.cert, store)
    finally:
        client.close()
        for role in (web, *workers):
            role.stop()
        nginx.stop()
        kingdee.stop()
        pm.stop()
        store.close()
        redis_cleanup(queue_name)


def _check_the_edge(client: httpx.Client, base: str, http_port: int, cert: Path, store: Store) -> None:
    """What nginx in front of the web processes must get right."""
    # plain HTTP only redirects to HTTPS
    plain = httpx.get(f"http://127.0.0.1:{http_port}/login", follow_redirects=False)
    assert plain.status_code == 301
    assert plain.headers["location"] == "https://127.0.0.1/login"

    # the sign-in page: HSTS exactly once (nginx's), cookies Secure, security headers from yecai
    page = client.get(f"{base}/login")
    assert page.status_code == 200
    assert page.headers.get_list("strict-transport-security") == ["max-age=63072000; includeSubDomains"]
    cookie = page.headers["set-cookie"]
    assert "yecai_login_csrf=" in cookie
    assert "Secure" in cookie
    assert page.headers["x-frame-options"] == "DENY"
    assert "server" not in page.headers or "nginx/" not in page.headers["server"]

    # an unauthenticated console page goes to the sign-in form on this host, over https
    away = client.get(f"{base}/", headers={"accept": "text/html"})
    assert away.status_code == 303
    assert away.headers["location"] == "/login?next=/"

    # /metrics: from the allow list (127.0.0.1) yes, from another address (127.0.0.2) no
    metrics = client.get(f"{base}/metrics")
    assert metrics.status_code == 200
    assert "yecai_" in metrics.text
    with tls_client(cert, local_address=CLIENT_ADDRESS) as elsewhere:
        assert elsewhere.get(f"{base}/metrics").status_code == 403
        assert elsewhere.get(f"{base}/healthz").status_code == 200

    # a signed webhook through the proxy is stored; an unsigned one is refused by yecai
    hooks = load_connector(
        BUILTIN_CONNECTORS["pm_sandbox"],
        secrets={"PM_SANDBOX_TOKEN": DEFAULT_TOKEN, "PM_WEBHOOK_SECRET": HOOK_SECRET},
    ).spec.webhooks
    assert hooks is not None
    body = json.dumps(
        {
            "event_id": "topology-1",
            "event_type": "project.updated",
            "data": {"project_code": "XM2026001", "project_name": "拓扑测试项目"},
        }
    ).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-PM-Timestamp": stamp,
        "X-PM-Signature": sign(hooks, stamp, body),
        "X-PM-Event-Id": "topology-1",
    }
    stored = client.post(f"{base}/webhooks/pm", content=body, headers=headers)
    assert stored.status_code == 200, stored.text
    assert stored.json()["outcome"] == "stored"
    assert client.post(f"{base}/webhooks/pm", content=body).status_code in (400, 401, 403)
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1
    # a body past the webhook limit is stopped at the edge
    assert client.post(f"{base}/webhooks/pm", content=b"x" * (6 * 1024 * 1024)).status_code == 413

    # the client's own address reaches yecai (sign-in limits, sessions, the audit trail): a client
    # on 127.0.0.2 signs in through nginx; the X-Forwarded-For it plants is overwritten
    _, password = users.create_user(store, username=ADMIN, role="admin", by=SYSTEM)
    with tls_client(cert, local_address=CLIENT_ADDRESS) as elsewhere:
        signed_in = elsewhere.post(
            f"{base}/api/v1/session",
            json={"username": ADMIN, "password": password},
            headers={"x-forwarded-for": "203.0.113.9"},
        )
    assert signed_in.status_code == 200, signed_in.text
    assert "Secure" in signed_in.headers["set-cookie"]
    with store.transaction() as session:
        assert list(session.scalars(select(WebSession.ip))) == [CLIENT_ADDRESS]
