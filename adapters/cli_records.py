"""A student's record: `tandem export` (all of it, to read or to keep) and `tandem forget`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import DBAPIError

from adapters.cli_command import (
    ConfigOption,
    JsonOption,
    SchoolOption,
    load_settings,
    operator,
    run_admin,
    words,
)
from adapters.private_file import write_private
from bot import access, forget, grammar, record_export, roster, student_record
from bot.access import Action
from bot.config import Settings
from bot.errors import CommandError, said
from bot.student_record import StudentRecord
from storage.db import Database
from storage.models import ExportFormat
from storage.stores import Store


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
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """A student's whole record: entries, revisions, goals, check-ins, corrections, access log."""

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(store, settings, school)
        pupil = await roster.student_named(store, found, student)
        ctx = operator(store, settings, found)
        if not await access.authorize(
            ctx, access.school_admin(pupil), Action.EXPORT, access.Exported(form)
        ):
            raise CommandError(
                said("operator.not_allowed")
            )  # the operator is the school's admin: not reached
        record = await student_record.gather(store, pupil)
        now = ctx.clock.now()
        text = record_export.render(record, form, now)
        result = _export_counts(record, form, out)
        if out is None:
            result["record"] = (
                record_export.as_json(record, now) if form is ExportFormat.JSON else text
            )
            return result
        # Inside the transaction: if the file cannot be written, no export is logged.
        write_private(out, text, overwrite=True)
        return result

    run_admin(load_settings(config), as_json, work, _describe_export)


def _export_counts(record: StudentRecord, form: ExportFormat, out: Path | None) -> dict[str, Any]:
    return {
        "student": record.student.name,
        "format": form.value,
        "out": str(out) if out else None,
        "entries": len(record.entries),
        "revisions": sum(len(kept) for kept in record.revisions.values()),
        "translations": sum(len(kept) for kept in record.translations.values()),
        "goals": len(record.goals),
        "checkins": len(record.checkins()),
        "amendments": len(record.amendments),
        "access_log": len(record.access),
    }


def _describe_export(r: dict[str, Any]) -> str:
    if r["out"] is None:
        record = r["record"]
        text = (
            json.dumps(record, ensure_ascii=False, indent=2)
            if isinstance(record, dict)
            else str(record)
        )
        return text.rstrip("\n")
    entries = words("operator.count_entries", count=r["entries"])
    return words("operator.exported", student=r["student"], entries=entries, out=r["out"])


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
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete every trace of a student: entries, goals, team, invites, outbox, buttons, log."""
    if not yes:
        raise CommandError(said("operator.forget_needs_yes", student=repr(student)))

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(store, settings, school)
        pupil = await roster.student_named(store, found, student)
        # Deleting by a unique prefix would be too easy a slip: the full name is required.
        if grammar.fold(pupil.name) != grammar.fold(student):
            raise CommandError(said("operator.forget_full_name", student=repr(pupil.name)))
        done = await forget.forget_student(operator(store, settings, found), pupil, people=people)
        return {
            "student_id": done.student_id,
            "deleted": done.deleted,
            "mentions_elsewhere": done.mentions_elsewhere,
        }

    run_admin(load_settings(config), as_json, work, _describe_forget, after=_compact)


async def _compact(db: Database, result: dict[str, Any]) -> None:
    # The rows are gone either way (and overwritten: secure_delete); a bot busy on the
    # same SQLite file may keep VACUUM from running, and that is no reason to fail.
    try:
        await db.compact()
        result["compacted"] = True
    except DBAPIError:
        result["compacted"] = False


def _describe_forget(r: dict[str, Any]) -> str:
    counts = ", ".join(f"{name} {count}" for name, count in r["deleted"].items() if count)
    text = words(
        "operator.forgot",
        student_id=r["student_id"],
        counts=counts or words("operator.forgot_nothing"),
    )
    if r.get("compacted") is False:
        text += "\n" + words("operator.not_compacted")
    if r["mentions_elsewhere"]:
        text += (
            f"\n{r['mentions_elsewhere']} note(s) about other students mention the "
            "name: review them with `tandem export`."
        )
    return text
