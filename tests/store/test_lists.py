"""`one_of`: "column is one of these values" as one array parameter on PostgreSQL, `IN` elsewhere —
the same rows either way, for ids and for keys, none or thousands. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from yecai.store.db import Store
from yecai.store.lists import one_of
from yecai.store.tables import Record


@pytest.fixture
def records(store: Store) -> list[int]:
    with store.transaction() as session:
        session.execute(
            text(
                "INSERT INTO records (connection, stream, source_key, content_hash, revision, payload, status, "
                "received_at) VALUES "
                + ", ".join(
                    f"('pm', 'c', 'K{n}', 'h{n}', 1, '{{}}', 'staged', CURRENT_TIMESTAMP)"
                    for n in range(3000)
                )
            )
        )
        return list(session.scalars(select(Record.id).order_by(Record.id)))


@pytest.mark.parametrize("pick", [slice(0, 0), slice(0, 1), slice(5, 2500, 3), slice(0, 3000)])
def test_the_rows_are_those_an_in_list_names(store: Store, records: list[int], pick: slice) -> None:
    ids = records[pick]
    keys = [f"K{n}" for n in range(3000)][pick]
    with store.transaction() as session:
        by_id = list(
            session.scalars(select(Record.id).where(one_of(session, Record.id, ids)).order_by(Record.id))
        )
        by_key = list(
            session.scalars(
                select(Record.id).where(one_of(session, Record.source_key, keys)).order_by(Record.id)
            )
        )
    assert by_id == sorted(ids)
    assert by_key == sorted(ids)
