"""The weekly summary with `[summary] charts` on and off: a part of bench/progress.py.

- job: bench/summaries.py's school (`students`, `entries` entries each, a temporary SQLite
  file) plus two measures per student this week, so every student gets a picture;
  `bot.jobs.run_summary` with charts off and on, alternately, the outbox emptied between:
  the job's CPU seconds and wall seconds (medians), and the letters it queued.
- fan-out: `students` students with two parents each (one Telegram chat each) and two
  measures this week; the summary job, then the real sender with the real `WeekCharts` (the
  process pool) against bench/fake_platform.py, which enforces 30 letters a second: from the
  sender's start to the platform taking the last letter, the rate and its ratio to the limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import sys
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout
import summaries

from bot import jobs
from bot.charts import DRAWING
from bot.config import PlatformLimits, SenderConfig, Settings, SummaryConfig
from bot.context import SystemClock
from bot.events import Reply
from bot.sender import OutboxSender
from bot.week_charts import WeekCharts
from storage.db import Database
from storage.models import (
    Account,
    Delivery,
    Entry,
    Goal,
    Measure,
    Membership,
    Outbox,
    Person,
    Platform,
    Role,
    School,
    Student,
)


def _settings(charts: bool) -> Settings:
    return replace(Settings(), summary=SummaryConfig(charts=charts))


async def _add_measures(db: Database, students: int, first_entry: int) -> None:
    """Two measures this week (one school, one home) on each student's goal."""
    at = summaries.NOW - timedelta(days=2)
    entries, measures = [], []
    for student in range(1, students + 1):
        for k, setting in enumerate(("school", "home")):
            entry_id = first_entry + 2 * (student - 1) + k
            entries.append(
                {
                    "id": entry_id,
                    "student_id": student,
                    "kind": "win",
                    "setting": setting,
                    "text": f"read {6 + k}/10 #reading",
                    "goal_id": student,
                    "source_platform": "telegram",
                    "source_ref": "",
                    "created_at": at + timedelta(hours=k),
                }
            )
            measures.append(
                {
                    "entry_id": entry_id,
                    "goal_id": student,
                    "student_id": student,
                    "setting": setting,
                    "kind": "percent",
                    "value": 60.0 + 10 * k,
                    "correct": 6 + k,
                    "trials": 10,
                    "taken_at": at + timedelta(hours=k),
                }
            )
    async with db.engine.begin() as connection:
        await connection.execute(insert(Entry), entries)
        await connection.execute(insert(Measure), measures)


async def summary_job(
    folder: Path, students: int, entries: int, rounds: int
) -> dict[str, dict[str, float]]:
    """The job's CPU and wall seconds (medians) and letters, with charts off and on."""
    url = f"sqlite+aiosqlite:///{folder}/summary.db"
    await summaries.seed(url, students, entries, 1)
    db = Database(url)
    await _add_measures(db, students, students * entries + 1)
    found: dict[str, dict[str, list[float]]] = {
        name: {"cpu": [], "wall": [], "letters": []} for name in ("off", "on")
    }
    try:
        for _ in range(rounds):
            for name in ("off", "on"):  # interleaved: the host's noise falls on both
                async with db.engine.begin() as connection:
                    await connection.execute(delete(Outbox))
                cpu, wall = time.process_time(), time.perf_counter()
                report = await jobs.run_summary(
                    db, _settings(name == "on"), summaries.FixedClock(), 1
                )
                found[name]["cpu"].append(time.process_time() - cpu)
                found[name]["wall"].append(time.perf_counter() - wall)
                found[name]["letters"].append(report.queued)
    finally:
        await db.dispose()
    return {
        name: {key: statistics.median(values) for key, values in figures.items()}
        for name, figures in found.items()
    }


class KeyedPlatform(fanout.HttpPlatform):
    """bench/fanout.py's transport, keyed by chat and letter (two parents read the same text;
    a picture and its summary are two letters), so the platform counts each letter once."""

    async def deliver(self, account: Account, reply: Reply) -> str:
        kind = "picture" if reply.attachment is not None else "text"
        digest = hashlib.sha1(reply.text.encode()).hexdigest()[:12]
        keyed = Reply(f"{account.dm_chat_id}:{kind}:{digest}")
        return await super().deliver(account, keyed)


async def _seed_families(url: str, students: int) -> None:
    """`students` students, two parents each (a Telegram chat each), two measures each."""
    db = Database(url)
    try:
        await db.upgrade()
        async with db.session() as session:
            school = School(name="Bench Fan-out", timezone=summaries.TIMEZONE, language="en")
            session.add(school)
            await session.flush()
            assert school.id is not None
            school_id = school.id
        async with db.engine.begin() as connection:
            await connection.execute(
                insert(Student),
                [
                    {"id": i, "school_id": school_id, "name": f"S{i}", "name_key": f"s{i}"}
                    for i in range(1, students + 1)
                ],
            )
            await connection.execute(
                insert(Goal),
                [
                    {
                        "id": i,
                        "student_id": i,
                        "tag": "reading",
                        "description": "Reads aloud",
                        "active": True,
                        "measure": "percent",
                        "target": 80.0,
                        "baseline": 40.0,
                    }
                    for i in range(1, students + 1)
                ],
            )
            parents = range(1, 2 * students + 1)
            await connection.execute(
                insert(Person),
                [{"id": p, "display_name": f"P{p}", "language": "en"} for p in parents],
            )
            await connection.execute(
                insert(Account),
                [
                    {
                        "person_id": p,
                        "platform": "telegram",
                        "workspace": "",
                        "external_id": f"chat{p}",
                        "dm_chat_id": f"chat{p}",
                        "active": True,
                    }
                    for p in parents
                ],
            )
            await connection.execute(
                insert(Membership),
                [
                    {
                        "person_id": p,
                        "student_id": (p + 1) // 2,
                        "role": Role.PARENT,
                        "delivery": Delivery.WEEKLY,
                    }
                    for p in parents
                ],
            )
        await _add_measures(db, students, 1)
    finally:
        await db.dispose()


@dataclass
class FanOut:
    charts: bool
    letters: int
    seconds: float
    duplicates: int
    drawn: int

    @property
    def rate(self) -> float:
        return self.letters / self.seconds if self.seconds else 0.0


async def fan_out(folder: Path, students: int, charts: bool, rate: int = 30) -> FanOut:
    """The summary job, then the real sender until the platform has every letter."""
    url = f"sqlite+aiosqlite:///{folder}/fanout-{'on' if charts else 'off'}.db"
    fanout.remove_sqlite(url.split("///", 1)[1])
    await _seed_families(url, students)
    db = Database(url)
    platform = fanout.FakePlatformProcess.start(rate, 1, 0.0)
    config = SenderConfig(limits={Platform.TELEGRAM: PlatformLimits(rate, 1)})
    transport = KeyedPlatform(platform.url, config.concurrency)
    week_charts = WeekCharts(db)
    try:
        report = await jobs.run_summary(
            db, _settings(charts), summaries.FixedClock(), 1, drawing=DRAWING
        )
        # Every student is measured: with charts, each summary is followed by its picture,
        # which the sender queues once the summary is sent.
        expected = report.queued * (2 if charts else 1)
        await platform.call("POST", "/reset")
        stop = asyncio.Event()
        sender = OutboxSender(
            db,
            {Platform.TELEGRAM: transport},
            SystemClock(),
            config,
            worker="bench",
            composer=week_charts,
        )
        started = time.monotonic()  # the platform's clock is this machine's monotonic clock
        sending = asyncio.create_task(sender.run(stop))
        stats: dict[str, Any] = {}
        while time.monotonic() < started + 30 + expected / rate * 3:
            stats = await platform.call("GET", "/stats")
            if stats["unique"] >= expected:
                break
            await asyncio.sleep(0.25)
        stop.set()
        await sending
        return FanOut(
            charts,
            stats["unique"],
            (stats["last"] or started) - started,
            stats["duplicates"],
            week_charts.drawn,
        )
    finally:
        await transport.close()
        platform.stop()
        DRAWING.close()
        await db.dispose()
