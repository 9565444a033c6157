"""PostgreSQL advisory locks that make several `tandem run` replicas one bot.

- A *turn*: a transaction-level lock on one chat (`chat_key`), taken first in an event's
  transaction, so one chat's events are handled one at a time, whichever replica got them.
  The dispatcher takes it with the transaction's BEGIN (`pg_driver.begin_in_turn`, through
  `PeopleStore.arrival`); `take_turn` takes the same lock in a transaction begun already.
- A *lease* (`Lease`): a session-level lock on one platform's sending, held on a connection of
  its own for as long as the replica sends; it ends with that session (a crash, a kill, a lost
  connection), and a standby replica takes it on its next try.

SQLite has one process: every turn is taken at once and every lease is held.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database, is_sqlite, session_dialect

log = logging.getLogger(__name__)

_TURN = text("SELECT pg_advisory_xact_lock(:key)")
_TRY_LEASE = text("SELECT pg_try_advisory_lock(:key)")
_ALIVE = text("SELECT 1")


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks: the same in every replica
    and every release (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def chat_key(platform: str, workspace: str, chat: str) -> int:
    return lock_key("chat", platform, workspace, chat)


async def take_turn(session: AsyncSession, key: int) -> None:
    """Wait until no other transaction holds `key`, then hold it until this one ends.

    PostgreSQL queues waiters for a lock in the order they asked, so a chat's events are
    handled in the order they reached the database. SQLite: nothing to wait for.
    """
    if session_dialect(session).name != "postgresql":
        return
    await session.exec(_TURN, params={"key": key})  # type: ignore[call-overload]


class Lease:
    """One named lease (a platform's sending), held by at most one replica at a time."""

    def __init__(self, db: Database, name: str) -> None:
        self.name = name
        self._db = db
        self._key = lock_key("lease", name)
        self._connection: AsyncConnection | None = None
        self._always = is_sqlite(db.url)

    @property
    def held(self) -> bool:
        return self._always or self._connection is not None

    async def refresh(self) -> bool:
        """Whether this replica holds the lease now: take it if it is free, and check the
        session holding it is still there (if it is gone, so is the lock)."""
        if self._always:
            return True
        if self._connection is not None:
            try:
                await self._connection.execute(_ALIVE)
                return True
            except Exception as error:  # the session ended, and the lock with it
                log.warning("lease %s lost (%s)", self.name, type(error).__name__)
                await self._drop()
        return await self._try_take()

    async def _try_take(self) -> bool:
        connection = await self._db.engine.connect()
        try:
            # Autocommit: the session holds the lock, not a transaction left open.
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = bool((await connection.execute(_TRY_LEASE, {"key": self._key})).scalar())
        except Exception:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def release(self) -> None:
        """Give the lease up (closing its session releases the lock)."""
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            # Invalidate: a pooled connection would keep the session, and the lock, alive.
            await connection.invalidate()
            await connection.close()
        except Exception as error:  # already gone: nothing is held
            log.debug("lease %s: closing its connection failed (%s)", self.name, error)
