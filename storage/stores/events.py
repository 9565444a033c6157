"""Incoming events already handled: a platform's retry of one is recognised and ignored."""

from __future__ import annotations

from datetime import datetime

from storage.locks import chat_key
from storage.stores._sql import SEEN, SEEN_IN_TURN, Queries


class EventStore(Queries):
    """Seen event ids."""

    async def mark_seen(self, platform: str, event_id: str, now: datetime) -> bool:
        """Record an incoming event id; False if it was seen before (a platform retry)."""
        statement = SEEN[self._dialect.name]
        result = await self.session.exec(
            statement, params={"platform": platform, "event_id": event_id, "seen_at": now}
        )
        return bool(result.rowcount)

    async def mark_seen_in_turn(
        self, platform: str, workspace: str, chat: str, event_id: str, now: datetime
    ) -> bool:
        """Wait for the chat's turn and hold it until this transaction ends, then `mark_seen`:
        replicas handle one chat's events one at a time, in the order they came. On PostgreSQL
        one statement (one round trip); SQLite has one process, whose adapters keep the order
        (`adapters/kit.py`, ChatTurns)."""
        if self._dialect.name != "postgresql":
            return await self.mark_seen(platform, event_id, now)
        params = {
            "key": chat_key(platform, workspace, chat),
            "platform": platform,
            "event_id": event_id,
            "seen_at": now,
        }
        return bool(await self._write_on_driver(SEEN_IN_TURN, params))
