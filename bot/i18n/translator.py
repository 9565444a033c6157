"""`t("entry.logged_win", student="Sam")`: one message, in one reader's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from bot.i18n import dates
from bot.i18n.catalogs import DEFAULT_LANGUAGE, Messages, languages, messages
from bot.i18n.school_catalog import school_messages


def _choose(found: Messages, key: str, count: object) -> str:
    text = found.texts[key]
    if isinstance(text, str):
        return text
    if not isinstance(count, int):
        raise TypeError(f"{key} is a plural message: pass count=N")
    return text[min(found.plural_form(count), len(text) - 1)]


class Translator:
    """Messages, dates and times in one person's language (English where the catalog lacks one)."""

    def __init__(self, language: str) -> None:
        self.language = language if language in languages() else DEFAULT_LANGUAGE
        self._own = messages(self.language)
        self._english = messages(DEFAULT_LANGUAGE)

    def __call__(self, key: str, /, **values: object) -> str:
        return self.template(key, values.get("count"))(**values)

    def template(self, key: str, count: object = None) -> Callable[..., str]:
        """`t.template(key)(**values)` is `t(key, **values)`, looked up once for many lines.

        The school's own wording first (`[school] catalog_dir`), then Tandem's, then English."""
        school = school_messages(self.language)
        if school is not None and key in school.texts:
            found = school
        else:
            found = self._own if key in self._own.texts else self._english
        return _choose(found, key, count).format

    def moment(self, at: datetime, timezone: str) -> str:
        """`Wed, Nov 25, 2:05 PM`, in the reader's way of writing it."""
        return dates.moment(at, timezone, self.language)

    def day_month(self, day: date) -> str:
        """`November 30`."""
        return dates.day_month(day, self.language)

    def day(self, day: date) -> str:
        """`Tue, Jan 5, 2027`."""
        return dates.day_with_year(day, self.language)


def translate(language: str, key: str, /, **values: object) -> str:
    """The message `key` in `language` (falling back to English), with values filled in."""
    return Translator(language)(key, **values)
