"""TOML file + environment -> validated, typed, frozen settings (DESIGN.md section 8).

Every key can be overridden by ``TANDEM_<SECTION>_<KEY>``; ``TANDEM_SECRET_KEY`` is an
alias for ``security.secret_key``. A bad value raises ConfigError naming the key.

The core's own sections are read here. A chat platform's section (``[telegram]``, ``[slack]``)
and the ``[sender]`` keys that pace it are declared by its adapter, as a `PlatformSection` the
composition root passes to `load_config`: the core knows platforms only as `PlatformConfig`.
"""

from __future__ import annotations

import datetime
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

from bot.errors import CommandError
from bot.i18n import languages
from bot.translation_config import TranslationConfig, read_translation

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DEFAULT_PATH = Path("tandem.toml")
ENV_PREFIX = "TANDEM_"
SECRET_KEY_ALIAS = "TANDEM_SECRET_KEY"

DATABASE_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")

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
_Platform = TypeVar("_Platform", bound="PlatformConfig")


class ConfigError(CommandError):
    """A setting that stops start-up; ``key`` names it (``section.key``), ``why`` explains."""

    def __init__(self, key: str, why: str) -> None:
        # Both in args so the error survives pickling (multiprocessing, logging handlers).
        super().__init__(key, why)
        self.key = key
        self.why = why

    def __str__(self) -> str:
        return f"{self.key}: {self.why}"


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


@dataclass(frozen=True)
class DatabaseConfig:
    # Hidden from repr: a PostgreSQL URL may carry a password.
    url: str = field(default="sqlite+aiosqlite:///tandem.db", repr=False)


@dataclass(frozen=True)
class SchoolConfig:
    name: str = "Maple Elementary"
    timezone: str = "America/Chicago"
    language: str = "en"


@dataclass(frozen=True)
class ScheduleConfig:
    checkin: WeeklyTime = WeeklyTime(weekday=3, hour=17, minute=0)
    summary: WeeklyTime = WeeklyTime(weekday=4, hour=15, minute=0)
    quiet_hours: QuietHours | None = QuietHours(datetime.time(20, 0), datetime.time(7, 0))
    skip_dates: tuple[DateRange, ...] = ()

    def is_skipped(self, d: datetime.date) -> bool:
        return any(dates.contains(d) for dates in self.skip_dates)


# Secrets are repr=False so that logging a config object never prints them (adapters' too).
@dataclass(frozen=True)
class PlatformConfig:
    """A chat platform's [section]: its adapter subclasses this with its own keys."""

    enabled: bool = False

    @classmethod
    def read(cls, section: Section) -> Self:
        """The section's values, checked (a subclass reads its own keys)."""
        return cls(enabled=section.flag("enabled", False))

    def check(self) -> None:
        """Refuse, as its adapter is built, a setting the adapter cannot start with (the loader
        lets a disabled adapter's section be incomplete)."""

    def invite_link(self, code: str, bot_username: str | None) -> str | None:
        """A link that opens a chat with the bot and redeems `code`; None where there is none.

        `bot_username` is the name the platform gave the bot when it last started, if any.
        """
        return None


@dataclass(frozen=True)
class PlatformLimits:
    """Messages per second to a platform overall and to one chat on it; None = no limit."""

    per_second: int | None
    per_chat_per_second: int | None


@dataclass(frozen=True)
class SendLimit:
    """A [sender] key that paces one platform, and its default."""

    key: str
    default: int


class PlatformSection(Protocol):
    """What the loader learns of a platform from its adapter: the section and its pace."""

    @property
    def name(self) -> str:
        """The [section] and the platform's name in the database (`telegram`)."""

    @property
    def config(self) -> type[PlatformConfig]:
        """The section's model; its fields are the section's keys."""

    @property
    def per_second(self) -> SendLimit | None:
        """The [sender] key for messages per second to the whole platform, if it has one."""

    @property
    def per_chat_per_second(self) -> SendLimit | None:
        """The [sender] key for messages per second to one chat, if it has one."""


@dataclass(frozen=True)
class SecurityConfig:
    secret_key: str = field(default="", repr=False)
    invite_ttl_hours: int = 168
    retention_days: int = 730
    max_entry_chars: int = 2000
    # Per person: beyond this many messages a minute, one "slow down" and nothing handled.
    messages_per_minute: int = 20
    # Per person: urgent notes that page the whole team in an hour; later ones are concerns.
    urgent_per_hour: int = 5


@dataclass(frozen=True)
class SenderConfig:
    """How fast and how persistently the outbox sender delivers (per sender process)."""

    max_attempts: int = 8
    claim_seconds: int = 60
    concurrency: int = 16
    # Per platform, from the [sender] keys its adapter declares; a platform not here is unpaced.
    limits: Mapping[str, PlatformLimits] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    school: SchoolConfig = field(default_factory=SchoolConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    sender: SenderConfig = field(default_factory=SenderConfig)
    translation: TranslationConfig = field(default_factory=TranslationConfig)
    # Each platform's [section] by name, in the order the composition root declared them.
    platforms: Mapping[str, PlatformConfig] = field(default_factory=dict)

    def platform(self, kind: type[_Platform]) -> _Platform:
        """The section read into `kind` (its adapter's model); its defaults if none was."""
        for config in self.platforms.values():
            if isinstance(config, kind):
                return config
        return kind()

    @property
    def enabled_platforms(self) -> list[str]:
        return [name for name, config in self.platforms.items() if config.enabled]


def section_keys(platforms: Iterable[PlatformSection] = ()) -> dict[str, tuple[str, ...]]:
    """Every [section] and its keys, in the example file's order.

    Derived from the models, so that a new key is known to the file and the environment at once.
    """
    platforms = list(platforms)
    core = Settings()

    def keys(model: DataclassInstance | type[DataclassInstance]) -> tuple[str, ...]:
        return tuple(key.name for key in fields(model) if key.name != "limits")

    paced = tuple(
        limit.key
        for platform in platforms
        for limit in (platform.per_second, platform.per_chat_per_second)
        if limit is not None
    )
    return {
        "database": keys(core.database),
        "school": keys(core.school),
        "schedule": keys(core.schedule),
        **{platform.name: keys(platform.config) for platform in platforms},
        "security": keys(core.security),
        "sender": paced + keys(core.sender),
        "translation": keys(core.translation),
    }


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``section.key``."""
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def missing(section: str, key: str, when: str) -> ConfigError:
    """The error for ``section.key`` left empty though `when` needs it."""
    return ConfigError(
        f"{section}.{key}", f"required when {when} (or set {env_name(section, key)})"
    )


def parse_weekly_time(value: str, key: str) -> WeeklyTime:
    """Parse "thu 17:00" (or "Thursday 17:00")."""
    match = _WEEKLY_TIME_RE.fullmatch(value.strip())
    weekday = _WEEKDAY_NUMBERS.get(match.group(1).lower()) if match else None
    if match is None or weekday is None:
        raise ConfigError(key, "expected a weekday and a time like 'thu 17:00'")
    t = _parse_time(match.group(2), match.group(3), key)
    return WeeklyTime(weekday=weekday, hour=t.hour, minute=t.minute)


def parse_quiet_hours(value: str, key: str) -> QuietHours | None:
    """Parse "20:00-07:00"; an empty string means no quiet hours."""
    text = value.strip()
    if not text:
        return None
    match = _QUIET_HOURS_RE.fullmatch(text)
    if match is None:
        raise ConfigError(key, "expected a time range like '20:00-07:00' (or \"\" for none)")
    start = _parse_time(match.group(1), match.group(2), key)
    end = _parse_time(match.group(3), match.group(4), key)
    if start == end:
        raise ConfigError(key, 'start and end are the same time (use "" for no quiet hours)')
    return QuietHours(start=start, end=end)


def parse_date_range(value: str, key: str) -> DateRange:
    """Parse "2026-12-21..2027-01-01" or a single day "2026-11-26"."""
    first_text, dots, last_text = value.strip().partition("..")
    first = _parse_date(first_text.strip(), key)
    last = _parse_date(last_text.strip(), key) if dots else first
    if last < first:
        raise ConfigError(key, "the date range ends before it starts")
    return DateRange(first=first, last=last)


def parse_listen(value: str, key: str) -> tuple[str, int]:
    """Parse "host:port" ("[::]:8443" for IPv6) into what a server binds to."""
    match = _LISTEN_RE.fullmatch(value.strip())
    if match is None:
        raise ConfigError(key, "expected \"host:port\" like '0.0.0.0:8443'")
    port = int(match.group(2))
    if not 1 <= port <= 65535:
        raise ConfigError(key, "the port must be between 1 and 65535")
    return match.group(1).removeprefix("[").removesuffix("]"), port


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    platforms: Iterable[PlatformSection] = (),
) -> Settings:
    """Read the TOML file (or ./tandem.toml, or nothing), apply the environment, validate.

    `platforms` are the chat platforms' sections, as their adapters declare them; a section
    not declared is an unknown section.
    """
    platforms = list(platforms)
    data = _read_file(path)
    sections = _sections(data, os.environ if environ is None else environ, section_keys(platforms))
    return Settings(
        database=_database(sections["database"]),
        school=_school(sections["school"]),
        schedule=_schedule(sections["schedule"]),
        security=_security(sections["security"]),
        sender=_sender(sections["sender"], platforms),
        translation=read_translation(sections["translation"]),
        platforms={
            platform.name: platform.config.read(sections[platform.name]) for platform in platforms
        },
    )


def default_settings(platforms: Iterable[PlatformSection] = ()) -> Settings:
    """What `load_config` gives with no file and no environment."""
    platforms = list(platforms)
    nothing_set = Section("sender", {}, {})
    sender = SenderConfig(
        limits={platform.name: _limits(platform, nothing_set) for platform in platforms}
    )
    return Settings(
        sender=sender, platforms={platform.name: platform.config() for platform in platforms}
    )


def _parse_time(hour: str, minute: str, key: str) -> datetime.time:
    h, m = int(hour), int(minute)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ConfigError(key, "times are 24-hour HH:MM, from 00:00 to 23:59")
    return datetime.time(h, m)


def _parse_date(text: str, key: str) -> datetime.date:
    # The regex first: fromisoformat alone would also take "20261126" and week dates.
    if not _DATE_RE.fullmatch(text):
        raise ConfigError(
            key, "expected a date like '2026-11-26' or a range like '2026-12-21..2027-01-01'"
        )
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(key, "not a real calendar date") from None


def _read_file(path: Path | None) -> dict[str, object]:
    if path is None:
        if not DEFAULT_PATH.exists():
            return {}
        path = DEFAULT_PATH
    elif not path.exists():
        raise ConfigError("config", f"file not found: {path}")
    try:
        with path.open("rb") as file:
            data: dict[str, object] = tomllib.load(file)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError("config", f"{path}: not valid TOML ({_toml_where(err)})") from err
    except UnicodeDecodeError as err:
        raise ConfigError("config", f"{path}: not valid TOML (not UTF-8 text)") from err
    except OSError as err:
        raise ConfigError("config", f"cannot read {path}: {err.strerror}") from err
    return data


def _toml_where(err: tomllib.TOMLDecodeError) -> str:
    # Python 3.11 gives only the message, "Invalid value (at line 3, column 9)".
    match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(err), re.DOTALL)
    if match is None:
        return str(err)
    problem = match.group(1)
    return f"line {match.group(2)}, column {match.group(3)}: {problem[:1].lower()}{problem[1:]}"


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

    def error(self, name: str, why: str) -> ConfigError:
        return ConfigError(self.key(name), why)

    def text(self, name: str, default: str) -> str:
        raw = self.values.get(name)
        if raw is None:
            return default
        if not isinstance(raw, str):
            raise self.error(name, f"expected a string, got {_toml_type(raw)}")
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
            raise self.error(name, f"expected true or false (or 1 or 0) in {self.from_env[name]}")
        raise self.error(name, f"expected true or false, got {_toml_type(raw)}")

    def integer(self, name: str, default: int) -> int:
        raw = self.values.get(name)
        if raw is None:
            return default
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and name in self.from_env:
            if _INTEGER_RE.fullmatch(raw.strip()):
                return int(raw)
            raise self.error(name, f"expected a whole number in {self.from_env[name]}")
        raise self.error(name, f"expected a whole number, got {_toml_type(raw)}")

    def positive(self, name: str, default: int) -> int:
        number = self.integer(name, default)
        if number <= 0:
            raise self.error(name, "must be a positive whole number")
        return number

    def choice(self, name: str, default: _Choice, options: tuple[_Choice, ...]) -> _Choice:
        word = self.text(name, default).lower()
        for option in options:
            if word == option:
                return option
        raise self.error(name, f"expected one of {', '.join(repr(o) for o in options)}")

    def url(self, name: str, default: str) -> str:
        url = self.text(name, default)
        if url and not url.startswith(("https://", "http://")):
            raise self.error(name, "expected an http:// or https:// URL")
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
            raise self.error(name, f"expected a list of strings, got {_toml_type(raw)}")
        items: list[str] = []
        for n, item in enumerate(raw, start=1):
            # A bare TOML date (2026-11-26, no quotes) is a date already.
            if isinstance(item, datetime.date) and not isinstance(item, datetime.datetime):
                item = item.isoformat()
            if not isinstance(item, str):
                raise self.error(name, f"item {n}: expected a string, got {_toml_type(item)}")
            items.append(item)
        return items

    def required(self, name: str, value: str, when: str) -> None:
        if value:
            return
        variable = self.from_env.get(name)
        hint = f"{variable} is set but empty" if variable else f"or set {env_name(self.name, name)}"
        raise self.error(name, f"required when {when} ({hint})")


def _toml_type(value: object) -> str:
    # Named in TOML's words, never echoing the value: it could be a misplaced secret.
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime.date | datetime.time):
        return "a date or time (quote it)"
    return type(value).__name__


def _sections(
    data: dict[str, object], environ: Mapping[str, str], known: dict[str, tuple[str, ...]]
) -> dict[str, Section]:
    for name, table in data.items():
        if name not in known:
            raise ConfigError(name, f"unknown section (expected {', '.join(known)})")
        if not isinstance(table, dict):
            raise ConfigError(name, f"expected a [{name}] table, got {_toml_type(table)}")
        for key in table:
            if key not in known[name]:
                raise ConfigError(f"{name}.{key}", "unknown key")

    sections: dict[str, Section] = {}
    for name, keys in known.items():
        table = data.get(name)
        values: dict[str, object] = dict(table) if isinstance(table, dict) else {}
        from_env: dict[str, str] = {}
        # Unknown TANDEM_* variables are not errors: TANDEM_TEST_DATABASE_URL is the tests'.
        for key in keys:
            variables = [env_name(name, key)]
            if (name, key) == ("security", "secret_key"):
                variables.insert(0, SECRET_KEY_ALIAS)  # the full name wins over the alias
            for variable in variables:
                # Set-but-empty counts as set: "" is how quiet hours are switched off.
                if variable in environ:
                    values[key] = environ[variable]
                    from_env[key] = variable
        sections[name] = Section(name, values, from_env)
    return sections


def _database(s: Section) -> DatabaseConfig:
    url = s.text("url", DatabaseConfig().url)
    if not url.startswith(DATABASE_SCHEMES):
        # The URL itself is not repeated: it may hold a password.
        supported = " or ".join(f"{scheme}..." for scheme in DATABASE_SCHEMES)
        raise s.error("url", f"unsupported database; supported URLs start with {supported}")
    return DatabaseConfig(url=url)


def _school(s: Section) -> SchoolConfig:
    default = SchoolConfig()
    name = s.text("name", default.name)
    if not name:
        raise s.error("name", "must not be empty")
    timezone = s.text("timezone", default.timezone)
    if timezone not in zoneinfo.available_timezones():
        raise s.error("timezone", "not a time zone known to zoneinfo, e.g. 'America/Chicago'")
    language = s.choice("language", default.language, languages())  # those with a catalog
    return SchoolConfig(name=name, timezone=timezone, language=language)


def _schedule(s: Section) -> ScheduleConfig:
    default = ScheduleConfig()
    skip_dates: list[DateRange] = []
    for n, item in enumerate(s.strings("skip_dates"), start=1):
        try:
            skip_dates.append(parse_date_range(item, s.key("skip_dates")))
        except ConfigError as err:
            raise s.error("skip_dates", f"item {n}: {err.why}") from None
    return ScheduleConfig(
        checkin=s.parsed("checkin", default.checkin, parse_weekly_time),
        summary=s.parsed("summary", default.summary, parse_weekly_time),
        quiet_hours=s.parsed("quiet_hours", default.quiet_hours, parse_quiet_hours),
        skip_dates=tuple(skip_dates),
    )


def _security(s: Section) -> SecurityConfig:
    default = SecurityConfig()
    return SecurityConfig(
        secret_key=s.text("secret_key", default.secret_key),
        invite_ttl_hours=s.positive("invite_ttl_hours", default.invite_ttl_hours),
        retention_days=s.positive("retention_days", default.retention_days),
        max_entry_chars=s.positive("max_entry_chars", default.max_entry_chars),
        messages_per_minute=s.positive("messages_per_minute", default.messages_per_minute),
        urgent_per_hour=s.positive("urgent_per_hour", default.urgent_per_hour),
    )


# Invite and link codes are hashed with the key: a short one would let a copy of the database
# be checked against guessed codes.
MIN_SECRET_KEY_LENGTH = 32
MAKE_SECRET_KEY = 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'


def check_secret_key(security: SecurityConfig) -> None:
    """Refuse to make or check a code without a strong security.secret_key (commands that
    make none, such as `tandem status`, run without one)."""
    key = security.secret_key
    if len(key) >= MIN_SECRET_KEY_LENGTH:
        return
    length = f"is {len(key)} characters, fewer than {MIN_SECRET_KEY_LENGTH}" if key else "is empty"
    raise ConfigError(
        "security.secret_key",
        f"{length}; invite codes are hashed with it. Make one with {MAKE_SECRET_KEY} "
        f"and set it in the config or in {SECRET_KEY_ALIAS}",
    )


def _sender(s: Section, platforms: list[PlatformSection]) -> SenderConfig:
    default = SenderConfig()
    config = SenderConfig(
        max_attempts=s.positive("max_attempts", default.max_attempts),
        claim_seconds=s.positive("claim_seconds", default.claim_seconds),
        concurrency=s.positive("concurrency", default.concurrency),
        limits={platform.name: _limits(platform, s) for platform in platforms},
    )
    # A claim must outlast a delivery started near its end (the sender stops starting new
    # ones in the last quarter of a claim), or another replica could send the same message.
    if config.claim_seconds < 10:
        raise s.error("claim_seconds", "must be at least 10 seconds")
    return config


def _limits(platform: PlatformSection, s: Section) -> PlatformLimits:
    """The platform's pace: the [sender] keys its adapter declares, as set or by default."""
    overall, per_chat = platform.per_second, platform.per_chat_per_second
    most = s.positive(overall.key, overall.default) if overall else None
    each = s.positive(per_chat.key, per_chat.default) if per_chat else None
    if overall and per_chat and most is not None and each is not None and each > most:
        raise s.error(per_chat.key, f"must not be more than {overall.key}")
    return PlatformLimits(most, each)
