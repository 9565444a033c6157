"""Async engines and sessions for SQLite (default) and PostgreSQL, and schema upgrades."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import pg_driver
from storage.sqlite_inline import allow_inline, begin_inline
from storage.wal_checkpoints import WalCheckpoints, wal_checkpoint

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# Owner read/write only: the file holds special-education records.
SQLITE_FILE_MODE = 0o600


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for an in-memory or URI-style database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_private_file(path: Path) -> None:
    """Create the SQLite file owner-only before SQLite does (it would use the umask, often
    0644); SQLite gives its -wal and -shm files the database file's permissions."""
    with suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))


# A pooled connection back in the pool for less than this has just worked, and is handed out
# again without a ping (see ping_when_idle).
PING_AFTER_IDLE_SECONDS = 2.0

Monotonic = Callable[[], float]


def make_engine(
    url: str, *, pool_size: int = 10, idle_clock: Monotonic = time.monotonic
) -> AsyncEngine:
    """An engine with the settings each database needs for a bot that writes often."""
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            create_private_file(path)
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        allow_inline(engine)
        return engine
    # hide_parameters: error messages must not carry the notes being written.
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, hide_parameters=True
    )
    ping_when_idle(engine, idle_clock)
    return engine


def ping_when_idle(
    engine: AsyncEngine, clock: Monotonic = time.monotonic, idle: float = PING_AFTER_IDLE_SECONDS
) -> None:
    """Ping a pooled connection before handing it out if it sat idle in the pool for `idle`
    seconds or more; one the server dropped meanwhile (a restart, an idle timeout) is replaced,
    with every other connection pooled before now, as pool_pre_ping does.

    pool_pre_ping pings at every checkout: on asyncpg that is three round trips (BEGIN, the
    ping, ROLLBACK) before each event's own transaction, a fifth of a note's work on
    PostgreSQL. A busy bot's connections come back within milliseconds; a connection that dies
    in between fails its event, which the dispatcher handles once more (Dispatcher.dispatch).
    """
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    def returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = clock()

    def taken(
        dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or clock() - returned_at < idle:
            return  # just made, or just worked
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            raise InvalidatePoolError("the server dropped an idle connection") from error

    event.listen(sync_engine, "checkin", returned)
    event.listen(sync_engine, "checkout", taken)


_RETURNED_AT = "tandem_returned_at"


def session_dialect(session: AsyncSession) -> Dialect:
    """The session's database dialect; its bind's, which `get_bind` (a lookup through the
    session's binds and mappers) gives too, only more slowly: asked on every message."""
    bind = session.bind
    return bind.dialect if bind is not None else session.get_bind().dialect


def is_connection_lost(error: BaseException) -> bool:
    """True if the database dropped the connection under this error (a restart, say): its
    transaction is gone, and the pool has replaced the connections it had before."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while the bot writes; the busy timeout waits out short locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted records are overwritten, not left in free pages of the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


class Database:
    """One engine and its session factory; passed to whatever needs the database."""

    def __init__(self, url: str, *, idle_clock: Monotonic = time.monotonic) -> None:
        self.url = url
        self.engine = make_engine(url, idle_clock=idle_clock)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        # SQLite has one writer at a time (see event_session).
        self._writer_turn = asyncio.Lock() if is_sqlite(url) else None
        self.checkpoints = WalCheckpoints(self.engine)  # the inline commits' (SQLite)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on error."""
        session = self._sessions()
        try:
            yield session
            if await pg_driver.commit_first(session) and self._takes_back_without_io():
                # Committed on asyncpg already: what is left of the commit and the close is
                # bookkeeping, with no I/O to run on a greenlet.
                _commit_and_close(session.sync_session)
            else:
                # Committed and closed in one greenlet hop (each is one, a good part of an event).
                await session.run_sync(_commit_and_close)
        except BaseException:
            # Closed as `async with` closes it: in a task of its own, which a cancellation
            # cannot abandon halfway with a connection out of the pool.
            async with session:
                await session.rollback()
            raise

    def _takes_back_without_io(self) -> bool:
        """Whether the pool would keep a connection handed back now: when it is full it closes
        one (I/O, on a greenlet)."""
        pool = self.engine.sync_engine.pool
        return isinstance(pool, QueuePool) and pool.checkedin() < pool.size()

    @asynccontextmanager
    async def event_session(self) -> AsyncIterator[AsyncSession]:
        """`session` for an incoming event's transaction, which writes from its first
        statement (the dedupe row).

        On SQLite such transactions run one after the other anyway; they wait their turn here,
        in the event loop, instead of each holding a pooled connection whose thread polls
        SQLite's lock (sixteen at once under a backlog, with the GIL to share). Their turn
        taken, they take SQLite's write lock on aiosqlite's thread and run the rest inline
        (storage/sqlite_inline.py): one thread hop per event instead of four per statement.
        """
        if self._writer_turn is None:
            async with self.session() as session:
                yield session
            return
        async with self._writer_turn, self.session() as session:
            inline = await begin_inline(session)
            yield session
        if inline is not None:
            self.checkpoints.committed()

    # The outbox's claims and settlements are short writes too: on SQLite they wait their turn
    # with the events' instead of sleeping in SQLite's busy handler while events take the lock.
    write_session = event_session

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade_on, self.url)

    async def is_current(self) -> bool:
        """True if the schema is at the newest migration (so commands can refuse an old one)."""
        async with self.engine.connect() as connection:
            return await connection.run_sync(_is_current)

    async def compact(self) -> None:
        """Rewrite a SQLite file so deleted rows leave no bytes behind (after `forget`).

        VACUUM rebuilds the file without free pages; the checkpoint then empties the WAL, which
        would otherwise still hold the pages as they were, and runs even when a busy bot keeps
        VACUUM from running. PostgreSQL: nothing to do here (see docs/security.md: dumps no
        longer contain the rows; disk encryption covers the rest).
        """
        if not is_sqlite(self.url):
            return
        try:
            async with self.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM")
        finally:
            await self.checkpoint()

    async def checkpoint(self) -> None:
        """Copy SQLite's write-ahead log into the file and truncate it (after a purge or a
        `forget`): the log still holds deleted rows as they were written until it is reset,
        which, while the bot keeps connections open, would be never. PostgreSQL: nothing."""
        if not is_sqlite(self.url):
            return
        # In the writers' turn: a checkpoint waits for no writer of ours (see event_session).
        async with self._writer_turn or _no_turn():
            busy = await wal_checkpoint(self.engine, "TRUNCATE")
        if busy:
            log.warning("the SQLite write-ahead log could not be emptied: a reader held it")

    async def dispose(self) -> None:
        await self.checkpoints.settled()
        await self.engine.dispose()


def _commit_and_close(session: Session) -> None:
    """Commit, then let go of the session's objects: committed, the connection is back in the
    pool already, and closing needs no task of its own (a loop turn per event)."""
    session.commit()
    session.close()


@asynccontextmanager
async def _no_turn() -> AsyncIterator[None]:
    yield


def _upgrade_on(connection: Connection, url: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _is_current(connection: Connection) -> bool:
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    return set(MigrationContext.configure(connection).get_current_heads()) == set(heads)
