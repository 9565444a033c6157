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
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

from bot.config_values import (
    ConfigError as ConfigError,  # the core's settings error, raised by every reader
)
from bot.config_values import (
    DateRange,
    QuietHours,
    Section,
    WeeklyTime,
    env_name,
    parse_date_range,
    parse_quiet_hours,
    parse_weekly_time,
    read_file,
    toml_type,
)
from bot.errors import said
from bot.i18n import find_language, languages
from bot.i18n.school_catalog import SchoolCatalogError, read_school_catalog
from bot.metrics import MetricsConfig, read_metrics
from bot.translation_config import TranslationConfig, read_translation

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SECRET_KEY_ALIAS = "TANDEM_SECRET_KEY"

DATABASE_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")

_Platform = TypeVar("_Platform", bound="PlatformConfig")


@dataclass(frozen=True)
class DatabaseConfig:
    # Hidden from repr: a PostgreSQL URL may carry a password.
    url: str = field(default="sqlite+aiosqlite:///tandem.db", repr=False)


@dataclass(frozen=True)
class SchoolConfig:
    name: str = "Maple Elementary"
    timezone: str = "America/Chicago"
    language: str = "en"
    # A folder of .po files whose messages replace Tandem's wording (bot/i18n/school_catalog.py).
    catalog_dir: str = ""


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
class ProgressConfig:
    # A measured goal with no new measure this many weeks is named in its teachers' nudge.
    stale_weeks: int = 3


@dataclass(frozen=True)
class SummaryConfig:
    # With the weekly summary, one picture per student of the goals measured that week.
    charts: bool = True


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
    progress: ProgressConfig = field(default_factory=ProgressConfig)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    sender: SenderConfig = field(default_factory=SenderConfig)
    translation: TranslationConfig = field(default_factory=TranslationConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
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
        "progress": keys(core.progress),
        "summary": keys(core.summary),
        "sender": paced + keys(core.sender),
        "translation": keys(core.translation),
        "metrics": keys(core.metrics),
    }


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
    data = read_file(path)
    sections = _sections(data, os.environ if environ is None else environ, section_keys(platforms))
    return Settings(
        database=_database(sections["database"]),
        school=_school(sections["school"]),
        schedule=_schedule(sections["schedule"]),
        security=_security(sections["security"]),
        progress=ProgressConfig(
            stale_weeks=sections["progress"].positive("stale_weeks", ProgressConfig.stale_weeks)
        ),
        summary=SummaryConfig(charts=sections["summary"].flag("charts", SummaryConfig.charts)),
        sender=_sender(sections["sender"], platforms),
        translation=read_translation(sections["translation"]),
        metrics=read_metrics(sections["metrics"]),
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


def _sections(
    data: dict[str, object], environ: Mapping[str, str], known: dict[str, tuple[str, ...]]
) -> dict[str, Section]:
    for name, table in data.items():
        if name not in known:
            raise ConfigError(name, said("operator.unknown_section", sections=", ".join(known)))
        if not isinstance(table, dict):
            raise ConfigError(
                name, said("operator.expected_table", name=name, type=toml_type(table))
            )
        for key in table:
            if key not in known[name]:
                raise ConfigError(f"{name}.{key}", said("operator.unknown_key"))

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
        raise s.error("url", said("operator.database_url", supported=supported))
    return DatabaseConfig(url=url)


def _school(s: Section) -> SchoolConfig:
    default = SchoolConfig()
    name = s.text("name", default.name)
    if not name:
        raise s.error("name", said("operator.not_empty"))
    timezone = s.text("timezone", default.timezone)
    if timezone not in zoneinfo.available_timezones():
        raise s.error("timezone", said("operator.timezone"))
    wanted = s.text("language", default.language)
    language = find_language(wanted)  # those with a catalog: `zh_Hans`, `zh-hans`, `es`
    if language is None:
        raise s.error(
            "language", said("operator.one_of", options=", ".join(map(repr, languages())))
        )
    catalog_dir = s.text("catalog_dir", default.catalog_dir)
    if catalog_dir:
        try:
            read_school_catalog(Path(catalog_dir))
        except SchoolCatalogError as err:
            raise s.error("catalog_dir", str(err)) from None
    return SchoolConfig(name=name, timezone=timezone, language=language, catalog_dir=catalog_dir)


def _schedule(s: Section) -> ScheduleConfig:
    default = ScheduleConfig()
    skip_dates: list[DateRange] = []
    for n, item in enumerate(s.strings("skip_dates"), start=1):
        try:
            skip_dates.append(parse_date_range(item, s.key("skip_dates")))
        except ConfigError as err:
            raise s.error("skip_dates", said("operator.item", number=n, why=err.said)) from None
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
    length = (
        said("operator.secret_key_short", length=len(key), minimum=MIN_SECRET_KEY_LENGTH)
        if key
        else said("operator.secret_key_empty")
    )
    raise ConfigError(
        "security.secret_key",
        said(
            "operator.secret_key",
            length=length,
            command=MAKE_SECRET_KEY,
            variable=SECRET_KEY_ALIAS,
        ),
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
        raise s.error("claim_seconds", said("operator.claim_seconds"))
    return config


def _limits(platform: PlatformSection, s: Section) -> PlatformLimits:
    """The platform's pace: the [sender] keys its adapter declares, as set or by default."""
    overall, per_chat = platform.per_second, platform.per_chat_per_second
    most = s.positive(overall.key, overall.default) if overall else None
    each = s.positive(per_chat.key, per_chat.default) if per_chat else None
    if overall and per_chat and most is not None and each is not None and each > most:
        raise s.error(per_chat.key, said("operator.not_more_than", other=overall.key))
    return PlatformLimits(most, each)
