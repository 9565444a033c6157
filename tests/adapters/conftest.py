"""Fixtures every adapter test may use: the platform specs the fake servers check against, a
fake LibreTranslate, and the demo school with notes translated through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.bootstrap import build_router
from adapters.translation_libre import LibreTranslate
from bot.config import Settings
from bot.demo import seed_demo
from bot.dispatch import Dispatcher
from bot.translation import NoteTranslator
from bot.translation_config import TranslationConfig
from storage.db import Database
from storage.stores import Store
from tests.adapters.fake_translation import FakeTranslation, running_libre
from tests.conftest import DemoSchool, FakeClock

REPO_ROOT = Path(__file__).resolve().parents[2]
# shared/ sits beside the repository, in a developer's checkout and in CI alike.
SPECS_DIR = REPO_ROOT.parent / "shared" / "specs"


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    """The folder of platform API specifications; a missing one fails the run, never skips."""
    if not SPECS_DIR.is_dir():
        pytest.fail(
            f"the platform API specs are missing: expected them in {SPECS_DIR}", pytrace=False
        )
    return SPECS_DIR


@pytest.fixture
async def libre(specs_dir: Path) -> AsyncIterator[FakeTranslation]:
    """A fake LibreTranslate checking every request against its spec, with a small phrasebook."""
    async with running_libre(specs_dir) as server:
        yield server


@pytest.fixture
def translation_timeout() -> float:
    """Seconds the provider gets per request (a module may shorten it)."""
    return 1.0


@pytest.fixture
async def translating_school(
    db: Database,
    clock: FakeClock,
    settings: Settings,
    libre: FakeTranslation,
    translation_timeout: float,
) -> AsyncIterator[DemoSchool]:
    """The demo school, its notes translated (English and Spanish) by the fake LibreTranslate."""
    async with db.session() as session:
        await seed_demo(Store(session))
    config = TranslationConfig("libretranslate", libre.url, timeout_seconds=translation_timeout)
    provider = LibreTranslate(config)
    notes = NoteTranslator(provider, config, clock, ("en", "es"))
    yield DemoSchool(Dispatcher(db, settings, clock, build_router(), notes), db, clock)
    await provider.close()
