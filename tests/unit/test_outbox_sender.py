"""The outbox sender against a fake platform: on time, within the limits, through failures.

Time is a FakeClock driven by VirtualTime: nothing here really sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from adapters.cli import app
from bot.config import SenderConfig, Settings
from bot.events import Reply
from bot.i18n import translate
from bot.jobs import run_checkin
from bot.outbox import Letter, PermanentError, RateLimited, TransientError, enqueue
from bot.ratelimit import WINDOW_SECONDS, PlatformLimits, RateLimiter, Window
from bot.sender import BACKOFF_BASE_SECONDS, OutboxSender
from storage.db import Database
from storage.models import Account, EntryKind, OutboxStatus, Platform
from storage.stores import Store
from tests.conftest import FakeClock
from tests.outbox_fakes import (
    FAST,
    LIMITS,
    Crash,
    FakePlatform,
    Household,
    VirtualTime,
    blocked,
    sender,
)

SECOND = timedelta(seconds=1)


def chats(n: int, prefix: str = "c") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


# --- on time, once -------------------------------------------------------------------------


async def test_due_letters_are_delivered_once(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    people = await home.people(chats(3))
    await home.letters(people)
    outbox = sender(db, platform, clock, time)

    first = await outbox.drain()
    second = await outbox.drain()

    assert (first.sent, second.sent) == (3, 0)
    assert sorted(platform.texts()) == sorted(row.payload["text"] for row in await home.outbox())
    rows = await home.outbox()
    assert {row.status for row in rows} == {OutboxStatus.SENT}
    delivered_at = {d.text: d.at for d in platform.deliveries}
    assert all(row.sent_at == delivered_at[row.payload["text"]] for row in rows)
    assert all(row.sent_ref for row in rows)
    assert {row.claimed_by for row in rows} == {"worker-1"}


async def test_a_letter_due_at_seven_is_not_sent_at_six_fifty_nine(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    seven = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # 07:00 in Chicago
    [parent] = await home.people(["dana"])
    await home.letters([parent], not_before=seven)
    outbox = sender(db, platform, clock, time)

    clock.set(seven - timedelta(minutes=1))
    early = await outbox.drain()
    clock.set(seven)
    on_time = await outbox.drain()

    assert (early.sent, on_time.sent) == (0, 1)
    assert [d.at for d in platform.deliveries] == [seven]


async def test_a_429_is_waited_out_without_spending_attempts(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [parent] = await home.people(["dana"])
    await home.letters([parent])
    platform.failures["dana"] = [RateLimited(5), RateLimited(5), RateLimited(5)]
    outbox = sender(db, platform, clock, time)
    start = clock.now()

    for _ in range(3):
        assert (await outbox.drain()).retried == 1
        [row] = await home.outbox()
        assert row.not_before == clock.now() + 5 * SECOND
        assert not await outbox.drain()  # nothing due yet
        clock.advance(seconds=5)
    delivered = await outbox.drain()

    [row] = await home.outbox()
    assert delivered.sent == 1
    assert platform.attempts["dana"] == 4  # no storm: one try per retry-after
    assert row.attempts == 0 and row.status == OutboxStatus.SENT
    assert platform.deliveries[0].at == start + 15 * SECOND


async def test_timeouts_are_retried_with_growing_backoff_then_delivered(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [parent] = await home.people(["dana"])
    await home.letters([parent])
    platform.failures["dana"] = [TimeoutError(), TransientError("502")]
    outbox = sender(db, platform, clock, time, jitter=0.5)  # the delay is 3/4 of the backoff
    waits = []

    for _ in range(2):
        tried_at = clock.now()
        assert (await outbox.drain()).retried == 1
        [row] = await home.outbox()
        waits.append((row.not_before - tried_at).total_seconds())
        clock.set(row.not_before)
    delivered = await outbox.drain()

    [row] = await home.outbox()
    assert waits == [BACKOFF_BASE_SECONDS * 0.75, BACKOFF_BASE_SECONDS * 2 * 0.75]
    assert delivered.sent == 1 and row.status == OutboxStatus.SENT
    assert row.attempts == 2
    assert platform.texts() == [row.payload["text"]]


async def test_backoff_jitter_spreads_retries_between_half_and_all_of_the_delay(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    people = await home.people(["a", "b"])
    await home.letters(people)
    platform.failures = {"a": [TransientError()], "b": [TransientError()]}
    jitters = iter([0.0, 0.999])
    outbox = OutboxSender(
        db,
        {Platform.TELEGRAM: platform},
        clock,
        FAST,
        worker="w",
        sleep=time.sleep,
        jitter=lambda: next(jitters),
    )
    start = clock.now()

    await outbox.drain()

    waits = sorted((row.not_before - start).total_seconds() for row in await home.outbox())
    assert waits[0] == pytest.approx(BACKOFF_BASE_SECONDS * 0.5, abs=0.2)
    assert waits[1] == pytest.approx(BACKOFF_BASE_SECONDS * 0.9995, abs=0.2)


# --- giving up -----------------------------------------------------------------------------


async def test_a_letter_that_always_fails_is_dead_after_max_attempts_and_status_shows_it(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [parent] = await home.people(["dana"])
    await home.letters([parent])
    platform.always["dana"] = TransientError("Bearer xoxb-secret Dear Dana, Sam had a good day")
    outbox = sender(db, platform, clock, time, SenderConfig(max_attempts=4, limits=LIMITS))

    dead = 0
    for _ in range(10):
        dead += (await outbox.drain()).dead
        clock.advance(hours=2)

    [row] = await home.outbox()
    assert (row.status, row.attempts, dead) == (OutboxStatus.DEAD, 4, 1)
    assert platform.attempts["dana"] == 4
    assert row.last_error == "TransientError"  # never the message, never a token
    assert (await tandem_status(db))["outbox"] == {"dead": 1}


async def test_a_permanent_error_is_dead_at_once(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [parent] = await home.people(["dana"])
    await home.letters([parent])
    platform.always["dana"] = PermanentError("message is too long")

    report = await sender(db, platform, clock, time).drain()

    [row] = await home.outbox()
    assert report.dead == 1
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, "PermanentError")


async def test_an_unexpected_adapter_error_is_retried_not_fatal(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    people = await home.people(["a", "b"])
    await home.letters(people)
    platform.failures["a"] = [KeyError("result")]

    report = await sender(db, platform, clock, time).drain()

    assert (report.sent, report.retried) == (1, 1)
    assert {row.last_error for row in await home.outbox()} == {None, "KeyError"}


# --- a blocked bot -------------------------------------------------------------------------


async def test_a_blocked_bot_deactivates_the_account_and_tells_each_admin_once(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana] = await home.people(["dana"])
    [friend] = await home.people(["friend"])
    admins = await home.people(["ortiz", "kim"], admin=True)
    for week in range(3):
        await home.letters([dana, friend], prefix=f"week{week}")
    platform.always["dana"] = blocked("dana")
    outbox = sender(db, platform, clock, time)

    report = await outbox.drain()
    again = await outbox.drain()

    assert report.blocked == 3
    assert platform.attempts["dana"] == 1  # no further attempts to that account
    assert len(platform.to("friend")) == 3
    assert not (await home.account(dana)).active
    notice = translate("en", "outbox.blocked", name="Person dana", platform="Telegram")
    assert [d.text for d in platform.to("ortiz")] == [notice]
    assert [d.text for d in platform.to("kim")] == [notice]
    rows = await home.outbox()
    assert sorted(row.status for row in rows if row.person_id == dana) == ["failed"] * 3
    assert {row.last_error for row in rows if row.person_id == dana} == {"RecipientBlocked"}
    assert again.sent == 0 and admins


async def test_a_second_sender_finding_the_same_block_does_not_tell_admins_again(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana] = await home.people(["dana"])
    await home.people(["ortiz"], admin=True)
    await home.letters([dana], prefix="first")
    platform.always["dana"] = blocked("dana")
    await sender(db, platform, clock, time, worker="a").drain()
    # She unblocks and writes (her account is active again), then blocks the bot once more.
    async with db.session() as session:
        account = await home.account(dana)
        await Store(session).people.attach_account(account, dana)
    await home.letters([dana], prefix="second")

    await sender(db, platform, clock, time, worker="b").drain()

    assert len(platform.to("ortiz")) == 1


async def test_an_account_unblocked_later_is_written_to_again_by_the_same_sender(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana] = await home.people(["dana"])
    await home.letters([dana], prefix="before")
    platform.always["dana"] = blocked("dana")
    outbox = sender(db, platform, clock, time)
    await outbox.drain()

    del platform.always["dana"]  # she unblocks the bot and writes to it again
    async with db.session() as session:
        await Store(session).people.attach_account(await home.account(dana), dana)
    await home.letters([dana], prefix="after")
    report = await outbox.drain()

    assert report.sent == 1 and platform.texts() == [f"after:0:{dana}"]


async def test_letters_to_an_account_already_inactive_fail_without_a_try(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana] = await home.people(["dana"])
    await home.letters([dana])
    async with db.session() as session:
        await Store(session).people.deactivate_accounts(
            Platform.TELEGRAM, "dana"
        )  # as the adapter does

    report = await sender(db, platform, clock, time).drain()

    assert report.blocked == 1 and platform.attempts["dana"] == 0


# --- crashes -------------------------------------------------------------------------------


async def test_a_crash_between_deliveries_loses_nothing_and_sends_nothing_twice(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    people = await home.people(chats(500))
    assert await home.letters(people) == 500
    one_at_a_time = SenderConfig(
        claim_seconds=60, concurrency=1, limits={"telegram": PlatformLimits(1000, 1000)}
    )
    platform.crash_at = 251

    with pytest.raises(BaseExceptionGroup) as crashed:
        await sender(db, platform, clock, time, one_at_a_time, worker="before").drain()
    assert crashed.group_contains(Crash)
    assert len(platform.deliveries) == 250
    platform.crash_at = None

    restarted = sender(db, platform, clock, time, one_at_a_time, worker="after")
    unclaimed = await restarted.drain()  # what the crashed sender never claimed goes at once
    clock.advance(seconds=60)  # its claims run out
    reclaimed = await restarted.drain()

    assert unclaimed.sent > 0 and reclaimed.sent > 0
    assert len(platform.deliveries) == 500
    assert platform.duplicates() == 0
    assert {row.status for row in await home.outbox()} == {OutboxStatus.SENT}


async def test_a_crash_mid_fanout_resends_at_most_the_letters_in_flight(
    db: Database, home: Household, clock: FakeClock, time: VirtualTime
) -> None:
    # The process dies right after the platform took letter 250, before marking it: the
    # at-least-once window. With a slow platform 16 deliveries are in flight; those already
    # delivered and not yet marked go out again after the restart: at most `concurrency`.
    platform = FakePlatform(clock, time, latency=0.5, crash_at=250, crash_after_delivery=True)
    people = await home.people(chats(500))
    await home.letters(people)

    with pytest.raises(BaseExceptionGroup):
        await sender(db, platform, clock, time, worker="before").drain()
    delivered_before = len(platform.deliveries)
    platform.crash_at = None
    clock.advance(seconds=FAST.claim_seconds)
    await sender(db, platform, clock, time, worker="after").drain()

    assert delivered_before >= 250 - FAST.concurrency
    assert set(platform.texts()) == {row.payload["text"] for row in await home.outbox()}
    assert len(set(platform.texts())) == 500
    assert 1 <= platform.duplicates() <= FAST.concurrency
    assert {row.status for row in await home.outbox()} == {OutboxStatus.SENT}


async def test_a_long_queue_to_one_chat_keeps_its_claims_and_its_order(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    # 30 letters to one chat at 1/s outlast a 10-second claim: the sender renews its claims
    # while it works, so a second sender polling all along never gets (and resends) one.
    [dana] = await home.people(["dana"])
    async with db.session() as session:
        store = Store(session)
        for n in range(30):
            await enqueue(store, Letter(f"note:{n}", dana, "note", Reply(f"note {n}"), clock.now()))
    short = SenderConfig(claim_seconds=10, limits=LIMITS)
    first = sender(db, platform, clock, time, short, worker="first")
    second = sender(db, platform, clock, time, short, worker="second")

    async def poll() -> int:
        got = 0
        while len(platform.deliveries) < 30:
            got += (await second.drain()).sent
            await time.sleep(1)
        return got

    report, stolen = await asyncio.gather(first.drain(), poll())

    assert (report.sent, stolen, report.released) == (30, 0, 0)
    assert platform.texts() == [f"note {n}" for n in range(30)]  # once each, in order
    gaps = [b.at - a.at for a, b in itertools.pairwise(platform.deliveries)]
    assert min(gaps) >= SECOND


# --- fair across schools -------------------------------------------------------------------

# What one claim takes for a sender with one platform: the first batch it sends.
FIRST_CLAIM = 2 * FAST.concurrency


async def test_one_schools_flood_does_not_hold_up_another_schools_letter(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    flood = await home.people(chats(500, "oak"))
    await home.letters(flood, prefix="summary")
    elm = await Household(db, clock, school_name="Elm Park").setup()
    [dana] = await elm.people(["dana"])
    await elm.letters([dana], prefix="note")
    start = clock.now()
    dana_has_it = asyncio.Event()

    class StopOnceDanaHasIt:
        """The platform, and the test's end once Dana's letter is out (the rest would only be
        Oak Hill's 17 seconds at 30 letters a second)."""

        async def deliver(self, account: Account, reply: Reply) -> str:
            ref = await platform.deliver(account, reply)
            if account.dm_chat_id == "dana":
                dana_has_it.set()
            return ref

    await sender(db, StopOnceDanaHasIt(), clock, time).drain(dana_has_it)

    assert platform.texts().index(f"note:0:{dana}") < FIRST_CLAIM
    assert platform.to("dana")[0].at - start < 2 * SECOND


async def test_a_claim_takes_turns_between_schools(
    db: Database, home: Household, clock: FakeClock
) -> None:
    await home.letters(await home.people(chats(20, "oak")))
    elm = await Household(db, clock, school_name="Elm Park").setup()
    await elm.letters(await elm.people(chats(20, "elm")))
    ash = await Household(db, clock, school_name="Ash Grove").setup()
    await ash.letters(await ash.people(["ash"]))

    async with db.session() as session:
        claimed = await Store(session).outbox.claim(
            "w", clock.now(), clock.now() + 60 * SECOND, 7, [Platform.TELEGRAM]
        )

    by_school = Counter(row.school_id for row, _ in claimed)
    assert by_school == {home.school_id: 3, elm.school_id: 3, ash.school_id: 1}


async def test_an_urgent_note_goes_before_the_letters_its_school_queued_earlier(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    await home.letters(await home.people(chats(100)), prefix="summary")
    [dana] = await home.people(["dana"])
    await home.letters([dana], prefix="urgent", kind=EntryKind.URGENT)

    await sender(db, platform, clock, time).drain()

    assert platform.texts().index(f"urgent:0:{dana}") < FIRST_CLAIM


async def test_every_letter_knows_its_school_even_one_about_no_student(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    await home.people(["ortiz"], role="teacher")  # no note this week: a nudge, about no student
    await home.people(["dana"])
    await home.people(["kim"], admin=True)
    await run_checkin(db, Settings(), clock, home.school_id)
    platform.always["dana"] = blocked("dana")  # the admin is told, in a letter of its own

    await sender(db, platform, clock, time).drain()

    rows = await home.outbox()
    assert sorted(row.kind for row in rows) == ["blocked", "checkin", "nudge"]
    assert {row.school_id for row in rows} == {home.school_id}


# --- rate limits ---------------------------------------------------------------------------


async def test_telegram_never_gets_more_than_30_a_second_yet_gets_close_to_it(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    people = await home.people(chats(120))
    await home.letters(people)

    await sender(db, platform, clock, time).drain()

    times = [d.at for d in platform.deliveries]
    elapsed = (max(times) - min(times)).total_seconds()
    assert len(times) == 120
    assert platform.busiest_second() <= 30
    # 120 letters fill four windows: the fourth starts 3 windows after the first.
    assert 3 * WINDOW_SECONDS <= elapsed <= 4.0


async def test_one_telegram_chat_gets_at_most_one_message_a_second(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana] = await home.people(["dana"])
    async with db.session() as session:
        for n in range(5):
            await enqueue(
                Store(session), Letter(f"note:{n}", dana, "note", Reply(f"note {n}"), clock.now())
            )

    await sender(db, platform, clock, time).drain()

    times = [d.at for d in platform.to("dana")]
    assert len(times) == 5
    assert all(b - a >= SECOND for a, b in itertools.pairwise(times))
    assert times[-1] - times[0] < 5 * SECOND


async def test_chats_interleave_and_slack_channels_have_their_own_limit(
    db: Database, home: Household, clock: FakeClock, time: VirtualTime
) -> None:
    telegram = FakePlatform(clock, time)
    slack = FakePlatform(clock, time)
    tg = await home.people(["t1", "t2"])
    sl = await home.people(["s1"], Platform.SLACK)
    async with db.session() as session:
        for n in range(4):
            for person in [*tg, *sl]:
                await enqueue(
                    Store(session),
                    Letter(f"n:{n}:{person}", person, "note", Reply(f"{person}:{n}"), clock.now()),
                )
    outbox = sender(
        db, telegram, clock, time, transports={Platform.TELEGRAM: telegram, Platform.SLACK: slack}
    )
    start = clock.now()

    await outbox.drain()

    assert len(telegram.deliveries) == 8 and len(slack.deliveries) == 4
    slack_times = [d.at for d in slack.deliveries]
    assert all(b - a >= SECOND for a, b in itertools.pairwise(slack_times))
    # Three chats at 1/s in parallel: about 3 seconds, not the 11 of one after another.
    assert clock.now() - start < 4 * SECOND


async def test_a_429_holds_that_chat_but_not_the_others(
    clock: FakeClock, time: VirtualTime
) -> None:
    limiter = RateLimiter({"telegram": PlatformLimits(30, 1)}, clock, time.sleep)
    start = clock.now()

    limiter.back_off("telegram", "dana", 5)
    await limiter.acquire("telegram", "lee")
    lee = clock.now()
    await limiter.acquire("telegram", "dana")

    assert lee == start
    assert clock.now() == start + 5 * SECOND


async def test_429s_from_many_chats_at_once_hold_the_whole_platform(
    clock: FakeClock, time: VirtualTime
) -> None:
    limiter = RateLimiter({"telegram": PlatformLimits(30, 1)}, clock, time.sleep)
    start = clock.now()

    for chat in chats(10):
        limiter.back_off("telegram", chat, 2)
    await limiter.acquire("telegram", "someone-else")

    assert clock.now() == start + 2 * SECOND


def test_a_window_counts_actual_send_times() -> None:
    window = Window(3, period=1.0)

    for at in (0.0, 0.3, 0.6):
        assert window.wait(at) == 0.0
        window.take(at)

    assert window.wait(0.6) == pytest.approx(0.4)  # the oldest leaves the window at 1.0
    assert window.wait(1.0) == 0.0


# --- the long-running loop ----------------------------------------------------------------


async def test_run_sends_letters_as_they_fall_due_until_stopped(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    people = await home.people(["now", "later"])
    await home.letters(people[:1])
    await home.letters(people[1:], not_before=clock.now() + timedelta(minutes=3))
    outbox = sender(db, platform, clock, time)
    stop = asyncio.Event()
    start = clock.now()

    running = asyncio.create_task(outbox.run(stop))
    await until(lambda: len(platform.deliveries) == 2)
    stop.set()
    await asyncio.wait_for(running, timeout=10)

    assert [d.chat for d in platform.deliveries] == ["now", "later"]
    assert platform.deliveries[1].at - start == timedelta(minutes=3)


async def test_a_poke_wakes_the_sender_for_a_new_letter(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana] = await home.people(["dana"])
    outbox = sender(db, platform, clock, time)
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop))
    await asyncio.sleep(0.05)  # real time: it goes idle on the empty queue, napping
    await home.letters([dana])

    outbox.poke()
    poked_at = clock.now()
    await until(lambda: bool(platform.deliveries))
    stop.set()
    await asyncio.wait_for(running, timeout=10)

    assert platform.deliveries[0].at == poked_at  # not at the end of the nap


async def test_stopping_hands_back_letters_waiting_out_a_429_at_once(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana] = await home.people(["dana"])
    async with db.session() as session:
        for n in range(3):
            await enqueue(
                Store(session), Letter(f"note:{n}", dana, "note", Reply(f"note {n}"), clock.now())
            )
    platform.failures["dana"] = [RateLimited(600)]
    outbox = sender(db, platform, clock, time)
    stop = asyncio.Event()
    start = clock.now()

    running = asyncio.create_task(outbox.run(stop))
    await until(lambda: platform.attempts["dana"] == 1)
    stop.set()
    await asyncio.wait_for(running, timeout=10)

    assert clock.now() - start < timedelta(seconds=60)  # it did not sit out the 429
    rows = await home.outbox()
    assert [row.status for row in rows] == ["pending"] * 3
    assert [row.claimed_by for row in rows] == [None] * 3  # free for another replica now


async def test_letters_for_a_platform_this_sender_does_not_serve_stay_queued(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [slack_person] = await home.people(["s1"], Platform.SLACK)
    await home.letters([slack_person])

    report = await sender(db, platform, clock, time).drain()

    [row] = await home.outbox()
    assert not report and row.status == OutboxStatus.PENDING and row.claimed_by is None


# --- helpers -------------------------------------------------------------------------------


async def until(condition: Callable[[], bool]) -> None:
    """Wait, in real time and briefly, for what a background task does."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("it never happened")


async def tandem_status(db: Database) -> dict[str, object]:
    """`tandem status --json` against this database, as an admin would run it."""

    def run() -> dict[str, object]:
        result = CliRunner().invoke(app, ["status", "--json"], env={"TANDEM_DATABASE_URL": db.url})
        assert result.exit_code == 0, result.output
        status: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
        return status

    return await asyncio.to_thread(run)
