"""python-telegram-bot Application <-> core events: polling or webhook, nothing but translation.

Incoming updates become `IncomingMessage`, `MessageEdited` or `ButtonPress`; the core's
replies go back as plain text (never a parse mode, so user text is never markup), split at
Telegram's 4096-character limit, with inline keyboards that carry only opaque tokens.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import telegram
from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    ExtBot,
    TypeHandler,
)
from telegram.warnings import PTBDeprecationWarning

from adapters.telegram_config import TelegramConfig
from bot.dispatch import Dispatcher
from bot.events import (
    Button,
    ButtonPress,
    Chat,
    Event,
    IncomingMessage,
    MessageEdited,
    RecipientBlocked,
    Reply,
    Sender,
)
from bot.i18n import DEFAULT_LANGUAGE, catalog, languages
from bot.outbox import PermanentError, RateLimited
from storage.db import Database
from storage.models import Account, Platform
from storage.repo import Repo

__all__ = [
    "ALLOWED_UPDATES",
    "MAX_MESSAGE_LENGTH",
    "SECRET_HEADER",
    "ChatOrderedUpdates",
    "HeldBackUpdates",
    "TelegramAdapter",
    "keyboard",
    "split_text",
    "to_core",
]

log = logging.getLogger(__name__)

# Telegram's own limits.
MAX_MESSAGE_LENGTH = 4096
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

# Updates handled at once; the HTTP pool has room for all of them plus outbox sends.
CONCURRENT_UPDATES = 16
# Updates taken from Telegram and not yet handled, at most (see HeldBackUpdates).
MAX_UNHANDLED_UPDATES = 4 * CONCURRENT_UPDATES
CONNECTION_POOL_SIZE = CONCURRENT_UPDATES + 4
POOL_TIMEOUT = 10.0
POLL_TIMEOUT = timedelta(seconds=10)
# A send waits out at most this many 429s before giving the error to its caller.
MAX_SEND_ATTEMPTS = 4
# Side-by-side buttons while their labels fit a phone's width.
ROW_CHARACTERS = 28
ROW_BUTTONS = 4

_T = TypeVar("_T")
Sleep = Callable[[float], Awaitable[Any]]
TelegramApp = Application[
    ExtBot[None], ContextTypes.DEFAULT_TYPE, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]


# --- in: updates -> core events --------------------------------------------------------------


def to_core(update: Update) -> Event | None:
    """The core event for an update; None for updates Tandem does not handle."""
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    sender = Sender(
        Platform.TELEGRAM,
        "",
        str(user.id),
        display_name=user.full_name,
        language_hint=user.language_code,
    )
    event_id = f"tg:{update.update_id}"
    if update.callback_query is not None:
        query = update.callback_query
        if query.message is None or query.data is None:
            return None
        return ButtonPress(sender, _chat(query.message.chat), query.data, event_id)
    if update.edited_message is not None:
        edited = update.edited_message
        return MessageEdited(
            sender,
            _chat(edited.chat),
            edited.text or edited.caption or "",
            event_id,
            message_ref=_ref(edited.chat_id, edited.message_id),
        )
    message = update.message
    if message is None or (message.text is None and message.caption is None and not message.photo):
        # Stickers, voice notes and service messages carry nothing the core can log.
        return None
    reply_to = message.reply_to_message
    return IncomingMessage(
        sender,
        _chat(message.chat),
        message.text or message.caption or "",
        event_id,
        message_ref=_ref(message.chat_id, message.message_id),
        reply_to_ref=_ref(reply_to.chat_id, reply_to.message_id) if reply_to else None,
        attachment_ref=_largest_photo(message),
    )


def _chat(chat: telegram.Chat) -> Chat:
    return Chat(str(chat.id), private=chat.type == ChatType.PRIVATE)


def _ref(chat_id: int, message_id: int) -> str:
    return f"{chat_id}:{message_id}"


def _largest_photo(message: Message) -> str | None:
    if not message.photo:
        return None
    return max(message.photo, key=lambda size: size.width * size.height).file_id


# --- out: replies -> Telegram messages -------------------------------------------------------


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Cut text into messages of at most `limit` UTF-16 units, at line breaks where possible.

    The pieces put together give the text back; pieces of nothing but whitespace are left out
    (Telegram refuses an empty message).
    """
    pieces: list[str] = []
    rest = text
    while _utf16_length(rest) > limit:
        end = max(1, _fitting_prefix(rest, limit))
        cut = rest.rfind("\n", 0, end) + 1 or rest.rfind(" ", 0, end) + 1 or end
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return [piece for piece in pieces if piece.strip()]


def _utf16_length(text: str) -> int:
    # Telegram counts UTF-16 code units: an emoji outside the BMP counts twice.
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The number of characters of `text` that fit in `limit` UTF-16 units."""
    used = 0
    for index, character in enumerate(text):
        used += 2 if ord(character) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """An inline keyboard whose callback data is each button's opaque token, nothing else."""
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = [[]]
    width = 0
    for button in buttons:
        row = rows[-1]
        if row and (len(row) >= ROW_BUTTONS or width + len(button.label) > ROW_CHARACTERS):
            row = []
            rows.append(row)
            width = 0
        row.append(InlineKeyboardButton(button.label, callback_data=button.token))
        width += len(button.label)
    return InlineKeyboardMarkup(rows)


def _retry_seconds(error: RetryAfter) -> float:
    # PTB 22 returns int or timedelta depending on PTB_TIMEDELTA, and warns about the int.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _file_url(base_url: str) -> str:
    """Telegram's file URL beside its API URL (…/bot -> …/file/bot), as a local server has."""
    if base_url.endswith("/bot"):
        return base_url.removesuffix("/bot") + "/file/bot"
    return base_url


class ChatOrderedUpdates(BaseUpdateProcessor):
    """Up to N updates at once, but one at a time per chat: a chat's messages keep their order.

    Without it "+ Sam read aloud" and an "/undo" sent right after could be handled the wrong
    way round.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._holders: dict[int, int] = {}  # updates of each chat running or waiting

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers once the updates before it from its chat are done."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._holders[chat.id] = self._holders.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._holders[chat.id] -= 1
            if not self._holders[chat.id]:  # nobody else waits: forget the chat
                del self._holders[chat.id], self._locks[chat.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class HeldBackUpdates(asyncio.Queue[object]):
    """PTB's update queue, which holds the poller back while `limit` updates are unhandled.

    PTB confirms a batch of updates to Telegram when it asks for the next one, and turns every
    queued update into a task at once: unbounded, it takes thousands ahead of what it can
    handle, and a stop must handle them all (or lose them, Telegram has forgotten them). Held
    back, a stop finishes at most `limit` updates, and Telegram keeps the rest for the next start
    (updates handled and then fetched again are dropped by the dispatcher's dedupe).
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._room = asyncio.Semaphore(limit)

    async def put(self, item: object) -> None:
        """Queue an update once fewer than `limit` are unhandled."""
        await self._room.acquire()
        self.put_nowait(item)

    def task_done(self) -> None:
        """One update is handled (PTB calls this once its handlers have finished)."""
        super().task_done()
        self._room.release()


@dataclass(frozen=True)
class _Pressed:
    """The message whose button was pressed: a reply that `replaces` edits it."""

    chat_id: str
    message_id: int


# --- the adapter -----------------------------------------------------------------------------


class TelegramAdapter:
    """A python-telegram-bot Application that feeds the dispatcher and renders its replies."""

    def __init__(
        self,
        config: TelegramConfig,
        dispatcher: Dispatcher,
        db: Database,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        config.check()
        self.config = config
        self.dispatcher = dispatcher
        self.db = db
        self._sleep = sleep
        self.application: TelegramApp = (
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.base_url)
            .base_file_url(_file_url(config.base_url))
            .job_queue(None)  # APScheduler runs the weekly jobs, not PTB
            .update_queue(HeldBackUpdates(MAX_UNHANDLED_UPDATES))
            .concurrent_updates(ChatOrderedUpdates(CONCURRENT_UPDATES))
            .connection_pool_size(CONNECTION_POOL_SIZE)
            .pool_timeout(POOL_TIMEOUT)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._webhook: web.AppRunner | None = None

    @property
    def username(self) -> str:
        """The bot's username, as getMe gave it at start."""
        return self.application.bot.username

    @property
    def webhook_addresses(self) -> list[Any]:
        """Where the webhook server listens (host, port, ...), once started in webhook mode."""
        return list(self._webhook.addresses) if self._webhook else []

    async def start(self) -> None:
        """Log in (getMe), remember the username, register the menu, then take updates."""
        # httpx logs every request URL at INFO, and Telegram's URLs contain the token.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        await self.application.initialize()
        await self._remember_username()
        await self._register_commands()
        await self.application.start()
        if self.config.mode == "webhook":
            await self._start_webhook()
        else:
            updater = self.application.updater
            assert updater is not None
            await updater.start_polling(timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES)
        log.info("telegram adapter started as @%s (%s)", self.username, self.config.mode)

    async def stop(self) -> None:
        """Stop taking updates, finish the ones under way, close connections."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self._webhook is not None:
            # The webhook stays registered: Telegram keeps updates until we (or a replica) take
            # them again.
            await self._webhook.cleanup()
            self._webhook = None
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        log.info("telegram adapter stopped")

    async def send(self, chat_id: str, reply: Reply) -> str:
        """Send a reply to a chat (the outbox's way out); the message_ref of its last message.

        429s are waited out (with the injected sleep) up to MAX_SEND_ATTEMPTS, then RetryAfter
        is raised; a blocked bot marks the account inactive and raises RecipientBlocked.
        """
        return await self._send(chat_id, reply)

    async def connect(self) -> None:
        """Log in (getMe) and remember the username, to send without taking updates."""
        logging.getLogger("httpx").setLevel(logging.WARNING)
        await self.application.initialize()
        await self._remember_username()

    async def deliver(self, account: Account, reply: Reply) -> str:
        """The outbox's Transport: one reply to the account's direct chat; its message_ref.

        A 429 is not waited out here but raised as RateLimited, so the sender reschedules the
        letter; a refused message is a PermanentError; a blocked bot marks the account
        inactive and raises RecipientBlocked. Timeouts and network errors pass through as they
        are, which the sender retries later.
        """
        chat_id = account.dm_chat_id or account.external_id
        try:
            return await self._send(chat_id, reply, patient=False)
        except RetryAfter as error:
            raise RateLimited(_retry_seconds(error)) from None
        except BadRequest as error:  # before NetworkError, which it subclasses
            raise PermanentError(type(error).__name__) from None

    # --- start-up ---

    async def _remember_username(self) -> None:
        async with self.db.session() as session:
            await Repo(session).set_bot_username(
                Platform.TELEGRAM, self.username, self.dispatcher.clock.now()
            )

    async def _register_commands(self) -> None:
        known = self.dispatcher.routes.commands
        for language in languages():
            texts = catalog(language)
            commands = [
                BotCommand(key.removeprefix("menu."), text)
                for key, text in texts.items()
                if key.startswith("menu.") and key.removeprefix("menu.") in known
            ]
            if not commands:
                continue
            code = None if language == DEFAULT_LANGUAGE else language
            await self.application.bot.set_my_commands(commands, language_code=code)

    async def _start_webhook(self) -> None:
        app = web.Application()
        app.router.add_post(urlsplit(self.config.webhook_url).path or "/", self._on_webhook)
        self._webhook = web.AppRunner(app, access_log=None)
        await self._webhook.setup()
        host, port = self.config.webhook_listen
        await web.TCPSite(self._webhook, host, port).start()
        await self.application.bot.set_webhook(
            url=self.config.webhook_url,
            secret_token=self.config.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            max_connections=CONCURRENT_UPDATES,
        )

    # --- updates in ---

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """One update POSTed by Telegram; refused unless it carries our secret token."""
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self.config.webhook_secret.encode()):
            return web.Response(status=403)
        if not self.application.running:
            return web.Response(status=503)  # Telegram delivers it again later
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError, AttributeError):
            update = None
        if update is None:
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response()

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Translate an update, let the core handle it, and render the replies."""
        event = to_core(update)
        if event is None:
            return
        pressed = None
        if isinstance(event, ButtonPress) and update.callback_query is not None:
            # Answer first: the phone shows a spinner on the button until we do.
            await self._answer(update.callback_query.id)
            message = update.callback_query.message
            if message is not None:
                pressed = _Pressed(str(message.chat.id), message.message_id)
        replies = await self.dispatcher.dispatch(event)
        try:
            for reply in replies:
                if reply.replaces and pressed is not None:
                    await self._edit(pressed, reply)
                    pressed = None  # one message is replaced; later replies follow it
                else:
                    await self._send(event.chat.id, reply)
        except RecipientBlocked:
            log.info("telegram update %s: the chat blocked the bot", update.update_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a failed update by id and error type: never the message it carried."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "telegram update %s failed: %s",
            update_id,
            type(context.error).__name__,
            exc_info=context.error,
        )

    async def _answer(self, query_id: str) -> None:
        try:
            await self._retrying(None, lambda: self.application.bot.answer_callback_query(query_id))
        except TelegramError as error:
            # A query older than a few minutes cannot be answered; the press still counts.
            log.info("callback query not answered: %s", type(error).__name__)

    # --- replies out ---

    async def _send(self, chat_id: str, reply: Reply, patient: bool = True) -> str:
        """Send a reply in as many messages as it takes; `patient` waits out a first 429."""
        pieces = split_text(reply.text)
        ref = ""
        for number, piece in enumerate(pieces, start=1):
            markup = keyboard(reply.buttons) if number == len(pieces) else None
            # Once part of a reply is out, 429s are waited out here: a retry of the whole
            # reply by the outbox would send that part twice.
            attempts = MAX_SEND_ATTEMPTS if patient or number > 1 else 1
            ref = await self._send_piece(chat_id, piece, markup, attempts)
        return ref

    async def _send_piece(
        self,
        chat_id: str,
        text: str,
        markup: InlineKeyboardMarkup | None,
        attempts: int = MAX_SEND_ATTEMPTS,
    ) -> str:
        sent = await self._retrying(
            chat_id,
            lambda: self.application.bot.send_message(
                chat_id, text, reply_markup=markup, link_preview_options=_NO_PREVIEW
            ),
            attempts,
        )
        return _ref(sent.chat_id, sent.message_id)

    async def _edit(self, pressed: _Pressed, reply: Reply) -> None:
        """Show the reply in place of the pressed message (its keyboard goes with it)."""
        first, *more = split_text(reply.text) or [""]
        markup = keyboard(reply.buttons) if not more else None
        try:
            await self._retrying(
                pressed.chat_id,
                lambda: self.application.bot.edit_message_text(
                    first,
                    chat_id=pressed.chat_id,
                    message_id=pressed.message_id,
                    reply_markup=markup,
                    link_preview_options=_NO_PREVIEW,
                ),
            )
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                # Too old or gone: say it in a new message instead.
                await self._send(pressed.chat_id, reply)
                return
        for number, piece in enumerate(more, start=1):
            await self._send_piece(
                pressed.chat_id, piece, keyboard(reply.buttons) if number == len(more) else None
            )

    async def _retrying(
        self,
        chat_id: str | None,
        call: Callable[[], Awaitable[_T]],
        attempts: int = MAX_SEND_ATTEMPTS,
    ) -> _T:
        """Make a Bot API call, waiting out 429s; a block marks the account inactive."""
        attempt = 1
        while True:
            try:
                return await call()
            except RetryAfter as error:
                if attempt >= attempts:
                    raise
                attempt += 1
                await self._sleep(_retry_seconds(error))
            except Forbidden:
                if chat_id is None:
                    raise
                await self._deactivate(chat_id)
                raise RecipientBlocked(chat_id) from None

    async def _deactivate(self, chat_id: str) -> None:
        async with self.db.session() as session:
            count = await Repo(session).deactivate_accounts(Platform.TELEGRAM, chat_id)
        log.info("telegram chat refused delivery; %d account(s) marked inactive", count)


# Link previews off: Telegram's servers would fetch any URL someone wrote in a note.
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
