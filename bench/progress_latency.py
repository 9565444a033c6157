"""Inbound note latency while `/progress` charts are drawn: a part of bench/progress.py.

The real dispatcher on a temporary SQLite file (the demo school, Sam with a measured goal):
notes from the teacher arrive at a steady pace, each timed from `dispatch` to its reply; in
the loaded rounds 20 `/progress Sam` requests (a parent's) start at the same moment as the
notes. Quiet and loaded rounds alternate, so the host's noise falls on both alike.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from adapters.bootstrap import build_router
from bot.config import SecurityConfig, Settings
from bot.context import Clock
from bot.demo import DEMO_SCHOOL, console_id, seed_demo
from bot.dispatch import Dispatcher
from bot.events import Chat, IncomingMessage, Sender
from storage.db import Database
from storage.models import Entry, EntryKind, Measure, Platform, Setting
from storage.stores import Store

TEACHER, PARENT = "Ms. Ortiz", "Dana Rivera"


class NowClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _sender(name: str) -> Sender:
    return Sender(Platform.CONSOLE, "", console_id(name), name)


async def _seed(db: Database, measures: int) -> None:
    async with db.session() as session:
        store = Store(session)
        await seed_demo(store)
        school = await store.students.school_named(DEMO_SCHOOL)
        assert school is not None and school.id is not None
        sam = next(s for s in await store.students.in_school(school.id) if s.name == "Sam Rivera")
        assert sam.id is not None
        goal, _ = await store.entries.set_goal(sam.id, "reading", "Reads a page aloud")
        goal.measure, goal.target, goal.baseline = "percent", 80, 40
        start = datetime.now(UTC) - timedelta(days=60)
        for n in range(measures):
            at = start + timedelta(hours=12 * n)
            entry = Entry(
                student_id=sam.id,
                kind=EntryKind.WIN,
                setting=Setting.SCHOOL,
                text=f"read {n % 11}/10",
                goal_id=goal.id,
                source_platform="console",
                created_at=at,
            )
            session.add(entry)
            await session.flush()
            assert entry.id is not None and goal.id is not None
            session.add(
                Measure(
                    entry_id=entry.id,
                    goal_id=goal.id,
                    student_id=sam.id,
                    setting=Setting.SCHOOL,
                    kind="percent",
                    value=n % 11 * 10.0,
                    correct=n % 11,
                    trials=10,
                    taken_at=at,
                )
            )


class Round:
    """One round: `notes` notes at `rate` a second, with or without 20 /progress at once."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.ids = itertools.count(1)

    def _message(self, name: str, text: str) -> IncomingMessage:
        event = f"bench:{next(self.ids)}:{time.monotonic_ns()}"
        sender = _sender(name)
        return IncomingMessage(sender, Chat(sender.external_id), text, event, message_ref=event)

    async def _note(self, n: int) -> float:
        message = self._message(TEACHER, f"+ Sam read a page aloud, take {n}")
        began = time.perf_counter()
        await self.dispatcher.dispatch(message)
        return time.perf_counter() - began

    async def _progress(self) -> int:
        replies = await self.dispatcher.dispatch(self._message(PARENT, "/progress Sam"))
        return sum(1 for reply in replies if reply.attachment is not None)

    async def run(self, notes: int, rate: float, charts: int) -> tuple[list[float], int]:
        drawing = [asyncio.create_task(self._progress()) for _ in range(charts)]
        timings: list[asyncio.Task[float]] = []
        for n in range(notes):
            timings.append(asyncio.create_task(self._note(n)))
            await asyncio.sleep(1 / rate)
        latencies = list(await asyncio.gather(*timings))
        drawn = sum(await asyncio.gather(*drawing))
        return latencies, drawn


async def note_latency(
    rounds: int = 3, notes: int = 40, rate: float = 20.0, charts: int = 20
) -> dict[str, list[float]]:
    """Note latencies (seconds), quiet and with `charts` /progress requests at once."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await db.upgrade()
        await _seed(db, 30)
        settings = replace(Settings(), security=SecurityConfig(messages_per_minute=1_000_000))
        clock: Clock = NowClock()
        dispatcher = Dispatcher(db, settings, clock, build_router())
        rounds_of = Round(dispatcher)
        await rounds_of.run(10, rate, 2)  # warm: imports, fonts, the pool's threads
        # What start-up built stays out of every later collection, as `tandem run` does
        # (adapters/runtime.serve): without it a full collection stops the loop for tens of ms.
        gc.freeze()
        found: dict[str, list[float]] = {"quiet": [], "loaded": []}
        for _ in range(rounds):
            quiet, _ = await rounds_of.run(notes, rate, 0)
            loaded, drawn = await rounds_of.run(notes, rate, charts)
            assert drawn == charts, f"{drawn} charts for {charts} requests"
            found["quiet"] += quiet
            found["loaded"] += loaded
        await db.dispose()
        return found
