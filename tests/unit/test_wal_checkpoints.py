"""SQLite's write-ahead log is checkpointed off the event loop: an event's inline commit never
copies it into the file (milliseconds with the loop held), a background checkpoint does."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from storage.db import Database

BIG = 6_000_000  # bytes: more than SQLite's 1,000-page mark for an automatic checkpoint


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'tandem.db'}")
    async with database.session() as session:
        await session.exec(text("CREATE TABLE photo (body BLOB)"))  # type: ignore[call-overload]
    yield database
    await database.dispose()


def _file_size(tmp_path: Path) -> int:
    return (tmp_path / "tandem.db").stat().st_size


async def _write_in_an_event(database: Database) -> None:
    async with database.event_session() as session:
        await session.exec(text(f"INSERT INTO photo VALUES (randomblob({BIG}))"))  # type: ignore[call-overload]


async def test_an_events_commit_leaves_the_log_to_the_checkpointer(
    sqlite_db: Database, tmp_path: Path
) -> None:
    sqlite_db.checkpoints.every = 1_000
    before = _file_size(tmp_path)
    await _write_in_an_event(sqlite_db)
    assert _file_size(tmp_path) == before  # the pages wait in the log

    # The same pooled connection, used off the loop again, checkpoints at its commit as SQLite
    # does by default.
    async with sqlite_db.session() as session:
        pages = (await session.exec(text("PRAGMA wal_autocheckpoint"))).scalar()  # type: ignore[call-overload]
        await session.exec(text(f"INSERT INTO photo VALUES (randomblob({BIG}))"))  # type: ignore[call-overload]
    assert pages == 1000
    assert _file_size(tmp_path) > before + BIG


async def test_every_so_many_events_a_checkpoint_runs_off_the_loops_thread(
    sqlite_db: Database, tmp_path: Path
) -> None:
    threads: list[int] = []

    def trace(statement: str) -> None:
        if "wal_checkpoint" in statement:
            threads.append(threading.get_ident())

    def traced(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection._conn.set_trace_callback(trace)

    await sqlite_db.engine.dispose()  # new connections, each traced
    event.listen(sqlite_db.engine.sync_engine, "connect", traced)
    sqlite_db.checkpoints.every = 2
    before = _file_size(tmp_path)

    await _write_in_an_event(sqlite_db)
    assert threads == []
    await _write_in_an_event(sqlite_db)
    await sqlite_db.checkpoints.settled()

    assert len(threads) == 1
    assert threads[0] != threading.get_ident()
    assert _file_size(tmp_path) >= before + 2 * BIG  # both events' pages are in the file
