"""FileConnector: the streams of the file importer's kinds (cost, invoice, attendance, …).

Each import kind is a stream named like the kind, keyed by its row key, yielding its canonical
document; rows were already read into document fields by `yecai.files.columns`, so the mapping is
the identity. There is nothing to page through: asking for a REST source is a configuration error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yecai.errors import ConfigurationError, Context
from yecai.files.columns import KINDS, KindSpec
from yecai.sources.connector import StreamBinding
from yecai.sources.rest import RestSource, RestStream
from yecai.sources.webhooks import WebhookSpec


def _as_document(item: dict[str, Any]) -> dict[str, Any]:
    return dict(item)  # the importer's rows are document fields already


def _binding(spec: KindSpec) -> StreamBinding:
    # path "" and no cursor: the stream exists for validation and planning, never for paging
    stream = RestStream(name=spec.kind, path="", primary_key=spec.key_field, cursor_field=None)
    return StreamBinding(stream, spec.model.kind, _as_document)


class FileConnector:
    """Documents from imported export files, for the connection `connection`."""

    name = "file"
    pulls = False
    webhooks: WebhookSpec | None = None

    def __init__(self, connection: str = "file") -> None:
        self.connection = connection
        self.streams: Mapping[str, StreamBinding] = {kind: _binding(spec) for kind, spec in KINDS.items()}

    def source(self) -> RestSource:
        raise ConfigurationError(
            f"连接 {self.connection} 是文件导入连接，不能拉取：请用 yecai import --connection {self.connection} 导入文件",
            f"connection {self.connection} imports files and cannot be pulled: "
            f"use `yecai import --connection {self.connection}`",
            Context(connection=self.connection),
        )
