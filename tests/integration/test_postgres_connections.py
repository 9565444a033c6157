"""PostgreSQL connections that the server drops: replaced before use if they sat idle, and an
event caught on one that just died is handled once more, whole and once.

The pool pings only connections that were idle (storage.db.ping_when_idle); the pool's clock is
injected, the server really drops the connection (pg_terminate_backend).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import func, select

from adapters.bootstrap import build_router
from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.events import Chat, IncomingMessage, Sender
from bot.i18n import translate
from storage.db import PING_AFTER_IDLE_SECONDS, Database
from storage.models import Platform, SeenEvent
from tests.conftest import FakeClock

pytestmark = pytest.mark.postgres


class Ticks:
    """The pool's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def server(pg: str) -> AsyncIterator[Database]:
    """A connection of our own to the server, to drop the others' connections with."""
    database = Database(pg)
    yield database
    await database.dispose()


async def backend(db: Database) -> int:
    """The server process behind the connection a session gets (the pool has only one)."""
    async with db.session() as session:
        return int((await session.exec(text("SELECT pg_backend_pid()"))).scalar_one())


async def drop(server: Database, pid: int) -> None:
    async with server.session() as session:
        await session.exec(text("SELECT pg_terminate_backend(:pid)"), params={"pid": pid})


async def test_a_connection_dropped_while_idle_is_replaced_before_use(
    pg: str, server: Database
) -> None:
    ticks = Ticks()
    db = Database(pg, idle_clock=ticks)
    try:
        first = await backend(db)
        await drop(server, first)
        ticks.now += PING_AFTER_IDLE_SECONDS

        second = await backend(db)
    finally:
        await db.dispose()

    assert second != first


async def test_a_connection_back_moments_ago_is_not_pinged(pg: str, server: Database) -> None:
    ticks = Ticks()
    db = Database(pg, idle_clock=ticks)
    try:
        first = await backend(db)
        await drop(server, first)

        with pytest.raises(DBAPIError) as failed:
            await backend(db)  # no ping: the dead connection is found by the work itself
        second = await backend(db)
    finally:
        await db.dispose()

    assert failed.value.connection_invalidated
    assert second != first


async def test_an_event_caught_on_a_dropped_connection_is_handled_once_more(
    pg: str, server: Database
) -> None:
    ticks = Ticks()
    db = Database(pg, idle_clock=ticks)
    dispatcher = Dispatcher(db, Settings(), FakeClock(), build_router())
    stranger = Sender(Platform.TELEGRAM, "", "4242", display_name="Pat")
    message = IncomingMessage(stranger, Chat("4242"), "hello", "tg:77")
    try:
        await drop(server, await backend(db))

        replies = await dispatcher.dispatch(message)
        again = await dispatcher.dispatch(message)  # Telegram giving the same update again
        async with db.session() as session:
            seen = (await session.exec(select(func.count()).select_from(SeenEvent))).one()
    finally:
        await db.dispose()

    assert [reply.text for reply in replies] == [translate("en", "onboarding.stranger")]
    assert again == []
    assert seen == 1
