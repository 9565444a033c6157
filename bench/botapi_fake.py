"""A lean fake Telegram Bot API for benchmarks, in its own process; it times every reply.

    python bench/botapi_fake.py

Listens on 127.0.0.1 (a free port, printed as "PORT <n>" on the first line of stdout) at
`/bot<token>/<method>` with what a polling bot calls: getMe, setMyCommands, deleteWebhook,
getUpdates (long polling, offsets confirm), sendMessage, sendPhoto, editMessageText,
answerCallbackQuery.
Unlike tests/adapters/fake_telegram.py it checks nothing against the spec: it must cost the
machine as little as possible, since it shares the CPUs with the bot it measures.

Control, for the benchmark:

- POST /_load {"updates": [...], "rate": 0}: queue these updates for getUpdates, all at once
  (rate 0) or released at `rate` per second.
- POST /_mark: forget the times so far (the warm-up), keep the updates.
- GET /_stats: how many were handed out and answered, and each update's latency: from the
  getUpdates response that first handed it out to the first sendMessage into its chat after
  that (a chat's updates are answered in order, so the k-th reply in a chat is for the k-th
  update handed out in it). Times are this process's monotonic clock.
- GET /_wait?replied=N&timeout=S: answers once N updates are answered (or after S seconds).

With `--limits` it keeps Telegram's limits the way Telegram does (bench/replicas.py): at most
`--per-second` messages accepted in any second overall and `--per-chat` per chat, more answered
with 429 and a retry_after, and a fraction `--refuse` of the rest refused at random with 429
(retry_after 1-3 s), as Telegram does when it is busy. GET /_sends lists every sendMessage:
its time, chat, text and status (200 or 429, and whether the 429 was for going over a limit).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON = dict[str, Any]
BOT = {"id": 987654321, "is_bot": True, "first_name": "Tandem", "username": "tandem_bench_bot"}


@dataclass
class Bench:
    """The updates the bot is given and what it answered, with times."""

    queued: list[JSON] = field(default_factory=list)  # released, not yet confirmed
    released: int = 0
    handed: dict[int, float] = field(default_factory=dict)  # update_id -> first handed out
    waiting: dict[int, deque[int]] = field(default_factory=dict)  # chat -> update ids
    latencies: list[float] = field(default_factory=list)
    first_handout: float | None = None
    last_reply: float | None = None
    unmatched: int = 0  # replies into a chat with no update waiting for one
    edits: int = 0
    photos: int = 0  # sendPhoto calls (a /progress chart, a summary's picture)
    polls: int = 0
    message_ids: int = 0
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    answered: asyncio.Condition = field(default_factory=asyncio.Condition)
    pacer: asyncio.Task[None] | None = None
    limits: Limits | None = None

    def stats(self) -> JSON:
        return {
            "released": self.released,
            "handed": len(self.handed),
            "replied": len(self.latencies),
            "unmatched": self.unmatched,
            "edits": self.edits,
            "photos": self.photos,
            "polls": self.polls,
            "first_handout": self.first_handout,
            "last_reply": self.last_reply,
            "latencies": self.latencies,
        }


@dataclass
class Limits:
    """Telegram's limits, enforced on every sendMessage, and the record of every one."""

    per_second: int
    per_chat: float
    refuse: float
    random: random.Random
    accepted: deque[float] = field(default_factory=deque)  # times in the last second
    last_to: dict[int, float] = field(default_factory=dict)  # chat -> last accepted
    sends: list[JSON] = field(default_factory=list)

    def verdict(self, chat: int, now: float) -> tuple[int, str]:
        """(0, "") to accept; else (retry_after, why) for a 429."""
        while self.accepted and self.accepted[0] <= now - 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= self.per_second:
            return 1, "over_bot_limit"
        last = self.last_to.get(chat)
        if last is not None and now - last < 1.0 / self.per_chat:
            return 1, "over_chat_limit"
        if self.random.random() < self.refuse:
            return self.random.randint(1, 3), "random"
        self.accepted.append(now)
        self.last_to[chat] = now
        return 0, ""


async def _release(bench: Bench, updates: list[JSON]) -> None:
    async with bench.arrived:
        bench.queued.extend(updates)
        bench.released += len(updates)
        bench.arrived.notify_all()


async def _pace(bench: Bench, updates: list[JSON], rate: float) -> None:
    """Release updates at `rate` per second, in 10 ms steps."""
    start = time.perf_counter()
    sent = 0
    while sent < len(updates):
        due = min(len(updates), int((time.perf_counter() - start) * rate) + 1)
        if due > sent:
            await _release(bench, updates[sent:due])
            sent = due
        await asyncio.sleep(0.01)


def build(bench: Bench) -> web.Application:
    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: JSON = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(await request.post())
        handler = METHODS.get(method)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": f"Not Found: {method}"}, status=404
            )
        if method == "sendMessage" and bench.limits is not None:
            refused = _limit(bench.limits, params)
            if refused is not None:
                return refused
        return web.json_response({"ok": True, "result": await handler(bench, params)})

    async def sends(request: web.Request) -> web.Response:
        return web.json_response(bench.limits.sends if bench.limits else [])

    async def load(request: web.Request) -> web.Response:
        body = await request.json()
        updates, rate = body["updates"], float(body.get("rate", 0))
        if rate > 0:
            bench.pacer = asyncio.create_task(_pace(bench, updates, rate))
        else:
            await _release(bench, updates)
        return web.json_response({"ok": True, "queued": len(updates)})

    async def mark(request: web.Request) -> web.Response:
        bench.latencies, bench.first_handout, bench.last_reply = [], None, None
        return web.json_response({"ok": True})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(bench.stats())

    async def wait(request: web.Request) -> web.Response:
        target = int(request.query["replied"])
        try:
            async with asyncio.timeout(float(request.query.get("timeout", 60))), bench.answered:
                await bench.answered.wait_for(lambda: len(bench.latencies) >= target)
        except TimeoutError:
            pass
        return web.json_response({"replied": len(bench.latencies)})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/_load", load)
    app.router.add_post("/_mark", mark)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_wait", wait)
    app.router.add_get("/_sends", sends)
    app.router.add_route("*", "/bot{token}/{method}", api)
    return app


def _limit(limits: Limits, p: JSON) -> web.Response | None:
    """Record one sendMessage; the 429 Telegram would answer, or None to accept it."""
    now = time.time()
    chat = int(p["chat_id"])
    retry_after, why = limits.verdict(chat, now)
    limits.sends.append(
        {
            "at": now,
            "chat": chat,
            "text": p.get("text", ""),
            "status": 429 if why else 200,
            "why": why,
        }
    )
    if not why:
        return None
    body = {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }
    return web.json_response(body, status=429)


async def get_me(bench: Bench, p: JSON) -> JSON:
    return {
        **BOT,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


async def true(bench: Bench, p: JSON) -> bool:
    return True


async def get_updates(bench: Bench, p: JSON) -> list[JSON]:
    bench.polls += 1
    offset = int(p.get("offset") or 0)
    if offset and bench.queued and bench.queued[0]["update_id"] < offset:
        bench.queued = [u for u in bench.queued if u["update_id"] >= offset]
    timeout = float(p.get("timeout") or 0)
    if not bench.queued and timeout > 0:
        try:
            async with asyncio.timeout(timeout), bench.arrived:
                await bench.arrived.wait_for(lambda: bool(bench.queued))
        except TimeoutError:
            return []
    batch = bench.queued[: int(p.get("limit") or 100)]
    now = time.perf_counter()
    for update in batch:
        if update["update_id"] in bench.handed:
            continue
        bench.handed[update["update_id"]] = now
        bench.waiting.setdefault(_chat_of(update), deque()).append(update["update_id"])
        bench.first_handout = bench.first_handout or now
    return batch


async def send_message(bench: Bench, p: JSON) -> JSON:
    chat_id = int(p["chat_id"])
    waiting = bench.waiting.get(chat_id)
    if waiting:
        now = time.perf_counter()
        bench.latencies.append(now - bench.handed[waiting.popleft()])
        bench.last_reply = now
        async with bench.answered:
            bench.answered.notify_all()
    else:
        bench.unmatched += 1
    bench.message_ids += 1
    message: JSON = {
        "message_id": bench.message_ids,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "x"},
        "from": BOT,
        "text": p["text"],
    }
    if "reply_markup" in p:
        markup = p["reply_markup"]
        message["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
    return message


async def edit_message_text(bench: Bench, p: JSON) -> JSON:
    bench.edits += 1
    return {
        "message_id": int(p.get("message_id", 0)),
        "date": int(time.time()),
        "chat": {"id": int(p.get("chat_id", 0)), "type": "private", "first_name": "x"},
        "from": BOT,
        "text": p.get("text", ""),
    }


async def send_photo(bench: Bench, p: JSON) -> JSON:
    """A picture (multipart upload): counted, and answered as Telegram does; not a reply."""
    bench.photos += 1
    bench.message_ids += 1
    return {
        "message_id": bench.message_ids,
        "date": int(time.time()),
        "chat": {"id": int(p["chat_id"]), "type": "private", "first_name": "x"},
        "from": BOT,
        "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1000, "height": 600}],
    }


def _chat_of(update: JSON) -> int:
    for key in ("message", "edited_message"):
        if key in update:
            return int(update[key]["chat"]["id"])
    return int(update["callback_query"]["message"]["chat"]["id"])


METHODS = {
    "getMe": get_me,
    "setMyCommands": true,
    "deleteWebhook": true,
    "setWebhook": true,
    "answerCallbackQuery": true,
    "getUpdates": get_updates,
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "editMessageText": edit_message_text,
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", action="store_true", help="keep Telegram's limits")
    parser.add_argument("--per-second", type=int, default=30)
    parser.add_argument("--per-chat", type=float, default=1.0)
    parser.add_argument("--refuse", type=float, default=0.02, help="random 429s, a fraction")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    bench = Bench()
    if args.limits:
        bench.limits = Limits(args.per_second, args.per_chat, args.refuse, random.Random(args.seed))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    runner = web.AppRunner(build(bench), access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
