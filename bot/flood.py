"""How many messages one person may send in a minute: a sliding window per person, in memory.

The dispatcher asks before it handles a message, on its injected clock, so the check costs no
database statement. Each `tandem run` process keeps its own windows: with several replicas a
person may get up to the limit through each (docs/security.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from datetime import datetime
from enum import Enum

PERIOD_SECONDS = 60.0
# Idle windows are forgotten once there are this many, so memory stays bounded.
PRUNE_AT = 4096


class Verdict(Enum):
    HANDLE = "handle"
    SLOW_DOWN = "slow_down"  # the first message over the limit in a burst: say so, once
    DROP = "drop"  # later ones in the same burst: not handled, nothing said


class _Window:
    __slots__ = ("handled", "warned")

    def __init__(self, limit: int) -> None:
        self.handled: deque[float] = deque(maxlen=limit)  # when the latest messages were handled
        self.warned = False  # the sender has been told to slow down in this burst


class FloodGuard:
    """At most `per_minute` handled messages per sender in any 60 seconds."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[Hashable, _Window] = {}
        self._prune_at = PRUNE_AT

    def check(self, sender: Hashable, now: datetime) -> Verdict:
        """Whether this message from `sender` is handled; a handled one is counted."""
        at = now.timestamp()
        window = self._windows.get(sender)
        if window is None:
            if len(self._windows) >= self._prune_at:
                self._prune(at)
            window = self._windows[sender] = _Window(self.per_minute)
        handled = window.handled
        if len(handled) < self.per_minute or handled[0] <= at - PERIOD_SECONDS:
            handled.append(at)  # a full deque drops its oldest, which is out of the window
            window.warned = False  # a message got through: the burst is over
            return Verdict.HANDLE
        if window.warned:
            return Verdict.DROP
        window.warned = True
        return Verdict.SLOW_DOWN

    def _prune(self, at: float) -> None:
        idle = [
            sender
            for sender, window in self._windows.items()
            if not window.handled or window.handled[-1] <= at - PERIOD_SECONDS
        ]
        for sender in idle:
            del self._windows[sender]
        # Many people active at once: prune again only when twice as many, not at every newcomer.
        self._prune_at = max(PRUNE_AT, 2 * len(self._windows))
