"""A fake Slack on 127.0.0.1 for adapter tests, and Slack's side of both delivery modes.

- The Web API at http://127.0.0.1:<random port>/api/<method>. Every request is checked against
  `shared/specs/slack-web-api.openapi.json` (the method exists, required parameters are there,
  no parameter is unknown) and against Block Kit's limits; every success answer the fake gives
  is checked against the spec's response schema, so the fake cannot drift from Slack's shapes.
  Every call is recorded; tests wait on the record, never by sleeping.
- Socket Mode: `apps.connections.open` hands out a ws:// URL on the same server; the websocket
  says hello, carries envelopes to the app and collects its acks.
- HTTP mode: `SignedHttp` posts events, slash commands and button presses to the app's
  /slack/events, signed the way Slack signs them (v0 HMAC-SHA256 over timestamp and body).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import itertools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from adapters.slack import EVENTS_PATH, SlackAdapter
from adapters.slack_config import SlackConfig
from bot.dispatch import Dispatcher
from bot.events import Event, Reply
from bot.i18n import languages, translate
from tests.conftest import DemoSchool

JSON = dict[str, Any]

SPEC_FILE = "slack-web-api.openapi.json"
# The two-step upload that replaced files.upload, which the 2021 spec predates.
ADDITIONS_FILE = "slack-web-api-additions.json"
CHANNEL_ID = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")
TEAM_ID = "T0SCHOOL01"
OTHER_TEAM_ID = "T0ELSEWHERE"
APP_ID = "A0TANDEMAPP"
BOT_USER_ID = "U0TANDEMBOT"
BOT_ID = "B0TANDEMBOT"
BOT_TOKEN = "xoxb-1111-2222-tandemtestbot"
APP_TOKEN = "xapp-1-A0TANDEMAPP-3333-tandemtestapp"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

# Methods newer than the 2021 spec (shared/specs/README.md warns it may lack them), with the
# parameters Slack's documentation gives them. apps.connections.open takes only its token.
UNSPECIFIED_METHODS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "apps.connections.open": (frozenset(), frozenset()),
}
# Bolt's per-request client adds the request's workspace to every call it makes (auth.test
# among them); Slack takes `team_id` on every method, org-wide apps need it, though the 2021
# spec lists it on few.
ANY_METHOD_PARAMETERS = frozenset({"team_id"})
# Methods that take the app-level token (xapp-) instead of the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

# Block Kit limits Slack enforces with `invalid_blocks`.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_ACTIONS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_MESSAGE_TEXT = 40_000


# --- the Web API specification ----------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """One Web API method: its parameters and, if the spec has one, its success schema."""

    required: frozenset[str]
    known: frozenset[str]
    success: JSON | None = None


class SlackApiSpec:
    """Slack's OpenAPI 2 description of the Web API, and checks of calls and answers."""

    def __init__(self, data: JSON) -> None:
        self.definitions: JSON = data.get("definitions", {})
        self.methods: dict[str, Method] = {}
        for path, operations in data["paths"].items():
            for operation in operations.values():
                parameters = [p for p in operation.get("parameters", []) if p["name"] != "token"]
                schema = operation.get("responses", {}).get("200", {}).get("schema")
                self.methods[path.lstrip("/")] = Method(
                    required=frozenset(p["name"] for p in parameters if p.get("required")),
                    known=frozenset(p["name"] for p in parameters),
                    success=schema,
                )
        for name, (required, known) in UNSPECIFIED_METHODS.items():
            self.methods.setdefault(name, Method(required, known))
        self.retired: dict[str, str] = {}

    def add(self, additions: JSON) -> None:
        """Methods from `slack-web-api-additions.json`; its retired ones answer their error."""
        for name, method in additions["methods"].items():
            known = frozenset(method["params"]) - {"token"}
            self.methods[name] = Method(frozenset(method["required"]) - {"token"}, known)
        for name, retired in additions.get("retired", {}).items():
            self.retired[name] = retired["error"]

    @classmethod
    def load(cls, specs_dir: Path) -> SlackApiSpec:
        path = specs_dir / SPEC_FILE
        if not path.is_file():
            raise FileNotFoundError(f"the Slack Web API spec is missing: {path}")
        spec = cls(json.loads(path.read_text(encoding="utf-8")))
        spec.add(json.loads((specs_dir / ADDITIONS_FILE).read_text(encoding="utf-8")))
        return spec

    def check_call(self, method: str, params: JSON) -> list[str]:
        """What Slack would refuse in this call's parameters (empty if nothing)."""
        spec = self.methods.get(method)
        if spec is None:
            return [f"{method}: no such Web API method"]
        problems = [
            f"{method}: unknown parameter {name!r}"
            for name in params
            if name not in spec.known | ANY_METHOD_PARAMETERS
        ]
        problems += [
            f"{method}: required parameter {name!r} missing"
            for name in sorted(spec.required)
            if name not in params
        ]
        return problems

    def check_answer(self, method: str, answer: JSON) -> list[str]:
        """Where the fake's own success answer differs from the spec's schema."""
        spec = self.methods.get(method)
        if spec is None or spec.success is None:
            return []
        return self._check(answer, spec.success, method)

    def _check(self, value: Any, schema: JSON, where: str) -> list[str]:
        if "$ref" in schema:
            return self._check(value, self.definitions[schema["$ref"].split("/")[-1]], where)
        items = schema.get("items")
        if isinstance(items, list) and "type" not in schema:
            # The spec writes "one of these" as a list of items.
            tries = [self._check(value, option, where) for option in items]
            return [] if any(not t for t in tries) else min(tries, key=len)
        problems = self._check_type(value, schema, where)
        if problems:
            return problems
        if "enum" in schema and value not in schema["enum"]:
            return [f"{where}: {value!r} is not one of {schema['enum']}"]
        if (
            "pattern" in schema
            and isinstance(value, str)
            and not re.search(schema["pattern"], value)
        ):
            return [f"{where}: {value!r} does not match {schema['pattern']}"]
        if isinstance(value, dict):
            return self._check_object(value, schema, where)
        if isinstance(value, list) and isinstance(items, dict):
            return [
                p for n, item in enumerate(value) for p in self._check(item, items, f"{where}[{n}]")
            ]
        return []

    def _check_type(self, value: Any, schema: JSON, where: str) -> list[str]:
        kinds = schema.get("type")
        if kinds is None:
            return []
        tests: dict[str, Callable[[Any], bool]] = {
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "null": lambda v: v is None,
        }
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(tests[kind](value) for kind in kinds if kind in tests):
            return []
        return [f"{where}: expected {'/'.join(kinds)}, got {value!r}"]

    def _check_object(self, value: JSON, schema: JSON, where: str) -> list[str]:
        properties: JSON = schema.get("properties", {})
        problems = [
            f"{where}: {name!r} is required"
            for name in schema.get("required", [])
            if name not in value
        ]
        if schema.get("additionalProperties") is False:
            problems += [
                f"{where}: no property {name!r}" for name in value if name not in properties
            ]
        for name, item in value.items():
            if name in properties:
                problems += self._check(item, properties[name], f"{where}.{name}")
        return problems


def block_problems(blocks: Any, text: str | None) -> list[str]:
    """What Slack would refuse as `invalid_blocks` (or `msg_too_long`) in a message."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    problems = []
    if text is not None and len(text) > MAX_MESSAGE_TEXT:
        problems.append(f"text is {len(text)} characters")
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return [*problems, "blocks must be a list of at most 50"]
    action_ids: set[str] = set()
    for n, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "section":
            section = block.get("text") or {}
            if (
                section.get("type") not in ("mrkdwn", "plain_text")
                or not 1 <= len(section.get("text", "")) <= MAX_SECTION_TEXT
            ):
                problems.append(f"blocks[{n}]: section text must be 1-3000 characters")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= MAX_ACTIONS:
                problems.append(f"blocks[{n}]: 1-25 elements")
            for element in elements:
                label = (element.get("text") or {}).get("text", "")
                if (
                    element.get("type") != "button"
                    or not 1 <= len(label) <= MAX_BUTTON_TEXT
                    or len(element.get("value", "")) > MAX_BUTTON_VALUE
                    or element.get("action_id") in action_ids
                ):
                    problems.append(f"blocks[{n}]: bad button {element!r}")
                action_ids.add(element.get("action_id", ""))
        else:
            problems.append(f"blocks[{n}]: Tandem sends no {kind!r} blocks")
    return problems


# --- the fake ---------------------------------------------------------------------------------


@dataclass
class Call:
    """One request the fake received, and the `error` it answered with, if any."""

    method: str
    params: JSON
    token: str
    error: str | None = None


@dataclass
class Posted:
    """A message as the person sees it in Slack."""

    channel: str
    ts: str
    text: str
    blocks: list[JSON]
    thread_ts: str | None = None
    # "message" (in the channel), "ephemeral" (only `user` sees it) or "response" (response_url)
    kind: str = "message"
    user: str | None = None
    edits: int = 0

    @property
    def shown(self) -> str:
        """The text on screen: the sections, with Slack's escapes shown as characters."""
        sections = [b["text"]["text"] for b in self.blocks if b.get("type") == "section"]
        return html.unescape("\n".join(sections)) if sections else html.unescape(self.text)

    @property
    def buttons(self) -> list[JSON]:
        return [e for b in self.blocks if b.get("type") == "actions" for e in b["elements"]]

    def button(self, label: str) -> JSON:
        matches = [b for b in self.buttons if b["text"]["text"] == label]
        assert matches, f"no [{label}] button in {[b['text']['text'] for b in self.buttons]}"
        return matches[0]


@dataclass(frozen=True)
class SlackUser:
    """A person in the fake workspace. Ids follow Slack's patterns (U..., D... 8+ chars)."""

    user_id: str
    name: str
    locale: str = "en-US"
    team_id: str = TEAM_ID

    @property
    def dm(self) -> str:
        """The person's direct chat with the app."""
        return "D" + self.user_id[1:]


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None
    times: int


class FakeSlack:
    """Slack's Web API, Socket Mode websocket and response URLs, on one aiohttp server."""

    def __init__(self, spec: SlackApiSpec, team_id: str = TEAM_ID) -> None:
        self.spec = spec
        self.team_id = team_id
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.posted: list[Posted] = []
        self.users: dict[str, SlackUser] = {}
        # Channels that answer channel_not_found: the chat is gone for good.
        self.gone: set[str] = set()
        self.acks: dict[str, JSON] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.hellos = 0
        self._failures: dict[str, list[_Failure]] = {}
        # The two-step upload: file id -> what getUploadURLExternal was told, and the bytes.
        self.pending_uploads: dict[str, JSON] = {}
        self.files: dict[str, JSON] = {}  # shared files, by id, with their "data" and "channel"
        self._changed = asyncio.Condition()
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- running ---

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_get("/link/", self._socket)
        app.router.add_post("/respond/{hook}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        # slack_sdk joins base_url and the method name, so the slash matters.
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{uuid.uuid4().hex}"

    def add_user(self, user: SlackUser) -> SlackUser:
        self.users[user.user_id] = user
        return user

    def fail(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` fail this way (429 with Retry-After by default)."""
        self._failures.setdefault(method, []).append(_Failure(error, status, retry_after, times))

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def in_channel(self, channel: str) -> list[Posted]:
        return [post for post in self.posted if post.channel == channel]

    async def wait_until(self, ready: Callable[[], bool], seconds: float = 5.0) -> None:
        """Wait for something the app does (a call, an ack); a bounded wait that fails."""
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(ready)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the Web API ---

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = token or str(params.pop("token", ""))
        call = Call(method, params, token)
        self.calls.append(call)
        try:
            status, answer, headers = self._answer(call)
        finally:
            await self._notify()
        if not answer.get("ok"):
            call.error = answer.get("error")
        return web.json_response(answer, status=status, headers=headers)

    def _answer(self, call: Call) -> tuple[int, JSON, dict[str, str]]:
        wanted = APP_TOKEN if call.method in APP_TOKEN_METHODS else BOT_TOKEN
        if not call.token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if call.token != wanted:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if call.method in self.spec.retired:
            self.violations.append(f"{call.method}: retired")
            return 200, {"ok": False, "error": self.spec.retired[call.method]}, {}
        problems = self.spec.check_call(call.method, call.params)
        if problems:
            self.violations.extend(problems)
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        failure = self._failure(call.method)
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return failure.status, {"ok": False, "error": failure.error}, headers
        handler = getattr(self, "_api_" + call.method.replace(".", "_"), None)
        if handler is None:
            self.violations.append(f"{call.method}: Tandem called it, the fake has no answer")
            return 200, {"ok": False, "error": "unknown_method"}, {}
        answer: JSON = handler(call.params)
        if answer.get("ok"):
            self.violations.extend(self.spec.check_answer(call.method, answer))
        return 200, answer, {}

    def _failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method) or []
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1764172800 + n}.{n:06d}"

    def _api_auth_test(self, p: JSON) -> JSON:
        return {
            "ok": True,
            "url": "https://maple-school.slack.com/",
            "team": "Maple School",
            "user": "tandem",
            "team_id": self.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_apps_connections_open(self, p: JSON) -> JSON:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4()}"}

    def _api_users_info(self, p: JSON) -> JSON:
        user = self.users.get(str(p.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        profile = {
            "real_name": user.name,
            "display_name": user.name,
            "avatar_hash": "g0",
            "real_name_normalized": user.name,
            "display_name_normalized": user.name,
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "fields": None,
        }
        info: JSON = {
            "id": user.user_id,
            "team_id": user.team_id,
            "name": user.name.lower().replace(" ", "."),
            "real_name": user.name,
            "profile": profile,
            "is_bot": False,
            "is_app_user": False,
            "updated": 1764000000,
            "deleted": False,
        }
        if str(p.get("include_locale")).lower() in ("1", "true"):
            info["locale"] = user.locale
        return {"ok": True, "user": info}

    def _api_files_getUploadURLExternal(self, p: JSON) -> JSON:
        length = str(p["length"])
        if not length.isdigit() or int(length) == 0:
            return {"ok": False, "error": "missing_argument"}
        if len(str(p.get("alt_txt", ""))) > 1000:
            return {"ok": False, "error": "alt_txt_too_large"}
        file_id = f"F0FILE{len(self.pending_uploads) + 1:04d}"
        self.pending_uploads[file_id] = {
            "filename": p["filename"],
            "length": int(length),
            "alt_txt": p.get("alt_txt"),
        }
        upload_url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
        return {"ok": True, "upload_url": upload_url, "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        """Step 2: the bytes, POSTed to the URL step 1 gave; no token, the URL is the key."""
        upload = self.pending_uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="no such upload")
        upload["data"] = await request.read()
        await self._notify()
        return web.Response(text=f"OK - {len(upload['data'])}", content_type="text/plain")

    def _api_files_completeUploadExternal(self, p: JSON) -> JSON:
        files = json.loads(p["files"]) if isinstance(p["files"], str) else p["files"]
        channel = p.get("channel_id")
        if channel is not None and not CHANNEL_ID.match(str(channel)):
            return {"ok": False, "error": "invalid_arguments"}
        done: list[JSON] = []
        for item in files:
            upload = self.pending_uploads.pop(str(item.get("id")), None)
            if upload is None or "data" not in upload:
                return {"ok": False, "error": "file_not_found"}
            if len(upload["data"]) != upload["length"]:
                self.violations.append(f"{item['id']}: length differs from the bytes uploaded")
            self.files[item["id"]] = {**upload, "title": item.get("title"), "channel": channel}
            done.append({"id": item["id"], "title": item.get("title") or upload["filename"]})
        return {"ok": True, "files": done}

    def _api_conversations_open(self, p: JSON) -> JSON:
        user = self.users.get(str(p.get("users")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": user.dm}}

    def _api_chat_postMessage(self, p: JSON) -> JSON:
        problem = self._message_problem(p)
        if problem:
            return {"ok": False, "error": problem}
        post = Posted(
            str(p["channel"]),
            self._next_ts(),
            str(p.get("text", "")),
            _blocks(p),
            thread_ts=p.get("thread_ts"),
        )
        self.posted.append(post)
        message = {
            "type": "message",
            "text": post.text,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": post.ts,
            "blocks": post.blocks,
        }
        return {"ok": True, "channel": post.channel, "ts": post.ts, "message": message}

    def _api_chat_update(self, p: JSON) -> JSON:
        problem = self._message_problem(p)
        if problem:
            return {"ok": False, "error": problem}
        found = [
            post
            for post in self.posted
            if post.channel == p["channel"] and post.ts == p["ts"] and post.kind == "message"
        ]
        if not found:
            return {"ok": False, "error": "message_not_found"}
        post = found[0]
        post.text, post.blocks, post.edits = str(p.get("text", "")), _blocks(p), post.edits + 1
        return {
            "ok": True,
            "channel": post.channel,
            "ts": post.ts,
            "text": post.text,
            "message": {"text": post.text},
        }

    def _api_chat_postEphemeral(self, p: JSON) -> JSON:
        problem = self._message_problem(p)
        if problem:
            return {"ok": False, "error": problem}
        post = Posted(
            str(p["channel"]),
            self._next_ts(),
            str(p.get("text", "")),
            _blocks(p),
            thread_ts=p.get("thread_ts"),
            kind="ephemeral",
            user=str(p["user"]),
        )
        self.posted.append(post)
        return {"ok": True, "message_ts": post.ts}

    def _message_problem(self, p: JSON) -> str | None:
        if p.get("channel") in self.gone:
            return "channel_not_found"
        problems = block_problems(p.get("blocks"), p.get("text"))
        if problems:
            self.violations.extend(problems)
            return "invalid_blocks"
        if not p.get("text") and not p.get("blocks"):
            return "no_text"
        return None

    # --- response URLs (slash commands) ---

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(Call("response_url", body, ""))
        problems = block_problems(body.get("blocks"), body.get("text"))
        self.violations.extend(problems)
        self.posted.append(
            Posted("", self._next_ts(), str(body.get("text", "")), _blocks(body), kind="response")
        )
        await self._notify()
        return web.Response(text="ok")

    # --- Socket Mode ---

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets),
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        self.hellos += 1
        await self._notify()
        try:
            async for message in socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                if "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data
                    await self._notify()
        finally:
            self.sockets.remove(socket)
            await self._notify()
        return socket

    async def send_envelope(self, kind: str, payload: JSON, retry_attempt: int = 0) -> str:
        """Put one envelope on the open socket, as Slack does; returns its envelope id."""
        assert self.sockets, "no Socket Mode connection is open"
        envelope: JSON = {
            "envelope_id": str(uuid.uuid4()),
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        await self.sockets[-1].send_json(envelope)
        return str(envelope["envelope_id"])

    async def ack(self, envelope_id: str, seconds: float = 5.0) -> JSON:
        """The app's acknowledgement of an envelope, once it comes."""
        await self.wait_until(lambda: envelope_id in self.acks, seconds)
        return self.acks[envelope_id]


async def _params(request: web.Request) -> JSON:
    params: JSON = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params


def _blocks(p: JSON) -> list[JSON]:
    blocks = p.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


# --- what Slack sends to the app --------------------------------------------------------------


class Payloads:
    """Events API callbacks, slash commands and block actions, shaped as Slack shapes them."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self._n = itertools.count(1)

    def _id(self) -> int:
        return next(self._n)

    def ts(self) -> str:
        n = self._id()
        return f"{1764100000 + n}.{n:06d}"

    def callback(self, event: JSON, team_id: str = TEAM_ID, event_id: str | None = None) -> JSON:
        return {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{self._id():08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def message(
        self,
        user: SlackUser,
        text: str,
        *,
        ts: str | None = None,
        channel: str | None = None,
        channel_type: str = "im",
        thread_ts: str | None = None,
        team_id: str | None = None,
    ) -> JSON:
        """A person's direct message to the app (`message.im`)."""
        ts = ts or self.ts()
        event: JSON = {
            "type": "message",
            "channel": channel or user.dm,
            "user": user.user_id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": channel_type,
            "client_msg_id": str(uuid.uuid4()),
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.callback(event, team_id or user.team_id)

    def bot_message(
        self, text: str, *, channel: str, bot_id: str = BOT_ID, user: str | None = BOT_USER_ID
    ) -> JSON:
        """A message a bot (ours, by default) posted in a direct chat."""
        ts = self.ts()
        event: JSON = {
            "type": "message",
            "channel": channel,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "im",
            "bot_id": bot_id,
        }
        if user:
            event["user"] = user
        else:
            event["subtype"] = "bot_message"
        return self.callback(event)

    def edit(self, user: SlackUser, ts: str, old: str, new: str, *, edited: bool = True) -> JSON:
        """`message_changed` for a person's message; `edited=False` is Slack unfurling a link."""
        now = self.ts()
        message: JSON = {"type": "message", "user": user.user_id, "text": new, "ts": ts}
        if edited:
            message["edited"] = {"user": user.user_id, "ts": now}
        event = {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": user.dm,
            "channel_type": "im",
            "ts": now,
            "event_ts": now,
            "message": message,
            "previous_message": {"type": "message", "user": user.user_id, "text": old, "ts": ts},
        }
        return self.callback(event, user.team_id)

    def mention(self, user: SlackUser, text: str, channel: str) -> JSON:
        """`app_mention`: someone wrote @Tandem in a channel."""
        ts = self.ts()
        event = {
            "type": "app_mention",
            "channel": channel,
            "user": user.user_id,
            "text": f"<@{BOT_USER_ID}> {text}",
            "ts": ts,
            "event_ts": ts,
        }
        return self.callback(event, user.team_id)

    def command(
        self,
        user: SlackUser,
        text: str,
        *,
        channel: str | None = None,
        channel_name: str = "directmessage",
        team_id: str | None = None,
    ) -> JSON:
        """`/tandem TEXT` as the form fields Slack posts."""
        return {
            "token": "legacy-verification-token",
            "team_id": team_id or user.team_id,
            "team_domain": "maple-school",
            "channel_id": channel or user.dm,
            "channel_name": channel_name,
            "user_id": user.user_id,
            "user_name": user.name.lower().replace(" ", "."),
            "command": "/tandem",
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.fake.response_url(),
            "trigger_id": f"{self._id()}.{self._id()}.{uuid.uuid4().hex}",
        }

    def press(
        self,
        user: SlackUser,
        post: Posted,
        label: str,
        *,
        channel: str | None = None,
        team_id: str | None = None,
    ) -> JSON:
        """A press of the button `label` on a message the app posted; `channel` forges where."""
        button = post.button(label)
        team = team_id or user.team_id
        channel = channel or post.channel
        return {
            "type": "block_actions",
            "user": {"id": user.user_id, "username": user.name, "name": user.name, "team_id": team},
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": post.ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{self._id()}.{self._id()}.{uuid.uuid4().hex}",
            "team": {"id": team, "domain": "maple-school"},
            "channel": {"id": channel, "name": "directmessage"},
            "message": {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": post.text,
                "ts": post.ts,
                "blocks": post.blocks,
            },
            "response_url": self.fake.response_url(),
            "actions": [
                {
                    "action_id": button["action_id"],
                    "block_id": "b1",
                    "text": button["text"],
                    "value": button["value"],
                    "type": "button",
                    "action_ts": self.ts(),
                }
            ],
        }


# --- Slack delivering to the app, in each mode -------------------------------------------------


class SlackSide(Protocol):
    """How Slack hands the app an event, a slash command or a button press."""

    async def event(self, body: JSON, *, retry: int = 0) -> None: ...

    async def command(self, form: JSON) -> None: ...

    async def action(self, payload: JSON) -> None: ...


def sign(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class SignedHttp:
    """Slack's side of HTTP mode: signed POSTs to the app's /slack/events."""

    url: str
    secret: str = SIGNING_SECRET
    now: Callable[[], float] = time.time
    statuses: list[int] = field(default_factory=list)

    async def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: str | None = None,
        secret: str | None = None,
        retry: int = 0,
    ) -> tuple[int, str]:
        """POST as Slack does; the app's status and body."""
        stamp = timestamp or str(int(self.now()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign(body, stamp, secret or self.secret),
        }
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url, data=body, headers=headers) as response,
        ):
            self.statuses.append(response.status)
            return response.status, await response.text()

    async def event(self, body: JSON, *, retry: int = 0, **signing: Any) -> None:
        await self.post(json.dumps(body).encode(), "application/json", retry=retry, **signing)

    async def command(self, form: JSON, **signing: Any) -> None:
        await self.post(urlencode(form).encode(), "application/x-www-form-urlencoded", **signing)

    async def action(self, payload: JSON, **signing: Any) -> None:
        await self.post(
            urlencode({"payload": json.dumps(payload)}).encode(),
            "application/x-www-form-urlencoded",
            **signing,
        )


@dataclass
class SocketEnvelopes:
    """Slack's side of Socket Mode: envelopes on the websocket, each waited on for its ack."""

    fake: FakeSlack
    acks: list[JSON] = field(default_factory=list)

    async def _deliver(self, kind: str, payload: JSON, retry: int = 0) -> None:
        envelope_id = await self.fake.send_envelope(kind, payload, retry)
        self.acks.append(await self.fake.ack(envelope_id))

    async def event(self, body: JSON, *, retry: int = 0) -> None:
        await self._deliver("events_api", body, retry)

    async def command(self, form: JSON) -> None:
        await self._deliver("slash_commands", form)

    async def action(self, payload: JSON) -> None:
        await self._deliver("interactive", payload)


# --- a school with a Slack workspace, for tests ------------------------------------------------


@dataclass
class Exchange:
    """What a person saw in Slack after doing one thing."""

    ts: str  # the person's own message, when they sent one
    replies: list[Posted]

    @property
    def text(self) -> str:
        return "\n".join(post.shown for post in self.replies)

    def reply(self) -> Posted:
        assert len(self.replies) == 1, f"expected one reply, got {[p.shown for p in self.replies]}"
        return self.replies[0]


class GatedDispatcher(Dispatcher):
    """A dispatcher that waits at a gate before handling, to show what happens before work."""

    def __init__(self, inner: Dispatcher) -> None:
        super().__init__(inner.db, inner.settings, inner.clock, inner.routes)
        self.gate = asyncio.Event()
        self.reached = asyncio.Event()
        self.inside = 0
        self.most_inside = 0  # the most events ever handled at once

    async def dispatch(self, event: Event) -> list[Reply]:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.reached.set()
        try:
            await self.gate.wait()
            return await super().dispatch(event)
        finally:
            self.inside -= 1


@dataclass
class SlackWorld:
    """The demo school, a fake Slack workspace, and the real adapter between them."""

    school: DemoSchool
    fake: FakeSlack
    adapter: SlackAdapter
    side: SlackSide
    payloads: Payloads
    mode: str
    slept: list[float] = field(default_factory=list)

    def person(self, user_id: str, name: str, locale: str = "en-US") -> SlackUser:
        return self.fake.add_user(SlackUser(user_id, name, locale))

    async def _settled(self, start: int) -> list[Posted]:
        await self.adapter.wait_idle()
        return self.fake.posted[start:]

    async def send(self, user: SlackUser, text: str, *, thread_ts: str | None = None) -> Exchange:
        """The person writes `text` in their direct chat with the app."""
        start = len(self.fake.posted)
        body = self.payloads.message(user, text, thread_ts=thread_ts)
        await self.side.event(body)
        return Exchange(body["event"]["ts"], await self._settled(start))

    async def deliver(self, body: JSON, *, retry: int = 0) -> list[Posted]:
        """Slack delivers an event body as given (a retry, a bot's message, a mention...)."""
        start = len(self.fake.posted)
        await self.side.event(body, retry=retry)
        return await self._settled(start)

    async def slash(self, user: SlackUser, text: str, **where: Any) -> Exchange:
        """The person types `/tandem TEXT` (in their direct chat unless `channel=` says)."""
        start = len(self.fake.posted)
        await self.side.command(self.payloads.command(user, text, **where))
        return Exchange("", await self._settled(start))

    async def press(self, user: SlackUser, post: Posted, label: str, **where: Any) -> Exchange:
        start = len(self.fake.posted)
        await self.side.action(self.payloads.press(user, post, label, **where))
        return Exchange("", await self._settled(start))

    async def edit(self, user: SlackUser, ts: str, old: str, new: str) -> Exchange:
        start = len(self.fake.posted)
        await self.side.event(self.payloads.edit(user, ts, old, new))
        return Exchange(ts, await self._settled(start))

    async def join(self, user: SlackUser, student: str, role: str) -> None:
        """The person joins a team with an invite the demo teacher makes at the console."""
        said = await self.school.say(self.school.teacher, f"/invite {student} {role}")
        code = re.search(r"start[= ]([\w-]+)", said.text)
        assert code, said.text
        joined = await self.send(user, f"/start {code.group(1)}")
        # A welcome, in whichever language the person's Slack locale chose.
        assert any(
            translate(language, "onboarding.language_hint") in joined.text
            for language in languages()
        ), joined.text


def slack_config(fake: FakeSlack, mode: str, team_id: str = "", **changes: Any) -> SlackConfig:
    values: JSON = {
        "enabled": True,
        "bot_token": BOT_TOKEN,
        "app_token": APP_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "mode": mode,
        "http_listen": ("127.0.0.1", 0),
        "base_url": fake.base_url,
        "team_id": team_id,
    }
    return SlackConfig(**(values | changes))


@asynccontextmanager
async def running_fake(specs_dir: Path) -> AsyncIterator[FakeSlack]:
    """A started fake Slack; a test fails if the app made a call Slack would refuse."""
    fake = FakeSlack(SlackApiSpec.load(specs_dir))
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
    assert fake.violations == [], fake.violations


@asynccontextmanager
async def slack_world(
    school: DemoSchool, specs_dir: Path, mode: str, dispatcher: Dispatcher | None = None
) -> AsyncIterator[SlackWorld]:
    """The adapter started in `mode` ("http" or "socket") against a fake Slack."""
    async with running_fake(specs_dir) as fake:
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)  # waited out on paper: tests never sleep

        adapter = SlackAdapter(
            slack_config(fake, mode), dispatcher or school.dispatcher, school.db, sleep=sleep
        )
        await adapter.start()
        try:
            side: SlackSide
            if mode == "http":
                host, port = adapter.http_addresses[0][:2]
                side = SignedHttp(f"http://{host}:{port}{EVENTS_PATH}")
            else:
                side = SocketEnvelopes(fake)
            yield SlackWorld(school, fake, adapter, side, Payloads(fake), mode, slept)
        finally:
            await adapter.stop()
