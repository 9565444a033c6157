"""An event's transaction on PostgreSQL, begun with the chat's turn in one round trip and
committed on asyncpg before the session's bookkeeping (storage/pg_driver.py: `begin_in_turn`,
`commit_first`): whatever the handler does after the turn is in that one transaction,
kept or undone with the dedupe row, and the turn is held until it ends."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.locks import chat_key
from storage.models import Platform
from storage.stores import Store
from tests.conftest import START

pytestmark = pytest.mark.postgres

CHAT = "7001"


@pytest.fixture
async def db(pg: str) -> AsyncIterator[Database]:
    database = Database(pg)
    yield database
    await database.dispose()


async def _arrive(store: Store, event_id: str, chat: str = CHAT) -> bool:
    arrival = await store.people.arrival(
        platform=Platform.TELEGRAM,
        workspace="",
        external_id=chat,
        chat=chat,
        event_id=event_id,
        follow_ups=[],
        now=START,
    )
    return arrival.fresh


async def _scalar(session: AsyncSession, sql: str, **params: object) -> object:
    result = await session.exec(text(sql), params=params)  # type: ignore[call-overload]
    return result.scalar_one()


async def _people_named(db: Database, name: str) -> object:
    async with db.session() as session:
        return await _scalar(session, "SELECT count(*) FROM person WHERE display_name = :n", n=name)


async def test_what_the_orm_writes_after_the_turn_is_committed_with_the_event(
    db: Database,
) -> None:
    async with db.event_session() as session:
        store = Store(session)
        assert await _arrive(store, "tg:1")
        await store.people.add("Maria Ortiz", "en")

    assert await _people_named(db, "Maria Ortiz") == 1
    async with db.event_session() as session:
        assert not await _arrive(Store(session), "tg:1")


async def test_a_change_left_unflushed_when_the_event_ends_is_saved(db: Database) -> None:
    async with db.session() as session:
        person = await Store(session).people.add("Maria Ortiz", "en")
        person_id = person.id
    assert person_id is not None

    async with db.event_session() as session:
        store = Store(session)
        assert await _arrive(store, "tg:1")
        found = await store.people.get(person_id)
        assert found is not None
        found.display_name = "Maria Ortiz-Lee"  # not flushed: the commit must write it

    assert await _people_named(db, "Maria Ortiz-Lee") == 1


async def test_a_failed_event_undoes_its_writes_and_its_dedupe_row(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.event_session() as session:
            store = Store(session)
            assert await _arrive(store, "tg:1")
            await store.people.add("Maria Ortiz", "en")
            raise RuntimeError("the handler failed")

    assert await _people_named(db, "Maria Ortiz") == 0
    async with db.event_session() as session:
        assert await _arrive(Store(session), "tg:1")


async def test_a_failing_statement_after_the_turn_leaves_the_connection_clean(
    db: Database,
) -> None:
    with pytest.raises(Exception, match="division by zero"):
        async with db.event_session() as session:
            assert await _arrive(Store(session), "tg:1")
            await _scalar(session, "SELECT 1 / 0")

    # The pooled connection's transaction was rolled back: the next event begins afresh.
    async with db.event_session() as session:
        assert await _arrive(Store(session), "tg:1")


async def test_the_chats_turn_is_held_until_the_event_commits(db: Database) -> None:
    key = chat_key(Platform.TELEGRAM, "", CHAT)

    async def turn_is_free() -> bool:
        async with db.session() as other:
            return bool(await _scalar(other, "SELECT pg_try_advisory_xact_lock(:key)", key=key))

    async with db.event_session() as session:
        assert await _arrive(Store(session), "tg:1")
        assert not await turn_is_free()
    assert await turn_is_free()


async def test_more_events_at_once_than_the_pool_keeps_all_commit(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the pool's size, a connection handed back is closed (I/O on a greenlet): the
    commit's bookkeeping then runs on one, and each connection closes cleanly."""
    pool_size = db.engine.sync_engine.pool.size()  # type: ignore[attr-defined]
    everyone_in = asyncio.Barrier(pool_size + 4)

    async def event(number: int) -> None:
        async with db.event_session() as session:
            assert await _arrive(Store(session), f"tg:{number}", chat=str(number))
            await everyone_in.wait()

    await asyncio.gather(*(event(number) for number in range(pool_size + 4)))

    async with db.session() as session:
        assert await _scalar(session, "SELECT count(*) FROM seenevent") == pool_size + 4
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_an_events_session_is_freed_as_it_ends_not_left_to_the_garbage_collector(
    db: Database,
) -> None:
    """No reference cycle through the session: a cycle per event makes the collector run
    more often, over every event's objects, a good part of a note's CPU."""
    gc.disable()
    try:
        async with db.event_session() as session:
            assert await _arrive(Store(session), "tg:1")
            freed = weakref.ref(session.sync_session)
        del session
        assert freed() is None
    finally:
        gc.enable()
