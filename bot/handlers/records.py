"""Reading the record: /students, /log NAME [N], /week NAME, /record NAME."""

from __future__ import annotations

from datetime import timedelta

from bot import access, record_view, student_record, translated_notes, weekly
from bot.access import Action, Found, Viewed
from bot.buttons import Checked, ShowOriginal
from bot.context import Context
from bot.events import ButtonPress, IncomingMessage, Reply
from bot.quoting import quote
from bot.router import Router
from storage.models import Entry, Read, Role, Student

OPEN_QUESTIONS = timedelta(days=60)
DEFAULT_LOG_LENGTH = 10
MAX_LOG_LENGTH = 50


async def list_students(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """The students the sender is tied to, and how."""
    links = await ctx.store.students.links_of(ctx.my_id)
    if not links:
        return [ctx.say("students.none")]
    lines = [
        ctx.t(
            "students.line_archived" if link.student.archived else "students.line",
            student=link.student.name,
            role=ctx.t(f"role.{link.role or 'admin'}"),
        )
        for link in links
    ]
    return [Reply("\n".join([ctx.t("students.title"), *lines]))]


def not_found(ctx: Context, found: Found, name: str = "") -> Reply:
    """The same answer for a student who does not exist and one the sender may not see."""
    if found.archived is not None:
        return ctx.say("student.archived", student=found.archived.name)
    if found.choices and not name.strip():
        names = ", ".join(student.name for student in found.choices)
        return ctx.say("students.name_needed", names=names)
    if found.choices:
        names = ", ".join(student.name for student in found.choices)
        return ctx.say("students.which", names=names)
    return ctx.say("students.not_found")


async def show_log(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """The newest entries about a student."""
    name, count = _name_and_count(args)
    found = await access.find_student(ctx, name, Action.READ, Viewed(Read.LOG, count))
    if found.student is None:
        return [not_found(ctx, found, name)]
    student = found.student
    entries = await ctx.store.entries.recent(_id(student), count)
    if not entries:
        return [ctx.say("log.empty", student=student.name)]
    timezone = await _timezone(ctx, student)
    shown = await translated_notes.for_reader(ctx, [e for e, _ in entries], student.school_id)
    lines = [
        weekly.entry_line(entry, author, timezone, ctx.t, translated=shown.get(entry.id or 0))
        for entry, author in entries
    ]
    title = ctx.t("log.title", student=student.name, count=len(entries))
    return [Reply("\n".join([title, *(f"• {line}" for line in lines)]))]


def _name_and_count(args: str) -> tuple[str, int]:
    words = args.split()
    if words and words[-1].isdecimal():
        return " ".join(words[:-1]), max(1, min(int(words[-1]), MAX_LOG_LENGTH))
    return args.strip(), DEFAULT_LOG_LENGTH


def _id(student: Student) -> int:
    assert student.id is not None
    return student.id


async def _timezone(ctx: Context, student: Student) -> str:
    if ctx.person is not None and ctx.person.timezone:
        return ctx.person.timezone
    school = await ctx.store.students.school(student.school_id)
    return school.timezone if school else "UTC"


async def show_week(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """This week so far for a student, grouped with wins first."""
    found = await access.find_student(ctx, args, Action.READ, Viewed(Read.WEEK))
    if found.student is None:
        return [not_found(ctx, found, args)]
    student = found.student
    timezone = await _timezone(ctx, student)
    start, end = weekly.week_bounds(ctx.clock.now(), timezone)
    entries = await ctx.store.entries.between(_id(student), start, end)
    questions = await ctx.store.entries.open_questions([_id(student)], start - OPEN_QUESTIONS)
    week = weekly.StudentWeek(
        student,
        entries=entries,
        goals=await ctx.store.entries.goals(_id(student)),
        open_questions=questions,
        translated=await translated_notes.for_reader(
            ctx, [e for e, _ in [*entries, *questions]], student.school_id
        ),
    )
    return [Reply(weekly.compose_summary(week, start, timezone, ctx.t, "summary.title_so_far"))]


async def show_record(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """The whole record of a student, with who has read it: a parent's right to inspect."""
    found = await access.find_student(ctx, args, Action.RECORD, Viewed(Read.RECORD))
    if found.student is None:
        return [not_found(ctx, found, args)]
    # Other people's notes in another language are translated (and kept) for the reader first.
    if translated_notes.is_translating(ctx):
        entries = await ctx.store.records.entries(_id(found.student))
        await translated_notes.for_reader(ctx, [e for e, _ in entries], found.student.school_id)
    # Gathered after the view is logged, so the access log shown includes this reading.
    record = await student_record.gather(ctx.store, found.student)
    link = await access.my_link(ctx, _id(found.student), Action.RECORD)
    # A family is not told who outside the team was refused; the team's staff are.
    family = link is not None and link.role == Role.PARENT and not link.is_admin
    timezone = await _timezone(ctx, found.student)
    text = record_view.compose(
        record, ctx.t, timezone, names_outsiders=not family, translated_into=[ctx.me.language]
    )
    may_amend = access.permits(link, Action.AMEND)
    hint = f"\n\n{ctx.t('record.amend_hint')}" if may_amend and record.entries else ""
    return [Reply(text + hint)]


async def show_original(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """Note N exactly as its author wrote it, for a reader who was shown a translation."""
    number = args.strip().removeprefix("#")
    if not number.isdecimal():
        return [ctx.say("original.usage")]
    entry = await ctx.store.entries.get(int(number)) if len(number) < 10 else None
    link = await access.my_link(ctx, entry.student_id, Action.READ) if entry else None
    if entry is None or link is None:
        # The same answer for a note that does not exist and one the sender may not read.
        await access.log(ctx, None, access.Denied(Action.READ))
        return [ctx.say("original.not_found", number=number)]
    await access.authorize(ctx, link, Action.READ, Viewed(Read.LOG, 1))
    return [await _original(ctx, entry)]


async def original_button(
    press: ButtonPress, ctx: Context, button: Checked[ShowOriginal]
) -> list[Reply]:
    """[Original] under a translated note: the same as /original N (the press is re-checked)."""
    entry = await ctx.store.entries.get(button.payload.entry_id)
    if entry is None or button.link is None:
        # Gone, or the presser is no longer on the student's team: nothing is shown.
        return [ctx.say("entry.gone")]
    await access.authorize(ctx, button.link, Action.READ, Viewed(Read.LOG, 1))
    return [await _original(ctx, entry)]


async def _original(ctx: Context, entry: Entry) -> Reply:
    author = await ctx.store.people.get(entry.author_id) if entry.author_id else None
    return ctx.say(
        "original.shown",
        number=entry.id,
        author=author.display_name if author else ctx.t("entry.former_member"),
        text=quote(entry.text),
    )


def register(router: Router) -> None:
    """/students, /log, /week, /record, /original."""
    router.command("students", list_students)
    router.command("log", show_log)
    router.command("original", show_original)
    router.button(ShowOriginal, original_button)
    router.command("week", show_week)
    router.command("record", show_record)
