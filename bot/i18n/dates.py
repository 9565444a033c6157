"""Dates and times as a reader of a language writes them (Babel's CLDR data), in a timezone."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time


@cache
def locale_of(language: str) -> Locale:
    return Locale.parse(language)


@cache
def _zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def local(at: datetime, timezone: str) -> datetime:
    return at.astimezone(_zone(timezone))


@cache
def weekdays(language: str) -> tuple[str, ...]:
    """Short weekday names, Monday first: `Mon` ... / `lun` ..."""
    names = locale_of(language).days["format"]["abbreviated"]
    return tuple(str(names[day]) for day in range(7))


@cache
def day_month(day: date, language: str) -> str:
    """`November 30` / `30 de noviembre`."""
    return format_skeleton("MMMMd", day, locale=locale_of(language))


@cache
def day_with_year(day: date, language: str) -> str:
    """`Tue, Jan 5, 2027` / `mar, 5 ene 2027`."""
    return format_skeleton("yMMMEd", day, locale=locale_of(language))


def moment(at: datetime, timezone: str, language: str) -> str:
    """`Wed, Nov 25, 2:05 PM` / `mié, 25 nov, 14:05`, in the timezone."""
    when = local(at, timezone)
    locale = locale_of(language)
    on = format_skeleton("MMMEd", when, locale=locale)
    time = format_time(when, "short", tzinfo=when.tzinfo, locale=locale)
    return str(locale.datetime_formats["medium"]).replace("{1}", on).replace("{0}", time)


# Where CLDR's own name is not the one a reader looks for: it calls zh_Hans "中文 (简体)".
_OWN_NAMES = {"zh_Hans": "简体中文"}


@cache
def language_name(language: str) -> str:
    """A language's name in that language, as a person looking for it would read it: `Español`."""
    if language in _OWN_NAMES:
        return _OWN_NAMES[language]
    name = locale_of(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]
