"""`tandem` (Typer): every command, mounted in one list; admin commands take --json and print
one JSON object last; a refused command prints one line on stderr and exits 2.

The commands live by what they are about: cli_school (init, db, student, roster),
cli_team (invite, team, admin, people), cli_records (export, forget), cli_run (run, jobs,
status, demo); what they share (options, the database, --json, errors) is in cli_command.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from adapters import cli_email, cli_records, cli_report, cli_run, cli_school, cli_team, platforms
from bot.errors import CommandError

app = typer.Typer(
    help="Tandem: quick home-school updates for special-education teams.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
student_app = typer.Typer(help="Students.", no_args_is_help=True)
roster_app = typer.Typer(help="Import a school's roster.", no_args_is_help=True)
invite_app = typer.Typer(help="Invites: make one (--role ...), list the unused, revoke one.")
team_app = typer.Typer(
    help="Who is on a student's team; taking someone off it.", no_args_is_help=True
)
admin_app = typer.Typer(help="A school's admins.", no_args_is_help=True)
people_app = typer.Typer(help="People: joining two into one.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(student_app, name="student")
app.add_typer(roster_app, name="roster")
app.add_typer(invite_app, name="invite")
app.add_typer(team_app, name="team")
app.add_typer(admin_app, name="admin")
app.add_typer(people_app, name="people")


def _refusing(command: Callable[..., None]) -> Callable[..., None]:
    """The command, with the CommandError it raises as one line on stderr and exit 2."""

    @functools.wraps(command)
    def refusing(*args: Any, **kwargs: Any) -> None:
        platforms.forget_operator_language()
        try:
            command(*args, **kwargs)
        except CommandError as error:
            typer.echo(
                f"tandem: {error.in_language(platforms.operator_language(kwargs.get('config')))}",
                err=True,
            )
            raise typer.Exit(2) from None

    return refusing


def mount(group: typer.Typer, command: Callable[..., None], name: str | None = None) -> None:
    """Add a command to `tandem`; the CommandError it raises is one line on stderr, exit 2."""
    group.command(name)(_refusing(command))


def mount_own(group: typer.Typer, command: Callable[..., None]) -> None:
    """The command a group runs when no subcommand follows it (`tandem invite --role ...`);
    it gets the click context and returns at once when a subcommand does follow."""
    group.callback(invoke_without_command=True)(_refusing(command))


mount(app, cli_school.init)
mount(db_app, cli_school.db_upgrade, "upgrade")
mount(student_app, cli_school.student_add, "add")
mount(student_app, cli_school.student_archive, "archive")
mount(student_app, cli_school.student_unarchive, "unarchive")
mount(roster_app, cli_school.roster_import_command, "import")
mount_own(invite_app, cli_team.invite)
mount(invite_app, cli_team.invite_list, "list")
mount(invite_app, cli_team.invite_revoke, "revoke")
mount(team_app, cli_team.team_list, "list")
mount(team_app, cli_team.team_remove, "remove")
mount(team_app, cli_email.team_rekey, "rekey")
mount(admin_app, cli_team.admin_add, "add")
mount(admin_app, cli_team.admin_remove, "remove")
mount(people_app, cli_team.people_merge, "merge")
mount(app, cli_records.export)
mount(app, cli_records.forget_command, "forget")
mount(app, cli_report.report)
mount(app, cli_run.run)
mount(app, cli_run.run_job, "jobs")
mount(app, cli_run.status)
mount(app, cli_run.demo)
