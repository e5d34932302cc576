"""Standard tests every connector YAML in the tree must pass (the Singer SDK's standard tests, here).

Connectors are discovered (`yecai/connectors/**/connector.yaml`), opened through the kind registry
and run against sandbox.pm over real HTTP: discovery (streams, keys, documents, field mappings),
paging to the end with small pages, resuming from the stored cursor, empty pages, bad records
(reported, never fatal) and, for connectors that declare webhooks, signed pushes accepted and
unsigned, wrongly signed or tampered ones refused. Figures are compared with sandbox.pm's dataset.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import BaseModel
from sqlalchemy import func, select

from yecai import jsonutil
from yecai.connectors.registry import ConnectorRequest, build_connector
from yecai.domain.documents import DOCUMENT_TYPES
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.models import Dataset
from yecai.sandbox.pm.server import SandboxServer, start_sandbox
from yecai.sandbox.pm.webhooks import WebhookSettings, event_signature
from yecai.sandbox.serving import ServerThread
from yecai.sources.connector import Connector
from yecai.sources.state import parse_cursor
from yecai.store.db import Store
from yecai.store.tables import Record
from yecai.store.webhook_tables import WebhookEvent
from yecai.sync.intake import pull, read_cursor, validate_staged
from yecai.web.app import create_app

pytestmark = pytest.mark.slow  # every connector against a served sandbox.pm

CONNECTORS = sorted(
    Path(__file__).resolve().parents[2].joinpath("yecai", "connectors").glob("**/connector.yaml")
)
HOOK_SECRET = "standard-tests-hook"
# What each `${NAME}` of a connector file is when it talks to sandbox.pm; a new connector with
# another placeholder fails discovery until its sandbox value is added here.
SANDBOX_SECRETS = {"PM_SANDBOX_TOKEN": DEFAULT_TOKEN, "PM_WEBHOOK_SECRET": HOOK_SECRET}
# Where sandbox.pm's dataset keeps a stream's current rows, when not under the stream's own name.
DATASET_ROWS = {"cost_records": "all_cost_records"}
PAGE_SIZE = 25  # small, so every sizeable stream takes several pages
SANDBOX = {"projects": 2, "months": 1, "seed": 7}


def _id(path: Path) -> str:
    return path.parent.name


@pytest.fixture(params=CONNECTORS, ids=_id)
def connector_file(request: pytest.FixtureRequest) -> Path:
    return request.param


def _definition(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _small_pages(path: Path, tmp_path: Path) -> Path:
    """The connector file with every stream's page size cut to PAGE_SIZE."""
    data = _definition(path)
    for stream in data["streams"].values():
        stream.setdefault("pagination", {})["page_size"] = PAGE_SIZE
    small = tmp_path / f"{_id(path)}.small.yaml"
    small.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return small


class CountingTransport(httpx.HTTPTransport):
    """Counts the requests per path: how many pages each stream took."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.pages[request.url.path] += 1
        return super().handle_request(request)


def _open(
    path: Path,
    base_url: str,
    *,
    kind: str = "rest",
    connection: str = "pm",
    transport: httpx.BaseTransport | None = None,
) -> Connector:
    return build_connector(kind, ConnectorRequest(connection, path, base_url, SANDBOX_SECRETS, transport))


def _ordered(connector: Connector) -> list[str]:
    """Streams with every partition parent before its children (the parent supplies the values)."""
    done: list[str] = []
    while len(done) < len(connector.streams):
        for name, binding in connector.streams.items():
            parent = binding.partition.parent if binding.partition else None
            if name not in done and (parent is None or parent in done):
                done.append(name)
    return done


def _dataset_keys(dataset: Dataset, stream: str) -> set[str]:
    rows = getattr(dataset, DATASET_ROWS.get(stream, stream), None)
    assert rows is not None, f"add where sandbox.pm keeps {stream!r} to DATASET_ROWS"
    return {row.key for row in rows}


def _staged(store: Store, stream: str) -> list[dict[str, Any]]:
    with store.transaction() as session:
        payloads = session.scalars(
            select(Record.payload)
            .where(Record.connection == "pm", Record.stream == stream)
            .order_by(Record.id)
        ).all()
    return [jsonutil.loads(p) for p in payloads]


@dataclass(slots=True)
class Sandbox:
    server: SandboxServer
    dataset: Dataset


@pytest.fixture(scope="module")
def clean() -> Iterator[Sandbox]:
    server, dataset = start_sandbox(**SANDBOX)
    with server:
        yield Sandbox(server, dataset)


@pytest.fixture(scope="module")
def faulty() -> Iterator[Sandbox]:
    server, dataset = start_sandbox(**SANDBOX, bad_rate=0.05)
    with server:
        yield Sandbox(server, dataset)


# -- discovery ------------------------------------------------------------------------------------


def _required(model: type[BaseModel]) -> set[str]:
    return {name for name, info in model.model_fields.items() if info.is_required()}


def test_discovery_declares_streams_keys_and_documents(connector_file: Path) -> None:
    data = _definition(connector_file)
    placeholders = set(
        re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", connector_file.read_text(encoding="utf-8"))
    )
    assert placeholders <= set(SANDBOX_SECRETS), (
        f"sandbox values missing for {placeholders - set(SANDBOX_SECRETS)}"
    )
    connector = _open(connector_file, "http://unused")
    assert connector.streams, "a connector declares at least one stream"
    assert set(connector.streams) == set(data["streams"])
    for name, binding in connector.streams.items():
        assert binding.stream.name == name
        assert binding.stream.primary_key, name
        assert binding.stream.path.startswith("/"), name
        model = DOCUMENT_TYPES[binding.document_kind]
        mapped = set(data["streams"][name]["fields"])
        # every field the document needs is mapped, and nothing is mapped to a field it lacks
        assert _required(model) <= mapped, (name, _required(model) - mapped)
        assert mapped <= set(model.model_fields), (name, mapped - set(model.model_fields))
        if binding.partition is not None:
            assert binding.partition.parent in connector.streams, name
    if connector.webhooks is not None:
        assert {target.stream for target in connector.webhooks.events.values()} <= set(connector.streams)


# -- paging, cursors, empty pages -----------------------------------------------------------------


def _pull_all(store: Store, connector: Connector, since: str | None = None) -> dict[str, Any]:
    return {name: pull(store, connector, name, connection="pm", since=since) for name in _ordered(connector)}


def test_every_stream_pages_to_the_end(
    store: Store, clean: Sandbox, connector_file: Path, tmp_path: Path
) -> None:
    transport = CountingTransport()
    connector = _open(_small_pages(connector_file, tmp_path), clean.server.base_url, transport=transport)
    pulls = _pull_all(store, connector)
    for name, binding in connector.streams.items():
        items = _staged(store, name)
        keys = [str(item.get(binding.stream.primary_key) or "") for item in items]
        assert all(keys), f"{name}: every record carries its primary key {binding.stream.primary_key}"
        assert len(set(keys)) == len(keys) == pulls[name].fetched == pulls[name].new, name
        deleted = binding.is_deleted
        live = {k for k, item in zip(keys, items, strict=True) if deleted is None or not deleted(item)}
        assert live == _dataset_keys(clean.dataset, name), name
        pages = transport.pages[binding.stream.path]
        # a full last page needs one more (empty) request to prove the end; never fewer than needed
        assert math.ceil(len(items) / PAGE_SIZE) <= pages <= len(items) // PAGE_SIZE + 1, (name, pages)
        checked = validate_staged(store, connector, name, connection="pm")
        assert (checked.valid, checked.invalid, checked.deleted) == (len(live), 0, len(keys) - len(live)), (
            name
        )
    assert any(transport.pages[b.stream.path] > 1 for b in connector.streams.values()), "no stream paged"


def test_a_second_read_from_the_cursor_yields_only_the_look_back_window(
    store: Store, clean: Sandbox, connector_file: Path
) -> None:
    connector = _open(connector_file, clean.server.base_url)
    _pull_all(store, connector)
    again = _pull_all(store, connector)
    for name, binding in connector.streams.items():
        stream = binding.stream
        assert again[name].new == 0, f"{name}: nothing changed, nothing is new"
        items = _staged(store, name)
        if stream.cursor_field is None or binding.partition is not None:
            continue  # re-read in full (or per partition); only "nothing new" is the contract
        cursor = read_cursor(store, "pm", name)
        assert cursor is not None, name
        newest = max(parse_cursor(item[stream.cursor_field]) for item in items)
        assert parse_cursor(cursor) == newest, f"{name}: the cursor is the newest row's"
        window = [i for i in items if parse_cursor(i[stream.cursor_field]) >= newest - stream.look_back]
        assert again[name].fetched == len(window), f"{name}: only the look-back window is re-read"
        assert read_cursor(store, "pm", name) == cursor, f"{name}: a re-read never moves the cursor back"


def test_empty_pages_end_a_read_quietly(store: Store, clean: Sandbox, connector_file: Path) -> None:
    connector = _open(connector_file, clean.server.base_url)
    _pull_all(store, connector)
    before = {name: read_cursor(store, "pm", name) for name in connector.streams}
    future = _pull_all(store, connector, since="2100-01-01")  # nothing changed since: empty pages
    for name, binding in connector.streams.items():
        if binding.stream.cursor_field is None:
            continue
        assert (future[name].fetched, future[name].new) == (0, 0), name
        assert read_cursor(store, "pm", name) == before[name], f"{name}: an empty read keeps the cursor"


# -- bad records ----------------------------------------------------------------------------------


def test_bad_records_are_reported_and_the_good_rows_kept(
    store: Store, faulty: Sandbox, connector_file: Path
) -> None:
    connector = _open(connector_file, faulty.server.base_url)
    _pull_all(store, connector)
    defects = {d.key for d in faulty.dataset.defects}
    assert defects, "the sandbox planted bad rows"
    caught: set[str] = set()
    for name in connector.streams:
        checked = validate_staged(store, connector, name, connection="pm")
        live = _dataset_keys(faulty.dataset, name)
        bad = {key for key, issues in checked.issues}
        assert all(issues and issues[0].zh and issues[0].en for _, issues in checked.issues), name
        assert bad == defects & live, name  # exactly the planted defects of this stream
        assert checked.valid == len(live - bad), f"{name}: every good row beside them is kept"
        caught |= bad
    with store.transaction() as session:
        invalid = session.scalar(select(func.count()).select_from(Record).where(Record.status == "invalid"))
    assert invalid == len(caught) > 0


# -- webhooks -------------------------------------------------------------------------------------


def _hook_events(store: Store, connection: str) -> int:
    with store.transaction() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(WebhookEvent).where(WebhookEvent.connection == connection)
            )
            or 0
        )


def test_webhook_signatures_are_checked(store: Store, connector_file: Path) -> None:
    probe = _open(connector_file, "http://unused", kind="rest")
    if probe.webhooks is None:
        pytest.skip(f"{_id(connector_file)} declares no webhooks")
    # push-only (webhook kind) connections: one the sender signs for, one it signs wrongly for
    hooks = {
        name: _open(connector_file, "http://unused", kind="webhook", connection=name)
        for name in ("signed", "forged")
    }
    assert not any(c.pulls for c in hooks.values())
    with ServerThread(create_app(store, hooks)) as web:
        probe_server, dataset = start_sandbox(**SANDBOX)
        probe_server.stop()
        server, _ = start_sandbox(
            **SANDBOX,
            now=dataset.timeline_start + dt.timedelta(days=5),
            webhooks=[
                (f"{web.base_url}/webhooks/signed", HOOK_SECRET),
                (f"{web.base_url}/webhooks/forged", HOOK_SECRET + "-wrong"),
            ],
            webhook_settings=WebhookSettings(max_attempts=1, backoff_seconds=0.05),
        )
        with server:
            server.runtime.clock.advance(dt.timedelta(days=1))
            assert server.runtime.webhooks.wait_idle(60)
            log = server.runtime.webhooks.log()
            subscription = {s.id: s.url.rsplit("/", 1)[1] for s in server.runtime.webhooks.subscriptions()}
        outcomes: dict[str, Counter[int | None]] = {"signed": Counter(), "forged": Counter()}
        for entry in log:
            outcomes[subscription[entry["subscription_id"]]][entry["http_status"]] += 1
        sent = sum(outcomes["signed"].values())
        assert sent > 0
        assert outcomes["signed"] == Counter({200: sent}), outcomes["signed"]
        assert outcomes["forged"] == Counter({401: sent}), outcomes["forged"]
        assert _hook_events(store, "signed") == sent
        assert _hook_events(store, "forged") == 0

        # an unsigned event, and a signed one altered on the way, are refused and store nothing
        event_type = next(iter(probe.webhooks.events))
        body = jsonutil.dumps({"event_id": "evt_standard", "event_type": event_type, "data": {}}).encode()
        stamp = str(int(dt.datetime.now(dt.UTC).timestamp()))
        spec = probe.webhooks
        assert spec.timestamp_header is not None
        signed = {
            spec.timestamp_header: stamp,
            spec.signature_header: event_signature(HOOK_SECRET, stamp, body),
        }
        for headers, content in (
            ({spec.timestamp_header: stamp}, body),
            (signed, body.replace(b"evt_standard", b"evt_tampered")),
            ({**signed, spec.timestamp_header: str(int(stamp) - 3600)}, body),
        ):
            answer = httpx.post(f"{web.base_url}/webhooks/signed", content=content, headers=headers)
            assert answer.status_code == 401, answer.text
            assert answer.json()["outcome"] == "refused"
        assert _hook_events(store, "signed") == sent
