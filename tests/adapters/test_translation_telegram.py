"""Translation through the real python-telegram-bot against the fake Bot API, with the real
LibreTranslate adapter against its fake: both fakes check every request against their specs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.bootstrap import build_router
from adapters.telegram import TelegramAdapter
from adapters.telegram_config import TelegramConfig
from adapters.translation_libre import LibreTranslate
from bot import roster
from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.translation import NoteTranslator
from bot.translation_config import TranslationConfig
from storage.db import Database
from storage.models import Role
from storage.stores import Store
from tests.adapters.fake_telegram import BotApiSpec, FakeTelegram
from tests.adapters.fake_translation import FakeTranslation
from tests.adapters.test_telegram import FATHER, TEACHER, Telegram
from tests.conftest import FakeClock


@pytest.fixture
async def telegram(
    db: Database, clock: FakeClock, settings: Settings, specs_dir: Path, libre: FakeTranslation
) -> AsyncIterator[Telegram]:
    async with db.session() as session:
        store = Store(session)
        school = await roster.ensure_school(store, "Maple Elementary", "America/Chicago", "en")
        await roster.add_student(store, school, "Sam Rivera")
    fake = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake.start()
    config = TelegramConfig(enabled=True, token=fake.token, base_url=fake.base_url)
    translation = TranslationConfig("libretranslate", libre.url, timeout_seconds=0.5)
    provider = LibreTranslate(translation)
    notes = NoteTranslator(provider, translation, clock, ("en", "es"))
    adapter = TelegramAdapter(config, Dispatcher(db, settings, clock, build_router(), notes), db)
    await adapter.start()
    try:
        yield Telegram(fake, adapter, db, settings, clock, "polling", [])
    finally:
        await adapter.stop()
        await fake.stop()
        await provider.close()
    assert not fake.violations, fake.violations


async def test_on_telegram_each_reads_the_others_note_in_their_language_without_names_sent(
    telegram: Telegram, libre: FakeTranslation
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    await telegram.join(FATHER, "Sam Rivera", Role.PARENT)
    await telegram.say(TEACHER, "+ Sam read a whole page aloud")
    await telegram.say(FATHER, "Sam: durmió mal y estaba muy ansioso esta mañana")

    [father_reads] = await telegram.say(FATHER, "/log Sam")
    [teacher_reads] = await telegram.say(TEACHER, "/log Sam")

    assert "Sam leyó una página entera en voz alta" in father_reads["text"]
    assert "traducido automáticamente" in father_reads["text"]
    assert "slept badly and was very anxious this morning" in teacher_reads["text"]
    assert "translated automatically" in teacher_reads["text"]
    sent = " ".join(libre.sent_texts).lower()
    assert [name for name in ("sam", "rivera", "maria", "ortiz", "luis") if name in sent] == []
