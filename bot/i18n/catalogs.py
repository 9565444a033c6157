"""The compiled catalogs, loaded once per language; a message missing in one is taken in English."""

from __future__ import annotations

import gettext
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo

from bot.i18n.compile import SOURCE_LANGUAGE, compiled_path, read_source, sources

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = SOURCE_LANGUAGE

# One text, or a plural message's forms in the language's order (gettext's msgstr[0], [1]...).
Text = str | tuple[str, ...]


@dataclass(frozen=True)
class Messages:
    """One language's translated messages by key, and its rule for choosing a plural form."""

    language: str
    texts: dict[str, Text]
    plural_form: Callable[[int], int]


def _load(language: str) -> Catalog:
    source, compiled = sources()[language], compiled_path(language)
    if compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime:
        with compiled.open("rb") as handle:
            return read_mo(handle)
    # A checkout whose catalog changed since `python -m bot.i18n compile`: read the source.
    log.warning(
        "catalog %s is not compiled or is older than its source; reading the source", language
    )
    return read_source(language)


def _text(message: Message) -> Text | None:
    """The message's translation, or None when it has none (empty, or marked fuzzy)."""
    if message.fuzzy or not message.string:
        return None
    if isinstance(message.string, str):
        return message.string if message.string.strip() else None
    forms = tuple(message.string)
    return forms if all(form.strip() for form in forms) else None


@cache
def messages(language: str) -> Messages:
    texts: dict[str, Text] = {}
    catalog = _load(language)
    for message in catalog:
        text = _text(message) if message.id and message.context else None
        if text is not None and message.context is not None:
            texts[message.context] = text
    return Messages(language, texts, gettext.c2py(catalog.plural_expr))


# The order the welcome's buttons and /language offer the catalogs in; one not named here comes
# after these, by code.
OFFERED_FIRST = ("en", "es", "vi", "ar", "zh_Hans")


@cache
def languages() -> tuple[str, ...]:
    """The languages Tandem can write in (those with a catalog), English first."""
    found = sources()
    return tuple(code for code in OFFERED_FIRST if code in found) + tuple(
        code for code in found if code not in OFFERED_FIRST
    )


def _folded(code: str) -> str:
    return code.replace("-", "_").casefold()


def find_language(wanted: str) -> str | None:
    """The catalog a person or platform means: `zh_Hans`, `zh-hans`, `ZH`, `es-MX` -> ours."""
    folded = _folded(wanted.strip())
    if not folded:
        return None
    ours = {_folded(code): code for code in languages()}
    if folded in ours:
        return ours[folded]
    # `es_MX` is `es`; `zh`, `zh_CN`, `zh_TW` are `zh_Hans`, the one Chinese catalog there is.
    first = folded.split("_")[0]
    for key, code in ours.items():
        if key.split("_")[0] == first:
            return code
    return None


def guess_language(hint: str | None, fallback: str) -> str:
    """A platform's language code (`es-MX`, `pt_BR`) as one we write in, else `fallback`."""
    return find_language(hint or "") or fallback


def catalog(language: str) -> dict[str, str]:
    """The language's own texts (no English stand-ins), singular messages only."""
    return {key: text for key, text in messages(language).texts.items() if isinstance(text, str)}
