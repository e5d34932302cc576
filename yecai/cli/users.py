"""`yecai users …`: create users, list them, reset a password, unlock, and issue API tokens.

For the administrator at the server (bootstrap: the first admin is created here). The CLI acts
as `cli:<os user>` in the audit log. Generated passwords and token secrets are printed once and
never stored in clear.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.console import Console

from yecai.auth import sessions, users
from yecai.auth.principal import cli_principal
from yecai.auth.roles import ROLE_TITLES, Role
from yecai.cli.context import fail, opened
from yecai.cli.options import DATABASE, WORKSPACE
from yecai.cli.tables import KEY, new_table
from yecai.errors import YecaiError
from yecai.localtime import shown

users_app = typer.Typer(help="用户 · users, roles and API tokens of the console and API")
ROLES = ", ".join(r.value for r in Role)


def _me() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _codes(value: str | None) -> list[str]:
    return [code.strip() for code in (value or "").split(",") if code.strip()]


@users_app.command("create")
def create(
    username: str = typer.Argument(..., help="用户名 · user name"),
    role: str = typer.Option(..., "--role", help=f"角色 · role: {ROLES}"),
    projects: str | None = typer.Option(
        None, "--projects", help="项目编码，逗号分隔 · project codes (project_manager)"
    ),
    password: str | None = typer.Option(
        None, "--password", help="密码；省略则生成 · omitted: one is generated"
    ),
    display_name: str | None = typer.Option(None, "--name", help="姓名 · display name"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """新建用户 · create a user (a generated password is printed once)."""
    console = Console()
    codes = _codes(projects)
    if role == Role.PROJECT_MANAGER and not codes:
        console.print(
            "[yellow]项目经理未分配项目，登录后看不到任何项目 / a project manager with no projects sees nothing[/yellow]"
        )
    with opened(database_url, workspace) as ctx:
        try:
            view, secret = users.create_user(
                ctx.store,
                username=username,
                role=role,
                password=password,
                projects=codes,
                display_name=display_name,
                by=cli_principal(_me()),
            )
        except YecaiError as exc:
            raise fail(console, exc) from None
    zh, en = ROLE_TITLES[view.role]
    console.print(
        f"已创建 created: {view.username} · {zh} {en}"
        + (f" · {', '.join(view.projects)}" if view.projects else "")
    )
    if password is None:
        console.print(f"初始密码 password (shown once): [bold]{secret}[/bold]")


@users_app.command("list")
def list_users(workspace: Path | None = WORKSPACE, database_url: str | None = DATABASE) -> None:
    """列出用户 · users with role, projects and state."""
    with opened(database_url, workspace) as ctx:
        rows = users.list_users(ctx.store)
    table = new_table(
        "用户 users",
        ("用户 user", KEY),
        ("角色 role", KEY),
        "项目 projects",
        "状态 state",
        "最近登录 last sign-in",
    )
    for u in rows:
        state = "启用 active" if u.active else "停用 disabled"
        if u.locked_until:
            state += f" · 暂停登录至 sign-in paused until {shown(u.locked_until, seconds=True)}"
        table.add_row(
            u.username,
            u.role.value,
            ", ".join(u.projects) or "-",
            state,
            shown(u.last_login_at, empty="-"),
        )
    Console().print(table)


@users_app.command("set-password")
def set_password(
    username: str = typer.Argument(...),
    password: str | None = typer.Option(None, "--password", help="新密码；省略则生成 · omitted: generated"),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """重设密码 · reset a password (every session of the user ends)."""
    console = Console()
    secret = password or users.new_password()
    with opened(database_url, workspace) as ctx:
        try:
            users.set_password(ctx.store, username, secret, by=cli_principal(_me()))
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(
        f"已重设 reset: {username}" + ("" if password else f" · 新密码 password: [bold]{secret}[/bold]")
    )


@users_app.command("unlock")
def unlock(
    username: str = typer.Argument(...),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """解锁 · clear failed sign-ins and the pause (the owner may sign in at once)."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            users.unlock(ctx.store, username, by=cli_principal(_me()))
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"已解锁 unlocked: {username}")


@users_app.command("token")
def token(
    username: str = typer.Argument(..., help="令牌所属用户 · the user the token acts as"),
    name: str = typer.Option(..., "--name", help="用途 · what it is for (e.g. site-agent-03)"),
    days: int | None = typer.Option(
        None, "--days", help="有效天数 · valid for N days (default: until revoked)"
    ),
    workspace: Path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) -> None:
    """新建 API 令牌 · issue an API token (printed once) for a machine or site agent."""
    console = Console()
    with opened(database_url, workspace) as ctx:
        try:
            view, secret = sessions.create_token(
                ctx.store, username=username, name=name, days=days, by=cli_principal(_me())
            )
        except YecaiError as exc:
            raise fail(console, exc) from None
    console.print(f"令牌 token {view.id} ({view.prefix}…) for {username}: [bold]{secret}[/bold]")
    console.print("请求头 header: Authorization: Bearer <token>")
