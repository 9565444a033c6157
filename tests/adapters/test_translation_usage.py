"""`[translation] monthly_char_limit` counts in the database: per provider and calendar month,
shared by replicas, kept over a restart (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from adapters.bootstrap import build_router
from adapters.translation_libre import LibreTranslate
from bot.config import Settings
from bot.demo import seed_demo
from bot.dispatch import Dispatcher
from bot.translation import NoteTranslator
from bot.translation_config import TranslationConfig
from bot.translation_usage import StoredBudget
from storage.db import Database
from storage.stores import Store
from tests.adapters.fake_translation import FakeTranslation
from tests.conftest import DemoSchool, FakeClock

OVER_LIMIT = "se agotó la cuota de traducción de este mes"


async def spent(db: Database, provider: str, month: str) -> int:
    async with db.session() as session:
        return await Store(session).translations.spent(provider, month)


class Process:
    """One Tandem process over the shared database, with its own translator."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: FakeClock,
        config: TranslationConfig,
        first_event: int = 1,
    ) -> None:
        self.provider = LibreTranslate(config)
        notes = NoteTranslator(self.provider, config, clock, ("en", "es"))
        dispatcher = Dispatcher(db, settings, clock, build_router(), notes)
        # Its platform's events go on numbering where the last process stopped.
        self.school = DemoSchool(dispatcher, db, clock, itertools.count(first_event))


async def test_a_restart_keeps_the_months_count_and_the_limit_holds_after_it(
    db: Database, clock: FakeClock, settings: Settings, libre: FakeTranslation
) -> None:
    async with db.session() as session:
        await seed_demo(Store(session))
    config = TranslationConfig("libretranslate", libre.url, monthly_char_limit=40)
    before = Process(db, settings, clock, config)
    await before.school.say(before.school.teacher, "+ Sam read a whole page aloud")
    first = await before.school.say(before.school.spanish_parent, "/log Sam")
    await before.provider.close()
    month = clock.now().strftime("%Y-%m")
    counted = await spent(db, "libretranslate", month)

    after = Process(db, settings, clock, config, first_event=100)  # restarted
    await after.school.say(after.school.teacher, "+ Sam wrote his name on the board")
    second = await after.school.say(after.school.spanish_parent, "/log Sam")
    await after.provider.close()

    assert "Sam leyó una página entera en voz alta" in first.text
    assert counted == len("⟦0⟧ read a whole page aloud")  # what was sent, names masked
    assert "Sam wrote his name on the board" in second.text
    assert OVER_LIMIT in second.text
    assert len(libre.requests) == 1
    assert await spent(db, "libretranslate", month) == counted


async def test_a_new_calendar_month_starts_a_new_count(
    db: Database, clock: FakeClock, settings: Settings, libre: FakeTranslation
) -> None:
    async with db.session() as session:
        await seed_demo(Store(session))
    clock.set(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    config = TranslationConfig("libretranslate", libre.url, monthly_char_limit=40)
    tandem = Process(db, settings, clock, config)
    await tandem.school.say(tandem.school.teacher, "+ Sam read a whole page aloud")
    await tandem.school.say(tandem.school.spanish_parent, "/log Sam")
    await tandem.school.say(tandem.school.teacher, "+ Sam wrote his name on the board")

    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    december = await tandem.school.say(tandem.school.spanish_parent, "/log Sam")
    await tandem.provider.close()

    assert OVER_LIMIT not in december.text
    assert "<es> ⟦0⟧ wrote his name on the board" not in december.text
    assert "<es> Sam wrote his name on the board" in december.text
    assert await spent(db, "libretranslate", "2026-11") == len("⟦0⟧ read a whole page aloud")
    assert await spent(db, "libretranslate", "2026-12") == len("⟦0⟧ wrote his name on the board")


async def test_replicas_counting_at_once_never_pass_the_limit_together(db: Database) -> None:
    replicas = [Database(db.url), Database(db.url)]

    async def one(n: int) -> bool:
        async with replicas[n % 2].session() as session:
            return await StoredBudget(Store(session)).spend("deepl", "2026-12", 10, 95)

    try:
        counted = await asyncio.gather(*(one(n) for n in range(20)))
    finally:
        for replica in replicas:
            await replica.dispose()

    assert counted.count(True) == 9
    assert await spent(db, "deepl", "2026-12") == 90
    assert await spent(db, "libretranslate", "2026-12") == 0


async def test_no_limit_still_counts_what_was_sent(db: Database) -> None:
    async with db.session() as session:
        budget = StoredBudget(Store(session))
        counted = [await budget.spend("libretranslate", "2026-12", 1_000_000, 0) for _ in "ab"]

    assert counted == [True, True]
    assert await spent(db, "libretranslate", "2026-12") == 2_000_000
