"""`yecai init [--dir DIR] [--admin NAME] [--force]` — start a real (non-demo) installation.

Thin over `yecai.services.installation`: writes a commented `yecai.yaml` with a Kingdee data centre
and a PM system to fill in, its mapping table and PM connector file, creates the store, the key
and the first administrator (password prompted when someone is at the terminal, else generated and
printed once), keeps the work directory out of git, and prints what to do next. Exit 0 done, 1 it
could not (the store, a file), 2 a workspace is already there (`--force` writes it again).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import typer
from rich.console import Console

from yecai.auth.principal import cli_principal
from yecai.cli.context import EXIT_USAGE, fail, locate
from yecai.cli.options import DATABASE
from yecai.errors import DataError, YecaiError
from yecai.services.installation import (
    CONNECTOR_FILE,
    WORKSPACE_FILE,
    Installation,
    WorkspaceExists,
    initialise,
)
from yecai.settings import Settings


def _me() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container user without a name
        return "cli:unknown"


def _interactive() -> bool:
    return sys.stdin.isatty()


def _prompted_password() -> str | None:
    """The admin's password typed twice, or None (empty: one is generated)."""
    first = typer.prompt(
        "管理员密码（留空则生成并显示一次）/ admin password (empty: generated, shown once)",
        default="",
        hide_input=True,
        show_default=False,
    )
    if not first:
        return None
    again = typer.prompt("再输入一次 / again", hide_input=True)
    if again != first:
        raise DataError("两次输入的密码不一致", "the two passwords differ")
    return first


def _next_steps(console: Console, done: Installation, here: Path) -> None:
    def shown(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(here.resolve()))
        except ValueError:
            return str(path)

    for path in done.written:
        console.print(f"已写入 written: {shown(path)}", highlight=False)
    for path in done.kept:
        console.print(f"已存在，未改 kept as it was: {shown(path)}", highlight=False)
    console.print(f"工作目录 workdir（存储与密钥 store and key）: {done.workdir}", highlight=False)
    if done.gitignore is not None:
        console.print(f"已加入 git 忽略 kept out of git: {shown(done.gitignore)}", highlight=False)
    if done.generated_password is not None:
        console.print(
            f"管理员 admin: {done.admin} · 初始密码 password (shown once): [bold]{done.generated_password}[/bold]",
            highlight=False,
        )
    elif done.admin_created:
        console.print(
            f"管理员 admin: {done.admin} · 密码为输入的密码 · the password you typed", highlight=False
        )
    else:
        console.print(f"管理员 {done.admin} 已存在，密码未改 · admin {done.admin} exists, password unchanged")
    folder = "" if done.workspace.parent.resolve() == here.resolve() else f"cd {done.workspace.parent}\n  "
    # commands to copy: never wrapped (soft_wrap), whatever the terminal's width
    console.print(
        "下一步 · next:\n"
        f"  1. 在 {shown(done.workspace)} 中填写标有「填写 FILL IN」的值（金蝶地址、数据中心、集成用户、应用 ID；"
        "项目管理系统地址）· fill in the values marked FILL IN\n"
        f"  2. 按项目管理系统的接口修改 {CONNECTOR_FILE}（docs/sources.md）· describe your PM system's API there\n"
        "  3. 保存密钥（加密，提示输入）· store the secrets, encrypted (prompted):\n"
        f"  {folder}yecai connections set-secret kd KD_SECRET\n"
        "  yecai connections set-secret pm PM_TOKEN\n"
        "  4. 核对科目与映射 · check accounts and mappings against Kingdee:\n"
        "  yecai rules check\n"
        f"  5. 打开控制台，以 {done.admin} 登录 · open the console, sign in as {done.admin}:\n"
        "  yecai serve\n"
        "  6. 立即同步一次（之后按计划每晚运行）· sync once now (then nightly, as scheduled):\n"
        "  yecai sync",
        soft_wrap=True,
        highlight=False,
    )


def init_command(
    folder: Path = typer.Option(
        Path("."), "--dir", help="在此目录中创建 · the folder to set up (default: here)"
    ),
    admin: str = typer.Option("admin", "--admin", help="首个管理员的用户名 · the first administrator's name"),
    password: str | None = typer.Option(
        None, "--password", help="管理员密码；省略则提示输入或生成 · omitted: prompted, or generated"
    ),
    force: bool = typer.Option(
        False, "--force", help="覆盖已有的工作区文件 · write over an existing workspace"
    ),
    database_url: str | None = DATABASE,
) -> None:
    """新建正式安装的工作区 · set up a real installation: workspace, store, first admin."""
    console = Console()
    workspace = folder / WORKSPACE_FILE
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    located = locate(settings, workspace)  # the work directory every later command will find
    try:
        if workspace.exists() and not force:
            raise WorkspaceExists(workspace)  # before any prompt
        if password is None and _interactive():
            password = _prompted_password()
        done = initialise(
            folder,
            workdir=located.workdir,
            store_url=settings.store_url(located.workdir),
            admin=admin,
            password=password,
            force=force,
            by=cli_principal(_me()),
        )
    except (WorkspaceExists, DataError) as exc:
        raise fail(console, exc, EXIT_USAGE) from None
    except YecaiError as exc:
        raise fail(console, exc) from None
    _next_steps(console, done, Path.cwd())
