"""The memory of `tandem run` after its first chart: a part of bench/progress.py.

`tandem run` (Telegram, polling) against bench/botapi_fake.py, on a temporary SQLite file with
the demo school, Sam measured this week and Ms. Ortiz on Telegram. Measured with psutil: RSS
once it polls; after it answered `/progress Sam` (the chart drawn in the drawing pool's
processes); and after the weekly summary's picture went out too. The bot's own process and
its drawing workers apart (a worker's RSS counts pages it shares with the fork server).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inbound

from bot import jobs
from bot.config import ScheduleConfig, Settings
from bot.demo import DEMO_SCHOOL, console_id, seed_demo
from storage.db import Database
from storage.models import Entry, EntryKind, Measure, Platform, Setting
from storage.stores import Store

TEACHER_CHAT = 7001


def _mib(pid: int) -> tuple[float, list[float]]:
    """RSS of a process, and the PSS of each of its children (the drawing workers share
    matplotlib's pages with the fork server: PSS counts a shared page once), in MiB."""
    import psutil  # type: ignore[import-untyped]

    process = psutil.Process(pid)
    children = [child.memory_full_info().pss / 2**20 for child in process.children(recursive=True)]
    return process.memory_info().rss / 2**20, children


async def _seed(url: str) -> int:
    db = Database(url)
    await db.upgrade()
    async with db.session() as session:
        store = Store(session)
        await seed_demo(store)
        school = await store.students.school_named(DEMO_SCHOOL)
        assert school is not None and school.id is not None
        sam = next(s for s in await store.students.in_school(school.id) if s.name == "Sam Rivera")
        assert sam.id is not None
        ortiz = await store.people.account(Platform.CONSOLE, "", console_id("Ms. Ortiz"))
        assert ortiz is not None
        person = await store.people.get(ortiz.person_id)
        assert person is not None
        await store.people.add_account(
            person, Platform.TELEGRAM, "", str(TEACHER_CHAT), str(TEACHER_CHAT)
        )
        ortiz.active = False  # her letters go to Telegram, not to the demo's console
        await store.people.save(ortiz)
        goal, _ = await store.entries.set_goal(sam.id, "reading", "Reads a page aloud")
        goal.measure, goal.target, goal.baseline = "percent", 80, 40
        now = datetime.now(UTC)
        for n in range(3):
            entry = Entry(
                student_id=sam.id,
                kind=EntryKind.WIN,
                setting=Setting.SCHOOL,
                text=f"read {6 + n}/10 #reading",
                goal_id=goal.id,
                source_platform="telegram",
                created_at=now - timedelta(hours=n + 1),
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
                    value=60.0 + 10 * n,
                    correct=6 + n,
                    trials=10,
                    taken_at=now - timedelta(hours=n + 1),
                )
            )
    await db.dispose()
    return school.id


def _progress_update() -> dict[str, Any]:
    user = {"id": TEACHER_CHAT, "is_bot": False, "first_name": "Maria"}
    return {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": TEACHER_CHAT, "type": "private", "first_name": "Maria"},
            "from": user,
            "text": "/progress Sam",
            "entities": [{"type": "bot_command", "offset": 0, "length": 9}],
        },
    }


def _wait_for(fake: inbound.Fake, photos: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while fake.call("/_stats")["photos"] < photos:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"tandem run sent fewer than {photos} pictures")
        time.sleep(0.2)


def rss_rows() -> list[list[str]]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/rss.db"
        school_id = asyncio.run(_seed(url))
        fake = inbound.Fake()
        config = Path(folder) / "tandem.toml"
        config.write_text(
            f'[database]\nurl = "{url}"\n\n[telegram]\nenabled = true\n'
            f'token = "{inbound.TOKEN}"\nmode = "polling"\nbase_url = "{fake.url}/bot"\n\n'
            f'[security]\nsecret_key = "bench-secret-bench-secret-bench-secret-0123"\n',
            encoding="utf-8",
        )
        log = (Path(folder) / "tandem.log").open("w")
        process = subprocess.Popen(
            [*inbound.tandem_command(), "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env=os.environ.copy(),
        )
        try:
            while fake.call("/_stats")["polls"] == 0:
                if process.poll() is not None:
                    raise RuntimeError("tandem run did not start")
                time.sleep(0.1)
            started = _mib(process.pid)
            fake.call("/_load", {"updates": [_progress_update()], "rate": 0})
            _wait_for(fake, 1, process)
            time.sleep(1)  # the reply's words follow the picture
            charted = _mib(process.pid)
            asyncio.run(_queue_summary(url, school_id))
            _wait_for(fake, 2, process)  # the sender polls the outbox every 5 s
            pictured = _mib(process.pid)
        finally:
            process.terminate()
            process.wait(30)
            log.close()
            fake.stop()
    return [
        [f"tandem run RSS, {label}", f"{own:.0f} MiB", _workers(children)]
        for label, (own, children) in (
            ("polling, before any chart", started),
            ("after the first /progress chart", charted),
            ("after the summary's picture too", pictured),
        )
    ]


def _workers(children: list[float]) -> str:
    if not children:
        return "no drawing process"
    each = ", ".join(f"{mib:.0f}" for mib in children)
    return f"+ {len(children)} processes (PSS): {each} MiB"


async def _queue_summary(url: str, school_id: int) -> None:
    db = Database(url)
    try:
        # No quiet hours: the picture goes out now, whatever the hour in Chicago.
        awake = replace(Settings(), schedule=replace(ScheduleConfig(), quiet_hours=None))
        await jobs.run_summary(db, awake, _Now(), school_id)
    finally:
        await db.dispose()


class _Now:
    def now(self) -> datetime:
        return datetime.now(UTC)
