"""identity -> pending state -> router -> handler -> replies, with dedupe of event ids."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from bot import buttons
from bot.charts import COMMAND_DRAWERS
from bot.config import Settings
from bot.context import Clock, Context
from bot.events import ButtonPress, Event, IncomingMessage, MessageEdited, Reply
from bot.flood import FloodGuard, Verdict
from bot.grammar import clean_text
from bot.i18n import Translator, guess_language, translate
from bot.metrics import NO_METRICS, EventOutcome, Metrics, Timer, default_timer, event_kind
from bot.router import Router, split_command
from bot.translation import NoteTranslator
from storage.db import Database, is_connection_lost
from storage.models import PendingAction
from storage.stores import Store
from storage.stores.people import KnownSender

log = logging.getLogger(__name__)


# What our button tokens look like (token_urlsafe, or a hex digest for link codes). Anything else
# is forged, and is not even looked up: PostgreSQL refuses a NUL in a query parameter.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _short_id(event_id: str) -> str:
    """Event ids fit the SeenEvent column; a longer (or unprintable) one is kept as its digest."""
    if len(event_id) <= 128 and event_id.isprintable():
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def _pressed_by_its_owner(pending: PendingAction, ctx: Context, press: ButtonPress) -> bool:
    """A button is pressed only by whom it was made for: its person, or, for one offered to a
    platform account (`buttons.ForAccount`: [Join] for a `/link` code), that account."""
    offered = buttons.decode(pending.action, pending.payload)
    if isinstance(offered, buttons.ForAccount):
        return offered.pressed_by(press.sender)
    return ctx.person is not None and pending.person_id == ctx.person.id


class Dispatcher:
    """Turns one platform-free event into the replies for its sender, in one transaction."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        routes: Router,
        notes: NoteTranslator | None = None,
        *,
        metrics: Metrics = NO_METRICS,
        timer: Timer = default_timer,
        drawing_slots: int = COMMAND_DRAWERS,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.routes = routes
        self.notes = notes
        self.flood = FloodGuard(settings.security.messages_per_minute)
        # Called after an event's transaction that queued letters commits (the runner pokes
        # the sender with it; an event that queued nothing does not wake it).
        self.after_event: Callable[[], None] | None = None
        self.metrics = metrics
        self._timer = timer
        # A command that draws (/progress, /report) takes one of a few slots before its
        # transaction and keeps it until drawn, and only one of them is in the database at a
        # time: a burst of them waits here, not ahead of notes in the writers' turn.
        self._drawing_slots = asyncio.Semaphore(drawing_slots)
        self._drawing_turn = asyncio.Lock()

    async def dispatch(self, event: Event) -> list[Reply]:
        started = self._timer()
        outcome = EventOutcome.ERROR
        try:
            draws = self._draws(event)
            async with self._drawing_slots if draws else contextlib.nullcontext():
                replies = await self._dispatch_once_more_if_lost(event, draws)
            outcome = EventOutcome.REPLIED if replies else EventOutcome.SILENT
            return replies
        finally:
            self.metrics.event_handled(event_kind(event), outcome, self._timer() - started)

    def _draws(self, event: Event) -> bool:
        if not isinstance(event, IncomingMessage):
            return False
        command = split_command(event.text.lstrip())
        return command is not None and command[0] in self.routes.drawing_commands

    async def _dispatch_once_more_if_lost(self, event: Event, draws: bool) -> list[Reply]:
        """The event's replies; handled a second time if the database dropped the connection."""
        turn: contextlib.AbstractAsyncContextManager[Any] = (
            self._drawing_turn if draws else contextlib.nullcontext()
        )
        try:
            async with turn:
                replies, queued = await self._dispatch(event)
        except Exception as error:
            if not is_connection_lost(error):
                raise
            # The database dropped the connection (a restart): the transaction, dedupe row
            # included, is gone, and the pool has replaced its connections; so once more.
            log.warning(
                "event %s: the database connection was lost; handling it again", event.event_id
            )
            async with turn:
                replies, queued = await self._dispatch(event)
        if queued and self.after_event is not None:
            self.after_event()
        # The transaction is over: charts and reports are drawn now, holding no lock.
        return [made for reply in replies for made in await reply.finished()]

    async def too_fast(self, event: Event, kept: int) -> list[Reply]:
        """The one answer to a burst from a chat faster than its adapter keeps up with, of
        which it kept the first `kept` events. A stranger hears nothing but the onboarding line."""
        sender = event.sender
        async with self.db.session() as session:
            store = Store(session)
            account = await store.people.account(
                sender.platform, sender.workspace, sender.external_id
            )
            person = await store.people.get(account.person_id) if account else None
        if person is None:
            return []
        return [Reply(translate(person.language, "input.too_fast", kept=kept))]

    async def _dispatch(self, event: Event) -> tuple[list[Reply], int]:
        """The replies, and how many letters the event queued."""
        async with self.db.event_session() as session:
            store = Store(session)
            # First, the chat's turn, then the dedupe row: another replica handling this chat's
            # previous event finishes first, and a platform's retry of it then finds its dedupe
            # row. The dedupe row shares the transaction: if handling fails, a retry is handled
            # again. The sender is read after the turn (on PostgreSQL, with the dedupe row).
            sender = event.sender
            arrival = await store.people.arrival(
                platform=sender.platform,
                workspace=sender.workspace,
                external_id=sender.external_id,
                chat=event.chat.id,
                event_id=_short_id(event.event_id),
                follow_ups=self.routes.follow_up_actions,
                now=self.clock.now(),
            )
            if not arrival.fresh:
                log.info("duplicate event %s ignored", event.event_id)
                self.metrics.duplicate_event(event.sender.platform)
                return [], 0
            ctx, awaits_follow_up = await self._context(store, event, arrival.sender)
            held_back = self._held_back(event, ctx)
            replies = (
                held_back
                if held_back is not None
                else await self._route(event, ctx, awaits_follow_up)
            )
            log.info("event %s handled with %d replies", event.event_id, len(replies))
            return replies, store.outbox.letters_queued

    async def _context(
        self, store: Store, event: Event, found: KnownSender | None
    ) -> tuple[Context, bool]:
        """The handlers' context, and whether a follow-up awaits the sender's next text."""
        sender = event.sender
        account, person = (found.account, found.person) if found else (None, None)
        if account is not None and not account.active:
            # They wrote to us, so the chat is open again (a bot once blocked, now unblocked).
            account.active = True
            await store.people.save(account)
        language = (
            person.language
            if person
            else guess_language(sender.language_hint, self.settings.school.language)
        )
        context = Context(
            store=store,
            clock=self.clock,
            settings=self.settings,
            t=Translator(language),
            person=person,
            account=account if person else None,
            notes=self.notes,
            reads_after=self._reads_after,
        )
        return context, found is not None and found.awaits_follow_up

    @contextlib.asynccontextmanager
    async def _reads_after(self) -> AsyncIterator[Store]:
        """A read transaction of its own, for a reply finished after the event's: on SQLite
        it reads beside the writers (WAL), so a chart's measures never hold up a note."""
        async with self.db.session() as session:
            yield Store(session)

    def _held_back(self, event: Event, ctx: Context) -> list[Reply] | None:
        """None if the event is handled; else what its sender hears instead: one "slow down"
        per burst of messages over `security.messages_per_minute`, then nothing."""
        if not isinstance(event, IncomingMessage):
            return None
        sender = event.sender
        # A person is one window across their accounts; a stranger is known by their account.
        who = (
            ctx.person.id if ctx.person else (sender.platform, sender.workspace, sender.external_id)
        )
        verdict = self.flood.check(who, self.clock.now())
        if verdict is Verdict.HANDLE:
            return None
        log.info("event %s not handled: its sender is over the message limit", event.event_id)
        # A stranger hears the one onboarding line and nothing else, this included.
        if verdict is Verdict.DROP or ctx.person is None:
            return []
        return [ctx.say("input.slow_down", count=self.flood.per_minute)]

    async def _route(self, event: Event, ctx: Context, awaits_follow_up: bool) -> list[Reply]:
        if not event.chat.private:
            # Groups and channels never see student data, whoever asks.
            return [ctx.say("group.direct_only")]
        if isinstance(event, ButtonPress):
            return await self._press(event, ctx)
        if ctx.person is None and not self._opens_door(event):
            return [ctx.say("onboarding.stranger")]
        if isinstance(event, MessageEdited):
            return await self.routes.edit(event, ctx) if self.routes.edit else []
        return await self._message(event, ctx, awaits_follow_up)

    def _opens_door(self, event: Event) -> bool:
        command = split_command(event.text) if isinstance(event, IncomingMessage) else None
        return command is not None and command[0] in self.routes.open_commands

    async def _press(self, press: ButtonPress, ctx: Context) -> list[Reply]:
        pending = (
            await ctx.store.buttons.get(press.token) if _TOKEN.fullmatch(press.token) else None
        )
        if pending is None or not _pressed_by_its_owner(pending, ctx, press):
            # Someone else's button, or forged data: nothing happens and nothing is revealed.
            return []
        if pending.expires_at <= self.clock.now():
            await ctx.store.buttons.delete(pending)
            return [ctx.say("button.expired")]
        button = await buttons.check(ctx, pending)
        handler = self.routes.buttons.get(type(button.payload)) if button else None
        if handler is None or button is None:
            return []
        if button.refused:
            # Removed from the team since: nothing changes, and the button is retired.
            await buttons.log_refusal(ctx, button)
            await ctx.store.buttons.delete(pending)
            return [ctx.say("button.expired")]
        return await handler(press, ctx, button)

    async def _message(
        self, msg: IncomingMessage, ctx: Context, awaits_follow_up: bool
    ) -> list[Reply]:
        text = clean_text(msg.text)
        limit = self.settings.security.max_entry_chars
        if len(text) > limit:
            return [ctx.say("input.too_long", limit=limit, length=len(text))]
        if not text and msg.attachment_ref is None:
            return [ctx.say("input.empty")]
        command = split_command(text)
        # A reply in a thread answers what it replies to, unless it is a command of its own.
        if command is None and msg.reply_to_ref and ctx.person is not None and self.routes.thread:
            threaded = await self.routes.thread(msg, ctx, text)
            if threaded is not None:
                return threaded
        if command is not None:
            name, args = command
            handler = self.routes.commands.get(name)
            if handler is None:
                return [ctx.say("command.unknown", command=name[:32])]
            return await handler(msg, ctx, args)
        prefixed = self.routes.prefixes.get(text[:1])
        if prefixed is not None:
            return await prefixed(msg, ctx, text[1:].strip())
        followed = await self._follow_up(msg, ctx, text) if awaits_follow_up else None
        if followed is not None:
            return followed
        if self.routes.plain_text is None:
            return []
        return await self.routes.plain_text(msg, ctx, text)

    async def _follow_up(self, msg: IncomingMessage, ctx: Context, text: str) -> list[Reply] | None:
        """The answer to what the sender was asked (a check-in's "anything to add?"), or None
        when nothing awaits it."""
        awaited = await ctx.store.buttons.follow_up(
            ctx.my_id, self.routes.follow_up_actions, self.clock.now()
        )
        if awaited is None:
            return None
        await ctx.store.buttons.delete(awaited)
        answered = await buttons.check(ctx, awaited)
        follow_up = self.routes.follow_ups.get(type(answered.payload)) if answered else None
        if follow_up is None or answered is None:
            return None
        if answered.refused:
            # Not kept, and not taken as a note about another of the sender's students.
            await buttons.log_refusal(ctx, answered)
            return [ctx.say("follow_up.closed")]
        return await follow_up(msg, ctx, text, answered)
