"""Pulling a stream while its staged records are validated (`intake.pull_validating`, issue 15).

The nightly job validates what a pull has staged while the pull still waits on the source. The
store must end exactly as pulling first and validating after leaves it: the same records with the
same statuses, the same documents, the same counts; and a pull that fails half way still raises,
with every page it staged validated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from yecai.connectors.pm_sandbox import PmSandboxConnector
from yecai.sandbox.pm.app import DEFAULT_TOKEN
from yecai.sandbox.pm.server import start_sandbox as start_pm
from yecai.sources.rest import Page, RestSource
from yecai.store.db import Store, open_store
from yecai.store.tables import Document, Record
from yecai.sync import intake


@pytest.fixture(scope="module")
def pm_url() -> Iterator[str]:
    server, _dataset = start_pm(projects=12, months=1, seed=11)  # 3+ pages of 500
    try:
        yield server.base_url
    finally:
        server.stop()


def _contents(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with store.transaction() as session:
        records = [
            tuple(row)
            for row in session.execute(
                select(
                    Record.stream, Record.source_key, Record.revision, Record.content_hash, Record.status
                ).order_by(Record.stream, Record.source_key, Record.revision)
            )
        ]
        documents = [
            tuple(row)
            for row in session.execute(
                select(
                    Document.kind, Document.source_key, Document.version, Document.deleted, Document.data
                ).order_by(Document.kind, Document.source_key, Document.id)
            )
        ]
    return records, documents


def test_the_store_ends_as_pulling_then_validating_leaves_it(
    pm_url: str, store_url: str, tmp_path: Any
) -> None:
    connector = PmSandboxConnector(pm_url, DEFAULT_TOKEN)
    apart = open_store(f"sqlite:///{tmp_path / 'apart.sqlite'}")
    together = open_store(store_url)
    try:
        counts_apart, counts_together = [], []
        for stream in ("projects", "cost_records"):
            pulled = intake.pull(apart, connector, stream, connection="pm")
            validated = intake.validate_staged(apart, connector, stream, connection="pm")
            counts_apart.append(
                (pulled.fetched, pulled.new, validated.valid, validated.invalid, validated.deleted)
            )
            pulled, validated = intake.pull_validating(together, connector, stream, connection="pm")
            counts_together.append(
                (pulled.fetched, pulled.new, validated.valid, validated.invalid, validated.deleted)
            )
        assert counts_together == counts_apart
        assert counts_apart[1][0] > 1000  # three pages and more
        assert _contents(together) == _contents(apart)
        with together.transaction() as session:
            assert session.scalar(select(Record.id).where(Record.status == "staged").limit(1)) is None
    finally:
        apart.close()
        together.close()


def test_a_failing_pull_raises_after_what_it_staged_is_validated(
    pm_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = RestSource.pages

    def two_pages_then_a_fault(self: RestSource, *args: Any, **kwargs: Any) -> Iterator[Page]:
        for number, page in enumerate(pages(self, *args, **kwargs)):
            if number == 2:
                raise ConnectionError("the source went away")
            yield page

    monkeypatch.setattr(RestSource, "pages", two_pages_then_a_fault)
    connector = PmSandboxConnector(pm_url, DEFAULT_TOKEN)
    with pytest.raises(ConnectionError):
        intake.pull_validating(store, connector, "cost_records", connection="pm")
    with store.transaction() as session:
        statuses = list(session.scalars(select(Record.status).where(Record.stream == "cost_records")))
        documents = session.scalar(select(Document.id).where(Document.kind == "cost_record").limit(1))
    # one page of look-ahead: the first page was committed before the fault, and validated
    assert statuses
    assert "staged" not in statuses
    assert documents is not None
