"""sandbox.pm as a generic REST connector: the YAML file beside this module, plus its secrets.

Kept as a named entry point so the demo and tests need only the server URL and token; everything
else — streams, paging, field mappings, webhook events — is in `connector.yaml`.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from yecai.connectors.generic_rest import GenericRestConnector, load_connector

SPEC = Path(__file__).with_name("connector.yaml")
DEFAULT_WEBHOOK_SECRET = "yecai-pm-webhook"  # sandbox.pm's default; a real system's comes from its settings


def PmSandboxConnector(  # named like the class it stands for
    base_url: str,
    token: str,
    *,
    connection: str = "pm",
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
    transport: httpx.BaseTransport | None = None,
) -> GenericRestConnector:
    """The sandbox.pm connector for a server at `base_url` with `token`."""
    secrets = {"PM_SANDBOX_TOKEN": token, "PM_WEBHOOK_SECRET": webhook_secret}
    return load_connector(
        SPEC, secrets=secrets, connection=connection, base_url=base_url, transport=transport
    )
