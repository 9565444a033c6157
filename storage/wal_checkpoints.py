"""SQLite's write-ahead log is copied into the database file off the event loop.

SQLite checkpoints automatically inside a commit, once the log holds 1,000 pages: it copies
them into the file and syncs it to disk, several milliseconds. An incoming event's commit runs
inline on the loop's thread (storage/sqlite_inline.py), so the note whose commit happened to
cross the line held up every other chat for that long: beside a burst of /progress, whose
access-log rows fill the log faster, it was the slowest note of a round. Inline
transactions therefore commit without the automatic checkpoint (`begin_inline` turns it off,
the pool's check-in turns it back on), and every `EVERY` of them this class runs a PASSIVE
checkpoint on a pooled connection, on aiosqlite's thread: it copies what no reader still needs
and waits for no writer, so the events go on meanwhile. Everything else (the CLI, jobs'
reads) keeps SQLite's own automatic checkpoint.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

# Inline transactions between checkpoints: a note writes about 10 pages to the log (a /progress
# about 7), so about SQLite's own 1,000-page mark.
EVERY = 100


async def wal_checkpoint(engine: AsyncEngine, mode: str) -> bool:
    """Run `PRAGMA wal_checkpoint(mode)` on a pooled connection (aiosqlite's thread); True if
    a reader or writer kept it from finishing."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        result = await autocommit.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")
        return bool(result.scalar())


class WalCheckpoints:
    """Counts the inline commits, and checkpoints every `every` of them in the background."""

    def __init__(self, engine: AsyncEngine, every: int = EVERY) -> None:
        self.engine = engine
        self.every = every
        self._since = 0
        self._running: asyncio.Task[None] | None = None

    def committed(self) -> None:
        """After an inline commit: starts a checkpoint if `every` have passed and none runs."""
        self._since += 1
        if self._since < self.every or self._running is not None:
            return
        self._since = 0
        self._running = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            await wal_checkpoint(self.engine, "PASSIVE")
        except Exception as error:  # the next one tries again; SQLite loses nothing meanwhile
            log.warning("SQLite checkpoint failed: %s", type(error).__name__)
        finally:
            self._running = None

    async def settled(self) -> None:
        """Wait for a checkpoint under way (before the engine is disposed)."""
        running = self._running
        if running is not None:
            await asyncio.shield(running)
