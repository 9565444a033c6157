"""Urgent notes: each teammate taps [Seen]; the author hears who has seen it."""

from __future__ import annotations

from bot.buttons import Checked, Seen
from bot.context import Context
from bot.events import ButtonPress, Reply
from bot.i18n import Translator
from bot.outbox import Letter, enqueue
from bot.router import Router
from storage import outbox_keys


async def mark_seen(press: ButtonPress, ctx: Context, button: Checked[Seen]) -> list[Reply]:
    """Record that this teammate has seen the urgent note, and tell its author at once."""
    entry = await ctx.store.entries.get(button.payload.entry_id)
    await ctx.store.buttons.delete(button.pending)
    if entry is None:
        return [ctx.say("entry.gone").replacing()]
    first_time = await ctx.store.entries.add_acknowledgement(
        entry.id or 0, ctx.my_id, ctx.clock.now()
    )
    student = await ctx.store.students.get(entry.student_id)
    name = student.name if student else ""
    author = await ctx.store.people.get(entry.author_id) if entry.author_id else None
    if first_time and author is not None and author.id is not None:
        assert entry.id is not None
        t = Translator(author.language)
        await enqueue(
            ctx.store,
            Letter(
                key=outbox_keys.seen_key(entry.id, ctx.my_id),
                person_id=author.id,
                kind="seen",
                reply=Reply(t("notify.seen", person=ctx.me.display_name, student=name)),
                not_before=ctx.clock.now(),
                student_id=entry.student_id,
            ),
        )
    return [ctx.say("urgent.seen_thanks", student=name)]


def register(router: Router) -> None:
    """The [Seen] button under an urgent note."""
    router.button(Seen, mark_seen)
