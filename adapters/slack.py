"""slack-bolt AsyncApp <-> core events: Socket Mode or HTTP, nothing but translation.

Direct messages (`message.im`) and their edits, the `/tandem` slash command and Block Kit
button presses become `IncomingMessage`, `MessageEdited` and `ButtonPress`; a mention in a
channel becomes a non-private message, which the core answers with "message me directly".
Every request is acknowledged first and handled after, in a task this adapter tracks. Reading
and writing Slack's payloads is adapters/slack_payloads.py's; ordering, retries and the rest of
what every platform does the same way come from adapters/kit.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
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

from adapters.kit import ChatAdapter, Tell
from adapters.slack_config import NAME, SlackConfig
from adapters.slack_payloads import (
    ACTION_PREFIX,
    COMMAND,
    BotIdentity,
    SlackMessage,
    action_channel,
    action_to_core,
    classify,
    command_text,
    command_to_core,
    error_code,
    escape,
    event_to_core,
    message_ref,
    plain_text,
    render,
)
from bot.config import ConfigError
from bot.events import Attachment, Event, IncomingMessage, RecipientBlocked, Reply

__all__ = [
    "ACTION_PREFIX",
    "COMMAND",
    "EVENTS_PATH",
    "BotIdentity",
    "SlackAdapter",
    "SlackMessage",
    "action_to_core",
    "classify",
    "command_text",
    "command_to_core",
    "escape",
    "event_to_core",
    "plain_text",
    "render",
]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HELLO_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# Remembered Slack users (name, locale, direct chat): one lookup each per run.
USER_CACHE_SIZE = 10_000
MAX_ALT_TEXT = 1000  # files.getUploadURLExternal refuses longer alt_txt

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class _Profile:
    name: str
    locale: str | None


# --- the adapter -----------------------------------------------------------------------------


class SlackAdapter(ChatAdapter[SlackConfig, SlackMessage]):
    """A slack-bolt AsyncApp that feeds the dispatcher and renders its replies."""

    platform = NAME
    render = staticmethod(render)
    classify = staticmethod(classify)
    client: AsyncWebClient
    app: AsyncApp

    def _setup(self) -> None:
        config = self.config
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
        self._profiles: dict[str, _Profile] = {}
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

    async def is_connected(self) -> bool:
        """Taking events: the Socket Mode connection up (pings answered), or the HTTP server
        listening."""
        if self._socket is not None:
            return bool(await self._socket.client.is_connected())
        return self._http is not None

    async def connect(self) -> None:
        """Log in (auth.test) to send without taking events (`tandem jobs drain`)."""
        self._bot = await self._identify()

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
                "slack.bot_token", f"Slack refused the bot token ({error_code(error)})"
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
                "slack.app_token", f"Slack refused the app-level token ({error_code(error)})"
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
            tell = partial(self._tell_too_fast, event, thread)
            self._spawn(event.chat.id, self._handle_event(event, thread), event.event_id, tell)

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """`/tandem ...`: answered in the direct chat, or privately where it was typed."""
        await ack()
        self._spawn(
            str(body.get("channel_id", "")), self._handle_command(body, respond), "slash command"
        )

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """A press of one of our buttons."""
        await ack()
        self._spawn(action_channel(body), self._handle_action(body, respond), "button press")

    def _spawn(
        self, chat: str, work: Coroutine[Any, Any, None], what: str, tell: Tell | None = None
    ) -> None:
        task = asyncio.create_task(self._guarded(chat, work, what, tell))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(
        self, chat: str, work: Coroutine[Any, Any, None], what: str, tell: Tell | None
    ) -> None:
        # One chat's events in the order they came (an edit after its message), chats side by
        # side, a flood kept to a few: the kit's turns.
        try:
            await self.turns.run(chat, work, tell)
        except RecipientBlocked:
            log.info("slack %s: the chat no longer takes our messages", what)
        except Exception as error:
            # The error's type only: its text may quote SQL parameters, i.e. the message.
            log.error("slack %s failed: %s", what, type(error).__name__)
            log.debug("slack %s failed", what, exc_info=True)

    async def _handle_event(self, event: Event, thread_ts: str | None) -> None:
        if isinstance(event, IncomingMessage) and event.chat.private:
            event = await self._introduced(event)
        await self._answer_event(event, await self.dispatcher.dispatch(event), thread_ts)

    async def _tell_too_fast(self, event: Event, thread_ts: str | None) -> None:
        """Tell a chat that floods us, once a burst, that we kept only its first events."""
        await self._answer_event(event, await self.too_fast(event), thread_ts)

    async def _answer_event(
        self, event: Event, replies: Sequence[Reply], thread_ts: str | None
    ) -> None:
        """Replies in a direct chat; in a channel, seen only by the person who wrote."""
        for reply in replies:
            if event.chat.private:
                await self.send(event.chat.id, reply, thread=thread_ts)
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
                await self.send(channel, reply)
            else:
                await _respond_privately(respond, reply)

    async def _handle_action(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        user, channel = str((body.get("user") or {}).get("id", "")), action_channel(body)
        press = action_to_core(body, self.bot.team_id, await self._is_direct_chat(user, channel))
        if press is None:
            return
        if not press.chat.private:
            for reply in await self.dispatcher.dispatch(press):
                await _respond_privately(respond, reply)
            return
        pressed = (body.get("container") or {}).get("message_ts")
        thread = (body.get("message") or {}).get("thread_ts")
        replies = await self.dispatcher.dispatch(press)
        await self.answer(channel, replies, str(pressed) if pressed else None, thread)

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
            result = await self.call(
                None, partial(self.client.users_info, user=user, include_locale=True)
            )
        except SlackApiError as error:
            log.warning("slack users.info failed: %s", error_code(error))
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
                result = await self.call(None, partial(self.client.conversations_open, users=user))
            except SlackApiError as error:
                # Unknown counts as a channel: no student data is shown there.
                log.warning("slack conversations.open failed: %s", error_code(error))
                return False
            chat = str((result.get("channel") or {}).get("id", ""))
            _remember(self._direct_chats, user, chat)
        return bool(chat) and chat == channel

    # --- replies out ---

    async def post(self, chat: str, message: SlackMessage, thread: str | None) -> str:
        """One chat.postMessage; its ref ("channel:ts"), which a reply in its thread refers to."""
        posted = await self.client.chat_postMessage(
            channel=chat,
            text=message.text,
            blocks=message.blocks,
            thread_ts=thread,
            # Slack's servers would fetch any URL someone wrote in a note.
            unfurl_links=False,
            unfurl_media=False,
        )
        return message_ref(str(posted.get("channel") or chat), str(posted.get("ts") or ""))

    async def post_file(self, chat: str, attachment: Attachment, thread: str | None) -> str:
        """The two-step upload (files.getUploadURLExternal, the bytes, files.completeUploadExternal;
        files.upload is retired), shared in the chat with its words as the screen reader's alt
        text. The words also follow as a message of their own."""
        done = await self.client.files_upload_v2(
            channel=chat,
            content=attachment.data,
            filename=attachment.filename,
            title=attachment.filename,
            alt_txt=attachment.alt[:MAX_ALT_TEXT] if attachment.is_image else None,
            thread_ts=thread,
        )
        files = done.get("files") or [{}]
        return message_ref(chat, str(files[0].get("id", "")))

    async def update(self, chat: str, message_id: str, message: SlackMessage) -> None:
        """One chat.update of the message sent at `message_id` (its ts)."""
        await self.client.chat_update(
            channel=chat, ts=message_id, text=message.text, blocks=message.blocks
        )

    async def _post_ephemeral(
        self, channel: str, user: str, reply: Reply, thread_ts: str | None
    ) -> None:
        """Only `user` sees it: a channel never gets anything from Tandem but this."""
        for message in render(reply):
            await self.call(
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


async def _respond_privately(respond: AsyncRespond, reply: Reply) -> None:
    """Answer where a command or a press happened, seen only by the person who did it."""
    for message in render(reply):
        await respond(text=message.text, blocks=message.blocks, response_type="ephemeral")


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= USER_CACHE_SIZE:
        cache.pop(next(iter(cache)))  # the oldest: dicts keep insertion order
    cache[key] = value
