"""deploy/: the alert rules pass promtool and fire on synthetic series; the dashboard and the rules
name only metrics that yecai's /metrics really exports.

promtool comes from Debian's `prometheus` package, which .ci/run installs when it is missing: a
machine without it fails these tests rather than skipping them. The metric names are taken from
every PromQL expression (rules, dashboard panels, dashboard variables) by a small lexer, and
compared with a scrape of the real app (`create_app`) after Kingdee calls, a BatchSave and planted
store rows have given every histogram, counter and gauge samples.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.test_monitoring_metrics import Site, _posting, plant
from tests.support.kingdee_calls import balanced_voucher
from yecai.jobs.queue import JobQueue
from yecai.jobs.runner import open_runtime
from yecai.kingdee.client import KingdeeError
from yecai.settings import Settings
from yecai.store.db import Store, open_store
from yecai.sync.sending import send_postings
from yecai.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "yecai-rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "yecai.json"

# Names that yecai does not export, on purpose, and why.
EXTERNAL = {
    "up": "Prometheus's own scrape health of each target",
    "node_filesystem_avail_bytes": "node_exporter, on hosts that run it (YecaiHostDiskLow)",
    "node_filesystem_size_bytes": "node_exporter, on hosts that run it (YecaiHostDiskLow)",
}

# The sample suffixes each metric type allows (Prometheus / OpenMetrics exposition).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:  # CI installs it (.ci/run); never a silent skip
        pytest.fail(
            "promtool 未安装：apt-get install prometheus / promtool is missing: apt-get install prometheus"
        )
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


# --- a PromQL lexer that is just enough to find metric names ------------------------------------

KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "atan2", "inf", "nan", "start", "end",
}  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w.:$])[a-zA-Z_:][\w:]*")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (functions, keywords, labels and durations left out)."""
    found = _LABEL_VALUES.match(expr)
    if found:  # a Grafana variable query: label_values(metric, label)
        return {found.group(1)}
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)  # label matchers, after strings so a "}" inside one cannot end it
    text = _RANGE.sub(" ", text)  # [5m], [$__rate_interval], subqueries [1h:5m]
    text = _GROUPING.sub(" ", text)  # by (job), on (), group_left (a, b)
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group(0)
        rest = text[match.end() :].lstrip()
        if name.lower() in KEYWORDS or rest.startswith("("):  # a keyword or a function call
            continue
        names.add(name)
    return names


def rule_expressions() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {rule.get("alert") or rule["record"]: rule["expr"] for group in groups for rule in group["rules"]}


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_expressions() -> dict[str, str]:
    found = {}
    board = dashboard()
    for panel in _panels(board["panels"]):
        for target in panel.get("targets", []):
            found[f"{panel['title']} / {target['refId']}"] = target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            found[f"${variable['name']}"] = query["query"] if isinstance(query, dict) else query
    return found


def test_the_lexer_finds_metric_names_and_nothing_else() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, operation) (rate(yecai_kingdee_request_duration_seconds_bucket"
        '{connection=~"$connection", failure!="a}b or c"}[$__rate_interval])))'
        " / on (instance) group_left (job) max without (x) (up offset 1h) > bool 1e3"
        " or sum(node_filesystem_avail_bytes) by (mountpoint) and yecai_disk_size_bytes[1h:5m]"
    )
    assert metric_names(expr) == {
        "yecai_kingdee_request_duration_seconds_bucket",
        "up",
        "node_filesystem_avail_bytes",
        "yecai_disk_size_bytes",
    }
    assert metric_names("label_values(yecai_postings, connection)") == {"yecai_postings"}
    assert metric_names("yecai_job_last_success_age_seconds > 26 * 3600") == {
        "yecai_job_last_success_age_seconds"
    }


# --- promtool -----------------------------------------------------------------------------------


def test_the_rules_pass_promtool_check() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 10 rules found" in checked.stdout


def test_the_alerts_fire_on_synthetic_series() -> None:
    # yecai-rules.test.yml: Kingdee unreachable, yecai down, dead letters rising, the nightly job
    # stale and the disk low each fire, and stay quiet where they should
    tested = promtool("test", "rules", "yecai-rules.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
    tests = yaml.safe_load((PROMETHEUS / "yecai-rules.test.yml").read_text(encoding="utf-8"))["tests"]
    fired = {
        case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")
    }
    assert fired >= {
        "YecaiKingdeeUnreachable",
        "YecaiDown",
        "YecaiDeadLettersRising",
        "YecaiNightlyJobNotSucceeded",
        "YecaiDiskLow",
    }


def test_a_broken_rule_is_refused_by_promtool(tmp_path: Path) -> None:
    # the check is worth something only if promtool refuses a bad expression
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n- name: x\n  rules:\n  - alert: X\n    expr: sum by (job) (yecai_dead_letters\n",
        encoding="utf-8",
    )
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_the_scrape_example_is_a_valid_prometheus_config() -> None:
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_queries_parse(tmp_path: Path) -> None:
    # Grafana's variables replaced by what they stand for, each query becomes a recording rule: promtool
    # then parses every panel's PromQL like Prometheus will
    rules = []
    for n, (where, expr) in enumerate(sorted(dashboard_expressions().items())):
        if where.startswith("$"):
            continue  # label_values(…) is Grafana's, not PromQL; its metric is checked below
        query = expr.replace("$__rate_interval", "5m").replace("$connection", ".*").replace("$instance", ".*")
        assert "$" not in query, f"{where}: a Grafana variable left unreplaced in {expr}"
        rules.append({"record": f"dashboard:query_{n}", "expr": query})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- the rules' words and the dashboard's shape -------------------------------------------------


def test_every_alert_speaks_chinese_and_english_and_has_a_runbook() -> None:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        notes = rule["annotations"]
        for key in ("summary", "description", "runbook"):
            # "中文 / English": Chinese first, then the same in English
            chinese, slash, english = notes[key].partition(" / ")
            assert slash, f"{rule['alert']}.{key}: not 中文 / English"
            assert re.search(r"[\u4e00-\u9fff]", chinese), f"{rule['alert']}.{key} has no Chinese"
            assert not re.search(r"[\u4e00-\u9fff]", english), f"{rule['alert']}.{key}: Chinese after /"
            words = re.findall(r"\b[a-z]{2,}\b", re.sub(r"\{\{.*?\}\}", "", english))
            assert len(words) >= 3, f"{rule['alert']}.{key} has no English"
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_the_dashboard_is_importable_and_covers_what_operators_watch() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 39
    assert board["__inputs"][0]["name"] == "DS_PROMETHEUS"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    for panel in _panels(board["panels"]):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in panel["targets"])
    named = set().union(*(metric_names(e) for e in dashboard_expressions().values()))
    assert {
        "yecai_postings_sent_total",  # posting throughput and outcomes
        "yecai_postings",
        "yecai_kingdee_request_duration_seconds_bucket",  # latency by operation
        "yecai_dead_letters",
        "yecai_queue_pending_tasks",  # queue depth
        "yecai_job_leases",
        "yecai_job_last_success_age_seconds",
        "yecai_disk_free_bytes",
    } <= named
    assert any(
        "histogram_quantile" in e and "by (le, operation)" in e for e in dashboard_expressions().values()
    )


# --- the names against a real scrape ------------------------------------------------------------


@pytest.fixture
def exposition(tmp_path: Path) -> Iterator[dict[str, tuple[str, set[str]]]]:
    """family name → (type, sample names) from /metrics of create_app after real activity."""
    settings = Settings(workdir=tmp_path / "work", workspace=tmp_path / "yecai.yaml")
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    runtime = open_runtime(settings, store=store)
    site = Site(tmp_path / "kd")
    try:
        plant(store, dt.datetime.now(dt.UTC))
        _calls(site, store)
        queue = JobQueue(runtime)
        client = TestClient(create_app(store, settings=settings, runtime=runtime, queue=queue))
        response = client.get("/metrics")
        assert response.status_code == 200
        families = {
            family.name: (family.type, {s.name for s in family.samples})
            for family in text_string_to_metric_families(response.text)
        }
        yield families
    finally:
        site.server.stop()
        runtime.close()
        store.engine.dispose()


def _calls(site: Site, store: Store) -> None:
    with store.transaction() as session:
        session.add(_posting("deploy-good", balanced_voucher(40, date="2026-10-15"), site.connection))
    with site.client() as client:
        client.execute_bill_query("BD_Account", ["FNumber"], "FNumber = '1001'")
        send_postings(store, client, kingdee_connection=site.connection, max_attempts=1)
    site.faults(throttle_rate=1.0)
    with site.client() as client, pytest.raises(KingdeeError):
        client.save("GL_VOUCHER", balanced_voucher(41, date="2026-10-15"))


def _exported(name: str, families: dict[str, tuple[str, set[str]]]) -> bool:
    kind, samples = families.get(name, ("", set()))
    if kind in ("gauge", "unknown", "untyped") and name in samples:
        return True
    for family_type, suffixes in SUFFIXES.items():
        for suffix in suffixes:
            if name.endswith(suffix):
                base = families.get(name[: -len(suffix)])
                if base is not None and base[0] == family_type and name in base[1]:
                    return True
    return False


def test_every_metric_named_in_the_rules_and_dashboard_is_exported(
    exposition: dict[str, tuple[str, set[str]]],
) -> None:
    expressions = {**{f"rule {k}": v for k, v in rule_expressions().items()}, **dashboard_expressions()}
    missing = {}
    for where, expr in expressions.items():
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr}"
        for name in names - EXTERNAL.keys():
            if not _exported(name, exposition):
                missing.setdefault(name, []).append(where)
    assert not missing, f"named but not exported by /metrics: {missing}"


def test_the_name_check_would_catch_a_wrong_suffix(exposition: dict[str, tuple[str, set[str]]]) -> None:
    assert _exported("yecai_kingdee_request_duration_seconds_bucket", exposition)
    assert _exported("yecai_postings_sent_total", exposition)
    assert _exported("yecai_dead_letters", exposition)
    assert not _exported("yecai_postings_total", exposition)  # a gauge has no _total
    assert not _exported("yecai_postings_sent_bucket", exposition)  # a counter has no buckets
    assert not _exported("yecai_kingdee_request_duration_seconds", exposition)  # the bare histogram name
    assert not _exported("yecai_no_such_metric", exposition)
