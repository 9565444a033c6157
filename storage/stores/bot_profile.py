"""What the platforms told the bot about itself (its username, for invite links)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import BotProfile
from storage.stores._sql import Queries


class BotProfileStore(Queries):
    """The bot's own profile per platform."""

    async def username(self, platform: str) -> str | None:
        """The username the platform gave our bot when it last started, if it ever did."""
        profile = await self.session.get(BotProfile, platform)
        return profile.username if profile else None

    async def set_username(self, platform: str, username: str, now: datetime) -> None:
        dialect = self._dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        # An upsert: several replicas may start at once.
        statement = insert(BotProfile).values(platform=platform, username=username, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=["platform"], set_={"username": username, "updated_at": now}
        )
        await self.session.exec(statement)
