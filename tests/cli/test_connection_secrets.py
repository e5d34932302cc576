"""Issue 14 item 1: a pull connection needs no webhook secret; the advice given for a missing secret
is true (an environment variable works, so does a stored secret); a failed 测试连接 shows in health."""

from __future__ import annotations

from pathlib import Path

import pytest

from yecai.errors import ConfigurationError
from yecai.secrets import SecretBox, load_key
from yecai.services import connections as connection_service
from yecai.services import health
from yecai.store.db import open_store
from yecai.workspace import Workspace, parse_workspace


def _space(kind: str = "rest", secrets: dict[str, str] | None = None) -> Workspace:
    data = {
        "connections": {
            "pm": {
                "kind": kind,
                "connector": "pm_sandbox",
                "base_url": "http://127.0.0.1:9",  # nothing listens on the discard port
                "secrets": secrets if secrets is not None else {"PM_SANDBOX_TOKEN": "${PM_TOKEN}"},
            }
        }
    }
    return parse_workspace(data, Path("."))


def test_a_pull_connection_opens_without_a_webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PM_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("PM_TOKEN", "t")
    connector = _space().source("pm", None)
    assert connector.pulls
    assert connector.webhooks is None  # pushes are simply not received


def test_the_webhook_secret_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_TOKEN", "t")
    monkeypatch.setenv("PM_WEBHOOK_SECRET", "from-env")
    connector = _space().source("pm", None)
    assert connector.webhooks is not None
    assert connector.webhooks.secret == "from-env"


def test_a_stored_secret_of_the_placeholder_name_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PM_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("YECAI_SECRET_KEY", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        box = SecretBox(store, load_key(tmp_path))
        box.set("pm", "PM_TOKEN", "t")
        box.set("pm", "PM_WEBHOOK_SECRET", "stored")
        connector = _space().source("pm", box)
        assert connector.webhooks is not None
        assert connector.webhooks.secret == "stored"
    finally:
        store.close()


def test_a_push_connection_still_needs_its_secret_and_is_told_how(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PM_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("PM_TOKEN", "t")
    with pytest.raises(ConfigurationError) as caught:
        _space("webhook").source("pm", None)
    assert "PM_WEBHOOK_SECRET" in caught.value.zh
    assert "yecai connections set-secret pm PM_WEBHOOK_SECRET" in caught.value.zh
    assert "PM_WEBHOOK_SECRET" in caught.value.en


def test_a_failed_connection_test_shows_in_health(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_TOKEN", "t")
    monkeypatch.delenv("YECAI_SECRET_KEY", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    try:
        box = SecretBox(store, load_key(tmp_path))
        space = _space()
        result = connection_service.test_connection(space, box, "pm", store=store)
        assert not result.ok
        assert "稍后重试" not in result.message_zh  # a person's one-off try: no promise to retry
        assert "will retry" not in result.message_en
        assert "然后再试一次" in result.message_zh
        state = health.health(store, "pm")
        assert state is not None
        assert state.consecutive_failures == 1
        assert not state.paused  # a test never pauses: only runs do
        assert "测试连接" in (state.last_error or "")
        row = connection_service.connection_rows(store, space, box)[0]
        assert row.consecutive_failures == 1  # the console's health column no longer says 正常
    finally:
        store.close()
