"""A scheduled job's occurrence is composed once: a second firing (a restart's late one, or
another replica's) finds it ran and composes nothing. Several replicas at once:
tests/integration/test_replicas.py."""

from __future__ import annotations

from sqlmodel import col, select

from bot.config import Settings
from bot.jobs import RAN_ELSEWHERE, run_checkin, run_purge
from storage.db import Database
from storage.models import JobRun
from tests.conftest import FakeClock
from tests.outbox_fakes import Household


async def test_a_job_fired_again_for_the_same_week_is_not_composed_again(db: Database) -> None:
    clock = FakeClock()
    home = await Household(db, clock).setup()
    await home.people(["dana", "lee"])

    first = await run_checkin(db, Settings(), clock, home.school_id, once="host:1")
    clock.advance(hours=2)
    again = await run_checkin(db, Settings(), clock, home.school_id, once="host:2")
    clock.advance(days=7)
    next_week = await run_checkin(db, Settings(), clock, home.school_id, once="host:2")

    assert (first.queued, first.skipped) == (2, "")
    assert (again.queued, again.skipped) == (0, RAN_ELSEWHERE)
    assert (next_week.queued, next_week.skipped) == (2, "")
    async with db.session() as session:
        runs = (await session.exec(select(JobRun).order_by(col(JobRun.started_at)))).all()
    assert [(run.occurrence, run.worker) for run in runs] == [
        ("2026-W48", "host:1"),
        ("2026-W49", "host:2"),
    ]


async def test_a_check_in_run_by_hand_is_composed_even_after_the_scheduler_ran_it(
    db: Database,
) -> None:
    clock = FakeClock()
    home = await Household(db, clock).setup()
    people = await home.people(["dana"])
    await run_checkin(db, Settings(), clock, home.school_id, once="host:1")
    await home.people(["lee"])  # joined after the scheduler's run

    by_hand = await run_checkin(db, Settings(), clock, home.school_id)

    assert (by_hand.queued, by_hand.skipped) == (1, "")  # Lee's; Dana's is deduplicated
    assert people


async def test_the_nightly_purge_runs_once_a_day(db: Database) -> None:
    clock = FakeClock()

    first = await run_purge(db, Settings(), clock, once="host:1")
    again = await run_purge(db, Settings(), clock, once="host:2")

    assert first != {} and again == {}


async def test_the_purge_forgets_job_runs_a_month_old(db: Database) -> None:
    clock = FakeClock()
    home = await Household(db, clock).setup()
    await home.people(["dana"])
    await run_checkin(db, Settings(), clock, home.school_id, once="host:1")
    clock.advance(days=31)
    await run_checkin(db, Settings(), clock, home.school_id, once="host:1")

    purged = await run_purge(db, Settings(), clock)

    assert purged["job_runs"] == 1
    async with db.session() as session:
        runs = (await session.exec(select(JobRun))).all()
    assert [run.occurrence for run in runs] == ["2026-W52"]  # the later one
