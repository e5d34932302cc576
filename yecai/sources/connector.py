"""What a connector declares: its streams and how each stream's items become documents.

A connector is data plus two small functions (the Singer SDK lesson): the REST streams it offers
and, per stream, the document kind it yields and a pure mapping from the source's field names to
the canonical document's fields. It never imports the store, the jobs or the Kingdee client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from yecai.sources.rest import RestSource, RestStream

ToDocument = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StreamBinding:
    stream: RestStream
    document_kind: str  # "project" | "cost_record" | …
    to_document: ToDocument


class Connector(Protocol):
    """A source system yecai can pull from."""

    name: str
    streams: Mapping[str, StreamBinding]

    def source(self) -> RestSource: ...
