"""What a connector declares: its streams and how each stream's items become documents.

A connector is data plus two small functions (the Singer SDK lesson): the REST streams it offers
and, per stream, the document kind it yields and a pure mapping from the source's field names to
the canonical document's fields. Whether records are pulled, pushed (webhooks) or imported is the
connection's kind (`yecai.connectors.registry`). It never imports the store, jobs or Kingdee.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from yecai.sources.rest import RestSource, RestStream
from yecai.sources.webhooks import WebhookSpec

ToDocument = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Partition:
    """Read a stream once per value of a parent stream's field (e.g. once per project).

    Each partition keeps its own cursor, so a project added later is read from its beginning.
    """

    param: str  # query parameter carrying the value, e.g. project_code
    parent: str  # stream whose records supply the values, e.g. projects
    key: str  # field of the parent's records, e.g. project_code


@dataclass(frozen=True, slots=True)
class StreamBinding:
    stream: RestStream
    document_kind: str  # "project" | "cost_record" | …
    to_document: ToDocument
    # Tells a deletion (tombstone) from a live record; deletions become tombstone documents.
    is_deleted: Callable[[dict[str, Any]], bool] | None = None
    partition: Partition | None = None
    # The field a pushed deletion event sets (so it stages as a tombstone like a pulled one).
    deleted_field: str | None = None


class Connector(Protocol):
    """A source system yecai takes records from, built by its connection's kind."""

    name: str
    connection: str  # the workspace connection the records belong to
    streams: Mapping[str, StreamBinding]
    # False when records only arrive by push or file: sync jobs then validate what is staged.
    pulls: bool
    webhooks: WebhookSpec | None  # the pushes it accepts, with their signature scheme

    def source(self) -> RestSource: ...
