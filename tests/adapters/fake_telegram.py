"""A fake Telegram Bot API server on 127.0.0.1 that checks every call against the real spec.

The real python-telegram-bot talks to it over HTTP. Every request is validated against
`shared/specs/telegram-bot-api.json` (the method exists, required parameters are there, no
parameter is unknown, values have the documented types, nested objects included) and against
the limits Telegram enforces (4096-character texts, 64-byte callback data, command names).
Every call is recorded; tests wait on the record with `wait_until`, never by sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.adapters.fake_telegram_files import ApiError, FileMethods

JSON = dict[str, Any]

TOKEN = "123456789:AAF-fake-token_for_tests"
BOT_ID = 123456789
BOT_USERNAME = "tandem_test_bot"

_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_PARSE_MODES = ("HTML", "Markdown", "MarkdownV2")


class SpecError(AssertionError):
    """Something the test built is not what Telegram would send."""


class BotApiSpec:
    """The Bot API's methods and types, as published, and checks of values against them."""

    def __init__(self, data: JSON) -> None:
        self.methods: dict[str, JSON] = data["methods"]
        self.types: dict[str, JSON] = data["types"]
        self.version: str = data.get("version", "")

    @classmethod
    def load(cls, path: Path) -> BotApiSpec:
        if not path.is_file():
            raise FileNotFoundError(f"the Telegram Bot API spec is missing: {path}")
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def fields(self, method: str) -> dict[str, JSON]:
        return {f["name"]: f for f in self.methods[method].get("fields", [])}

    def check_call(self, method: str, params: JSON) -> list[str]:
        """What the real server would refuse in this call (empty if nothing)."""
        if method not in self.methods:
            return [f"{method}: no such Bot API method"]
        fields = self.fields(method)
        problems = [
            f"{method}: unknown parameter {name!r}" for name in params if name not in fields
        ]
        problems += [
            f"{method}: required parameter {name!r} missing"
            for name, spec in fields.items()
            if spec["required"] and name not in params
        ]
        for name, value in params.items():
            if name in fields:
                problems += self.check_value(value, fields[name]["types"], f"{method}.{name}")
        return problems

    def check_value(self, value: Any, types: list[str], where: str) -> list[str]:
        """Problems if `value` is none of `types` (Bot API type names)."""
        attempts = [self._check_one(value, kind, where) for kind in types]
        if any(not problems for problems in attempts):
            return []
        if len(attempts) == 1:
            return attempts[0]
        return [f"{where}: matches none of {types}: {attempts}"]

    def _check_one(self, value: Any, kind: str, where: str) -> list[str]:
        simple: dict[str, Callable[[Any], bool]] = {
            "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "String": lambda v: isinstance(v, str),
            "Boolean": lambda v: isinstance(v, bool),
            "True": lambda v: v is True,
            # A file id or URL, or an upload: `attach://field` for a multipart file part.
            "InputFile": lambda v: isinstance(v, str),
        }
        if kind in simple:
            return [] if simple[kind](value) else [f"{where}: expected {kind}, got {value!r}"]
        if kind.startswith("Array of "):
            if not isinstance(value, list):
                return [f"{where}: expected {kind}"]
            inner = kind.removeprefix("Array of ")
            return [
                p
                for n, item in enumerate(value)
                for p in self._check_one(item, inner, f"{where}[{n}]")
            ]
        spec = self.types.get(kind)
        if spec is None:
            return [f"{where}: the spec has no type {kind}"]
        if "subtypes" in spec:
            return self.check_value(value, spec["subtypes"], where)
        if not isinstance(value, dict):
            return [f"{where}: expected a {kind} object"]
        fields = {f["name"]: f for f in spec.get("fields", [])}
        problems = [
            f"{where}: {kind} has no field {name!r}" for name in value if name not in fields
        ]
        problems += [
            f"{where}: {kind}.{name} is required"
            for name, f in fields.items()
            if f["required"] and name not in value
        ]
        for name, item in value.items():
            if name in fields:
                problems += self.check_value(item, fields[name]["types"], f"{where}.{name}")
        return problems

    def decode(self, method: str, raw: dict[str, str]) -> JSON:
        """Form fields as the Bot API reads them: strings as sent, everything else as JSON."""
        fields = self.fields(method) if method in self.methods else {}
        params: JSON = {}
        for name, text in raw.items():
            types = fields.get(name, {}).get("types", [])
            if types == ["String"]:
                params[name] = text
                continue
            try:
                params[name] = json.loads(text)
            except ValueError:
                params[name] = text
        return params


@dataclass
class Call:
    """One request the fake received, what it answered and with what."""

    method: str
    params: JSON
    status: int = 200
    result: Any = None


@dataclass(frozen=True)
class TgUser:
    """A Telegram user as the tests imagine them."""

    id: int
    first_name: str
    last_name: str | None = None
    language_code: str | None = "en"

    def as_json(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    @property
    def chat(self) -> JSON:
        """The user's private chat with the bot (its id is the user's id)."""
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        return chat


@dataclass
class FakeTelegram(FileMethods):
    """The Bot API at http://127.0.0.1:<random port>/bot<token>/<method>."""

    spec: BotApiSpec
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    uploads: list[tuple[str, bytes]] = field(default_factory=list)  # (form field, bytes)
    # Chats the bot knows of (a user must have written first), by id.
    chats: dict[int, JSON] = field(default_factory=dict)
    # Every message in every chat, the bot's own included, by (chat id, message id).
    messages: dict[tuple[int, int], JSON] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)
    webhook: JSON = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    confirmed_offset: int = 0

    def __post_init__(self) -> None:
        self._pending: list[JSON] = []
        self._failures: dict[str, list[int]] = {}
        self._queries: set[str] = set()
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._updates_changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- the server ---

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        # Cancel a long poll whose client went away, so stopping never waits for it.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._closing = True
        async with self._updates_changed:
            self._updates_changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def bot_user(self) -> JSON:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Tandem", "username": BOT_USERNAME}

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        raw: dict[str, str] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            raw.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
        else:
            files: dict[str, bytes] = {}
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):  # an upload, as multipart/form-data
                    files[name] = value.file.read()
                    raw[name] = f"attach://{name}"
                else:
                    raw[name] = str(value)
            self.uploads.extend(files.items())
        call = Call(method, self.spec.decode(method, raw))
        self.calls.append(call)
        await self._notify()
        try:
            call.result = await self._answer(call)
        except ApiError as error:
            call.status = error.code
            return _error(error)
        finally:
            await self._notify()
        return web.json_response({"ok": True, "result": call.result})

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _answer(self, call: Call) -> Any:
        problems = self.spec.check_call(call.method, call.params)
        if problems:
            self.violations.extend(problems)
            raise ApiError(400, "Bad Request: " + "; ".join(problems))
        failures = self._failures.get(call.method)
        if failures:
            raise ApiError(
                429, f"Too Many Requests: retry after {failures[0]}", retry_after=failures.pop(0)
            )
        implementation = getattr(self, f"_api_{call.method}", None)
        if implementation is None:
            self.violations.append(f"{call.method}: valid, but the fake does not implement it")
            raise ApiError(501, f"Not Implemented: {call.method}")
        result = await implementation(call.params)
        returns = self.spec.methods[call.method]["returns"]
        problems = self.spec.check_value(result, returns, f"{call.method} result")
        if problems:  # the fake's own mistake: fail the test rather than mislead it
            self.violations.extend(problems)
        return result

    # --- the methods Tandem uses ---

    async def _api_getMe(self, p: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_getUpdates(self, p: JSON) -> list[JSON]:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get("offset", 0)
        if offset > self.confirmed_offset:
            # An offset confirms every update below it, as on the real server.
            self.confirmed_offset = offset
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
            await self._notify()
        timeout = p.get("timeout", 0)
        if not self._pending and timeout > 0 and not self._closing:
            # A long poll: answered as soon as an update arrives, else after `timeout`.
            try:
                async with asyncio.timeout(timeout), self._updates_changed:
                    await self._updates_changed.wait_for(
                        lambda: bool(self._pending) or self._closing
                    )
            except TimeoutError:
                pass
        return self._pending[: p.get("limit", 100)]

    async def _api_deleteWebhook(self, p: JSON) -> bool:
        self.webhook = {}
        if p.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _api_setWebhook(self, p: JSON) -> bool:
        url = p["url"]
        if url and not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = dict(p)
        return True

    async def _api_getWebhookInfo(self, p: JSON) -> JSON:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    async def _api_setMyCommands(self, p: JSON) -> bool:
        commands = p["commands"]
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not _COMMAND_RE.fullmatch(command["command"]):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        code = p.get("language_code", "")
        if code and not re.fullmatch("[a-z]{2}", code):  # "a two-letter ISO 639-1 language code"
            raise ApiError(400, "Bad Request: LANGUAGE_CODE_INVALID")
        scope = json.dumps(p.get("scope", {"type": "default"}), sort_keys=True)
        self.commands[(scope, p.get("language_code", ""))] = commands
        return True

    async def _api_sendMessage(self, p: JSON) -> JSON:
        chat = self._chat(p["chat_id"])
        self._check_text(p)
        message: JSON = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.bot_user,
            "text": p["text"],
        }
        if "reply_markup" in p:
            message["reply_markup"] = p["reply_markup"]
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    async def _api_editMessageText(self, p: JSON) -> JSON:
        if "inline_message_id" in p:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        if "chat_id" not in p or "message_id" not in p or "text" not in p:
            raise ApiError(400, "Bad Request: message text is empty")
        chat = self._chat(p["chat_id"])
        message = self.messages.get((chat["id"], p["message_id"]))
        if message is None or message.get("from", {}).get("id") != BOT_ID:
            raise ApiError(400, "Bad Request: message to edit not found")
        self._check_text(p)
        if message["text"] == p["text"] and message.get("reply_markup") == p.get("reply_markup"):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message "
                "content and reply markup are exactly the same as a current "
                "content and reply markup of the message",
            )
        message["text"] = p["text"]
        message["edit_date"] = int(time.time())
        if "reply_markup" in p:
            message["reply_markup"] = p["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return message

    async def _api_answerCallbackQuery(self, p: JSON) -> bool:
        if p["callback_query_id"] not in self._queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._queries.discard(p["callback_query_id"])
        return True

    def _chat(self, chat_id: int | str) -> JSON:
        chat = self.chats.get(int(chat_id)) if str(chat_id).lstrip("-").isdigit() else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _check_text(self, p: JSON) -> None:
        text: str = p["text"]
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        if "parse_mode" in p and p["parse_mode"] not in _PARSE_MODES:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {p['parse_mode']}")
        for row in p.get("reply_markup", {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    # --- what tests do ---

    def fail_next(self, method: str, times: int = 1, retry_after: int = 3) -> None:
        """Answer the next `times` calls of `method` with 429 and this retry_after."""
        self._failures.setdefault(method, []).extend([retry_after] * times)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sending to them is Forbidden (403) from now on."""
        self.blocked.add(chat_id)

    async def push(self, *updates: JSON) -> None:
        """Queue updates for getUpdates (polling mode); a waiting long poll answers at once."""
        self._pending.extend(updates)
        async with self._updates_changed:
            self._updates_changed.notify_all()

    async def wait_until(
        self, predicate: Callable[[], bool], what: str, seconds: float = 10.0
    ) -> None:
        """Wait until `predicate` holds after some call; fail the test after `seconds`."""
        try:
            async with asyncio.timeout(seconds), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            made = [(c.method, c.status) for c in self.calls if c.method != "getUpdates"]
            raise AssertionError(f"timed out waiting for {what}; calls so far: {made}") from None

    def calls_of(self, method: str, since: int = 0, **params: Any) -> list[Call]:
        return [
            c
            for c in self.calls[since:]
            if c.method == method and all(c.params.get(k) == v for k, v in params.items())
        ]

    def message(
        self,
        user: TgUser,
        text: str | None = None,
        *,
        chat: JSON | None = None,
        caption: str | None = None,
        photo: bool = False,
        reply_to: JSON | None = None,
    ) -> JSON:
        """An update with a new message from `user` (in their private chat unless `chat`)."""
        chat = chat or user.chat
        message: JSON = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user.as_json(),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if photo:
            stem = f"photo-{message['message_id']}"
            message["photo"] = [
                {
                    "file_id": f"{stem}-{w}",
                    "file_unique_id": f"u{stem}-{w}",
                    "width": w,
                    "height": w * 3 // 4,
                    "file_size": w * w // 10,
                }
                for w in (90, 320, 1280)
            ]
        if caption is not None:
            message["caption"] = caption
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self.chats[chat["id"]] = chat
        self.messages[(chat["id"], message["message_id"])] = message
        return self._update({"message": message})

    def edited(self, update: JSON, text: str) -> JSON:
        """An update saying the user edited the message of an earlier update."""
        original = update["message"]
        key = "caption" if "caption" in original else "text"
        edited = {**original, key: text, "edit_date": int(time.time())}
        self.messages[(original["chat"]["id"], original["message_id"])] = edited
        return self._update({"edited_message": edited})

    def press(
        self, user: TgUser, message: JSON, label: str | None = None, data: str | None = None
    ) -> JSON:
        """An update saying `user` pressed a button (by label) of a message the bot sent."""
        if data is None:
            buttons = [
                b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row
            ]
            found = [b for b in buttons if b["text"] == label]
            assert found, f"no [{label}] button in {[b['text'] for b in buttons]}"
            data = found[0]["callback_data"]
        query_id = str(next(self._ids) * 7919)
        self._queries.add(query_id)
        query = {
            "id": query_id,
            "from": user.as_json(),
            "message": message,
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }
        return self._update({"callback_query": query})

    def _update(self, content: JSON) -> JSON:
        update = {"update_id": next(self._update_ids), **content}
        problems = self.spec.check_value(update, ["Update"], "update")
        if problems:
            raise SpecError(f"the test built an update Telegram would never send: {problems}")
        return update

    def sent(self, chat_id: int, since: int = 0) -> list[JSON]:
        """The messages the bot sent to a chat (as they are now, edits applied)."""
        return [
            self.messages[(chat_id, c.result["message_id"])]
            for c in self.calls_of("sendMessage", since)
            if c.status == 200 and c.result["chat"]["id"] == chat_id
        ]


def group_chat(chat_id: int = -1001234567890, title: str = "Room 12 parents") -> JSON:
    return {"id": chat_id, "type": "supergroup", "title": title}


def _error(error: ApiError) -> web.Response:
    body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return web.json_response(body, status=error.code)
