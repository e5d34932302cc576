"""/healthz and /readyz: alive always; ready only with a store that answers at the newest schema.

Readiness fails, naming each failed check in Chinese and English, when the database is gone (a
SQLite file whose directory vanished, a dropped PostgreSQL database, a server that refuses
connections), when the schema is behind or ahead of this yecai's migrations, and — with a
distributed queue — when Redis does not answer. Both backends; PostgreSQL fails, never skips.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import open_runtime
from yecai.observability.readiness import newest_revisions
from yecai.settings import Settings
from yecai.store.db import Store, alembic_config, open_store
from yecai.web.monitoring import monitoring_router

REDIS_URL = "redis://127.0.0.1:6379/0"
NOBODY = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def client_for(store: Store, queue: JobQueue | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(monitoring_router(store, queue=queue))
    return TestClient(app)


def failed(body: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {item["check"]: item for item in body.get("failed", [])}


def test_healthz_answers_ok(store: Store) -> None:
    response = client_for(store).get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_with_a_current_store(store: Store) -> None:
    response = client_for(store).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}


def previous_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    (head,) = newest_revisions()
    down = script.get_revision(head).down_revision
    assert isinstance(down, str)
    return down


def test_not_ready_when_the_schema_is_behind(store: Store) -> None:
    behind = previous_revision()
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": behind})
    response = client_for(store).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "schema": "failed"}
    problem = failed(body)["schema"]
    assert "落后" in problem["zh"]
    assert f"当前 {behind}" in problem["zh"]
    assert "behind" in problem["en"]
    assert f"expected {next(iter(newest_revisions()))}" in problem["en"]


def test_not_ready_when_the_schema_is_newer_than_this_yecai(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    response = client_for(store).get("/readyz")
    assert response.status_code == 503
    problem = failed(response.json())["schema"]
    assert "升级" in problem["zh"]
    assert "newer" in problem["en"]


def test_not_ready_when_the_sqlite_store_is_gone(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db' / 'yecai.sqlite'}")
    try:
        client = client_for(store)
        assert client.get("/readyz").status_code == 200
        shutil.rmtree(tmp_path / "db")
        store.engine.dispose()  # pooled connections would still read the unlinked file
        response = client.get("/readyz")
    finally:
        store.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"] == {"database": "failed", "schema": "skipped"}
    problem = failed(body)["database"]
    assert "数据库" in problem["zh"]
    assert "does not answer" in problem["en"]
    assert body["message"] == "未就绪 / not ready"


@pytest.mark.postgres
def test_not_ready_when_the_postgresql_database_is_dropped(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        client = client_for(store)
        assert client.get("/readyz").status_code == 200
        admin = make_url(pg_url).set(drivername="postgresql", database="postgres")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{make_url(pg_url).database}" WITH (FORCE)')
        response = client.get("/readyz")
    finally:
        store.close()
    assert response.status_code == 503
    assert failed(response.json())["database"]["error"] == "OperationalError"


def test_not_ready_when_the_server_refuses_connections() -> None:
    engine = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    try:
        response = client_for(Store(engine=engine, sessions=sessionmaker(engine))).get("/readyz")
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert set(failed(response.json())) == {"database"}


def _queue(store: Store, tmp_path: Path, url: str) -> tuple[JobQueue, Any]:
    settings = Settings(workdir=tmp_path / "work", workspace=tmp_path / "yecai.yaml", queue_url=url)
    runtime = open_runtime(settings, store=store)
    return JobQueue(runtime), runtime


def test_a_distributed_queue_needs_redis(store: Store, tmp_path: Path) -> None:
    queue, runtime = _queue(store, tmp_path, REDIS_URL)
    try:
        response = client_for(store, queue).get("/readyz")
    finally:
        runtime.close()
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "schema": "ok", "redis": "ok"}


def test_not_ready_when_redis_does_not_answer(store: Store, tmp_path: Path) -> None:
    queue, runtime = _queue(store, tmp_path, NOBODY)
    try:
        client = client_for(store, queue)
        response = client.get("/readyz")
        metrics = client.get("/metrics").text
    finally:
        runtime.close()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "schema": "ok", "redis": "failed"}
    problem = failed(body)["redis"]
    assert "Redis" in problem["zh"]
    assert "YECAI_QUEUE_URL" in problem["en"]
    assert "yecai_queue_up 0.0" in metrics  # the scrape still answers
    assert "yecai_store_up 1.0" in metrics
