"""`yecai sandbox kingdee` — serve the K/3 Cloud WebAPI emulator, or print SDK credentials for it.

Serving records its URL in the data directory so that `--print-credentials` later prints the
server_url of the running instance; the credentials are exactly what the official SDK's
`K3CloudApiSdk(server_url).InitConfig(acct_id, user_name, app_id, app_secret, server_url, lcid,
org_num)` takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from yecai.sandbox.kingdee.datadir import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    credentials,
    ensure_data_dir,
    record_server_url,
    recorded_server_url,
    server_url_for,
)


def kingdee_command(
    host: str | None = typer.Option(None, "--host", help=f"Address to bind (default {DEFAULT_HOST})."),
    port: int | None = typer.Option(None, "--port", help=f"Port to listen on (default {DEFAULT_PORT})."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where the data centre is kept."),
    print_credentials: bool = typer.Option(
        False, "--print-credentials", help="Print SDK credentials as one JSON object and exit."
    ),
) -> None:
    """金蝶云星空 WebAPI 沙箱 · serve the K/3 Cloud WebAPI emulator."""
    if print_credentials:
        if host is not None or port is not None:
            server_url = server_url_for(host or DEFAULT_HOST, port or DEFAULT_PORT)
        else:
            server_url = recorded_server_url(data_dir) or server_url_for(DEFAULT_HOST, DEFAULT_PORT)
        typer.echo(json.dumps(credentials(data_dir, server_url), ensure_ascii=False))
        return
    _serve(host or DEFAULT_HOST, port or DEFAULT_PORT, data_dir)


def _serve(host: str, port: int, data_dir: Path) -> None:
    from yecai.sandbox.kingdee.app import create_app
    from yecai.sandbox.serving import serve_forever

    console = Console(stderr=True)
    ensure_data_dir(data_dir)
    app = create_app(data_dir)
    server_url = server_url_for(host, port)
    record_server_url(data_dir, server_url)
    console.print(f"[bold]sandbox.kingdee[/] serving {server_url} (data: {data_dir})")
    console.print("credentials: yecai sandbox kingdee --print-credentials --data-dir " + str(data_dir))
    try:
        serve_forever(app, host, port)
    finally:
        app.state.kingdee.close()
