"""Replicas sharing one PostgreSQL: three senders and two schedulers, each message once.

Each worker has its own engine (its own connections), as separate `tandem run` processes would.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.config import SenderConfig, Settings
from bot.events import Reply
from bot.jobs import run_summary
from bot.outbox import Letter, enqueue
from storage.db import Database
from storage.models import OutboxStatus, Platform
from storage.stores import Store
from tests.conftest import FakeClock
from tests.outbox_fakes import LIMITS, FakePlatform, Household, VirtualTime, sender

pytestmark = pytest.mark.postgres

LETTERS = 300
# Small pools: three senders and the test share one server with other suites.
SETTINGS = SenderConfig(concurrency=8, limits=LIMITS)


@pytest.fixture
async def engines(pg: str) -> AsyncIterator[list[Database]]:
    """Three databases on the same server: one per replica."""
    databases = [Database(pg) for _ in range(3)]
    yield databases
    for database in databases:
        await database.dispose()


async def test_three_senders_deliver_each_letter_exactly_once(engines: list[Database]) -> None:
    clock = FakeClock()
    time = VirtualTime(clock)
    for database in engines:
        time.watch(database)
    home = await Household(engines[0], clock).setup()
    people = await home.people([f"c{i}" for i in range(LETTERS)])
    assert await home.letters(people) == LETTERS
    platform = FakePlatform(clock, time, latency=0.05)
    senders = [
        sender(database, platform, clock, time, SETTINGS, worker=f"replica-{n}")
        for n, database in enumerate(engines)
    ]

    reports = await asyncio.gather(*(outbox.drain() for outbox in senders))

    delivered = Counter(platform.texts())
    assert len(delivered) == LETTERS
    assert max(delivered.values()) == 1
    assert sum(report.sent for report in reports) == LETTERS
    assert all(report.sent > 0 for report in reports), "every replica took a share"
    rows = await home.outbox()
    assert {row.status for row in rows} == {OutboxStatus.SENT}
    assert Counter(row.claimed_by for row in rows) == Counter(
        {f"replica-{n}": report.sent for n, report in enumerate(reports)}
    )


async def test_two_claims_at_once_take_different_letters_each_taking_turns_between_schools(
    engines: list[Database],
) -> None:
    """The first claim's transaction is still open (its rows locked) when the second claims:
    the second skips them and takes the next in turn, and the small school is in the first."""
    clock = FakeClock()
    oak = await Household(engines[0], clock).setup()
    await oak.letters(await oak.people([f"oak{i}" for i in range(50)]))
    elm = await Household(engines[0], clock, school_name="Elm Park").setup()
    await elm.letters(await elm.people(["dana"]))
    now, until = clock.now(), clock.now() + timedelta(seconds=60)

    async with engines[1].session() as first, engines[2].session() as second:
        taken = await Store(first).outbox.claim("a", now, until, 10, [Platform.TELEGRAM])
        skipped_to = await Store(second).outbox.claim("b", now, until, 10, [Platform.TELEGRAM])

    ids = [{row.id for row, _ in claim} for claim in (taken, skipped_to)]
    assert len(ids[0]) == len(ids[1]) == 10
    assert not ids[0] & ids[1]
    assert elm.school_id in {row.school_id for row, _ in taken}


async def test_two_schedulers_firing_the_same_job_enqueue_once(engines: list[Database]) -> None:
    clock = FakeClock()
    home = await Household(engines[0], clock).setup()
    people = await home.people([f"p{i}" for i in range(LETTERS)])

    async def fire(database: Database) -> int:
        """One scheduler's run of the check-in job: one transaction, insert-or-ignore."""
        queued = 0
        async with database.session() as session:
            store = Store(session)
            for person in people:
                letter = Letter(
                    f"checkin:1:{person}:2026-W48",
                    person,
                    "checkin",
                    Reply("How was Sam's week at home?"),
                    clock.now(),
                )
                queued += await enqueue(store, letter)
        return queued

    first, second = await asyncio.gather(fire(engines[0]), fire(engines[1]))

    assert first + second == LETTERS
    assert len(await home.outbox()) == LETTERS


async def test_replicas_firing_the_same_job_while_sending_deliver_each_letter_once(
    engines: list[Database],
) -> None:
    """Two schedulers queue the same check-ins while three senders run: each goes out once."""
    clock = FakeClock()
    time = VirtualTime(clock)
    for database in engines:
        time.watch(database)
    home = await Household(engines[0], clock).setup()
    people = await home.people([f"q{i}" for i in range(LETTERS)])
    platform = FakePlatform(clock, time, latency=0.05)
    senders = [
        sender(database, platform, clock, time, SETTINGS, worker=f"replica-{n}")
        for n, database in enumerate(engines)
    ]
    stop = asyncio.Event()
    running = [asyncio.create_task(outbox.run(stop)) for outbox in senders]

    async def fire(database: Database) -> None:
        async with database.session() as session:
            store = Store(session)
            for person in people:
                letter = Letter(
                    f"checkin:1:{person}:2026-W48",
                    person,
                    "checkin",
                    Reply(f"{person}"),
                    clock.now(),
                )
                await enqueue(store, letter)

    await asyncio.gather(fire(engines[1]), fire(engines[2]))
    for outbox in senders:
        outbox.poke()
    for _ in range(1500):
        if len(platform.deliveries) >= LETTERS:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*running), timeout=30)

    delivered = Counter(platform.texts())
    assert len(delivered) == LETTERS
    assert max(delivered.values()) == 1
    assert {row.status for row in await home.outbox()} == {OutboxStatus.SENT}


async def test_two_schedulers_firing_the_summary_job_at_once_queue_each_summary_once(
    engines: list[Database],
) -> None:
    """Both jobs stage their letters (COPY into their own temporary tables) and insert them
    with ON CONFLICT DO NOTHING: whichever commits second adds nothing."""
    clock = FakeClock()
    home = await Household(engines[0], clock).setup()
    await home.people([f"s{i}" for i in range(LETTERS)])

    first, second = await asyncio.gather(
        *(run_summary(database, Settings(), clock, home.school_id) for database in engines[:2])
    )

    assert first.queued + second.queued == LETTERS
    summaries = [row for row in await home.outbox() if row.kind == "summary"]
    assert len(summaries) == len({row.dedupe_key for row in summaries}) == LETTERS
