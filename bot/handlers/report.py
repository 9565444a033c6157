"""/report NAME [from] [to]: the progress report as a PDF document, to the one who asked."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import partial

from bot import access, charts, progress_report
from bot.access import Action, Viewed
from bot.context import Context
from bot.events import Attachment, IncomingMessage, Reply
from bot.handlers.records import not_found
from bot.report_pdf import Pdf, render_pdf
from bot.router import Router
from storage.models import Read

_DATES = re.compile(r"(?:\s+(\d{4}-\d{2}-\d{2}))?(?:\s+(\d{4}-\d{2}-\d{2}))?\s*$")
DEFAULT_PERIOD = timedelta(days=365)


def _period(args: str, today: date) -> tuple[str, date, date] | None:
    """`Sam 2026-09-01 2026-12-01` -> ("Sam", from, to); None if a date cannot be."""
    match = _DATES.search(args)
    assert match is not None  # both parts are optional: it always matches
    name = args[: match.start()].strip()
    try:
        start = date.fromisoformat(match.group(1)) if match.group(1) else None
        end = date.fromisoformat(match.group(2)) if match.group(2) else today
    except ValueError:
        return None
    return name, start or end - DEFAULT_PERIOD, end


async def send_report(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """The student's progress report, for team members and admins; logged as a report."""
    today = ctx.clock.now().date()
    period = _period(args, today)
    if period is None:
        return [ctx.say("report.usage")]
    name, start, end = period
    if start > end or end > today:
        return [ctx.say("report.bad_period", today=ctx.t.day(today))]
    found = await access.find_student(ctx, name, Action.RECORD, Viewed(Read.REPORT))
    if found.student is None or found.student.id is None:
        return [not_found(ctx, found, name)]
    school = await ctx.store.students.school(found.student.school_id)
    assert school is not None
    who, student, t = found.student, found.student.name, ctx.t

    async def laid_out() -> list[Reply]:
        # After the transaction (Reply.finish), in a read transaction of its own: a year of
        # notes is read beside the writers, not in their turn.
        async with ctx.reading_after() as store:
            made = await progress_report.gather(store, school, who, start, end, today)
        blocks = await progress_report.compose(made, t)
        pdf: Pdf = await charts.off_loop(
            partial(render_pdf, title=blocks[0].heading, language=t.language), blocks
        )
        words = t(
            "report.sent", student=student, start=t.day(start), end=t.day(end), count=pdf.pages
        )
        filename = f"progress-{student.replace(' ', '-')}-{end}.pdf"
        return [Reply(words, attachment=Attachment(pdf.data, filename, words, "application/pdf"))]

    return [Reply("", finish=laid_out)]


def register(router: Router) -> None:
    """/report."""
    router.command("report", send_report, draws=True)
