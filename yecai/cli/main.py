"""The `yecai` command: demo, init, sandboxes, import, sync, reconcile, match, rules, mapping,
postings, serve, worker, jobs, alerts, db, doctor, secrets, archive, backup, restore.

Commands stay thin: they parse options, call service functions and render results with Rich.
"""

from __future__ import annotations

import typer

from yecai import __version__
from yecai.cli.alerts import alerts_app
from yecai.cli.archive import archive_app
from yecai.cli.backup import backup_command, restore_command
from yecai.cli.db import db_app
from yecai.cli.demo import demo_command
from yecai.cli.doctor import doctor_command
from yecai.cli.help_format import install as install_help_format
from yecai.cli.import_file import column_templates_app, import_command
from yecai.cli.init_workspace import init_command
from yecai.cli.match import match_command
from yecai.cli.postings import postings_app
from yecai.cli.reconcile import reconcile_command
from yecai.cli.report import report_app
from yecai.cli.rules import mapping_app, rules_app
from yecai.cli.sandbox_kingdee import kingdee_command
from yecai.cli.sandbox_pm import pm_command
from yecai.cli.secrets_cli import secrets_app
from yecai.cli.serve import jobs_app, serve_command, worker_command
from yecai.cli.sync import connections_app, sync_command
from yecai.cli.users import users_app

install_help_format()  # every option name and help text whole at any width
app = typer.Typer(
    name="yecai",
    help="业财一体化集成中枢 · integration hub: construction project management → Kingdee K/3 Cloud",
    no_args_is_help=True,
    add_completion=False,
)
sandbox_app = typer.Typer(help="内置沙箱 · built-in sandboxes (Kingdee K/3 Cloud WebAPI, PM system)")
app.add_typer(sandbox_app, name="sandbox")
sandbox_app.command("kingdee")(kingdee_command)
sandbox_app.command("pm")(pm_command)
app.command("demo")(demo_command)
app.command("init")(init_command)
app.command("import")(import_command)
app.add_typer(column_templates_app, name="column-templates")
app.command("sync")(sync_command)
app.command("reconcile")(reconcile_command)
app.command("match")(match_command)
app.add_typer(connections_app, name="connections")
app.add_typer(postings_app, name="postings")
app.add_typer(rules_app, name="rules")
app.add_typer(mapping_app, name="mapping")
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.add_typer(jobs_app, name="jobs")
app.add_typer(users_app, name="users")
app.add_typer(alerts_app, name="alerts")
app.add_typer(report_app, name="report")
app.add_typer(db_app, name="db")
app.command("doctor")(doctor_command)
app.add_typer(secrets_app, name="secrets")
app.add_typer(archive_app, name="archive")
app.command("backup")(backup_command)
app.command("restore")(restore_command)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"yecai {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="版本 · print the version and exit"
    ),
) -> None:
    """业财一体化集成中枢 · integration hub: construction project management → Kingdee K/3 Cloud"""


if __name__ == "__main__":
    app()
