"""`tandem report`: a student's IEP progress report, as a PDF or Markdown file (owner-only)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

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
from bot import access, progress_report, roster
from bot.access import Action, Viewed
from bot.config import Settings
from bot.errors import CommandError, said
from bot.i18n import Translator, languages
from bot.report_pdf import render_pdf
from storage.models import Read
from storage.stores import Store

DEFAULT_PERIOD = timedelta(days=365)


class ReportFormat(StrEnum):
    PDF = "pdf"
    MD = "md"


def _day(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(said("operator.date_option", option=name, text=repr(text))) from None


def report(
    student: Annotated[str, typer.Option("--student", help="The student's name.")],
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    form: Annotated[ReportFormat, typer.Option("--format", help="pdf or md")] = ReportFormat.PDF,
    language: Annotated[
        str | None, typer.Option("--language", help="The reader's language (else the school's).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="The file to write.")] = None,
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """A student's progress report: every goal's measures, charts and trend, in one file."""
    if language is not None and language not in languages():
        raise CommandError(
            said(
                "operator.language_option",
                languages=", ".join(languages()),
                language=repr(language),
            )
        )

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(store, settings, school)
        pupil = await roster.student_named(store, found, student)
        ctx = operator(store, settings, found)
        today = ctx.clock.now().date()
        last = _day(end, "--to") or today
        first = _day(start, "--from") or last - DEFAULT_PERIOD
        if first > last:
            raise CommandError(said("operator.from_after_to"))
        if last > today:
            raise CommandError(said("operator.to_in_future", today=today))
        if not await access.authorize(
            ctx, access.school_admin(pupil), Action.EXPORT, Viewed(Read.REPORT)
        ):
            raise CommandError(
                said("operator.not_allowed")
            )  # the operator is the school's admin: not reached
        t = Translator(language or found.language)
        made = await progress_report.gather(store, found, pupil, first, last, today)
        blocks = await progress_report.compose(made, t, charts_too=form is ReportFormat.PDF)
        path = out or Path(f"progress-{pupil.name.replace(' ', '-')}-{last}.{form.value}")
        if form is ReportFormat.PDF:
            pdf = render_pdf(blocks, blocks[0].heading, t.language)
            write_private(path, pdf.data, overwrite=True)
            pages = pdf.pages
        else:
            write_private(path, progress_report.as_markdown(blocks), overwrite=True)
            pages = 0
        return {"out": str(path), "pages": pages, "goals": len(made.goals)}

    run_admin(load_settings(config), as_json, work, _describe)


def _describe(r: dict[str, Any]) -> str:
    goals = words("operator.count_goals", count=r["goals"])
    pages = words("operator.count_pages", count=r["pages"])
    return words("operator.report_written", goals=goals, pages=pages, out=r["out"])


__all__ = ["report"]
