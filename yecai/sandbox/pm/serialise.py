"""The HTTP response of sandbox.pm: JSON with money and quantities as exact JSON numbers.

Real PM systems send `12345.60`, not `"12345.60"`, and yecai's clients parse with
`parse_float=Decimal`. Rendering goes through `yecai.jsonutil`, which prints Decimals from their
own digits and never touches float; dates become ISO 8601 strings, dataclasses objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response

from yecai.jsonutil import dumps


class DecimalJSONResponse(Response):
    """A JSON response rendered by `yecai.jsonutil.dumps`, so Decimals reach the client exactly."""

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, self.media_type, background)

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
