"""Durable state of one sandbox data centre: SQLite (WAL) underneath, an in-memory mirror on top.

Every write goes through a `Transaction` that commits to SQLite first and only then updates the
mirror, so a failed write leaves no trace and readers never see half a bill. One re-entrant lock
serialises all operations: uvicorn runs handlers in a thread pool and numbering must stay gap-free.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from yecai.jsonutil import decimal_text, dumps, loads
from yecai.sandbox.kingdee.forms import Field, Form, FormRegistry, derived
from yecai.sandbox.kingdee.values import format_datetime, parse_datetime_text

RecordId = int | str
Bucketing = Callable[[Any], Hashable]

# A lookup index maps every record to a bucket through a function of its field value; records in
# this bucket are returned by every lookup (values the index cannot decide on).
ALWAYS: Hashable = object()

# Writes a dimension combination's signature as json.dumps(…, ensure_ascii=False) does (the text is
# stored: it must not change), without building an encoder per voucher line.
_SIGNATURE = json.JSONEncoder(ensure_ascii=False)

FIRST_ID = 100001  # internal ids (内码) of real tenants start around 100000
HEX_ID_BASE = 0x5FD715F4880000  # assistant data ids are 14 hex digits on real tenants

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    form_id TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (form_id, id)
);
CREATE TABLE IF NOT EXISTS flex_details (id INTEGER PRIMARY KEY, signature TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS saved_packages (
    form_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    record_id TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (form_id, digest)
);
"""


@dataclass(slots=True)
class Record:
    """One bill or base-data item: header values and entry rows, keyed by upper-cased field key.

    Reference fields hold the referenced internal id; flex fields (FDetailID) hold
    `{"id": <combination id>, "dims": {FLEXKEY: id}}` or None.
    """

    form_id: str
    id: RecordId
    values: dict[str, Any]
    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def copy(self) -> Record:
        return Record(
            self.form_id,
            self.id,
            dict(self.values),
            {key: [dict(row) for row in rows] for key, rows in self.entries.items()},
        )


def number_key(number: str) -> str:
    """Numbers are unique case-insensitively, as under SQL Server's CI collation."""
    return number.strip().casefold()


class Store:
    """All records of one data centre. Use `with store.lock:` around read-decide-write sequences."""

    def __init__(self, path: Path, registry: FormRegistry) -> None:
        self.path = path
        self.registry = registry
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._records: dict[str, dict[RecordId, Record]] = {}
        self._numbers: dict[str, dict[tuple[Any, ...], RecordId]] = {}
        # number → every holder, for forms whose numbers repeat across scopes (allocated copies).
        self._holders: dict[str, dict[str, list[RecordId]]] = {}
        self._packages: dict[tuple[str, str], tuple[str, str]] = {}
        self._counters: dict[str, int] = {}
        self._flex: dict[str, int] = {}
        self._meta: dict[str, Any] = {}
        # Insertion position of each record in `_records` (the order `records` lists them in).
        self._positions: dict[str, dict[RecordId, int]] = {}
        self._next_position = 0
        # How many writes each form's records have seen: what a cached lookup was made against.
        self._generations: dict[str, int] = {}
        # Lookup indexes built on demand: form → (field key, bucket function) → bucket → ids.
        self._indexes: dict[str, dict[tuple[str, Bucketing], _Index]] = {}
        self._load()

    # --- loading ----------------------------------------------------------------------------------

    def _load(self) -> None:
        for key, value in self._conn.execute("SELECT key, value FROM meta"):
            self._meta[key] = json.loads(value)
        for name, value in self._conn.execute("SELECT name, value FROM counters"):
            self._counters[name] = value
        for flex_id, signature in self._conn.execute("SELECT id, signature FROM flex_details"):
            self._flex[signature] = flex_id
        for form_id, digest, record_id, saved_at in self._conn.execute(
            "SELECT form_id, digest, record_id, saved_at FROM saved_packages"
        ):
            self._packages[(form_id, digest)] = (record_id, saved_at)
        for form_id, record_id, body in self._conn.execute(
            "SELECT form_id, id, body FROM records ORDER BY rowid"
        ):
            form = self.registry.get(form_id)
            if form is None:
                continue
            record = _decode(form, record_id, loads(body))
            self._remember(form, record)

    # --- reads ------------------------------------------------------------------------------------

    def meta(self, key: str, default: Any = None) -> Any:
        return self._meta.get(key, default)

    def records(self, form: Form) -> list[Record]:
        return list(self._records.get(form.form_id.upper(), {}).values())

    def get(self, form: Form, record_id: RecordId) -> Record | None:
        return self._records.get(form.form_id.upper(), {}).get(record_id)

    def find_number(self, form: Form, number: str, scope: tuple[Any, ...] | None = None) -> RecordId | None:
        """The record holding `number` within `scope` (values of the form's `unique_within` keys).

        Without a scope: the first record ever given that number (the master of allocated copies).
        """
        if scope is None and form.unique_within:
            holders = self._holders.get(form.form_id.upper(), {}).get(number_key(number))
            return holders[0] if holders else None
        return self._numbers.get(form.form_id.upper(), {}).get((*(scope or ()), number_key(number)))

    def holders(self, form: Form, number: str) -> list[RecordId]:
        """Every record bearing `number` (one per scope), oldest first."""
        return list(self._holders.get(form.form_id.upper(), {}).get(number_key(number), []))

    def lookup(self, form: Form, key: str, bucket_of: Bucketing, wanted: Iterable[Hashable]) -> list[Record]:
        """The records whose header field `key` falls in one of the `wanted` buckets or in ALWAYS,
        in the order `records` gives them.

        `bucket_of` maps a field value to its bucket (a module-level function: it names the
        index). The index is built on first use and kept up to date by every later write, so a
        query for 50 numbers among 13,000 vouchers reads 50 records, not 13,000 (issue 15).
        """
        form_key = form.form_id.upper()
        indexes = self._indexes.setdefault(form_key, {})
        index = indexes.get((key.upper(), bucket_of))
        if index is None:
            index = indexes[(key.upper(), bucket_of)] = _Index(key.upper(), bucket_of)
            for record in self._records.get(form_key, {}).values():
                index.add(record)
        ids: dict[RecordId, None] = {}
        for bucket in (*wanted, ALWAYS):
            ids.update(index.buckets.get(bucket, {}))
        positions = self._positions.get(form_key, {})
        by_id = self._records.get(form_key, {})
        return [by_id[record_id] for record_id in sorted(ids, key=positions.__getitem__)]

    def saved_package(self, form: Form, digest: str) -> tuple[str, str] | None:
        """(record id, saved at) of an earlier Save of exactly this JSON package (ValidateRepeatJson)."""
        return self._packages.get((form.form_id.upper(), digest))

    def counter(self, name: str) -> int:
        return self._counters.get(name, 0)

    def flex_signature_id(self, signature: str) -> int | None:
        return self._flex.get(signature)

    def generation(self, form: Form) -> int:
        """Changes whenever a record of `form` is written or deleted (for caches of lookups)."""
        return self._generations.get(form.form_id.upper(), 0)

    def _remember(self, form: Form, record: Record) -> None:
        self._generations[form.form_id.upper()] = self.generation(form) + 1
        by_id = self._records.setdefault(form.form_id.upper(), {})
        old = by_id.get(record.id)
        if old is not None:
            self._unindex(form, old)
        else:  # a new key goes to the end of the dict; a replaced one keeps its place
            self._positions.setdefault(form.form_id.upper(), {})[record.id] = self._next_position
            self._next_position += 1
        by_id[record.id] = record
        for index in self._indexes.get(form.form_id.upper(), {}).values():
            index.add(record)
        if form.number:
            number = str(record.values.get(form.number.upper(), "") or "")
            if number.strip():
                key = number_key(number)
                self._numbers.setdefault(form.form_id.upper(), {})[(*scope_of(form, record), key)] = record.id
                holders = self._holders.setdefault(form.form_id.upper(), {}).setdefault(key, [])
                holders.append(record.id)
                holders.sort(key=_id_order)

    def _unindex(self, form: Form, record: Record) -> None:
        for index in self._indexes.get(form.form_id.upper(), {}).values():
            index.remove(record.id)
        if not form.number:
            return
        key = number_key(str(record.values.get(form.number.upper(), "") or ""))
        numbers = self._numbers.get(form.form_id.upper(), {})
        if numbers.get((*scope_of(form, record), key)) == record.id:
            del numbers[(*scope_of(form, record), key)]
        holders = self._holders.get(form.form_id.upper(), {}).get(key)
        if holders and record.id in holders:
            holders.remove(record.id)

    def _forget(self, form: Form, record_id: RecordId) -> None:
        self._generations[form.form_id.upper()] = self.generation(form) + 1
        record = self._records.get(form.form_id.upper(), {}).pop(record_id, None)
        if record is not None:
            self._unindex(form, record)
            del self._positions[form.form_id.upper()][record_id]

    # --- writes -----------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Collect writes; commit them to SQLite and then to memory when the block ends cleanly."""
        with self.lock:
            tx = Transaction(self)
            yield tx
            tx.commit()

    def checkpoint(self) -> None:
        """Fold the WAL into the database file (before the file is moved or copied)."""
        with self.lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self.lock:
            self._conn.close()


class _Index:
    """Records of one form by bucket of one header field's value; `placed` remembers where each
    record went, so it leaves the right bucket even if its values changed in place."""

    __slots__ = ("bucket_of", "buckets", "key", "placed")

    def __init__(self, key: str, bucket_of: Bucketing) -> None:
        self.key = key
        self.bucket_of = bucket_of
        self.buckets: dict[Hashable, dict[RecordId, None]] = {}
        self.placed: dict[RecordId, Hashable] = {}

    def add(self, record: Record) -> None:
        self.remove(record.id)
        bucket = self.bucket_of(record.values.get(self.key))
        self.buckets.setdefault(bucket, {})[record.id] = None
        self.placed[record.id] = bucket

    def remove(self, record_id: RecordId) -> None:
        if record_id in self.placed:
            del self.buckets[self.placed.pop(record_id)][record_id]


def _id_order(record_id: RecordId) -> tuple[int, Any]:
    return (0, record_id) if isinstance(record_id, int) else (1, str(record_id))


def scope_of(form: Form, record: Record) -> tuple[Any, ...]:
    return tuple(record.values.get(key.upper()) for key in form.unique_within)


class Transaction:
    """Pending writes of one logical operation (one BatchSave package, one seed step, …)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._records: dict[tuple[str, RecordId], tuple[Form, Record]] = {}
        self._deleted: dict[tuple[str, RecordId], Form] = {}
        self._counters: dict[str, int] = {}
        self._flex: dict[str, int] = {}
        self._meta: dict[str, Any] = {}
        self._packages: dict[tuple[str, str], tuple[str, str]] = {}

    def next_value(self, name: str, first: int = FIRST_ID) -> int:
        """The next value of counter `name` (first value `first`), consumed only if we commit."""
        current = self._counters.get(name, self.store.counter(name))
        value = max(current + 1, first)
        self._counters[name] = value
        return value

    def new_id(self, form: Form) -> RecordId:
        value = self.next_value(f"id:{form.form_id.upper()}")
        return format(HEX_ID_BASE + value, "014x") if form.id_kind == "hex" else value

    def flex_id(self, dims: dict[str, RecordId]) -> int:
        """The id of a dimension combination (T_BD_FLEXITEMDETAILV): one per distinct combination."""
        signature = _SIGNATURE.encode(sorted(dims.items()))
        existing = self._flex.get(signature) or self.store.flex_signature_id(signature)
        if existing is not None:
            return existing
        flex_id = self.next_value("flex")
        self._flex[signature] = flex_id
        return flex_id

    def get(self, form: Form, record_id: RecordId) -> Record | None:
        """A record as this transaction will leave it (pending write first, then the store)."""
        if (form.form_id.upper(), record_id) in self._deleted:
            return None
        pending = self._records.get((form.form_id.upper(), record_id))
        return pending[1] if pending else self.store.get(form, record_id)

    def put(self, form: Form, record: Record) -> None:
        self._deleted.pop((form.form_id.upper(), record.id), None)
        self._records[(form.form_id.upper(), record.id)] = (form, record)

    def delete(self, form: Form, record_id: RecordId) -> None:
        self._records.pop((form.form_id.upper(), record_id), None)
        self._deleted[(form.form_id.upper(), record_id)] = form

    def remember_package(self, form: Form, digest: str, record_id: RecordId, saved_at: str) -> None:
        self._packages[(form.form_id.upper(), digest)] = (str(record_id), saved_at)

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = value

    def commit(self) -> None:
        conn = self.store._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for key, value in self._meta.items():
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES(?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value, ensure_ascii=False)),
                )
            conn.executemany(
                "INSERT INTO counters(name, value) VALUES(?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                self._counters.items(),
            )
            for signature, flex_id in self._flex.items():
                conn.execute("INSERT INTO flex_details(id, signature) VALUES(?, ?)", (flex_id, signature))
            for form, record in self._records.values():
                conn.execute(
                    "INSERT INTO records(form_id, id, body) VALUES(?, ?, ?) "
                    "ON CONFLICT(form_id, id) DO UPDATE SET body = excluded.body",
                    (form.form_id.upper(), str(record.id), _body(form, record)),
                )
            for (form_id, record_id), _form in self._deleted.items():
                conn.execute("DELETE FROM records WHERE form_id = ? AND id = ?", (form_id, str(record_id)))
            for (form_id, digest), (record_id, saved_at) in self._packages.items():
                conn.execute(
                    "INSERT INTO saved_packages(form_id, digest, record_id, saved_at) VALUES(?, ?, ?, ?) "
                    "ON CONFLICT(form_id, digest) DO UPDATE SET record_id = excluded.record_id, "
                    "saved_at = excluded.saved_at",
                    (form_id, digest, record_id, saved_at),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        store = self.store
        store._meta.update(self._meta)
        store._counters.update(self._counters)
        store._flex.update(self._flex)
        for form, record in self._records.values():
            store._remember(form, record)
        for (_form_id, record_id), form in self._deleted.items():
            store._forget(form, record_id)
        store._packages.update(self._packages)


# --- (de)serialisation of records -----------------------------------------------------------------


def _encode_value(field: Field, value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


# Fields whose values `_body` turns into text: dates and times, and decimal amounts.
_TEXT_KINDS = frozenset({"date", "datetime", "decimal"})


def _text_keys(fields: dict[str, Field]) -> tuple[tuple[str, bool], ...]:
    """(key, is decimal) of the fields `_body` writes as text."""
    return derived(fields, "text_keys", _compute_text_keys)


def _compute_text_keys(fields: dict[str, Field]) -> tuple[tuple[str, bool], ...]:
    return tuple((key, field.kind == "decimal") for key, field in fields.items() if field.kind in _TEXT_KINDS)


def _as_text(values: dict[str, Any], keys: tuple[tuple[str, bool], ...]) -> None:
    for key, decimal in keys:
        value = values.get(key)
        if decimal and type(value) is Decimal:
            values[key] = decimal_text(value)
        elif isinstance(value, datetime):
            values[key] = format_datetime(value)


def _body(form: Form, record: Record) -> str:
    """The stored JSON of a record, read back by `_decode`.

    Written by the standard library's C encoder, several times faster than `jsonutil.dumps`
    (record bodies were a tenth of the sandbox's CPU in a nightly run, issue 15). The C encoder
    cannot print a Decimal as a JSON number, so a decimal field holds its amount's exact text
    (`"2000.70"`), which `_decode_value` turns into the same Decimal as it does the number. A value
    the C encoder refuses (a Decimal or a date where no such field is) takes the old way,
    `jsonutil.dumps(_encode(…))`, which writes such values as before.
    """
    fields = form.fields
    values = record.values
    if values.keys() <= fields.keys():
        header = dict(values)
    else:
        header = {key: value for key, value in values.items() if key in fields}
    _as_text(header, _text_keys(fields))
    entries: dict[str, list[dict[str, Any]]] = {}
    for entity_key, rows in record.entries.items():
        keys = _text_keys(form.entities[entity_key].fields)
        copies = entries[entity_key] = [dict(row) for row in rows]
        for row in copies:
            _as_text(row, keys)
    try:
        return json.dumps({"values": header, "entries": entries}, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return dumps(_encode(form, record))


def _decode_value(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.kind in ("date", "datetime"):
        return parse_datetime_text(value)
    if field.kind == "decimal":
        return value if isinstance(value, Decimal) else Decimal(value)
    return value


def _encode(form: Form, record: Record) -> dict[str, Any]:
    header = {
        key: _encode_value(form.fields[key], value)
        for key, value in record.values.items()
        if key in form.fields
    }
    entries: dict[str, list[dict[str, Any]]] = {}
    for entity_key, rows in record.entries.items():
        entity = form.entities[entity_key]
        entries[entity_key] = [
            {k: (_encode_value(entity.fields[k], v) if k in entity.fields else v) for k, v in row.items()}
            for row in rows
        ]
    return {"values": header, "entries": entries}


def _decode(form: Form, raw_id: str, body: dict[str, Any]) -> Record:
    record_id: RecordId = int(raw_id) if form.id_kind == "int" else raw_id
    values = {
        key: _decode_value(form.fields[key], value)
        for key, value in body.get("values", {}).items()
        if key in form.fields
    }
    entries: dict[str, list[dict[str, Any]]] = {}
    for entity_key, rows in body.get("entries", {}).items():
        entity = form.entities.get(entity_key)
        if entity is None:
            continue
        entries[entity_key] = [
            {k: (_decode_value(entity.fields[k], v) if k in entity.fields else v) for k, v in row.items()}
            for row in rows
        ]
    return Record(form.form_id, record_id, values, entries)
