"""`yecai sync` on a workspace: every ready rule set in one job, secrets from the encrypted store.

sandbox.pm and sandbox.kingdee run in-process; the workspace names them, the Kingdee AppSecret is
stored encrypted (never written in the file), and one job posts costs, purchase-invoice VAT,
owner valuations, payment requests (CN_PAYAPPLY bills) and payments — then runs again and posts
nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from yecai.cli.main import app
from yecai.cli.serving import webhook_connectors
from yecai.errors import ConfigurationError
from yecai.sandbox.kingdee import start_sandbox as start_kingdee
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.secrets import SecretBox, load_key
from yecai.services import connections as connection_service
from yecai.services import postings
from yecai.store.db import open_store
from yecai.store.tables import Record
from yecai.workspace import BUILTIN_CONNECTORS, SourceConnection, load_workspace, parse_workspace

pytestmark = pytest.mark.slow

RULE_SETS = ["cost_actuals", "purchase_invoice", "valuation", "payment_request", "payment"]
STREAMS = ["projects", "cost_records", "contracts", "invoices", "progress_reports", "payment_requests"]


@pytest.fixture
def workspace(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    pm_server, _ = start_pm(projects=2, months=1, seed=21)
    kd_server, c = start_kingdee(tmp_path / "kd")
    path = tmp_path / "yecai.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "connections": {
                    "pm": {
                        "kind": "source",
                        "connector": "pm_sandbox",
                        "base_url": pm_server.base_url,
                        "secrets": {"PM_SANDBOX_TOKEN": "${PM_TOKEN}", "PM_WEBHOOK_SECRET": "${PM_HOOK}"},
                    },
                    "kd": {
                        "kind": "kingdee",
                        "server_url": c["server_url"],
                        "acct_id": c["acct_id"],
                        "user_name": c["user_name"],
                        "app_id": c["app_id"],
                        "app_secret": "${KD_SECRET}",
                        "lcid": c["lcid"],
                        "org_num": str(c["org_num"]),
                    },
                },
                "syncs": {
                    "books": {"source": "pm", "target": "kd", "streams": STREAMS, "rule_sets": RULE_SETS}
                },
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("YECAI_WORKSPACE", str(path))
    monkeypatch.setenv("YECAI_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("YECAI_DATABASE_URL", store_url)
    monkeypatch.setenv("PM_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("PM_HOOK", "unused")
    monkeypatch.delenv("KD_SECRET", raising=False)
    store = open_store(store_url)
    SecretBox(store, load_key(tmp_path / "work")).set("kd", "KD_SECRET", str(c["app_secret"]))
    store.close()
    try:
        yield path
    finally:
        kd_server.stop()
        pm_server.stop()


def value(output: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}\s*│\s*([^│]+?)\s*│", output)
    assert match, f"{label!r} not in\n{output}"
    return match.group(1)


def test_one_job_posts_every_event_once(workspace: Path, store_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["sync", "--job", "books"], env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    for rule_set in RULE_SETS:
        assert int(value(first.output, f"计划 planned · {rule_set}").replace(",", "")) > 0, rule_set
    assert value(first.output, "缺失 / 重复 missing / duplicated") == "0 / 0"
    store = open_store(store_url)
    try:
        counts = postings.counts_by_state(store)
        forms = {row.form_id for row in postings.list_postings(store, limit=10000)}
    finally:
        store.close()
    assert set(counts) == {"posted"}
    assert forms == {"GL_VOUCHER", "CN_PAYAPPLY"}
    second = runner.invoke(app, ["sync", "--connection", "kd"], env={"COLUMNS": "200"})
    assert second.exit_code == 0, second.output
    assert value(second.output, "过账 posted") == "0"


def test_secrets_never_live_in_the_workspace_file(workspace: Path) -> None:
    text = workspace.read_text(encoding="utf-8")
    assert "${KD_SECRET}" in text
    listing = CliRunner().invoke(app, ["connections", "list"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    assert "KD_SECRET" in listing.output
    loaded = load_workspace(workspace)
    with pytest.raises(ConfigurationError, match="KD_SECRET"):
        loaded.resolve("kd", "${KD_SECRET}", None)  # neither stored (no box given) nor in the env


def test_workspace_errors_are_named(tmp_path: Path) -> None:
    bad: dict[str, Any] = {
        "connections": {"pm": {"kind": "source", "connector": "pm_sandbox"}},
        "syncs": {"x": {"source": "pm", "target": "pm"}},
    }
    with pytest.raises(ConfigurationError, match="not a kingdee connection"):
        parse_workspace(bad, tmp_path)
    bad["connections"]["kd"] = {"kind": "kingdee", "server_url": "http://x", "acct_id": "a", "user_name": "u"}
    bad["syncs"]["x"]["target"] = "kd"
    with pytest.raises(ConfigurationError, match="needs app_id"):
        parse_workspace(bad, tmp_path)


def test_the_example_workspace_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "yecai.example.yaml"
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    (tmp_path / "mapping.yaml").write_text("project_default: same_code\n", encoding="utf-8")
    space = parse_workspace(data, tmp_path, origin=str(example))
    job = space.syncs["books"]
    assert [r.name for r in space.rule_sets(job)] == list(job.rule_sets)
    assert space.mapping(job).project_default == "same_code"
    assert job.schedule is not None
    assert job.schedule.holidays == "next_workday"


def test_source_kinds_are_resolved_by_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_TOKEN", "t")
    monkeypatch.setenv("PM_HOOK", "h")
    secrets = {"PM_SANDBOX_TOKEN": "${PM_TOKEN}", "PM_WEBHOOK_SECRET": "${PM_HOOK}"}
    bare = yaml.safe_load(BUILTIN_CONNECTORS["pm_sandbox"].read_text(encoding="utf-8"))
    del bare["webhooks"]
    (tmp_path / "pull_only.yaml").write_text(yaml.safe_dump(bare, allow_unicode=True), encoding="utf-8")
    space = parse_workspace(
        {
            "connections": {
                "legacy": {"kind": "source", "connector": "pm_sandbox", "secrets": secrets},
                "unnamed": {"connector": "pm_sandbox", "secrets": secrets},  # no kind at all
                "pushed": {"kind": "webhook", "connector": "pm_sandbox", "secrets": secrets},
                "pulled": {"kind": "rest", "connector": "pull_only.yaml", "secrets": secrets},
                "hookless": {"kind": "webhook", "connector": "pull_only.yaml", "secrets": secrets},
                "files": {"kind": "file"},
            }
        },
        tmp_path,
    )
    kinds = {name: c.source_kind for name, c in space.connections.items() if isinstance(c, SourceConnection)}
    assert kinds == {
        "legacy": "rest",
        "unnamed": "rest",
        "pushed": "webhook",
        "pulled": "rest",
        "hookless": "webhook",
        "files": "file",
    }
    # as before kinds: a pulled connector that declares webhooks is also served its pushes
    legacy, pushed, files = (space.source(n, None) for n in ("legacy", "pushed", "files"))
    assert (legacy.pulls, legacy.webhooks is not None) == (True, True)
    assert (pushed.pulls, pushed.webhooks is not None) == (False, True)
    assert (files.pulls, files.webhooks) == (False, None)
    assert {"cost", "invoice", "attendance"} <= set(files.streams)
    assert files.streams["invoice"].document_kind == "invoice"
    with pytest.raises(ConfigurationError, match="yecai import --connection files"):
        files.source()
    with pytest.raises(ConfigurationError, match=r"hookless.*declares no webhooks"):
        space.source("hookless", None)
    served = webhook_connectors(space, None)  # hookless is refused (and logged), the rest served
    assert set(served) == {"legacy", "unnamed", "pushed"}
    # testing a pushed or imported connection calls nothing: opening its connector is the test
    for name in ("pushed", "files"):
        tested = connection_service.test_connection(space, None, name)  # type: ignore[arg-type]
        assert tested.ok, tested.message_en
        assert "not pulled" in tested.message_en


def test_unknown_source_kinds_name_the_connection(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_workspace({"connections": {"site": {"kind": "ftp", "connector": "x.yaml"}}}, tmp_path)
    assert caught.value.zh.startswith("连接 site 的类型 'ftp' 未知")
    assert "connection site has an unknown kind 'ftp'" in caught.value.en
    assert "rest, webhook, file" in caught.value.en
    with pytest.raises(ConfigurationError, match=r"connections\.site.*needs connector"):
        parse_workspace({"connections": {"site": {"kind": "rest"}}}, tmp_path)


def test_a_push_only_source_is_not_pulled(workspace: Path, store_url: str) -> None:
    data = yaml.safe_load(workspace.read_text(encoding="utf-8"))
    data["connections"]["pm"]["kind"] = "webhook"
    workspace.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(app, ["sync", "--job", "books"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    store = open_store(store_url)
    try:
        with store.transaction() as session:
            staged = session.scalar(select(func.count()).select_from(Record).where(Record.connection == "pm"))
        assert staged == 0  # nothing was pushed, and a webhook connection is never paged through
        assert postings.counts_by_state(store) == {}
    finally:
        store.close()
