"""The month's characters sent to the translation provider, against
`[translation] monthly_char_limit`: counted in the database, per provider and calendar month
(UTC), so every replica adds to one count and a restart keeps it."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import session_dialect
from storage.stores import Store
from storage.stores.translations import TranslationStore


class CharBudget(Protocol):
    async def spend(self, provider: str, month: str, chars: int, limit: int) -> bool:
        """Count `chars` for `provider` in `month` unless that passes `limit` (0: none);
        whether they were counted."""
        ...


class ProcessBudget:
    """A count in this process only, for tools and tests that have no database."""

    def __init__(self) -> None:
        self.spent: defaultdict[tuple[str, str], int] = defaultdict(int)

    async def spend(self, provider: str, month: str, chars: int, limit: int) -> bool:
        if limit and self.spent[(provider, month)] + chars > limit:
            return False
        self.spent[(provider, month)] += chars
        return True


class StoredBudget:
    """The count in the database, beside the caller's transaction.

    On PostgreSQL each addition commits at once in a short transaction of its own: no replica
    waits on a reader's, or the weekly job's, open transaction. On SQLite it goes in the
    caller's transaction, which already holds the file's one write lock (a second connection
    would wait on it). The caller's concurrent requests (the summary job's) take turns.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._turn = asyncio.Lock()

    async def spend(self, provider: str, month: str, chars: int, limit: int) -> bool:
        async with self._turn:
            session = self.store.session
            if session_dialect(session).name != "postgresql":
                return await self.store.translations.spend(provider, month, chars, limit)
            async with AsyncSession(session.bind) as own:
                counted = await TranslationStore(own).spend(provider, month, chars, limit)
                await own.commit()
                return counted
