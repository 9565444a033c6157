"""Incoming events already handled: a platform's retry of one is recognised and ignored."""

from __future__ import annotations

from datetime import datetime

from storage.stores._sql import SEEN, Queries


class EventStore(Queries):
    """Seen event ids (PostgreSQL marks them with the chat's turn: `PeopleStore.arrival`)."""

    async def mark_seen(self, platform: str, event_id: str, now: datetime) -> bool:
        """Record an incoming event id; False if it was seen before (a platform retry)."""
        statement = SEEN[self._dialect.name]
        result = await self.session.exec(
            statement, params={"platform": platform, "event_id": event_id, "seen_at": now}
        )
        return bool(result.rowcount)
