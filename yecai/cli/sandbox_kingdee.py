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
from yecai.sandbox.kingdee.faults import FaultSettings


def kingdee_command(
    host: str | None = typer.Option(None, "--host", help=f"Address to bind (default {DEFAULT_HOST})."),
    port: int | None = typer.Option(None, "--port", help=f"Port to listen on (default {DEFAULT_PORT})."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where the data centre is kept."),
    print_credentials: bool = typer.Option(
        False, "--print-credentials", help="Print SDK credentials as one JSON object and exit."
    ),
    latency_ms: float = typer.Option(0.0, "--latency-ms", min=0, help="延迟 added to every call (ms)."),
    per_record_ms: float = typer.Option(
        0.0, "--per-record-ms", min=0, help="延迟 per data package saved or row returned (ms)."
    ),
    fail_rate: float = typer.Option(
        0.0, "--fail-rate", min=0, max=1, help="Share of calls answered HTTP 500 (HTML)."
    ),
    timeout_rate: float = typer.Option(
        0.0, "--timeout-rate", min=0, max=1, help="Share of calls that hang --hang-seconds, then still run."
    ),
    hang_seconds: float = typer.Option(
        30.0, "--hang-seconds", min=0, help="How long a timed-out call hangs."
    ),
    drop_after_commit_rate: float = typer.Option(
        0.0, "--drop-after-commit-rate", min=0, max=1, help="Share of writes committed whose answer is lost."
    ),
    throttle_rate: float = typer.Option(
        0.0, "--throttle-rate", min=0, max=1, help="Share of calls refused with MsgCode 14 (调用限制)."
    ),
    session_loss_every: int = typer.Option(
        0, "--session-loss-every", min=0, help="Drop every session before every N-th call (0 = never)."
    ),
    max_concurrency: int = typer.Option(
        0, "--max-concurrency", min=0, help="Calls handled at once; more wait in a queue (0 = no limit)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the fault draws (repeatable runs)."),
) -> None:
    """金蝶云星空 WebAPI 沙箱 · serve the K/3 Cloud WebAPI emulator."""
    if print_credentials:
        if host is not None or port is not None:
            server_url = server_url_for(host or DEFAULT_HOST, port or DEFAULT_PORT)
        else:
            server_url = recorded_server_url(data_dir) or server_url_for(DEFAULT_HOST, DEFAULT_PORT)
        typer.echo(json.dumps(credentials(data_dir, server_url), ensure_ascii=False))
        return
    faults = FaultSettings(
        latency_ms=latency_ms,
        per_record_ms=per_record_ms,
        fail_rate=fail_rate,
        timeout_rate=timeout_rate,
        hang_seconds=hang_seconds,
        drop_after_commit_rate=drop_after_commit_rate,
        throttle_rate=throttle_rate,
        session_loss_every=session_loss_every,
        max_concurrency=max_concurrency,
        seed=seed,
    )
    _serve(host or DEFAULT_HOST, port or DEFAULT_PORT, data_dir, faults)


def _serve(host: str, port: int, data_dir: Path, faults: FaultSettings) -> None:
    from yecai.sandbox.kingdee.app import create_app
    from yecai.sandbox.serving import serve_forever

    console = Console(stderr=True)
    ensure_data_dir(data_dir)
    app = create_app(data_dir, faults=faults)
    server_url = server_url_for(host, port)
    record_server_url(data_dir, server_url)
    console.print(f"[bold]sandbox.kingdee[/] serving {server_url} (data: {data_dir})")
    # a command to copy: one line whatever the terminal's width
    console.print(
        "credentials: yecai sandbox kingdee --print-credentials --data-dir " + str(data_dir),
        soft_wrap=True,
        highlight=False,
    )
    site = server_url.removesuffix("K3Cloud/")
    console.print(f"web page: {site}  ·  faults: {faults.as_dict()}  ·  change them: POST {site}admin/faults")
    try:
        serve_forever(app, host, port, date_header=False)  # the sandbox sends its clock's Date
    finally:
        app.state.kingdee.close()
