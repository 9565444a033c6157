"""python-telegram-bot Application <-> core events: polling or webhook, nothing but translation.

Incoming updates become `IncomingMessage`, `MessageEdited` or `ButtonPress`; the core's
replies go back as plain text (never a parse mode, so user text is never markup), split at
Telegram's 4096-character limit, with inline keyboards that carry only opaque tokens. Ordering,
retries and the rest of what every platform does the same way come from adapters/kit.py.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import telegram
from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
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

from adapters import kit
from adapters.kit import CONCURRENT_EVENTS, ChatAdapter, ChatTurns, Failure, Verdict
from adapters.telegram_config import NAME, TelegramConfig
from adapters.telegram_http import AiohttpRequest
from bot.events import (
    Attachment,
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
from storage.models import Platform
from storage.stores import Store

__all__ = [
    "ALLOWED_UPDATES",
    "MAX_MESSAGE_LENGTH",
    "SECRET_HEADER",
    "ChatOrderedUpdates",
    "HeldBackUpdates",
    "TelegramAdapter",
    "TelegramMessage",
    "classify",
    "keyboard",
    "render",
    "split_text",
    "to_core",
]

log = logging.getLogger(__name__)

# Telegram's own limits.
MAX_MESSAGE_LENGTH = 4096
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

# Updates handled at once; the HTTP pool has room for all of them plus outbox sends.
CONCURRENT_UPDATES = CONCURRENT_EVENTS
# Updates taken from Telegram and not yet handled, at most (see HeldBackUpdates).
MAX_UNHANDLED_UPDATES = 4 * CONCURRENT_UPDATES
CONNECTION_POOL_SIZE = CONCURRENT_UPDATES + 4
POOL_TIMEOUT = 10.0
POLL_TIMEOUT = timedelta(seconds=10)
# PTB takes one of its own slots before an update's chat is known; so many that they never run
# out (HeldBackUpdates bounds the updates in hand): the real ones are taken in chat order.
_PTB_SLOTS = 1 << 16
# Side-by-side buttons while their labels fit a phone's width.
ROW_CHARACTERS = 28
ROW_BUTTONS = 4

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
    """Cut text into messages of at most `limit` UTF-16 units (Telegram counts an emoji outside
    the BMP twice), at line breaks where possible; no piece is only white space."""
    return kit.split_text(text, limit, utf16=True)


@dataclass(frozen=True)
class TelegramMessage:
    """One sendMessage: plain text, and the keyboard if it is a reply's last message."""

    text: str
    markup: InlineKeyboardMarkup | None


def render(reply: Reply) -> list[TelegramMessage]:
    """A reply as Telegram messages, the buttons under the last one."""
    pieces = split_text(reply.text)
    return [
        TelegramMessage(piece, keyboard(reply.buttons) if number == len(pieces) else None)
        for number, piece in enumerate(pieces, start=1)
    ]


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


def classify(error: Exception) -> Verdict | None:
    """What a Bot API error means to the kit; None for timeouts and network errors."""
    if isinstance(error, RetryAfter):
        return Verdict(Failure.RATE_LIMITED, retry_after=_retry_seconds(error))
    if isinstance(error, Forbidden):
        return Verdict(Failure.GONE)  # the bot was blocked, or kicked from the group
    if isinstance(error, BadRequest):  # before NetworkError, which it subclasses
        if "not modified" in error.message.lower():
            return Verdict(Failure.UNCHANGED)
        return Verdict(Failure.REFUSED, reason=type(error).__name__)
    return None


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
    """Updates in the kit's chat turns: up to N at once, one at a time per chat, a few waiting.

    Without it "+ Sam read aloud" and an "/undo" sent right after could be handled the wrong
    way round; and with PTB's own slots taken first, one chat's backlog could hold them all.
    """

    def __init__(
        self, turns: ChatTurns, tell: Callable[[Update], Awaitable[None]] | None = None
    ) -> None:
        super().__init__(_PTB_SLOTS)
        self.turns = turns
        self._tell = tell

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers in its chat's turn, or refuse it if its chat has enough."""
        chat = update.effective_chat if isinstance(update, Update) else None
        tell = partial(self._tell, update) if self._tell and isinstance(update, Update) else None
        await self.turns.run(str(chat.id) if chat else None, coroutine, tell)

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


# --- the adapter -----------------------------------------------------------------------------


class TelegramAdapter(ChatAdapter[TelegramConfig, TelegramMessage]):
    """A python-telegram-bot Application that feeds the dispatcher and renders its replies."""

    application: TelegramApp
    platform = NAME
    render = staticmethod(render)
    classify = staticmethod(classify)

    def _setup(self) -> None:
        config = self.config
        self.application = (
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.base_url)
            .base_file_url(_file_url(config.base_url))
            .job_queue(None)  # APScheduler runs the weekly jobs, not PTB
            .update_queue(HeldBackUpdates(MAX_UNHANDLED_UPDATES))
            .concurrent_updates(ChatOrderedUpdates(self.turns, self._tell_too_fast))
            .request(AiohttpRequest(CONNECTION_POOL_SIZE, pool_timeout=POOL_TIMEOUT))
            .get_updates_request(AiohttpRequest())
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

    async def is_connected(self) -> bool:
        """Taking updates: polling, or the webhook server listening."""
        if not self.application.running:
            return False
        if self.config.mode == "webhook":
            return self._webhook is not None
        updater = self.application.updater
        return updater is not None and updater.running

    async def connect(self) -> None:
        """Log in (getMe) and remember the username, to send without taking updates."""
        await self.application.initialize()
        await self._remember_username()

    # --- start-up ---

    async def _remember_username(self) -> None:
        async with self.db.session() as session:
            await Store(session).bot_profile.set_username(
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
            # Telegram takes a two-letter ISO 639-1 code: `zh_Hans` is `zh`.
            code = None if language == DEFAULT_LANGUAGE else language.split("_")[0]
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
                pressed = str(message.message_id)
        replies = await self.dispatcher.dispatch(event)
        try:
            await self.answer(event.chat.id, replies, pressed)
        except RecipientBlocked:
            log.info("telegram update %s: the chat blocked the bot", update.update_id)

    async def _tell_too_fast(self, update: Update) -> None:
        """Tell a chat that floods us, once a burst, that we kept only its first updates."""
        event = to_core(update)
        try:
            if event is not None:
                await self.answer(event.chat.id, await self.too_fast(event))
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
            await self.call(None, partial(self.application.bot.answer_callback_query, query_id))
        except TelegramError as error:
            # A query older than a few minutes cannot be answered; the press still counts.
            log.info("callback query not answered: %s", type(error).__name__)

    # --- replies out ---

    async def post(self, chat: str, message: TelegramMessage, thread: str | None) -> str:
        """One sendMessage (Telegram has no threads: `thread` is not used)."""
        sent = await self.application.bot.send_message(
            chat, message.text, reply_markup=message.markup, link_preview_options=_NO_PREVIEW
        )
        return _ref(sent.chat_id, sent.message_id)

    async def post_file(self, chat: str, attachment: Attachment, thread: str | None) -> str:
        """One sendPhoto for an image, else one sendDocument. No caption: the words follow at
        once as a message of their own (Telegram has no alt text), so they are not said twice."""
        upload = InputFile(attachment.data, filename=attachment.filename)
        bot = self.application.bot
        if attachment.is_image:
            sent = await bot.send_photo(chat, upload)
        else:
            sent = await bot.send_document(chat, upload)
        return _ref(sent.chat_id, sent.message_id)

    async def update(self, chat: str, message_id: str, message: TelegramMessage) -> None:
        """One editMessageText: the keyboard shown before goes with the old text."""
        await self.application.bot.edit_message_text(
            message.text,
            chat_id=chat,
            message_id=int(message_id),
            reply_markup=message.markup,
            link_preview_options=_NO_PREVIEW,
        )


# Link previews off: Telegram's servers would fetch any URL someone wrote in a note.
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
