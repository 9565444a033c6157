"""A reply to one of Tandem's letters (a Telegram reply, a Slack thread, an email's reply):
taken as the answer to what that letter asked, by the letter's kind."""

from __future__ import annotations

from bot import grammar
from bot.context import Context
from bot.events import IncomingMessage, Reply
from bot.handlers import checkins, questions
from bot.router import Router
from storage.models import EntryKind

CHECKIN = "checkin"  # the Outbox kind of a check-in prompt (bot/jobs.py)


async def by_reply(msg: IncomingMessage, ctx: Context, text: str) -> list[Reply] | None:
    """A question's letter: the reply answers it. A check-in's letter: the reply (no mood word,
    or the adapter would have pressed its button) is that check-in's home note. Else None:
    the reply is read like any message."""
    if ctx.account is None or ctx.account.id is None or msg.reply_to_ref is None:
        return None
    letter = await ctx.store.outbox.sent_as(ctx.account.id, msg.reply_to_ref)
    if letter is None:
        return None
    if letter.kind == EntryKind.QUESTION and "entry_id" in letter.payload:
        return await questions.answer(msg, ctx, int(letter.payload["entry_id"]), text)
    signed = grammar.split_prefix(text)[0] is not None  # "+ Sam ...": the note it says it is
    if letter.kind == CHECKIN and letter.student_id is not None and not signed:
        return await checkins.note_on_checkin(msg, ctx, text, letter.student_id)
    return None


def register(router: Router) -> None:
    """Replies to a question's or a check-in's letter."""
    router.replied(by_reply)
