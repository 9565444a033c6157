"""Who hears about a new entry, and when: questions, urgent notes, instant delivery, sharing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot import translated_notes
from bot.buttons import Seen, ShowOriginal, offer
from bot.context import Context
from bot.events import Button, Reply
from bot.i18n import Translator
from bot.outbox import Letter, enqueue
from bot.quiet_hours import next_allowed, person_quiet_hours
from bot.translation import Rendering
from storage import outbox_keys
from storage.models import Delivery, Entry, EntryKind, Membership, Person, Role, Student
from storage.stores.students import TeamShape

SEEN_BUTTON_TTL = timedelta(days=7)
# Told to the whole team at once, whatever each member chose for delivery.
_TOLD_AT_ONCE = (EntryKind.URGENT, EntryKind.QUESTION)


async def _timezone(ctx: Context, student: Student) -> str:
    school = await ctx.store.students.school(student.school_id)
    return school.timezone if school else "UTC"


def not_before(ctx: Context, person: Person, school_timezone: str) -> datetime:
    """Now, or when the person's quiet hours end."""
    quiet = person_quiet_hours(person.quiet_hours, ctx.settings.schedule.quiet_hours)
    return next_allowed(ctx.clock.now(), person.timezone or school_timezone, quiet)


async def tell_team(
    ctx: Context,
    entry: Entry,
    student: Student,
    team: Sequence[tuple[Person, Membership]] | None = None,
) -> int:
    """Queue what the rest of the team should hear about a new entry; how many letters.

    `team` is the student's team if the caller has read it already.
    """
    assert entry.id is not None and student.id is not None
    school_timezone: str | None = None  # read only if someone is told
    told = _told_now(entry, team or await ctx.store.students.team_of(student.id))
    translated = await translated_notes.for_team(
        ctx, entry, student.school_id, [person.language for person in told]
    )
    queued = 0
    for person in told:
        assert person.id is not None
        t = Translator(person.language)
        text = translated_notes.quoted(entry.text, translated.get(person.language), entry.id, t)
        urgent = entry.kind == EntryKind.URGENT
        reply = await _news_for(ctx, person, entry, student, text)
        reply = reply.with_buttons(await original_button(ctx, entry, person, translated, t))
        # Urgent notes ignore quiet hours and delivery choices.
        if not urgent and school_timezone is None:
            school_timezone = await _timezone(ctx, student)
        due = ctx.clock.now() if urgent else not_before(ctx, person, school_timezone or "UTC")
        queued += await enqueue(
            ctx.store,
            Letter(
                key=outbox_keys.entry_key(entry.id, person.id),
                person_id=person.id,
                kind=entry.kind,
                reply=reply,
                not_before=due,
                student_id=student.id,
                extra={"entry_id": entry.id},
            ),
        )
    return queued


async def _news_for(
    ctx: Context, person: Person, entry: Entry, student: Student, text: str
) -> Reply:
    """What one teammate reads about a new entry (`text`: its words, quoted), in their language;
    an urgent note asks them to tap [Seen]."""
    assert person.id is not None and entry.id is not None
    t = Translator(person.language)
    author = ctx.me.display_name
    if entry.kind == EntryKind.URGENT:
        token = await offer(ctx, Seen(entry.id), SEEN_BUTTON_TTL, person_id=person.id)
        return Reply(
            t("notify.urgent", author=author, student=student.name, text=text)
        ).with_buttons(Button(t("button.seen"), token))
    if entry.kind == EntryKind.QUESTION:
        return Reply(
            t(
                "notify.question",
                author=author,
                student=student.name,
                text=text,
                number=entry.id,
            )
        )
    return Reply(
        t(
            "notify.entry",
            author=author,
            student=student.name,
            kind=t(f"kind.{entry.kind}"),
            text=text,
        )
    )


async def original_button(
    ctx: Context,
    entry: Entry,
    person: Person,
    translated: Mapping[str, Rendering],
    t: Translator,
) -> Button | None:
    """[Original] under a note delivered translated, where the platform shows buttons."""
    if person.language not in translated or entry.id is None:
        return None
    token = await offer(ctx, ShowOriginal(entry.id), SEEN_BUTTON_TTL, person_id=person.id)
    return Button(t("button.original"), token)


def _told_now(entry: Entry, team: Sequence[tuple[Person, Membership]]) -> list[Person]:
    """Who hears of a new entry now; the others read it in the weekly summary."""
    return [
        person
        for person, membership in team
        if person.id is not None
        and person.id != entry.author_id
        and (entry.kind in _TOLD_AT_ONCE or membership.delivery == Delivery.INSTANT)
    ]


def may_tell(kind: str, team: TeamShape) -> bool:
    """Whether `tell_team` may queue a letter about a new entry of this kind to this team; when
    False it would queue none (the same rule, counted instead of read member by member)."""
    return kind in _TOLD_AT_ONCE or team.instant_others > 0


async def weekly_families(
    ctx: Context, student: Student, team: Sequence[tuple[Person, Membership]] | None = None
) -> list[Person]:
    """The student's parents who get entries only in the weekly summary (`team`: the
    student's team if the caller has read it already)."""
    assert student.id is not None
    if team is None:
        team = await ctx.store.students.team_of(student.id)
    return [
        person
        for person, membership in team
        if membership.role == Role.PARENT and membership.delivery == Delivery.WEEKLY
    ]


async def share_with_family(ctx: Context, entry: Entry, student: Student) -> int:
    """Send one entry to the weekly-digest parents now (quiet hours still apply)."""
    assert entry.id is not None
    school_timezone = await _timezone(ctx, student)
    families = await weekly_families(ctx, student)
    translated = await translated_notes.for_team(
        ctx, entry, student.school_id, [person.language for person in families]
    )
    queued = 0
    for person in families:
        assert person.id is not None
        t = Translator(person.language)
        reply = Reply(
            t(
                "notify.entry",
                author=ctx.me.display_name,
                student=student.name,
                kind=t(f"kind.{entry.kind}"),
                text=translated_notes.quoted(
                    entry.text, translated.get(person.language), entry.id, t
                ),
            )
        )
        reply = reply.with_buttons(await original_button(ctx, entry, person, translated, t))
        queued += await enqueue(
            ctx.store,
            Letter(
                key=outbox_keys.share_key(entry.id, person.id),
                person_id=person.id,
                kind="share",
                reply=reply,
                not_before=not_before(ctx, person, school_timezone),
                student_id=student.id,
            ),
        )
    return queued
