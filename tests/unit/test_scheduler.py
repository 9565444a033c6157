"""The weekly cycle's clockwork (DESIGN.md section 5): when the jobs fire, and the nightly purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ScheduleConfig, SecurityConfig, Settings
from bot.config_values import WeeklyTime
from bot.scheduler import build_scheduler, weekly_trigger
from storage.db import sqlite_path
from storage.models import School
from storage.stores import Store
from tests.conftest import DemoSchool
from tests.unit.conftest import SCHOOL_ZONE, Mail, Record, chicago, en

THURSDAY_17 = ScheduleConfig().checkin
CHICAGO = "America/Chicago"


def next_fire(when: WeeklyTime, timezone: str, now: datetime) -> datetime:
    fire: datetime | None = weekly_trigger(when, timezone).get_next_fire_time(None, now)
    assert fire is not None
    return fire


# --- when the check-in fires ------------------------------------------------------------------


async def test_checkin_fires_on_thursday_at_17_school_time(school: DemoSchool, mail: Mail) -> None:
    fire = next_fire(THURSDAY_17, CHICAGO, school.clock.now())

    assert fire == chicago(2026, 11, 26, 17)
    school.clock.set(fire)
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")
    assert prompt.text == en("checkin.prompt", student="Sam Rivera")
    assert prompt.not_before == fire


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # US daylight saving ends Sunday 2026-11-01: Chicago goes from UTC-5 to UTC-6.
        (chicago(2026, 10, 29, 12), chicago(2026, 10, 29, 18)),
        # It starts again Sunday 2027-03-14: from UTC-6 to UTC-5.
        (chicago(2027, 3, 11, 12), chicago(2027, 3, 11, 18)),
    ],
    ids=["dst-ends", "dst-starts"],
)
def test_checkin_stays_at_17_local_across_a_daylight_saving_change(
    before: datetime, after: datetime
) -> None:
    this_week = next_fire(THURSDAY_17, CHICAGO, before)
    next_week = next_fire(THURSDAY_17, CHICAGO, after)

    for fire in (this_week, next_week):
        local = fire.astimezone(SCHOOL_ZONE)
        assert (local.strftime("%a"), local.hour, local.minute) == ("Thu", 17, 0)
    assert next_week.astimezone(UTC) - this_week.astimezone(UTC) != timedelta(days=7)
    hours = {this_week.astimezone(UTC).hour, next_week.astimezone(UTC).hour}
    assert hours == {22, 23}


def test_summary_fires_on_friday_at_15_school_time() -> None:
    fire = next_fire(ScheduleConfig().summary, CHICAGO, chicago(2026, 11, 26, 10))

    assert fire == chicago(2026, 11, 27, 15)


async def test_scheduler_has_a_checkin_and_a_summary_per_school_and_one_purge(
    school: DemoSchool, settings: Settings
) -> None:
    async with school.db.session() as session:
        store = Store(session)
        await store.students.add_school("Harbor School", "Europe/Berlin", "en")
        schools: list[School] = list(await store.students.schools())
    by_zone = {school.id: school.timezone for school in schools if school.id is not None}
    harbor = next(school.id for school in schools if school.name == "Harbor School")

    scheduler = build_scheduler(school.db, settings, school.clock, schools)

    jobs = {job.id: job for job in scheduler.get_jobs()}
    expected = {f"{job}:{school_id}" for school_id in by_zone for job in ("checkin", "summary")}
    assert set(jobs) == expected | {"purge"}
    now = school.clock.now()
    for school_id, timezone in by_zone.items():
        checkin = jobs[f"checkin:{school_id}"]
        assert checkin.args[-1] == school_id
        assert checkin.trigger.get_next_fire_time(None, now) == next_fire(
            settings.schedule.checkin, timezone, now
        )
        summary = jobs[f"summary:{school_id}"].trigger.get_next_fire_time(None, now)
        assert summary == next_fire(settings.schedule.summary, timezone, now)
    berlin = jobs[f"checkin:{harbor}"].trigger.get_next_fire_time(None, now)
    assert berlin.astimezone(UTC) == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)


async def test_the_scheduled_checkin_job_enqueues_for_its_school(
    school: DemoSchool, mail: Mail, settings: Settings
) -> None:
    async with school.db.session() as session:
        schools = list(await Store(session).students.schools())
    scheduler = build_scheduler(school.db, settings, school.clock, schools)
    job = scheduler.get_job(f"checkin:{await mail.school_id()}")
    assert job is not None
    school.clock.set(chicago(2026, 11, 26, 17))

    await job.func(*job.args)

    prompt = await mail.letter(school.parent, "checkin")
    assert prompt.text == en("checkin.prompt", student="Sam Rivera")


# --- the nightly purge ------------------------------------------------------------------------


async def test_purge_deletes_entries_older_than_retention_and_keeps_newer(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    school.clock.advance(days=400)
    await school.say(school.teacher, "+ Sam wrote his name")
    school.clock.advance(days=400)

    await mail.purge()

    assert [entry.text for entry in await record.entries()] == ["Sam wrote his name"]
    log = await school.say(school.teacher, "/log Sam")
    assert "wrote his name" in log.text
    assert "page aloud" not in log.text


async def test_purge_follows_the_configured_retention(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    school.clock.advance(days=20)
    await school.say(school.teacher, "+ Sam wrote his name")
    school.clock.advance(days=15)

    await mail.purge(Settings(security=SecurityConfig(retention_days=30)))

    assert [entry.text for entry in await record.entries()] == ["Sam wrote his name"]


async def test_purge_keeps_everything_within_retention(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    school.clock.advance(days=729)

    await mail.purge()

    assert [entry.text for entry in await record.entries()] == ["Sam read a whole page aloud"]


async def test_purge_keeps_a_recent_answer_to_a_question_it_deletes(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.parent, "? Can Sam bring headphones on the bus?")
    question = await record.entry()
    school.clock.advance(days=700)
    await school.say(school.teacher, f"/answer {question.id} Yes, the blue ones")
    school.clock.advance(days=40)

    await mail.purge()

    (answer,) = await record.entries()
    assert (answer.text, answer.reply_to_id) == ("Yes, the blue ones", None)


def file_bytes(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


# SQLite's write-ahead log; PostgreSQL has none to read.
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_purge_leaves_no_word_of_a_purged_note_in_sqlites_files_while_the_bot_runs(
    school: DemoSchool, mail: Mail
) -> None:
    path = sqlite_path(school.db.url)
    assert path is not None
    await school.say(school.teacher, "+ Sam hummed the Quetzalcoatl song all morning")
    school.clock.advance(days=731)

    # A running bot keeps connections open, so SQLite never removes its -wal file.
    async with school.db.engine.connect():
        await mail.purge()

        assert b"Quetzalcoatl" not in file_bytes(Path(f"{path}-wal"))
        assert b"Quetzalcoatl" not in file_bytes(path)
