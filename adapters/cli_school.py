"""Setting a school up: `tandem init`, `tandem db upgrade`, `tandem student add`,
`tandem roster import`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from zoneinfo import available_timezones

import typer
from rich.console import Console
from rich.progress import Progress

from adapters import email_invites
from adapters.bootstrap import bootstrap
from adapters.cli_command import (
    ConfigOption,
    JsonOption,
    SchoolOption,
    load_settings,
    operator,
    run_admin,
    run_async,
    words,
)
from adapters.private_file import write_private
from bot import invites, roster, roster_import, team
from bot.config import Settings
from bot.context import SystemClock
from bot.errors import CommandError, said
from storage.models import Role
from storage.stores import Store


def init(
    school: Annotated[str | None, typer.Option("--school", help="School name.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="e.g. America/Chicago")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Migrate, create the school, print a one-time admin invite."""
    settings = load_settings(config, makes_codes=True)
    name = school or settings.school.name
    tz = timezone or settings.school.timezone
    if tz not in available_timezones():
        raise CommandError(said("operator.unknown_timezone", timezone=repr(tz)))

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.ensure_school(store, name, tz, settings.school.language)
        new = await invites.create_invite(
            store, settings, SystemClock().now(), found, None, Role.ADMIN, None
        )
        return {
            "school": found.name,
            "code": new.code,
            "link": new.link,
            "expires_at": new.invite.expires_at.isoformat(),
        }

    run_admin(
        settings,
        as_json,
        work,
        lambda r: (
            words("operator.school_ready", school=r["school"], code=r["code"])
            + "\n"
            + (
                words("operator.open_link", link=r["link"])
                if r["link"]
                else words("operator.send_start", code=r["code"])
            )
        ),
        upgrade=True,
        invites=True,
    )


def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database schema up to date (Alembic upgrade to head)."""
    settings = load_settings(config)

    async def main() -> None:
        async with bootstrap(settings, upgrade=True):
            pass

    run_async(main)
    typer.echo(words("operator.db_up_to_date"))


def student_add(
    name: Annotated[str, typer.Argument(help="The student's name as the team uses it.")],
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a student to a school."""

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(store, settings, school)
        student = await roster.add_student(store, found, name)
        return {"id": student.id, "name": student.name}

    run_admin(load_settings(config), as_json, work, show_added)


def show_added(r: dict[str, Any]) -> str:
    return words("operator.student_added", name=r["name"], id=r["id"])


def student_archive(
    name: Annotated[str, typer.Argument(help="The student's name.")],
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Archive a student who left: no check-ins, summaries or new notes; the record stays.

    The team can still read it, and `tandem export` still exports it.
    """
    _set_archived(name, True, school, config, as_json)


def student_unarchive(
    name: Annotated[str, typer.Argument(help="The student's name.")],
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring an archived student back: check-ins, summaries and notes resume."""
    _set_archived(name, False, school, config, as_json)


def _set_archived(
    name: str, archived: bool, school: str | None, config: Path | None, as_json: bool
) -> None:
    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(store, settings, school)
        pupil = await roster.student_named(store, found, name)
        await team.set_archived(operator(store, settings, found), pupil, archived)
        return {"id": pupil.id, "name": pupil.name, "archived": archived}

    run_admin(
        load_settings(config),
        as_json,
        work,
        lambda r: f"{r['name']} is {'archived' if r['archived'] else 'active again'}.",
    )


def roster_import_command(
    file: Annotated[
        Path, typer.Argument(help="CSV: student, adult, role, contact (a header row is optional).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Where to write the invite codes (default: FILE-invites.csv beside FILE)."
        ),
    ] = None,
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add the students on a roster and make an invite for each adult listed with them."""
    settings = load_settings(config, makes_codes=True)
    rows = _read_roster(file)
    if out is not None and (out.exists() or out.is_symlink()):
        raise CommandError(said("operator.out_exists", path=out))
    target = out or roster_import.invites_path(file)

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(store, settings, school)
        console = Console(stderr=True)
        # The bar goes to standard error, and only on a terminal: stdout ends with the JSON.
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task(words("operator.importing", file=file.name), total=len(rows))
            report = await roster_import.import_roster(
                store,
                settings,
                SystemClock().now(),
                found,
                rows,
                advance=lambda: progress.advance(task),
            )
        issued = report.issued or []
        emailed = await email_invites.send_roster_invites(
            store, settings, issued, SystemClock().now(), found.name
        )
        if issued:
            # Before the commit: if the codes cannot be written, nothing is imported.
            write_private(target, roster_import.invites_csv(issued), overwrite=False)
        return {
            "students": report.students,
            "invites": len(issued),
            "already_invited": report.already_invited,
            **({"emailed": emailed} if emailed else {}),
            "out": str(target) if issued else None,
        }

    run_admin(settings, as_json, work, _describe_import, invites=True)


def _read_roster(file: Path) -> list[roster_import.RosterRow]:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CommandError(said("operator.roster_not_utf8", file=file)) from None
    except OSError as err:
        raise CommandError(
            said("operator.cannot_read_file", file=file, why=err.strerror or err)
        ) from None
    return roster_import.read_roster(text, file.name)


def _describe_import(r: dict[str, Any]) -> str:
    text = words(
        "operator.imported",
        students=words("operator.count_students", count=r["students"]),
        invites=words("operator.count_invites", count=r["invites"]),
    )
    if r["already_invited"]:
        text += " " + words("operator.already_invited", count=r["already_invited"])
    if r.get("emailed"):
        text += " " + words("operator.emailed_invites", count=r["emailed"])
    if r["out"]:
        text += "\n" + words("operator.invite_codes_file", out=r["out"])
    return text
