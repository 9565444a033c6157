"""Fixtures every adapter test may use: the platform specs the fake servers check against."""

from __future__ import annotations

from pathlib import Path

import pytest

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
