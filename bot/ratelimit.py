"""Send pacing per platform and per chat, on an injected clock and sleep (no real waiting in tests).

Each limit is a sliding one-second window counted at the moments messages actually went out, so
no second ever holds more than the limit, plus a minimum gap between messages so the limit is
never spent as one burst. A 429 holds the chat it came from; many 429s from different chats in
one second hold the whole platform.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

from bot.config import PlatformLimits
from bot.context import Clock

__all__ = ["WINDOW_SECONDS", "PlatformLimits", "RateLimiter", "Window"]

Sleep = Callable[[float], Awaitable[None]]

# The window is a little longer than a second: a request that left our clock on time can still
# reach the platform a few milliseconds early relative to the one sent a second before it.
WINDOW_SECONDS = 1.005
# Messages are at least this fraction of the even spacing apart: bursts are smoothed out, and a
# message that went out late can still be caught up on.
MIN_GAP_FRACTION = 0.8
# Waits shorter than this are none: clocks that count microseconds cannot sleep less.
RESOLUTION = 1e-6
# Idle per-chat windows are forgotten once there are this many, so memory stays bounded.
PRUNE_AT = 2048


class Window:
    """At most `limit` events in any WINDOW_SECONDS, at least a minimum gap apart."""

    def __init__(self, limit: int, period: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.period = period
        self.min_gap = period / limit * MIN_GAP_FRACTION
        self._times: deque[float] = deque(maxlen=limit)
        self._held_until = 0.0

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0.0 if it fits now)."""
        ready = self._held_until
        if self._times:
            ready = max(ready, self._times[-1] + self.min_gap)
            if len(self._times) == self.limit:
                ready = max(ready, self._times[0] + self.period)
        wait = ready - now
        return wait if wait >= RESOLUTION else 0.0

    def take(self, now: float) -> None:
        self._times.append(now)

    def hold(self, until: float) -> None:
        """Nothing before `until` (the platform said so)."""
        self._held_until = max(self._held_until, until)

    def is_idle(self, now: float) -> bool:
        return self.wait(now) == 0.0 and (not self._times or self._times[-1] + self.period < now)


class RateLimiter:
    """Waits, through the injected sleep, until one more message fits every limit."""

    def __init__(self, limits: Mapping[str, PlatformLimits], clock: Clock, sleep: Sleep) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._sleep = sleep
        self._platforms: dict[str, Window] = {
            name: Window(rule.per_second) for name, rule in limits.items() if rule.per_second
        }
        self._chats: dict[tuple[str, str], Window] = {}
        self._refusals: dict[str, deque[tuple[float, str]]] = {}

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _windows(self, platform: str, chat: str) -> list[Window]:
        windows = []
        if platform in self._platforms:
            windows.append(self._platforms[platform])
        chat_window = self._chat_window(platform, chat)
        if chat_window is not None:
            windows.append(chat_window)
        return windows

    def _chat_window(self, platform: str, chat: str) -> Window | None:
        rule = self._limits.get(platform)
        if rule is None or not rule.per_chat_per_second:
            return None
        key = (platform, chat)
        window = self._chats.get(key)
        if window is None:
            if len(self._chats) >= PRUNE_AT:
                self._prune()
            window = self._chats[key] = Window(rule.per_chat_per_second)
        return window

    def _prune(self) -> None:
        now = self._now()
        for key in [key for key, window in self._chats.items() if window.is_idle(now)]:
            del self._chats[key]

    async def wait_for_chat(self, platform: str, chat: str) -> None:
        """Wait until the chat could take one more message, without counting one."""
        window = self._chat_window(platform, chat)
        while window is not None and (wait := window.wait(self._now())) > 0:
            await self._sleep(wait)

    async def acquire(self, platform: str, chat: str) -> None:
        """Wait until one more message to `chat` fits every limit, then count it as sent."""
        windows = self._windows(platform, chat)
        while True:
            now = self._now()
            wait = max((window.wait(now) for window in windows), default=0.0)
            if wait <= 0:
                for window in windows:
                    window.take(now)
                return
            await self._sleep(wait)

    def hold_platform(self, platform: str, seconds: float) -> None:
        """Nothing to the platform for `seconds` (a replica taking over sending does not know
        what the last one sent in its final second)."""
        overall = self._platforms.get(platform)
        if overall is not None:
            overall.hold(self._now() + seconds)

    def back_off(self, platform: str, chat: str, seconds: float) -> None:
        """The platform answered 429 for this chat: hold the chat, and the whole platform when
        refusals for several chats arrive within one window (our overall rate is too high)."""
        now = self._now()
        until = now + max(0.0, seconds)
        chat_window = self._chat_window(platform, chat)
        if chat_window is not None:
            chat_window.hold(until)
        overall = self._platforms.get(platform)
        if overall is None:
            return
        refusals = self._refusals.setdefault(platform, deque())
        refusals.append((now, chat))
        while refusals and refusals[0][0] < now - overall.period:
            refusals.popleft()
        # A few random 429s are the platform's noise; a third of the limit is a pattern.
        if len({refused for _, refused in refusals}) >= max(3, overall.limit // 3):
            overall.hold(until)
            refusals.clear()


async def unless_stopped(waiting: Awaitable[None], stop: asyncio.Event | None) -> bool:
    """Wait for `waiting` (a rate limit: after a 429 it may be long); False if `stop` came
    first, so a stopping sender hands its letters back instead of sitting out the wait."""
    if stop is None:
        await waiting
        return True
    wait = asyncio.ensure_future(waiting)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([wait, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        finished = wait.done()
        if not finished:
            wait.cancel()
    if finished:
        wait.result()  # re-raise what the wait raised
    return finished
