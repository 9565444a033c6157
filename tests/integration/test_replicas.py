"""Several `tandem run` replicas on one PostgreSQL behave as one bot: a chat's updates are
handled in order whichever replica gets them, one replica at a time sends for a platform (and
another takes over when its session ends), and a weekly job fired in every replica is composed
once.

Each replica has its own engine (its own connections), as separate processes would; the
Telegram replicas run the real python-telegram-bot webhook path against the spec-checking fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event, text
from sqlmodel import func, select

from adapters.bootstrap import build_router
from adapters.telegram import TelegramAdapter
from adapters.telegram_config import TelegramConfig
from bot import invites, roster
from bot.config import SenderConfig, Settings
from bot.dispatch import Dispatcher
from bot.i18n import translate
from bot.jobs import RAN_ELSEWHERE, run_checkin
from bot.sender import OutboxSender
from storage.db import Database
from storage.locks import Lease, chat_key, take_turn
from storage.models import Entry, JobRun, Outbox, Platform, Role
from storage.stores import Store
from storage.stores.outbox import ANALYZE_AFTER_ROWS
from tests.adapters.conftest import SPECS_DIR
from tests.adapters.fake_telegram import JSON, BotApiSpec, FakeTelegram, TgUser
from tests.conftest import FakeClock, welcome
from tests.outbox_fakes import LIMITS, FakePlatform, Household, VirtualTime

pytestmark = [
    pytest.mark.postgres,
    # PTB's own RetryAfter reads its deprecated int `retry_after`; not ours to fix.
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

SECRET = "tandem-webhook_Secret-42"
HOOK_URL = "https://tandem.invalid/telegram/hook"
TEACHER = TgUser(5001, "Maria", "Ortiz")
# Waits on the database's own state (who waits for a lock) give up after this long.
WAIT_SECONDS = 10.0


def t(key: str, **values: object) -> str:
    return translate("en", key, **values)


@pytest.fixture
async def engines(pg: str) -> AsyncIterator[list[Database]]:
    """Three databases on the same server: one per replica."""
    databases = [Database(pg) for _ in range(3)]
    yield databases
    # A test that failed before its senders closed leaves their leases held, and the next
    # test's replica standing by: end them (disposing an engine leaves checked-out sessions).
    await end_lease_sessions(databases[0])
    for database in databases:
        await database.dispose()


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Ask the database until `check` holds; fail after WAIT_SECONDS (no sleeping: each ask
    is a round trip)."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while not await check():
                continue  # each check is a round trip to the server
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


# This database's advisory locks, in pg_locks.
ADVISORY_HERE = (
    "locktype = 'advisory'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


async def advisory_locks(db: Database, *, granted: bool) -> int:
    """Advisory locks of this database held (`granted`), or waited for."""
    async with db.session() as session:
        statement = text(
            f"SELECT count(*) FROM pg_locks WHERE {ADVISORY_HERE} AND granted = :granted"
        )
        found = await session.exec(statement, params={"granted": granted})  # type: ignore[call-overload]
        return int(found.one()[0])


async def advisory_waiters(db: Database) -> int:
    """Transactions of this database waiting for an advisory lock."""
    return await advisory_locks(db, granted=False)


# --- per-chat order -------------------------------------------------------------------------


@dataclass
class Replica:
    """One replica's Telegram adapter, taking webhook posts."""

    adapter: TelegramAdapter
    db: Database

    async def post(self, update: JSON) -> None:
        host, port = self.adapter.webhook_addresses[0][:2]
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://{host}:{port}/telegram/hook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as response,
        ):
            assert response.status == 200

    async def handled(self) -> None:
        await self.adapter.application.update_queue.join()


@pytest.fixture
async def webhooks(
    engines: list[Database],
) -> AsyncIterator[tuple[FakeTelegram, list[Replica], FakeClock]]:
    """Two replicas behind one webhook URL, a school, and a teacher joined through the first."""
    clock, settings = FakeClock(), Settings()
    async with engines[0].session() as session:
        store = Store(session)
        school = await roster.ensure_school(store, "Maple Elementary", "America/Chicago", "en")
        sam = await roster.add_student(store, school, "Sam Rivera")
        code = (
            await invites.create_invite(
                store, settings, clock.now(), school, sam, Role.TEACHER, None
            )
        ).code
    fake = FakeTelegram(BotApiSpec.load(SPECS_DIR / "telegram-bot-api.json"))
    await fake.start()
    replicas = []
    for db in engines[:2]:
        config = TelegramConfig(
            enabled=True,
            token=fake.token,
            mode="webhook",
            base_url=fake.base_url,
            webhook_url=HOOK_URL,
            webhook_listen=("127.0.0.1", 0),
            webhook_secret=SECRET,
        )
        dispatcher = Dispatcher(db, settings, clock, build_router())
        adapter = TelegramAdapter(config, dispatcher, db)
        await adapter.start()
        replicas.append(Replica(adapter, db))
    try:
        await replicas[0].post(fake.message(TEACHER, f"/start {code}"))
        await replicas[0].handled()
        assert [m["text"] for m in fake.sent(TEACHER.id)] == [
            welcome("onboarding.welcome_teacher", name="Maria Ortiz", student="Sam Rivera")
        ]
        yield fake, replicas, clock
    finally:
        for replica in replicas:
            await replica.adapter.stop()
        await fake.stop()
    assert not fake.violations, fake.violations


async def test_a_note_and_its_undo_sent_to_two_replicas_at_once_are_handled_in_order(
    webhooks: tuple[FakeTelegram, list[Replica], FakeClock], engines: list[Database]
) -> None:
    fake, (first, second), _ = webhooks
    mark = len(fake.calls)
    # The chat is busy (an earlier update still being handled somewhere): both updates queue.
    async with engines[2].session() as busy:
        await take_turn(busy, chat_key(Platform.TELEGRAM, "", str(TEACHER.id)))
        await first.post(fake.message(TEACHER, "+ Sam read a whole page aloud"))
        await until(lambda: _waiting(engines[2], 1), "the note to wait for the chat")
        await second.post(fake.message(TEACHER, "/undo"))
        await until(lambda: _waiting(engines[2], 2), "the undo to wait behind the note")
    await first.handled()
    await second.handled()

    logged, undone = [m["text"] for m in fake.sent(TEACHER.id, since=mark)]
    assert logged.startswith(t("entry.logged_win", student="Sam Rivera"))
    assert undone.startswith("Removed your win for Sam Rivera")
    async with engines[0].session() as session:
        assert (await session.exec(select(Entry))).all() == []


async def test_a_note_right_after_a_join_through_the_other_replica_sees_the_join(
    webhooks: tuple[FakeTelegram, list[Replica], FakeClock], engines: list[Database]
) -> None:
    """The turn is taken in the statement that writes the dedupe row, and what the event reads
    (who wrote, their students) in later ones: a read in that statement would see the database
    as it was before the wait, without the join the other replica just committed."""
    fake, (first, second), clock = webhooks
    newcomer = TgUser(5002, "Ana", "Lopez")
    async with engines[0].session() as session:
        store = Store(session)
        school = await store.students.school_named("Maple Elementary")
        assert school is not None
        leo = await roster.add_student(store, school, "Leo Chen")
        code = (
            await invites.create_invite(
                store, Settings(), clock.now(), school, leo, Role.TEACHER, None
            )
        ).code
    async with engines[2].session() as busy:
        await take_turn(busy, chat_key(Platform.TELEGRAM, "", str(newcomer.id)))
        await first.post(fake.message(newcomer, f"/start {code}"))
        await until(lambda: _waiting(engines[2], 1), "the join to wait for the chat")
        await second.post(fake.message(newcomer, "+ Leo read a whole page aloud"))
        await until(lambda: _waiting(engines[2], 2), "the note to wait behind the join")
    await first.handled()
    await second.handled()

    joined, logged = [m["text"] for m in fake.sent(newcomer.id)]
    assert joined == welcome("onboarding.welcome_teacher", name="Ana Lopez", student="Leo Chen")
    assert logged.startswith(t("entry.logged_win", student="Leo Chen"))


async def _waiting(db: Database, count: int) -> bool:
    return await advisory_waiters(db) >= count


async def test_an_update_telegram_retries_through_the_other_replica_is_handled_once(
    webhooks: tuple[FakeTelegram, list[Replica], FakeClock], engines: list[Database]
) -> None:
    fake, (first, second), _ = webhooks
    mark = len(fake.calls)
    update = fake.message(TEACHER, "+ Sam read a whole page aloud")
    async with engines[2].session() as busy:
        await take_turn(busy, chat_key(Platform.TELEGRAM, "", str(TEACHER.id)))
        await first.post(update)
        await second.post(update)  # Telegram gave up waiting on the first and sent it again
        await until(lambda: _waiting(engines[2], 2), "both copies to wait for the chat")
    await first.handled()
    await second.handled()

    [logged] = fake.sent(TEACHER.id, since=mark)
    assert logged["text"].startswith(t("entry.logged_win", student="Sam Rivera"))
    async with engines[0].session() as session:
        assert (await session.exec(select(func.count()).select_from(Entry))).one() == 1


# --- one sender per platform ----------------------------------------------------------------

SENDING = SenderConfig(concurrency=4, limits=LIMITS)


def replica_sender(db: Database, platform: FakePlatform, time: VirtualTime, name: str) -> Any:
    return OutboxSender(
        db,
        {Platform.TELEGRAM: platform},
        platform.clock,
        SENDING,
        worker=name,
        sleep=time.sleep,
        leases={Platform.TELEGRAM: Lease(db, f"send:{Platform.TELEGRAM}")},
    )


async def end_lease_sessions(db: Database) -> int:
    """End the sessions holding an advisory lock here, as a replica's crash would, and wait
    until their locks are gone: pg_terminate_backend only signals a session, which lets go of
    its locks as it exits (a standby asking before then would find the lease still held)."""
    async with db.session() as session:
        statement = text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
            f" WHERE {ADVISORY_HERE} AND granted AND pid <> pg_backend_pid()"
        )
        ended = int((await session.exec(statement)).one()[0])  # type: ignore[call-overload]

    async def gone() -> bool:
        return await advisory_locks(db, granted=True) == 0

    await until(gone, "the ended sessions' advisory locks to go")
    return ended


async def test_one_replica_sends_and_another_takes_over_when_its_session_ends(
    engines: list[Database],
) -> None:
    clock = FakeClock()
    time = VirtualTime(clock)
    home = await Household(engines[0], clock).setup()
    people = await home.people([f"c{i}" for i in range(12)])
    platform = FakePlatform(clock, time)
    first, second = (
        replica_sender(db, platform, time, f"replica-{n}") for n, db in enumerate(engines[:2])
    )
    await home.letters(people[:6], prefix="before")

    sent_first = (await first.drain()).sent
    sent_by_standby = (await second.drain()).sent
    await home.letters(people[6:], prefix="after")
    assert await end_lease_sessions(engines[2]) == 1  # the first replica's session ends
    sent_after = (await second.drain()).sent
    sent_by_old = (await first.drain()).sent  # it finds its lease gone, and the other's held

    assert (sent_first, sent_by_standby, sent_after, sent_by_old) == (6, 0, 6, 0)
    assert len(platform.deliveries) == 12 and platform.duplicates() == 0
    rows = await home.outbox()
    assert [row.claimed_by for row in rows] == ["replica-0"] * 6 + ["replica-1"] * 6
    await first.close()
    await second.close()


async def test_a_replica_that_stops_hands_sending_over_at_once(engines: list[Database]) -> None:
    clock = FakeClock()
    time = VirtualTime(clock)
    home = await Household(engines[0], clock).setup()
    people = await home.people(["dana", "lee"])
    platform = FakePlatform(clock, time)
    first, second = (
        replica_sender(db, platform, time, f"replica-{n}") for n, db in enumerate(engines[:2])
    )
    await home.letters(people[:1], prefix="before")
    assert (await first.drain()).sent == 1
    await home.letters(people[1:], prefix="after")
    assert (await second.drain()).sent == 0  # standing by

    await first.close()  # `tandem run` stopping (SIGTERM) gives the lease up

    assert (await second.drain()).sent == 1
    await second.close()


# --- one run per job occurrence ---------------------------------------------------------------


def count_statements(db: Database) -> list[str]:
    """Every statement this replica's engine runs, from now on."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    return seen


async def test_the_weekly_check_in_fired_in_three_replicas_is_composed_once(
    engines: list[Database],
) -> None:
    clock = FakeClock()
    home = await Household(engines[0], clock).setup()
    parents = 40
    await home.people([f"p{i}" for i in range(parents)])
    statements = [count_statements(db) for db in engines]

    reports = await asyncio.gather(
        *(
            run_checkin(db, Settings(), clock, home.school_id, once=f"replica-{n}")
            for n, db in enumerate(engines)
        )
    )

    composed = [report for report in reports if not report.skipped]
    assert [report.queued for report in composed] == [parents]
    assert sorted(report.skipped for report in reports) == ["", RAN_ELSEWHERE, RAN_ELSEWHERE]
    async with engines[0].session() as session:
        assert (await session.exec(select(func.count()).select_from(Outbox))).one() == parents
        [run] = (await session.exec(select(JobRun))).all()
    assert (run.job, run.occurrence) == ("checkin", "2026-W48")
    ran = int(run.worker.removeprefix("replica-"))
    # The others read the school, tried the claim and read who has it: nothing composed.
    others = [len(seen) for n, seen in enumerate(statements) if n != ran]
    assert all(count <= 6 for count in others), others  # BEGIN/COMMIT included
    assert len(statements[ran]) > 2 * max(others)


async def test_a_big_job_leaves_the_planner_knowing_the_letters_it_queued(
    engines: list[Database],
) -> None:
    """Else the sender's first claims after it are planned for an empty table: 3.6 s each
    with 5,000 letters due (bench/replicas.py, on a server without autovacuum)."""
    clock = FakeClock()
    home = await Household(engines[0], clock).setup()
    await home.people([f"p{i}" for i in range(ANALYZE_AFTER_ROWS)])

    report = await run_checkin(engines[0], Settings(), clock, home.school_id, once="replica-0")

    assert report.queued == ANALYZE_AFTER_ROWS
    async with engines[1].session() as session:
        statement = text("SELECT reltuples FROM pg_class WHERE relname = 'outbox'")
        [estimate] = (await session.exec(statement)).one()  # type: ignore[call-overload]
    assert estimate >= ANALYZE_AFTER_ROWS
