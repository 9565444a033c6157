"""slack-bolt AsyncApp <-> core events: Socket Mode or HTTP, nothing but translation.

Direct messages (`message.im`) and their edits, the `/tandem` slash command and Block Kit
button presses become `IncomingMessage`, `MessageEdited` and `ButtonPress`; a mention in a
channel becomes a non-private message, which the core answers with "message me directly".
Every request is acknowledged first and handled after, in a task this adapter tracks. Replies go
back as Block Kit sections whose text is escaped (`& < >`), so user text never forms a mention
or a link, with buttons that carry only opaque tokens.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack_config import SlackConfig
from bot.config import ConfigError
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
from bot.outbox import PermanentError, RateLimited
from storage.db import Database
from storage.models import Account, Platform
from storage.repo import Repo

__all__ = [
    "ACTION_PREFIX",
    "COMMAND",
    "EVENTS_PATH",
    "BotIdentity",
    "SlackAdapter",
    "SlackMessage",
    "action_to_core",
    "command_text",
    "command_to_core",
    "escape",
    "event_to_core",
    "plain_text",
    "render",
]

log = logging.getLogger(__name__)

COMMAND = "/tandem"
EVENTS_PATH = "/slack/events"
# Our buttons' action_id starts with this; the value is the opaque PendingAction token.
ACTION_PREFIX = "tandem:"

# Slack's Block Kit limits.
SECTION_LIMIT = 3000
LABEL_LIMIT = 75
BUTTONS_PER_BLOCK = 25
# 10 sections of 3000 stay under the 40,000 characters Slack keeps of a message's text.
SECTIONS_PER_MESSAGE = 10

# Events handled at once: the database pool and Slack's rate limits set the pace anyway.
CONCURRENT_EVENTS = 16
# A call waits out at most this many 429s before giving the error to its caller.
MAX_SEND_ATTEMPTS = 4
HELLO_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# Remembered Slack users (name, locale, direct chat): one lookup each per run.
USER_CACHE_SIZE = 10_000

# Errors that mean this chat will never take our messages; auth errors are ours, not theirs.
_GONE = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "not_in_channel",
        "messages_tab_disabled",
    }
)
# Slack refuses the message itself: sending it again cannot help.
_REFUSED = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "restricted_action",
    }
)
# chat.update cannot show the reply in place: post it as a new message instead.
_NOT_UPDATABLE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
# Message subtypes that are a person writing; the rest are joins, deletions, bots, ...
_WRITTEN = frozenset({"file_share", "thread_broadcast"})
_MARKUP = re.compile(r"<([^<>]*)>")

Body = Mapping[str, Any]
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class BotIdentity:
    """Who we are in the one workspace we serve, from auth.test."""

    team_id: str
    user_id: str
    bot_id: str


# --- in: Slack payloads -> core events -------------------------------------------------------


def plain_text(text: str) -> str:
    """Slack's message markup back to what the person typed: links, mentions, `&amp;`."""

    def readable(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return label or f"@{target[1:].split('^')[0]}"
        if label and label not in target:
            return f"{label} ({target})"
        return label or target

    text = _MARKUP.sub(readable, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_text(text: str) -> str:
    """`/tandem win Sam read` arrives as "win Sam read": the core's "/win Sam read"."""
    text = text.strip()
    if not text:
        return "/help"
    # "/tandem + Sam read" and "/tandem /log Sam" are already in the core's grammar.
    return f"/{text}" if text[0].isalnum() else text


def _ref(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def _is_bot(message: Body, bot: BotIdentity) -> bool:
    return (
        bool(message.get("bot_id"))
        or message.get("subtype") == "bot_message"
        or message.get("user") == bot.user_id
    )


def event_to_core(body: Body, bot: BotIdentity) -> Event | None:
    """The core event for an Events API callback; None for what Tandem does not handle."""
    event = body.get("event") or {}
    event_id = body.get("event_id")
    channel = event.get("channel")
    if not isinstance(event_id, str) or not isinstance(channel, str):
        return None
    core_id = f"slack:{event_id}"
    if event.get("type") == "app_mention":
        # A mention in a direct chat also arrives as message.im, which answers it.
        if channel.startswith("D") or _is_bot(event, bot) or not event.get("user"):
            return None
        return _message(event, bot, channel, core_id, private=False)
    if event.get("type") != "message" or event.get("channel_type") != "im":
        # Channels are not subscribed to: they reach Tandem only as mentions.
        return None
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _edit(event, bot, channel, core_id)
    if (subtype is not None and subtype not in _WRITTEN) or _is_bot(event, bot):
        return None
    if not event.get("user"):
        return None
    return _message(event, bot, channel, core_id, private=True)


def _message(
    event: Body, bot: BotIdentity, channel: str, core_id: str, private: bool
) -> IncomingMessage:
    ts = str(event.get("ts", ""))
    thread_ts = event.get("thread_ts")
    files = event.get("files") or []
    return IncomingMessage(
        sender=Sender(Platform.SLACK, bot.team_id, str(event["user"])),
        chat=Chat(channel, private=private),
        text=plain_text(str(event.get("text") or "")),
        event_id=core_id,
        message_ref=_ref(channel, ts),
        reply_to_ref=_ref(channel, thread_ts) if thread_ts and thread_ts != ts else None,
        attachment_ref=str(files[0].get("id")) if files and files[0].get("id") else None,
    )


def _edit(event: Body, bot: BotIdentity, channel: str, core_id: str) -> MessageEdited | None:
    new = event.get("message") or {}
    old = event.get("previous_message") or {}
    # Unfurling a link also changes a message: only a person's own edit counts.
    if (
        _is_bot(new, bot)
        or not new.get("user")
        or "edited" not in new
        or new.get("text") == old.get("text")
    ):
        return None
    return MessageEdited(
        sender=Sender(Platform.SLACK, bot.team_id, str(new["user"])),
        chat=Chat(channel, private=True),
        text=plain_text(str(new.get("text") or "")),
        event_id=core_id,
        message_ref=_ref(channel, str(new.get("ts", ""))),
    )


def command_to_core(body: Body, workspace: str, private: bool) -> IncomingMessage:
    """`/tandem ...` as the message the core would get had it been typed in a direct chat."""
    # Slack does not retry slash commands; the trigger id is unique to each invocation.
    trigger = body.get("trigger_id") or f"{body.get('channel_id')}:{body.get('user_id')}"
    return IncomingMessage(
        sender=Sender(Platform.SLACK, workspace, str(body.get("user_id", ""))),
        chat=Chat(str(body.get("channel_id", "")), private=private),
        text=command_text(plain_text(str(body.get("text") or ""))),
        event_id=f"slack:command:{trigger}",
    )


def action_to_core(body: Body, workspace: str, private: bool) -> ButtonPress | None:
    """A press of one of our buttons; None for anything else."""
    user = (body.get("user") or {}).get("id")
    channel = _action_channel(body)
    actions = body.get("actions") or []
    if not user or not channel or not actions:
        return None
    action = actions[0]
    token = action.get("value")
    if not str(action.get("action_id", "")).startswith(ACTION_PREFIX) or not isinstance(token, str):
        return None
    press = body.get("trigger_id") or f"{channel}:{action.get('action_ts')}"
    return ButtonPress(
        Sender(Platform.SLACK, workspace, str(user)),
        Chat(channel, private),
        token,
        f"slack:action:{press}",
    )


def _action_channel(body: Body) -> str:
    return str(
        (body.get("container") or {}).get("channel_id")
        or (body.get("channel") or {}).get("id")
        or ""
    )


# --- out: replies -> Slack messages ----------------------------------------------------------


def escape(text: str) -> str:
    """Text that Slack shows as written: `<@U1>` or `<!channel>` typed by a user stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class SlackMessage:
    """One chat.postMessage: `text` is the notification (and fallback), `blocks` what shows."""

    text: str
    blocks: list[dict[str, Any]]


def render(reply: Reply) -> list[SlackMessage]:
    """A reply as Slack messages: escaped sections, then the buttons on the last message."""
    pieces = _split(escape(reply.text), SECTION_LIMIT)
    groups = [
        pieces[n : n + SECTIONS_PER_MESSAGE] for n in range(0, len(pieces), SECTIONS_PER_MESSAGE)
    ] or [[]]
    messages = []
    for number, group in enumerate(groups, start=1):
        blocks = [_section(piece) for piece in group if piece.strip()]
        if number == len(groups):
            blocks.extend(_actions(reply.buttons))
        if blocks:
            messages.append(SlackMessage("".join(group).strip(), blocks))
    return messages


def _split(text: str, limit: int) -> list[str]:
    """Cut escaped text into pieces of at most `limit`, at line breaks where possible and
    never inside an entity such as `&amp;`."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit) + 1 or rest.rfind(" ", 0, limit) + 1 or limit
        entity = rest.rfind("&", max(0, cut - 4), cut)
        if entity > 0 and ";" not in rest[entity:cut]:
            cut = entity
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return [piece for piece in pieces if piece]


def _section(text: str) -> dict[str, Any]:
    # plain_text: what people typed (*bold*, `code`, links, mentions) shows exactly as typed.
    return {"type": "section", "text": {"type": "plain_text", "text": text.strip(), "emoji": False}}


def _actions(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    elements = [
        {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{number}",
            "text": {"type": "plain_text", "text": _label(button.label), "emoji": True},
            "value": button.token,
        }
        for number, button in enumerate(buttons)
    ]
    return [
        {"type": "actions", "elements": elements[n : n + BUTTONS_PER_BLOCK]}
        for n in range(0, len(elements), BUTTONS_PER_BLOCK)
    ]


def _label(label: str) -> str:
    return label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"


def _error(error: SlackApiError) -> str:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    return str(data.get("error", ""))


def _retry_after(error: SlackApiError) -> float:
    for name, value in (error.response.headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return 1.0


@dataclass(frozen=True)
class _Profile:
    name: str
    locale: str | None


# --- the adapter -----------------------------------------------------------------------------


class SlackAdapter:
    """A slack-bolt AsyncApp that feeds the dispatcher and renders its replies."""

    def __init__(
        self,
        config: SlackConfig,
        dispatcher: Dispatcher,
        db: Database,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        config.check()
        self.config = config
        self.dispatcher = dispatcher
        self.db = db
        self._sleep = sleep
        self.client = AsyncWebClient(
            token=config.bot_token,
            base_url=config.base_url,
            logger=logging.getLogger(f"{__name__}.web"),
        )
        # process_before_response: our listeners only ack and start a task of ours, so the
        # ack still goes out at once, and we know of every piece of work before Slack does.
        self.app = AsyncApp(
            client=self.client,
            signing_secret=config.signing_secret,
            name="tandem",
            logger=logging.getLogger(f"{__name__}.bolt"),
            process_before_response=True,
        )
        self.app.middleware(self._only_our_workspace)
        self.app.event("message")(self._on_message)
        self.app.event("app_mention")(self._on_message)
        self.app.command(COMMAND)(self._on_command)
        self.app.action(re.compile(f"^{re.escape(ACTION_PREFIX)}"))(self._on_action)
        self._bot: BotIdentity | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._hello = asyncio.Event()
        self._http: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CONCURRENT_EVENTS)
        self._profiles: dict[str, _Profile] = {}
        self._chat_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._direct_chats: dict[str, str] = {}

    @property
    def bot(self) -> BotIdentity:
        """Our workspace and bot user, known once started."""
        if self._bot is None:
            raise RuntimeError("the Slack adapter has not started")
        return self._bot

    @property
    def http_addresses(self) -> list[Any]:
        """Where the HTTP server listens (host, port, ...), once started in HTTP mode."""
        return list(self._http.addresses) if self._http else []

    async def start(self) -> None:
        """Log in (auth.test), learn the workspace, then take events by Socket Mode or HTTP."""
        self._bot = await self._identify()
        if self.config.mode == "socket":
            await self._start_socket()
        else:
            await self._start_http()
        log.info(
            "slack adapter started (%s mode, workspace %s)", self.config.mode, self.bot.team_id
        )

    async def stop(self) -> None:
        """Stop taking events, finish the ones under way (for a while), close connections."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=STOP_TIMEOUT)
            for task in late:
                task.cancel()
        log.info("slack adapter stopped")

    async def connect(self) -> None:
        """Log in (auth.test) to send without taking events (`tandem jobs drain`)."""
        self._bot = await self._identify()

    async def deliver(self, account: Account, reply: Reply) -> str:
        """The outbox's Transport: one reply to the account's direct chat; its message ref.

        A 429 is not waited out here but raised as RateLimited, so the sender reschedules the
        letter; a message Slack refuses as such is a PermanentError; a chat gone for good
        marks the account inactive and raises RecipientBlocked. Server and network errors pass
        through as they are, which the sender retries later.
        """
        chat_id = account.dm_chat_id or account.external_id
        try:
            return await self._post(chat_id, reply, patient=False)
        except SlackApiError as error:
            if _error(error) in _REFUSED:
                raise PermanentError(_error(error)) from None
            raise

    async def send(self, chat_id: str, reply: Reply) -> str:
        """Send a reply to a chat (the outbox's way out): a direct chat's id, or a user id for
        their chat with the app. Returns the sent message's ref ("channel:ts"), which a reply
        in its thread refers to; raises RecipientBlocked if the chat is gone for good."""
        return await self._post(chat_id, reply)

    async def wait_idle(self) -> None:
        """Return once every event taken so far has been handled and answered."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    # --- start-up ---

    async def _identify(self) -> BotIdentity:
        try:
            result = await self.client.auth_test()
        except SlackApiError as error:
            raise ConfigError(
                "slack.bot_token", f"Slack refused the bot token ({_error(error)})"
            ) from None
        team = str(result.get("team_id") or "")
        if self.config.team_id and team != self.config.team_id:
            raise ConfigError(
                "slack.team_id",
                f"the bot token belongs to workspace {team}, not {self.config.team_id}",
            )
        return BotIdentity(
            team_id=team,
            user_id=str(result.get("user_id") or ""),
            bot_id=str(result.get("bot_id") or ""),
        )

    async def _start_socket(self) -> None:
        self._socket = AsyncSocketModeHandler(
            self.app, app_token=self.config.app_token, web_client=self.client
        )
        self._socket.client.message_listeners.append(self._on_socket_message)
        try:
            # Asked here rather than inside the client, which would retry a bad token forever.
            opened = await self.client.apps_connections_open(app_token=self.config.app_token)
        except SlackApiError as error:
            await self.stop()
            raise ConfigError(
                "slack.app_token", f"Slack refused the app-level token ({_error(error)})"
            ) from None
        self._socket.client.wss_uri = str(opened["url"])
        await self._socket.connect_async()  # type: ignore[no-untyped-call]
        try:
            await asyncio.wait_for(self._hello.wait(), HELLO_TIMEOUT)
        except TimeoutError:
            log.warning(
                "slack socket mode: no hello within %.0f s; the client keeps trying", HELLO_TIMEOUT
            )

    async def _on_socket_message(
        self, client: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        """Note Slack's hello on a new connection (the client itself handles envelopes)."""
        if message.get("type") == "hello":
            self._hello.set()

    async def _start_http(self) -> None:
        app = web.Application()
        app.router.add_post(EVENTS_PATH, self._on_http)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        host, port = self.config.http_listen
        await web.TCPSite(self._http, host, port).start()

    async def _on_http(self, request: web.Request) -> web.Response:
        """One request from Slack: bolt checks its signature and age, then routes it."""
        try:
            # bolt reads the body before it checks the signature, and fails on any but an object.
            bolt_request = await to_bolt_request(request)
        except (ValueError, TypeError, AttributeError) as error:
            log.warning(
                "slack http: a body that is no Slack payload refused (%s)", type(error).__name__
            )
            return web.Response(status=400)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    # --- requests in: ack, then work ---

    async def _only_our_workspace(
        self, context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Refuse anything from a workspace other than ours, before any listener sees it."""
        if context.team_id != self.bot.team_id:
            log.warning("slack request from workspace %s refused", context.team_id)
            return BoltResponse(status=403, body="")
        await next()
        return None

    async def _on_message(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A direct message, its edit, or a mention in a channel."""
        await ack()
        event = event_to_core(body, self.bot)
        if event is not None:
            raw = body.get("event") or {}
            edited = raw.get("message") or {}
            thread = raw.get("thread_ts") or edited.get("thread_ts")
            self._spawn(event.chat.id, self._handle_event(event, thread), event.event_id)

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """`/tandem ...`: answered in the direct chat, or privately where it was typed."""
        await ack()
        self._spawn(
            str(body.get("channel_id", "")), self._handle_command(body, respond), "slash command"
        )

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """A press of one of our buttons."""
        await ack()
        self._spawn(_action_channel(body), self._handle_action(body, respond), "button press")

    def _spawn(self, chat: str, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(self._guarded(chat, work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, chat: str, work: Coroutine[Any, Any, None], what: str) -> None:
        # One chat's events in the order they came (an edit after its message), chats side by
        # side; a task waits for its chat before it takes one of the slots.
        try:
            async with self._in_order(chat), self._slots:
                await work
        except RecipientBlocked:
            log.info("slack %s: the chat no longer takes our messages", what)
        except Exception as error:
            # The error's type only: its text may quote SQL parameters, i.e. the message.
            log.error("slack %s failed: %s", what, type(error).__name__)
            log.debug("slack %s failed", what, exc_info=True)
        finally:
            work.close()  # cancelled while waiting its turn: it never ran, and should not warn

    @asynccontextmanager
    async def _in_order(self, chat: str) -> AsyncIterator[None]:
        """Hold this chat's turn; the lock is kept only while someone holds or awaits it."""
        lock, users = self._chat_locks.get(chat, (asyncio.Lock(), 0))
        self._chat_locks[chat] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chat_locks[chat]
            if users == 1:
                del self._chat_locks[chat]
            else:
                self._chat_locks[chat] = (lock, users - 1)

    async def _handle_event(self, event: Event, thread_ts: str | None) -> None:
        if isinstance(event, IncomingMessage) and event.chat.private:
            event = await self._introduced(event)
        replies = await self.dispatcher.dispatch(event)
        for reply in replies:
            if event.chat.private:
                await self._post(event.chat.id, reply, thread_ts)
            else:
                await self._post_ephemeral(
                    event.chat.id, event.sender.external_id, reply, thread_ts
                )

    async def _handle_command(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        user, channel = str(body.get("user_id", "")), str(body.get("channel_id", ""))
        private = await self._is_direct_chat(user, channel)
        message = await self._introduced(command_to_core(body, self.bot.team_id, private))
        replies = await self.dispatcher.dispatch(message)
        for reply in replies:
            if private:
                await self._post(channel, reply)
            else:
                await _respond_privately(respond, reply)

    async def _handle_action(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        user, channel = str((body.get("user") or {}).get("id", "")), _action_channel(body)
        press = action_to_core(body, self.bot.team_id, await self._is_direct_chat(user, channel))
        if press is None:
            return
        if not press.chat.private:
            for reply in await self.dispatcher.dispatch(press):
                await _respond_privately(respond, reply)
            return
        container = body.get("container") or {}
        pressed = container.get("message_ts")
        thread = (body.get("message") or {}).get("thread_ts")
        for reply in await self.dispatcher.dispatch(press):
            if reply.replaces and pressed:
                await self._replace(channel, str(pressed), reply, thread)
                pressed = None  # one message is replaced; later replies follow it
            else:
                await self._post(channel, reply, thread)

    # --- who is writing ---

    async def _introduced(self, message: IncomingMessage) -> IncomingMessage:
        """The message with its sender's name and language, which Slack events leave out."""
        profile = await self._profile(message.sender.external_id)
        sender = replace(message.sender, display_name=profile.name, language_hint=profile.locale)
        return replace(message, sender=sender)

    async def _profile(self, user: str) -> _Profile:
        known = self._profiles.get(user)
        if known is not None:
            return known
        try:
            result = await self._call(
                None, partial(self.client.users_info, user=user, include_locale=True)
            )
        except SlackApiError as error:
            log.warning("slack users.info failed: %s", _error(error))
            return _Profile("", None)  # not remembered: asked again next time
        info = result.get("user") or {}
        profile = info.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or info.get("real_name")
            or info.get("name")
            or ""
        )
        known = _Profile(str(name), info.get("locale"))
        _remember(self._profiles, user, known)
        return known

    async def _is_direct_chat(self, user: str, channel: str) -> bool:
        """True if `channel` is this user's direct chat with us (not a channel, not a DM with
        someone else): a slash command or a button says where it was used, not what it is."""
        chat = self._direct_chats.get(user)
        if chat is None:
            try:
                result = await self._call(None, partial(self.client.conversations_open, users=user))
            except SlackApiError as error:
                # Unknown counts as a channel: no student data is shown there.
                log.warning("slack conversations.open failed: %s", _error(error))
                return False
            chat = str((result.get("channel") or {}).get("id", ""))
            _remember(self._direct_chats, user, chat)
        return bool(chat) and chat == channel

    # --- replies out ---

    async def _post(
        self, channel: str, reply: Reply, thread_ts: str | None = None, patient: bool = True
    ) -> str:
        """Post a reply; the ref ("channel:ts") of its last message, the one with the buttons."""
        return await self._post_messages(channel, render(reply), thread_ts, patient)

    async def _post_messages(
        self,
        channel: str,
        messages: Sequence[SlackMessage],
        thread_ts: str | None,
        patient: bool = True,
    ) -> str:
        ref = ""
        for message in messages:
            posted = await self._call(
                channel,
                partial(
                    self.client.chat_postMessage,
                    channel=channel,
                    text=message.text,
                    blocks=message.blocks,
                    thread_ts=thread_ts,
                    # Slack's servers would fetch any URL someone wrote in a note.
                    unfurl_links=False,
                    unfurl_media=False,
                ),
                patient,
            )
            ref = _ref(str(posted.get("channel") or channel), str(posted.get("ts") or ""))
        return ref

    async def _replace(self, channel: str, ts: str, reply: Reply, thread_ts: str | None) -> None:
        """Show the reply in place of the message whose button was pressed."""
        first, *more = render(reply) or [SlackMessage(" ", [])]
        try:
            await self._call(
                channel,
                partial(
                    self.client.chat_update,
                    channel=channel,
                    ts=ts,
                    text=first.text,
                    blocks=first.blocks,
                ),
            )
        except SlackApiError as error:
            if _error(error) not in _NOT_UPDATABLE:
                raise
            # Too old or gone: say it in a new message instead.
            await self._post(channel, reply, thread_ts)
            return
        await self._post_messages(channel, more, thread_ts)

    async def _post_ephemeral(
        self, channel: str, user: str, reply: Reply, thread_ts: str | None
    ) -> None:
        """Only `user` sees it: a channel never gets anything from Tandem but this."""
        for message in render(reply):
            await self._call(
                None,
                partial(
                    self.client.chat_postEphemeral,
                    channel=channel,
                    user=user,
                    text=message.text,
                    blocks=message.blocks,
                    thread_ts=thread_ts,
                ),
            )

    async def _call(
        self,
        chat_id: str | None,
        call: Callable[[], Awaitable[AsyncSlackResponse]],
        patient: bool = True,
    ) -> AsyncSlackResponse:
        """Make a Web API call, waiting out 429s (or, if not `patient`, raising RateLimited);
        a chat gone for good marks its accounts inactive and raises RecipientBlocked."""
        attempt = 1
        while True:
            try:
                return await call()
            except SlackApiError as error:
                code = _error(error)
                if code == "ratelimited" or error.response.status_code == 429:
                    if not patient:
                        raise RateLimited(_retry_after(error)) from None
                    if attempt >= MAX_SEND_ATTEMPTS:
                        raise
                    attempt += 1
                    await self._sleep(_retry_after(error))
                    continue
                if chat_id is not None and code in _GONE:
                    await self._deactivate(chat_id)
                    raise RecipientBlocked(chat_id) from None
                raise

    async def _deactivate(self, chat_id: str) -> None:
        async with self.db.session() as session:
            count = await Repo(session).deactivate_accounts(Platform.SLACK, chat_id)
        log.info("slack chat refused delivery; %d account(s) marked inactive", count)


async def _respond_privately(respond: AsyncRespond, reply: Reply) -> None:
    """Answer where a command or a press happened, seen only by the person who did it."""
    for message in render(reply):
        await respond(text=message.text, blocks=message.blocks, response_type="ephemeral")


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= USER_CACHE_SIZE:
        cache.pop(next(iter(cache)))  # the oldest: dicts keep insertion order
    cache[key] = value
