"""An event's SQLite statements run on the event loop's thread, once its write lock is held.

aiosqlite runs each call of a statement (a cursor, the execute, the fetch, the close) on the
connection's own thread and wakes the event loop for every answer: four thread hops per
statement, which cost more CPU than SQLite takes to run it. An incoming event's transaction
(`Database.event_session`) starts instead with `BEGIN IMMEDIATE`: asked without waiting on the
loop's thread, and only when another writer holds the lock (the sender, a job, a CLI command in
another process) waited for on aiosqlite's thread, off the loop. Once the transaction holds
SQLite's write lock, nothing it runs waits for a lock (in WAL mode readers never block a
writer), so its statements and its commit run inline, without a hop, and the loop is held only
for the microseconds each takes. The commit does not checkpoint SQLite's write-ahead log, which
takes milliseconds: that is done off the loop (storage/wal_checkpoints.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

_T = TypeVar("_T")

# SQLite's own default: a commit that leaves this many pages in the log checkpoints it.
AUTOCHECKPOINT_PAGES = 1000


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, whose calls run on the caller's thread while `inline` is set."""

    inline = False

    async def _execute(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if not self.inline:
            # aiosqlite's own method is untyped: it answers what `fn` returns, from its thread.
            result: _T = await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
            return result
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _connect(database: str, *, iter_chunk_size: int = 64, **kwargs: Any) -> InlineConnection:
    """What `aiosqlite.connect` does, with an InlineConnection (SQLAlchemy awaits it)."""

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return connection

    connection = InlineConnection(connector, iter_chunk_size)
    connection._thread.daemon = True  # as SQLAlchemy sets it: no hang at interpreter exit
    return connection


def allow_inline(engine: AsyncEngine) -> None:
    """Make the engine's connections InlineConnections, usable from the loop's thread too
    (never from two threads at once: a connection serves one session at a time)."""

    def connect_args(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        params["async_creator_fn"] = _connect
        params["check_same_thread"] = False

    def returned(adapted: Any, _record: Any) -> None:
        # Back in the pool (after its reset): whoever takes it next runs on aiosqlite's thread,
        # where a commit may checkpoint again.
        driver = getattr(adapted, "_connection", None)
        if isinstance(driver, InlineConnection) and driver.inline:
            driver._conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            driver.inline = False

    event.listen(engine.sync_engine, "do_connect", connect_args)
    event.listen(engine.sync_engine, "checkin", returned)


async def begin_inline(session: AsyncSession) -> InlineConnection | None:
    """Take SQLite's write lock for the session's transaction, then run the connection's calls
    inline until it is back in the pool (the commit, and the pool's reset of the connection,
    inline too), and the commit without SQLite's automatic checkpoint. None for an engine made
    without `allow_inline`.

    The lock is first asked for inline without waiting; only if another writer holds it is it
    waited for on aiosqlite's thread, under the connection's busy timeout.
    """
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if not isinstance(driver, InlineConnection):
        await connection.exec_driver_sql("BEGIN IMMEDIATE")
        return None
    if not _begin_at_once(driver._conn):
        await driver._execute(driver._conn.execute, "BEGIN IMMEDIATE")
    driver._conn.execute("PRAGMA wal_autocheckpoint=0")
    driver.inline = True
    return driver


def _begin_at_once(conn: sqlite3.Connection) -> bool:
    """BEGIN IMMEDIATE if no other connection holds the write lock; False (no transaction
    begun) if one does. Runs on the caller's thread: SQLite answers at once, waiting for nothing."""
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout=0")
    try:
        conn.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(timeout)}")
