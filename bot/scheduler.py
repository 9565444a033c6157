"""APScheduler wiring: a cron per school in the school's timezone for check-ins and summaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot import jobs
from bot.charts import DrawingPool
from bot.config import Settings
from bot.config_values import WeeklyTime
from bot.context import Clock
from bot.metrics import NO_METRICS, Metrics, measured_job
from bot.translation import NoteTranslator
from storage.db import Database
from storage.models import School

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Jobs only enqueue, are claimed once per occurrence and deduplicated, so a late firing (after a
# restart) is safe and wanted.
MISFIRE_GRACE_SECONDS = 6 * 3600


def weekly_trigger(when: WeeklyTime, timezone: str) -> CronTrigger:
    """`thu 17:00` in the school's own timezone, whatever the season."""
    return CronTrigger(
        day_of_week=WEEKDAYS[when.weekday],
        hour=when.hour,
        minute=when.minute,
        timezone=ZoneInfo(timezone),
    )


def nightly_trigger(timezone: str) -> CronTrigger:
    return CronTrigger(hour=3, minute=30, timezone=ZoneInfo(timezone))


def build_scheduler(
    db: Database,
    settings: Settings,
    clock: Clock,
    schools: Sequence[School],
    notes: NoteTranslator | None = None,
    metrics: Metrics = NO_METRICS,
    worker: str | None = None,
    drawing: DrawingPool | None = None,
) -> AsyncIOScheduler:
    """One scheduler for every school; `start()` it inside the running event loop.

    With `worker` (this replica's name), each job's occurrence is composed by the first replica
    to claim it; the others fire too, find it claimed and log that it ran elsewhere. `drawing`:
    the pool this process's sender draws the summary's pictures in, started by the job.
    """
    scheduler = AsyncIOScheduler(timezone=UTC)
    options = {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        "replace_existing": True,
    }
    for school in schools:
        scheduler.add_job(
            measured_job(metrics, "checkin", jobs.run_checkin, jobs.ran_elsewhere),
            weekly_trigger(settings.schedule.checkin, school.timezone),
            args=(db, settings, clock, school.id),
            kwargs={"once": worker},
            id=f"checkin:{school.id}",
            name=f"check-in for {school.name}",
            **options,
        )
        scheduler.add_job(
            measured_job(metrics, "summary", jobs.run_summary, jobs.ran_elsewhere),
            weekly_trigger(settings.schedule.summary, school.timezone),
            args=(db, settings, clock, school.id, notes),
            kwargs={"once": worker, "drawing": drawing},
            id=f"summary:{school.id}",
            name=f"summary for {school.name}",
            **options,
        )
    first = schools[0].timezone if schools else settings.school.timezone
    scheduler.add_job(
        measured_job(metrics, "purge", jobs.run_purge),
        nightly_trigger(first),
        args=(db, settings, clock),
        kwargs={"once": worker},
        id="purge",
        name="retention purge",
        **options,
    )
    return scheduler
