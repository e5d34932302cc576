"""`yecai secrets rotate-key` and `yecai secrets withdraw-old-key`: a new key for every stored secret.

`rotate-key` re-encrypts every connection secret under a new Fernet key in one transaction and
keeps the old key (`secret.key.old`) for reading until `withdraw-old-key` proves the new key
alone decrypts everything and removes it. With the key in `YECAI_SECRET_KEY`, the new key is
printed once (or written to `--out`) for the environment to be updated. See docs/security.md.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from yecai.auth.principal import cli_principal
from yecai.cli.context import fail, opened, os_user
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.errors import YecaiError
from yecai.secrets import KEY_ENV, OLD_KEY_ENV
from yecai.services.secret_keys import rotate_key, withdraw_old_key

secrets_app = typer.Typer(help="加密密钥 · the key that encrypts connection secrets: rotate and withdraw")


@secrets_app.command("rotate-key")
def rotate_key_command(
    out: Path | None = typer.Option(
        None,
        "--out",
        help="密钥来自环境变量时，把新密钥写入此文件（权限 600）而不打印 · with the key in the environment: write the new key here (mode 600) instead of printing it",
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """轮换加密密钥：用新密钥重新加密所有已存密钥 · re-encrypt every stored secret under a new key."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            done = rotate_key(ctx.store, ctx.settings.workdir, by=cli_principal(os_user()), out=out)
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(
        f"已用新密钥重新加密 {done.secrets} 个密钥 / re-encrypted {done.secrets} secrets under a new key"
    )
    if done.from_env:
        if done.new_key is not None:
            console.print("新密钥（只显示这一次）/ the new key (shown this once):", highlight=False)
            typer.echo(done.new_key)
        else:
            console.print(
                f"新密钥已写入 / the new key is in {done.out} (600)", highlight=False, soft_wrap=True
            )
        console.print(
            f"[yellow]请把 {KEY_ENV} 改为新密钥，并把旧密钥放入 {OLD_KEY_ENV}，然后重启所有 yecai 进程；"
            f"全部重启后运行 yecai secrets withdraw-old-key 并删除 {OLD_KEY_ENV}。\n"
            f"Set {KEY_ENV} to the new key and {OLD_KEY_ENV} to the old one, restart every yecai process; "
            f"then run `yecai secrets withdraw-old-key` and remove {OLD_KEY_ENV}.[/yellow]",
            soft_wrap=True,
            highlight=False,
        )
        return
    console.print(
        f"[yellow]新密钥：{done.key_file}；旧密钥保留在 {done.old_key_file}，运行中的进程仍可读取。"
        "确认所有进程正常后运行 yecai secrets withdraw-old-key 撤下旧密钥（备份中的旧 secret.key 也请一并销毁）。\n"
        f"New key: {done.key_file}; the old key stays in {done.old_key_file} so running processes keep "
        "reading. Once every process works, run `yecai secrets withdraw-old-key` to withdraw it (and "
        "destroy old copies of secret.key in backups).[/yellow]",
        soft_wrap=True,
        highlight=False,
    )


@secrets_app.command("withdraw-old-key")
def withdraw_old_key_command(
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """撤下旧密钥：确认新密钥能解密全部密钥后删除旧密钥 · drop the old key once the new one decrypts every secret."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            done = withdraw_old_key(ctx.store, ctx.settings.workdir, by=cli_principal(os_user()))
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(
        f"{done.secrets} 个密钥均可用新密钥解密 / all {done.secrets} secrets decrypt with the new key alone",
        highlight=False,
    )
    if done.removed is not None:
        console.print(f"已删除旧密钥 / old key removed: {done.removed}", highlight=False, soft_wrap=True)
    else:
        console.print(
            f"[yellow]请从环境中删除 {OLD_KEY_ENV} 并重启进程 / remove {OLD_KEY_ENV} from the environment "
            "and restart the processes[/yellow]",
            highlight=False,
            soft_wrap=True,
        )
