"""Message catalogs: every user-facing string comes from here, in the reader's language."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

CATALOGS = Path(__file__).parent
DEFAULT_LANGUAGE = "en"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalog(language: str) -> dict[str, str]:
    """The flattened catalog for a language (`entry.logged` -> template)."""
    path = CATALOGS / f"{language}.toml"
    with path.open("rb") as handle:
        return _flatten(tomllib.load(handle))


@cache
def languages() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in CATALOGS.glob("*.toml")))


def translate(language: str, key: str, /, **values: object) -> str:
    """The message `key` in `language` (falling back to English), with values filled in."""
    templates = catalog(language) if language in languages() else catalog(DEFAULT_LANGUAGE)
    template = templates.get(key) or catalog(DEFAULT_LANGUAGE)[key]
    return template.format(**values)


class Translator:
    """`t("entry.logged", student="Sam")` in one person's language."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, /, **values: object) -> str:
        return translate(self.language, key, **values)

    def template(self, key: str) -> Callable[..., str]:
        """`t.template(key)(**values)` is `t(key, **values)`, looked up once for many lines."""
        templates = catalog(self.language) if self.language in languages() else \
            catalog(DEFAULT_LANGUAGE)
        return (templates.get(key) or catalog(DEFAULT_LANGUAGE)[key]).format
