"""Reading one setting: the TOML file, the environment on top, typed and checked values.

A bad value raises ConfigError naming ``section.key`` and why, never repeating the value (it
may be a secret). `bot.config` builds the settings from these.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bot.errors import CommandError, Said, said

DEFAULT_PATH = Path("tandem.toml")
ENV_PREFIX = "TANDEM_"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NUMBERS = {name: n for n, day in enumerate(WEEKDAYS) for name in (day, day[:3])}

_TIME = r"(\d{1,2}):(\d{2})"
_WEEKLY_TIME_RE = re.compile(rf"([A-Za-z]+)\s+{_TIME}", re.ASCII)
_QUIET_HOURS_RE = re.compile(rf"{_TIME}\s*-\s*{_TIME}", re.ASCII)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_LISTEN_RE = re.compile(r"(\[[^\]]*\]|[^\s\[\]]+):([0-9]+)", re.ASCII)
_INTEGER_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")

_T = TypeVar("_T")
_Choice = TypeVar("_Choice", bound=str)


class ConfigError(CommandError):
    """A setting that stops start-up; ``key`` names it (``section.key``), ``why`` explains."""

    def __init__(self, key: str, why: str | Said) -> None:
        super().__init__(why)
        # Both in args so the error survives pickling (multiprocessing, logging handlers).
        self.args = (key, why)
        self.key = key
        self.said = why
        self.why = str(why)  # in English, for logs and for the code that reads it

    def in_language(self, language: str) -> str:
        said = self.said
        return f"{self.key}: {said.in_language(language) if isinstance(said, Said) else said}"


@dataclass(frozen=True)
class WeeklyTime:
    """A moment in every week, in the school's timezone."""

    weekday: int  # 0 = Monday, as datetime.date.weekday() and APScheduler count
    hour: int
    minute: int

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday][:3]} {self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True)
class QuietHours:
    """Wall-clock hours when nothing but urgent messages is delivered; may wrap midnight."""

    start: datetime.time
    end: datetime.time

    def contains(self, t: datetime.time) -> bool:
        # Wall-clock comparison only: an aware time cannot be compared with a naive one.
        t = t.replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class DateRange:
    """Days with no check-in or summary, both ends included."""

    first: datetime.date
    last: datetime.date

    def contains(self, d: datetime.date) -> bool:
        return self.first <= d <= self.last

    def __str__(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def when_is(setting: str, value: str) -> Said:
    """The `when` of a setting another one needs: `slack.mode is "http"`."""
    return said("operator.when_is", setting=setting, value=value)


def when_set(setting: str) -> Said:
    return said("operator.when_set", setting=setting)


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``section.key``."""
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def missing(section: str, key: str, when: Said) -> ConfigError:
    """The error for ``section.key`` left empty though `when` needs it."""
    return ConfigError(
        f"{section}.{key}",
        said("operator.missing_setting", when=when, variable=env_name(section, key)),
    )


def parse_weekly_time(value: str, key: str) -> WeeklyTime:
    """Parse "thu 17:00" (or "Thursday 17:00")."""
    match = _WEEKLY_TIME_RE.fullmatch(value.strip())
    weekday = _WEEKDAY_NUMBERS.get(match.group(1).lower()) if match else None
    if match is None or weekday is None:
        raise ConfigError(key, said("operator.weekly_time"))
    t = _parse_time(match.group(2), match.group(3), key)
    return WeeklyTime(weekday=weekday, hour=t.hour, minute=t.minute)


def parse_quiet_hours(value: str, key: str) -> QuietHours | None:
    """Parse "20:00-07:00"; an empty string means no quiet hours."""
    text = value.strip()
    if not text:
        return None
    match = _QUIET_HOURS_RE.fullmatch(text)
    if match is None:
        raise ConfigError(key, said("operator.quiet_hours"))
    start = _parse_time(match.group(1), match.group(2), key)
    end = _parse_time(match.group(3), match.group(4), key)
    if start == end:
        raise ConfigError(key, said("operator.quiet_hours_same"))
    return QuietHours(start=start, end=end)


def parse_date_range(value: str, key: str) -> DateRange:
    """Parse "2026-12-21..2027-01-01" or a single day "2026-11-26"."""
    first_text, dots, last_text = value.strip().partition("..")
    first = _parse_date(first_text.strip(), key)
    last = _parse_date(last_text.strip(), key) if dots else first
    if last < first:
        raise ConfigError(key, said("operator.date_range_backwards"))
    return DateRange(first=first, last=last)


def parse_listen(value: str, key: str) -> tuple[str, int]:
    """Parse "host:port" ("[::]:8443" for IPv6) into what a server binds to."""
    match = _LISTEN_RE.fullmatch(value.strip())
    if match is None:
        raise ConfigError(key, said("operator.listen"))
    port = int(match.group(2))
    if not 1 <= port <= 65535:
        raise ConfigError(key, said("operator.port_range"))
    return match.group(1).removeprefix("[").removesuffix("]"), port


def _parse_time(hour: str, minute: str, key: str) -> datetime.time:
    h, m = int(hour), int(minute)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ConfigError(key, said("operator.time_range"))
    return datetime.time(h, m)


def _parse_date(text: str, key: str) -> datetime.date:
    # The regex first: fromisoformat alone would also take "20261126" and week dates.
    if not _DATE_RE.fullmatch(text):
        raise ConfigError(key, said("operator.date_format"))
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(key, said("operator.not_a_date")) from None


def read_file(path: Path | None) -> dict[str, object]:
    if path is None:
        if not DEFAULT_PATH.exists():
            return {}
        path = DEFAULT_PATH
    elif not path.exists():
        raise ConfigError("config", said("operator.file_not_found", path=path))
    try:
        with path.open("rb") as file:
            data: dict[str, object] = tomllib.load(file)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            "config", said("operator.not_toml", path=path, where=_toml_where(err))
        ) from err
    except UnicodeDecodeError as err:
        raise ConfigError("config", said("operator.not_utf8_toml", path=path)) from err
    except OSError as err:
        raise ConfigError(
            "config", said("operator.cannot_read", path=path, why=err.strerror)
        ) from err
    return data


def _toml_where(err: tomllib.TOMLDecodeError) -> str | Said:
    # Python 3.11 gives only the message, "Invalid value (at line 3, column 9)".
    match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(err), re.DOTALL)
    if match is None:
        return str(err)
    problem = match.group(1)
    problem = f"{problem[:1].lower()}{problem[1:]}"  # tomllib's own words, in English
    return said("operator.toml_where", line=match.group(2), column=match.group(3), problem=problem)


class Section:
    """One [section]'s raw values, the environment on top, read back as typed values.

    A bad value raises ConfigError naming ``section.key``, never repeating the value.
    """

    def __init__(self, name: str, values: dict[str, object], from_env: dict[str, str]) -> None:
        self.name = name
        self.values = values
        self.from_env = from_env  # key -> the variable that set it

    def key(self, name: str) -> str:
        return f"{self.name}.{name}"

    def error(self, name: str, why: str | Said) -> ConfigError:
        return ConfigError(self.key(name), why)

    def text(self, name: str, default: str) -> str:
        raw = self.values.get(name)
        if raw is None:
            return default
        if not isinstance(raw, str):
            raise self.error(name, said("operator.expected_string", type=toml_type(raw)))
        # Stray spaces or a newline pasted with a token would only fail later, obscurely.
        return raw.strip()

    def flag(self, name: str, default: bool) -> bool:
        raw = self.values.get(name)
        if raw is None:
            return default
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and name in self.from_env:
            word = raw.strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise self.error(name, said("operator.expected_flag_env", variable=self.from_env[name]))
        raise self.error(name, said("operator.expected_flag", type=toml_type(raw)))

    def integer(self, name: str, default: int) -> int:
        raw = self.values.get(name)
        if raw is None:
            return default
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and name in self.from_env:
            if _INTEGER_RE.fullmatch(raw.strip()):
                return int(raw)
            raise self.error(
                name, said("operator.expected_number_env", variable=self.from_env[name])
            )
        raise self.error(name, said("operator.expected_number", type=toml_type(raw)))

    def positive(self, name: str, default: int) -> int:
        number = self.integer(name, default)
        if number <= 0:
            raise self.error(name, said("operator.positive"))
        return number

    def choice(self, name: str, default: _Choice, options: tuple[_Choice, ...]) -> _Choice:
        word = self.text(name, default).lower()
        for option in options:
            if word == option:
                return option
        raise self.error(name, said("operator.one_of", options=", ".join(map(repr, options))))

    def url(self, name: str, default: str) -> str:
        url = self.text(name, default)
        if url and not url.startswith(("https://", "http://")):
            raise self.error(name, said("operator.url"))
        return url

    def parsed(self, name: str, default: _T, parse: Callable[[str, str], _T]) -> _T:
        if name not in self.values:
            return default
        return parse(self.text(name, ""), self.key(name))

    def strings(self, name: str) -> list[str]:
        raw = self.values.get(name)
        if raw is None:
            return []
        if isinstance(raw, str) and name in self.from_env:
            return [item.strip() for item in raw.split(",") if item.strip()]
        if not isinstance(raw, list):
            raise self.error(name, said("operator.expected_list", type=toml_type(raw)))
        items: list[str] = []
        for n, item in enumerate(raw, start=1):
            # A bare TOML date (2026-11-26, no quotes) is a date already.
            if isinstance(item, datetime.date) and not isinstance(item, datetime.datetime):
                item = item.isoformat()
            if not isinstance(item, str):
                raise self.error(
                    name,
                    said(
                        "operator.item",
                        number=n,
                        why=said("operator.expected_string", type=toml_type(item)),
                    ),
                )
            items.append(item)
        return items

    def required(self, name: str, value: str, when: Said) -> None:
        if value:
            return
        variable = self.from_env.get(name)
        if variable:
            raise self.error(name, said("operator.required_empty", when=when, variable=variable))
        raise self.error(
            name, said("operator.missing_setting", when=when, variable=env_name(self.name, name))
        )


def toml_type(value: object) -> Said | str:
    # Named in TOML's words, never echoing the value: it could be a misplaced secret.
    if isinstance(value, bool):
        return said("operator.type_flag")
    if isinstance(value, int):
        return said("operator.type_number")
    if isinstance(value, float):
        return said("operator.type_decimal")
    if isinstance(value, str):
        return said("operator.type_string")
    if isinstance(value, list):
        return said("operator.type_list")
    if isinstance(value, dict):
        return said("operator.type_table")
    if isinstance(value, datetime.date | datetime.time):
        return said("operator.type_date")
    return type(value).__name__
