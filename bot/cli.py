"""`tandem` commands (Typer). Admin commands take --json and print one JSON object last."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from zoneinfo import available_timezones

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.exc import DBAPIError

from adapters.console import ConsoleChat, run_console
from adapters.platforms import PLATFORMS, load_settings
from bot import access, forget, grammar, invites, jobs, roster, roster_import, student_record
from bot.access import Action
from bot.config import ConfigError, DatabaseConfig, Settings
from bot.context import Context, SystemClock
from bot.demo import DEMO_PEOPLE, DEMO_SCHOOL, seed_demo
from bot.dispatch import Dispatcher
from bot.i18n import Translator, translate
from bot.roster import RosterError
from bot.student_record import ExportFormat
from bot.weekly import week_bounds
from storage.db import Database
from storage.models import Role, School
from storage.repo import Repo

app = typer.Typer(
    help="Tandem: quick home-school updates for special-education teams.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
student_app = typer.Typer(help="Students.", no_args_is_help=True)
roster_app = typer.Typer(help="Import a school's roster.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(student_app, name="student")
app.add_typer(roster_app, name="roster")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Config file (default ./tandem.toml, else built-in defaults)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on the last line.")]


def fail(message: str) -> NoReturn:
    """One clear line on stderr, exit code 2."""
    typer.echo(f"tandem: {message}", err=True)
    raise typer.Exit(2)


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as err:
        fail(str(err))


Work = Callable[[Repo, Settings], Awaitable[dict[str, Any]]]
T = TypeVar("T")

NOT_SET_UP = (
    "the database is not set up for this version of Tandem: "
    "run `tandem db upgrade` (or `tandem init`)"
)


@asynccontextmanager
async def open_database(settings: Settings, *, upgrade: bool = False) -> AsyncIterator[Database]:
    """The configured database, migrated (`upgrade`) or checked to be current, then closed."""
    db = Database(settings.database.url)
    try:
        if upgrade:
            await db.upgrade()
        elif not await db.is_current():
            raise RosterError(NOT_SET_UP)
        yield db
    finally:
        await db.dispose()


def run_async(main: Callable[[], Coroutine[Any, Any, T]], what: str = "the database") -> T:
    """Run a command's coroutine; what goes wrong becomes one line on stderr and exit 2."""
    try:
        return asyncio.run(main())
    except (RosterError, ConfigError) as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot reach {what} ({err.strerror or err})")
    except DBAPIError as err:
        # The driver's own words, never the URL: it may hold a password.
        fail(f"cannot use {what} ({err.orig})")


def run_admin(
    config: Path | None,
    as_json: bool,
    work: Work,
    show: Callable[[dict[str, Any]], str],
    *,
    upgrade: bool = False,
    after: Callable[[Database, dict[str, Any]], Awaitable[None]] | None = None,
) -> None:
    """Load settings, open the database, run `work` in one transaction, print its result.

    `after` runs once the transaction is committed and may add to the result (forget compacts
    the database with it).
    """
    settings = settings_from(config)

    async def main() -> dict[str, Any]:
        async with open_database(settings, upgrade=upgrade) as db:
            async with db.session() as session:
                result = await work(Repo(session), settings)
            if after is not None:
                await after(db, result)
            return result

    result = run_async(main)
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else show(result))


@app.command()
def init(
    school: Annotated[str | None, typer.Option("--school", help="School name.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="e.g. America/Chicago")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Migrate, create the school, print a one-time admin invite."""
    settings = settings_from(config)
    name = school or settings.school.name
    tz = timezone or settings.school.timezone
    if tz not in available_timezones():
        fail(f"--timezone: unknown timezone {tz!r} (use a name like America/Chicago)")

    async def work(repo: Repo, settings: Settings) -> dict[str, Any]:
        found = await roster.ensure_school(repo, name, tz, settings.school.language)
        new = await invites.create_invite(
            repo, settings, SystemClock().now(), found, None, Role.ADMIN, None
        )
        return {
            "school": found.name,
            "code": new.code,
            "link": new.link,
            "expires_at": new.invite.expires_at.isoformat(),
        }

    run_admin(
        config,
        as_json,
        work,
        lambda r: (
            f"School {r['school']} is ready.\nAdmin invite (works once): {r['code']}\n"
            + (f"Open {r['link']}" if r["link"] else f"Send /start {r['code']} to the bot.")
        ),
        upgrade=True,
    )


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database schema up to date (Alembic upgrade to head)."""
    settings = settings_from(config)

    async def main() -> None:
        async with open_database(settings, upgrade=True):
            pass

    run_async(main)
    typer.echo("The database is up to date.")


@student_app.command("add")
def student_add(
    name: Annotated[str, typer.Argument(help="The student's name as the team uses it.")],
    school: Annotated[str | None, typer.Option("--school")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a student to a school."""

    async def work(repo: Repo, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(repo, settings, school)
        student = await roster.add_student(repo, found, name)
        return {"id": student.id, "name": student.name}

    run_admin(config, as_json, work, lambda r: f"Added {r['name']} (id {r['id']}).")


@app.command()
def invite(
    role: Annotated[str, typer.Option("--role", help="parent, teacher or admin")],
    student: Annotated[
        str | None, typer.Option("--student", help="Required for parent and teacher.")
    ] = None,
    school: Annotated[str | None, typer.Option("--school")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a one-time invite code (and Telegram link) for a student's team or a school admin."""
    if role not in (Role.PARENT, Role.TEACHER, Role.ADMIN):
        fail(f"--role: must be parent, teacher or admin, not {role!r}")
    if role != Role.ADMIN and not student:
        fail("--student: required for a parent or teacher invite")

    async def work(repo: Repo, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(repo, settings, school)
        pupil = (
            await roster.student_named(repo, found, student)
            if role != Role.ADMIN and student
            else None
        )
        # The same matrix as /invite in chat, with the operator as the school's admin.
        action = Action.INVITE_PARENT if role == Role.PARENT else Action.INVITE_TEACHER
        if pupil is not None and not await access.authorize(
            operator(repo, settings, found), access.school_admin(pupil), action, "cli"
        ):
            raise RosterError("not allowed")  # the operator is the school's admin: not reached
        new = await invites.create_invite(
            repo, settings, SystemClock().now(), found, pupil, Role(role), None
        )
        return {"code": new.code, "link": new.link, "expires_at": new.invite.expires_at.isoformat()}

    run_admin(
        config,
        as_json,
        work,
        lambda r: (
            f"Invite code (works once, until {r['expires_at']}): {r['code']}\n"
            + (f"Link: {r['link']}" if r["link"] else f"They send /start {r['code']} to the bot.")
        ),
    )


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the enabled adapters, the weekly scheduler and the sender until SIGINT or SIGTERM."""
    settings = settings_from(config)
    if not settings.enabled_platforms:
        switches = " or ".join(f"{name}.enabled" for name in PLATFORMS)
        fail(f"nothing to run: set {switches} to true in the config")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def main() -> None:
        from adapters.runtime import serve

        async with open_database(settings) as db:
            await serve(settings, db, SystemClock())

    run_async(main, "the database or the platform")


class JobName(StrEnum):
    CHECKIN = "checkin"
    SUMMARY = "summary"
    PURGE = "purge"
    DRAIN = "drain"


@app.command("jobs")
def run_job(
    job: Annotated[
        JobName,
        typer.Argument(
            help="checkin, summary, purge (enqueue or delete "
            "now) or drain (send what is due, then exit)"
        ),
    ],
    school: Annotated[str | None, typer.Option("--school", help="Only this school.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a weekly job now. Jobs only enqueue, so running one twice queues nothing new."""
    settings = settings_from(config)

    async def main() -> dict[str, Any]:
        async with open_database(settings) as db:
            clock = SystemClock()
            if job is JobName.PURGE:
                return {"purged": await jobs.run_purge(db, settings, clock)}
            if job is JobName.DRAIN:
                from adapters.runtime import drain_outbox

                return {"sent": await drain_outbox(db, settings, clock)}
            async with db.session() as session:
                repo = Repo(session)
                targets = (
                    [await roster.pick_school(repo, settings, school)]
                    if school
                    else list(await repo.schools())
                )
            run = jobs.run_checkin if job is JobName.CHECKIN else jobs.run_summary
            reports = [await run(db, settings, clock, target.id or 0) for target in targets]
            return {
                "queued": {r.school: r.queued for r in reports},
                "skipped": {r.school: r.skipped for r in reports if r.skipped},
            }

    result = run_async(main, "the database or the platform")
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else _describe_job(result))


def _describe_job(result: dict[str, Any]) -> str:
    if "purged" in result:
        return "Purged: " + ", ".join(f"{k} {v}" for k, v in result["purged"].items())
    if "sent" in result:
        return f"Sent {result['sent']} message(s)."
    lines = [f"{name}: {count} message(s) queued" for name, count in result["queued"].items()]
    lines += [f"{name}: skipped ({why})" for name, why in result["skipped"].items()]
    return "\n".join(lines) or "No schools yet."


@app.command()
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Counts: schools, people, students, entries this week, outbox by status."""

    async def work(repo: Repo, settings: Settings) -> dict[str, Any]:
        start, _ = week_bounds(SystemClock().now(), settings.school.timezone)
        return await repo.status_counts(start)

    def show(r: dict[str, Any]) -> str:
        outbox = ", ".join(f"{k} {v}" for k, v in sorted(r["outbox"].items())) or "empty"
        return (
            f"schools {r['schools']} · people {r['people']} · students {r['students']} · "
            f"entries this week {r['entries_this_week']}\noutbox: {outbox}"
        )

    run_admin(config, as_json, work, show)


@app.command()
def demo(
    db_path: Annotated[Path, typer.Option("--db", help="SQLite file for the demo school.")] = Path(
        "tandem-demo.db"
    ),
    config: ConfigOption = None,
) -> None:
    """Chat with a seeded demo school in the terminal (scriptable through standard input)."""
    settings = settings_from(config)

    demo_settings = replace(settings, database=DatabaseConfig(f"sqlite+aiosqlite:///{db_path}"))

    async def main() -> None:
        async with open_database(demo_settings, upgrade=True) as db:
            async with db.session() as session:
                await seed_demo(Repo(session), settings.school.timezone)
            chat = ConsoleChat(
                Dispatcher(db, settings, SystemClock()),
                db,
                sys.stdout,
                DEMO_PEOPLE[0].name,
                settings.school.language,
            )
            typer.echo(
                translate(
                    settings.school.language,
                    "console.intro",
                    school=DEMO_SCHOOL,
                    name=chat.me.display_name,
                )
            )
            await run_console(chat)

    with suppress(KeyboardInterrupt):
        run_async(main, str(db_path))


# --- records: export, forget, roster import ----------------------------------------------------


def operator(repo: Repo, settings: Settings, school: School) -> Context:
    """The CLI operator as the core sees them: no person in chat, the school's admin to
    access.py (`access.school_admin`); their access-log rows have no actor and say "cli"."""
    return Context(repo=repo, clock=SystemClock(), settings=settings, t=Translator(school.language))


@app.command()
def export(
    student: Annotated[str, typer.Option("--student", help="The student's name.")],
    form: Annotated[
        ExportFormat,
        typer.Option(
            "--format", help="md (to read), csv (one row per item) or json (everything, nested)"
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write to this file (owner-only) instead of standard output."),
    ] = None,
    school: Annotated[str | None, typer.Option("--school")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """A student's whole record: entries, revisions, goals, check-ins, corrections, access log."""

    async def work(repo: Repo, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(repo, settings, school)
        pupil = await roster.student_named(repo, found, student)
        ctx = operator(repo, settings, found)
        if not await access.authorize(
            ctx, access.school_admin(pupil), Action.EXPORT, f"cli {form}"
        ):
            raise RosterError("not allowed")  # the operator is the school's admin: not reached
        record = await student_record.gather(repo, pupil)
        now = ctx.clock.now()
        text = student_record.render(record, form, now)
        result: dict[str, Any] = {
            "student": pupil.name,
            "format": form.value,
            "out": str(out) if out else None,
            "entries": len(record.entries),
            "revisions": sum(len(kept) for kept in record.revisions.values()),
            "goals": len(record.goals),
            "checkins": len(record.checkins()),
            "amendments": len(record.amendments),
            "access_log": len(record.access),
        }
        if out is None:
            result["record"] = (
                student_record.as_json(record, now) if form is ExportFormat.JSON else text
            )
            return result
        try:
            # Inside the transaction: if the file cannot be written, no export is logged.
            write_private(out, text)
        except OSError as err:
            raise RosterError(f"--out: cannot write {out} ({err.strerror or err})") from err
        return result

    def show(r: dict[str, Any]) -> str:
        if r["out"] is None:
            record = r["record"]
            text = (
                json.dumps(record, ensure_ascii=False, indent=2)
                if isinstance(record, dict)
                else str(record)
            )
            return text.rstrip("\n")
        return f"Exported {r['student']}'s record ({r['entries']} entries) to {r['out']}."

    run_admin(config, as_json, work, show)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds a student's record)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


@app.command("forget")
def forget_command(
    student: Annotated[str, typer.Option("--student", help="The student's full name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    people: Annotated[
        bool,
        typer.Option(
            "--people",
            help="Also delete the people whose only tie to the school was this student's team.",
        ),
    ] = False,
    school: Annotated[str | None, typer.Option("--school")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete every trace of a student: entries, goals, team, invites, outbox, buttons, log."""
    if not yes:
        fail(
            f"forget deletes every trace of {student!r} and cannot be undone: "
            "export first if the record is needed, then add --yes"
        )

    async def work(repo: Repo, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(repo, settings, school)
        pupil = await roster.student_named(repo, found, student)
        # Deleting by a unique prefix would be too easy a slip: the full name is required.
        if grammar.fold(pupil.name) != grammar.fold(student):
            raise RosterError(f"--student: write the full name to forget ({pupil.name!r})")
        done = await forget.forget_student(operator(repo, settings, found), pupil, people=people)
        return {
            "student_id": done.student_id,
            "deleted": done.deleted,
            "mentions_elsewhere": done.mentions_elsewhere,
        }

    def show(r: dict[str, Any]) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in r["deleted"].items() if count)
        text = f"Forgot student #{r['student_id']}: {counts or 'nothing else held'}."
        if r.get("compacted") is False:
            text += (
                "\nThe rows are deleted and overwritten, but the busy database file was not "
                "rewritten: stop `tandem run` and run `sqlite3 FILE VACUUM` to finish."
            )
        if r["mentions_elsewhere"]:
            text += (
                f"\n{r['mentions_elsewhere']} note(s) about other students mention the "
                "name: review them with `tandem export`."
            )
        return text

    async def compact(db: Database, result: dict[str, Any]) -> None:
        # The rows are gone either way (and overwritten: secure_delete); a bot busy on the
        # same SQLite file may keep VACUUM from running, and that is no reason to fail.
        try:
            await db.compact()
            result["compacted"] = True
        except DBAPIError:
            result["compacted"] = False

    run_admin(config, as_json, work, show, after=compact)


@roster_app.command("import")
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
    school: Annotated[str | None, typer.Option("--school")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add the students on a roster and make an invite for each adult listed with them."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text (save the roster as CSV UTF-8)")
    except OSError as err:
        fail(f"{file}: cannot read ({err.strerror or err})")
    if out is not None and out.exists():
        fail(f"--out: {out} exists; invite codes are never written over another file")
    try:
        rows = roster_import.read_roster(text, file.name)
    except RosterError as err:
        fail(str(err))
    target = out or roster_import.invites_path(file)

    async def work(repo: Repo, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(repo, settings, school)
        console = Console(stderr=True)
        # The bar goes to standard error, and only on a terminal: stdout ends with the JSON.
        with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task(f"Importing {file.name}", total=len(rows))
            report = await roster_import.import_roster(
                repo,
                settings,
                SystemClock().now(),
                found,
                rows,
                advance=lambda: progress.advance(task),
            )
        issued = report.issued or []
        if issued:
            try:
                # Before the commit: if the codes cannot be written, nothing is imported.
                roster_import.write_invites(target, issued)
            except OSError as err:
                raise RosterError(f"cannot write {target} ({err.strerror or err})") from err
        return {
            "students": report.students,
            "invites": len(issued),
            "already_invited": report.already_invited,
            "out": str(target) if issued else None,
        }

    def show(r: dict[str, Any]) -> str:
        text = f"Added {r['students']} student(s) and {r['invites']} invite(s)."
        if r["already_invited"]:
            text += f" {r['already_invited']} adult(s) already had an invite."
        if r["out"]:
            text += f"\nInvite codes (hand them out, then delete the file): {r['out']}"
        return text

    run_admin(config, as_json, work, show)
