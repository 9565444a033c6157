"""Fixtures every adapter test may use: the platform specs the fake servers check against, and
a fake LibreTranslate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.fake_translation import FakeTranslation, running_libre

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
