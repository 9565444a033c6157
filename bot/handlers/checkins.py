"""The weekly check-in: a parent taps how the week went, then may add a line."""

from __future__ import annotations

from datetime import timedelta

from bot import access
from bot.access import Action
from bot.buttons import Checked, CheckinMood, CheckinMore, offer, withdraw
from bot.context import Context
from bot.events import ButtonPress, IncomingMessage, Reply
from bot.router import Router
from storage.models import Entry, EntryKind, Setting

FOLLOW_UP_TTL = timedelta(hours=24)


async def answer_checkin(
    press: ButtonPress, ctx: Context, button: Checked[CheckinMood]
) -> list[Reply]:
    """Log the tapped mood as a home note; the parent's next free text adds to it."""
    mood = button.payload.mood
    student = button.link.student if button.link else None
    if student is None or student.id is None:
        return [ctx.say("students.not_found").replacing()]
    # One answer per check-in: the other mood buttons stop working.
    await withdraw(ctx, CheckinMood, group=button.payload.group)
    entry = await ctx.store.entries.add(
        Entry(
            student_id=student.id,
            author_id=ctx.my_id,
            kind=EntryKind.NOTE,
            setting=Setting.HOME,
            text=ctx.t(f"checkin.mood.{mood}"),
            mood=mood,
            source_platform=ctx.account.platform if ctx.account else "",
            source_ref="",
            created_at=ctx.clock.now(),
        )
    )
    assert entry.id is not None
    await offer(ctx, CheckinMore(entry.id), FOLLOW_UP_TTL)
    return [ctx.say("checkin.thanks", student=student.name).replacing()]


async def add_to_checkin(
    msg: IncomingMessage, ctx: Context, text: str, answered: Checked[CheckinMore]
) -> list[Reply]:
    """The line a parent writes after a check-in tap, linked to that check-in."""
    checkin = await ctx.store.entries.get(answered.payload.entry_id)
    if checkin is None or not text:
        return [ctx.say("input.empty")]
    entry = await ctx.store.entries.add(
        Entry(
            student_id=checkin.student_id,
            author_id=ctx.my_id,
            kind=EntryKind.NOTE,
            setting=Setting.HOME,
            text=text,
            reply_to_id=checkin.id,
            source_platform=ctx.account.platform if ctx.account else "",
            source_ref=msg.message_ref,
            attachment_ref=msg.attachment_ref,
            created_at=ctx.clock.now(),
        )
    )
    student = await ctx.store.students.get(entry.student_id)
    return [ctx.say("checkin.added", student=student.name if student else "")]


async def note_on_checkin(
    msg: IncomingMessage, ctx: Context, text: str, student_id: int
) -> list[Reply]:
    """A reply to the check-in's letter without a mood word: the check-in's home note, in the
    parent's words (no mood chosen), not a plain note asking what kind it is."""
    link = await access.my_link(ctx, student_id, Action.LOG)
    if link is None or link.student.archived:
        return [ctx.say("students.not_found")]
    if not text and msg.attachment_ref is None:
        return [ctx.say("input.empty")]
    await ctx.store.entries.add(
        Entry(
            student_id=student_id,
            author_id=ctx.my_id,
            kind=EntryKind.NOTE,
            setting=Setting.HOME,
            text=text,
            source_platform=ctx.account.platform if ctx.account else "",
            source_ref=msg.message_ref,
            attachment_ref=msg.attachment_ref,
            created_at=ctx.clock.now(),
        )
    )
    return [ctx.say("checkin.added", student=link.student.name)]


def register(router: Router) -> None:
    """The check-in's mood buttons, and the line a parent may add after one."""
    router.button(CheckinMood, answer_checkin)
    router.follow_up(CheckinMore, add_to_checkin)
