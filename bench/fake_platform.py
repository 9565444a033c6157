"""A fake messaging platform for benchmarks: enforces a rate limit, injects 429s, counts.

    python bench/fake_platform.py [--rate 30] [--per-chat 1] [--inject 0.02] [--seed 1]

Listens on 127.0.0.1 (a free port, printed as "PORT <n>" on the first line of stdout):

- POST /send {"chat", "key"}: delivers one message, or answers 429 {"retry_after": 1} when
  accepting it would put more than `rate` messages in any sliding second (or more than
  `per-chat` in one chat), and at random for a fraction `inject` of requests.
- GET /stats: what was delivered (times on this machine's monotonic clock) and refused.
- POST /reset: forget everything.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

RETRY_AFTER = 1


@dataclass
class Platform:
    rate: int
    per_chat: int
    inject: float
    random: random.Random
    window: deque[float] = field(default_factory=deque)  # accepted arrivals in the last second
    chats: dict[str, deque[float]] = field(default_factory=dict)
    keys: Counter[str] = field(default_factory=Counter)
    times: list[float] = field(default_factory=list)
    injected: int = 0
    enforced: int = 0

    def reset(self) -> None:
        self.window.clear()
        self.chats.clear()
        self.keys.clear()
        self.times.clear()
        self.injected = self.enforced = 0

    def offer(self, chat: str, key: str, now: float) -> bool:
        """Accept one message now, or refuse it (False) with a 429."""
        if self.random.random() < self.inject:
            self.injected += 1
            return False
        while self.window and self.window[0] <= now - 1.0:
            self.window.popleft()
        sent_to_chat = self.chats.setdefault(chat, deque())
        while sent_to_chat and sent_to_chat[0] <= now - 1.0:
            sent_to_chat.popleft()
        if len(self.window) >= self.rate or len(sent_to_chat) >= self.per_chat:
            self.enforced += 1
            return False
        self.window.append(now)
        sent_to_chat.append(now)
        self.keys[key] += 1
        self.times.append(now)
        return True

    def stats(self) -> dict[str, Any]:
        return {
            "accepted": len(self.times),
            "unique": len(self.keys),
            "duplicates": sum(n - 1 for n in self.keys.values()),
            "injected": self.injected,
            "enforced": self.enforced,
            "first": self.times[0] if self.times else None,
            "last": self.times[-1] if self.times else None,
            "busiest_second": busiest_second(self.times),
            "keys": dict(self.keys),
        }


def busiest_second(times: list[float]) -> int:
    """The most accepted messages in any window [t, t + 1s), t an arrival."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def make_app(platform: Platform) -> web.Application:
    async def send(request: web.Request) -> web.Response:
        now = time.monotonic()  # first thing: the arrival time is what the limit counts
        body = await request.json()
        if platform.offer(str(body["chat"]), str(body["key"]), now):
            return web.json_response({"ok": True, "ref": f"{body['chat']}:{len(platform.times)}"})
        return web.json_response({"ok": False, "retry_after": RETRY_AFTER}, status=429)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(platform.stats())

    async def reset(request: web.Request) -> web.Response:
        platform.reset()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/send", send)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    return app


async def serve(platform: Platform) -> None:
    runner = web.AppRunner(make_app(platform), access_log=None)
    await runner.setup()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # a free port, chosen by the system
    await web.SockSite(runner, listener).start()
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    await asyncio.Event().wait()  # until killed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=30)
    parser.add_argument("--per-chat", type=int, default=1)
    parser.add_argument("--inject", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    platform = Platform(args.rate, args.per_chat, args.inject, random.Random(args.seed))
    asyncio.run(serve(platform))


if __name__ == "__main__":
    main()
