"""sandbox.pm as a generic REST connector: the YAML file beside this module, plus its secrets.

Kept as a named entry point so the demo and tests need only the server URL and token; everything
else — streams, paging, field mappings, webhook events — is in `connector.yaml`. It is opened
through the kind registry as a `rest` connection, like a workspace would open it.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from yecai.connectors.registry import ConnectorRequest, build_connector
from yecai.sources.connector import Connector

SPEC = Path(__file__).with_name("connector.yaml")
DEFAULT_WEBHOOK_SECRET = "yecai-pm-webhook"  # sandbox.pm's default; a real system's comes from its settings


def PmSandboxConnector(  # named like the class it stands for
    base_url: str,
    token: str,
    *,
    connection: str = "pm",
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
    transport: httpx.BaseTransport | None = None,
) -> Connector:
    """The sandbox.pm connector for a server at `base_url` with `token`."""
    secrets = {"PM_SANDBOX_TOKEN": token, "PM_WEBHOOK_SECRET": webhook_secret}
    return build_connector("rest", ConnectorRequest(connection, SPEC, base_url, secrets, transport))
