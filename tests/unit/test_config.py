"""Config: the file and environment a school IT person writes, and what Tandem makes of it."""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import pytest

from adapters.platforms import PLATFORMS, SlackConfig, TelegramConfig, defaults, load_settings
from bot.config import (
    ConfigError,
    PlatformConfig,
    PlatformLimits,
    ScheduleConfig,
    SenderConfig,
    SendLimit,
    Settings,
    section_keys,
)
from bot.config import load_config as load_core_config
from bot.config_values import (
    DateRange,
    QuietHours,
    Section,
    WeeklyTime,
    env_name,
    parse_date_range,
    parse_listen,
    parse_quiet_hours,
    parse_weekly_time,
)

# The config as `tandem` reads it: the core's sections and every platform's.
load_config = load_settings
SECTION_KEYS = section_keys(PLATFORMS.values())

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
SECRET = "s3cr3t-Value_do-not-print"
ENABLED_TELEGRAM = '[telegram]\nenabled = true\ntoken = "123:abc"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tandem.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    return load_config(write(tmp_path, text), environ or {})


# Defaults and the example file


def test_defaults_when_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    settings = load_config(None, {})

    assert settings == defaults()
    assert settings.database.url == "sqlite+aiosqlite:///tandem.db"
    assert settings.schedule.checkin == WeeklyTime(weekday=3, hour=17, minute=0)
    assert settings.schedule.summary == WeeklyTime(weekday=4, hour=15, minute=0)
    assert settings.schedule.quiet_hours == QuietHours(datetime.time(20), datetime.time(7))
    assert settings.platform(TelegramConfig).webhook_listen == ("0.0.0.0", 8443)
    assert settings.platform(SlackConfig).http_listen == ("0.0.0.0", 3000)


def test_tandem_toml_in_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[school]\nname = "Oak Hill"\n')

    assert load_config(None, {}).school.name == "Oak Hill"


def test_example_file_loads_and_equals_defaults() -> None:
    assert load_config(EXAMPLE, {}) == defaults()


def test_example_file_lists_every_key_with_its_environment_variable() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    example = tomllib.loads(text)

    assert {section: tuple(keys) for section, keys in example.items()} == SECTION_KEYS
    for section, keys in SECTION_KEYS.items():
        for key in keys:
            assert env_name(section, key) in text
    assert "TANDEM_SECRET_KEY" in text


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    with pytest.raises(ConfigError) as caught:
        load_config(missing, {})

    assert str(caught.value) == f"config: file not found: {missing}"


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, '[school]\nname = "Oak"\nname = "Elm"\n')

    assert caught.value.key == "config"
    assert "not valid TOML (line 3" in caught.value.why
    assert "tandem.toml" in caught.value.why


def test_error_carries_key_and_why() -> None:
    err = ConfigError("school.language", "expected one of 'en', 'es'")

    assert (err.key, err.why) == ("school.language", "expected one of 'en', 'es'")
    assert str(err) == "school.language: expected one of 'en', 'es'"


# Platforms: the core knows only what an adapter declares


@dataclass(frozen=True)
class PigeonConfig(PlatformConfig):
    loft: str = ""

    @classmethod
    def read(cls, section: Section) -> Self:
        return cls(enabled=section.flag("enabled", False), loft=section.text("loft", ""))


@dataclass(frozen=True)
class Pigeon:
    """A platform as an adapter declares it to the loader."""

    name: str
    config: type[PlatformConfig]
    per_second: SendLimit | None
    per_chat_per_second: SendLimit | None = None


def test_the_core_alone_knows_no_platform(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_core_config(write(tmp_path, ENABLED_TELEGRAM), {})

    assert (caught.value.key, caught.value.why.split(" (")[0]) == ("telegram", "unknown section")


def test_a_platform_brings_its_own_section_variables_and_pace(tmp_path: Path) -> None:
    text = '[pigeon]\nenabled = true\nloft = "roof"\n[sender]\npigeon_per_second = 3\n'

    settings = load_core_config(
        write(tmp_path, text),
        {"TANDEM_PIGEON_LOFT": "barn"},
        [Pigeon("pigeon", PigeonConfig, SendLimit("pigeon_per_second", 2))],
    )

    assert settings.platform(PigeonConfig) == PigeonConfig(enabled=True, loft="barn")
    assert settings.enabled_platforms == ["pigeon"]
    assert settings.sender.limits == {"pigeon": PlatformLimits(3, None)}


# The environment


def test_environment_beats_the_file(tmp_path: Path) -> None:
    file = (
        '[database]\nurl = "sqlite+aiosqlite:///file.db"\n'
        '[telegram]\nenabled = false\ntoken = "from-file"\n'
        '[security]\nsecret_key = "from-file"\nretention_days = 30\n'
    )
    environ = {
        "TANDEM_DATABASE_URL": "postgresql+asyncpg://tandem@db/tandem",
        "TANDEM_TELEGRAM_ENABLED": "true",
        "TANDEM_TELEGRAM_TOKEN": "123:from-env",
        "TANDEM_SECRET_KEY": "key-from-env",
        "TANDEM_SECURITY_RETENTION_DAYS": "365",
        "TANDEM_SCHEDULE_CHECKIN": "Friday 09:30",
        "TANDEM_SCHEDULE_SKIP_DATES": "2026-11-26, 2026-12-21..2027-01-01",
    }

    settings = load_text(tmp_path, file, environ)

    assert settings.database.url == "postgresql+asyncpg://tandem@db/tandem"
    assert settings.platform(TelegramConfig).enabled is True
    assert settings.platform(TelegramConfig).token == "123:from-env"
    assert settings.security.secret_key == "key-from-env"
    assert settings.security.retention_days == 365
    assert settings.schedule.checkin == WeeklyTime(weekday=4, hour=9, minute=30)
    assert settings.schedule.skip_dates == (
        DateRange(datetime.date(2026, 11, 26), datetime.date(2026, 11, 26)),
        DateRange(datetime.date(2026, 12, 21), datetime.date(2027, 1, 1)),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("TRUE", True), ("false", False), ("0", False)],
)
def test_boolean_from_environment(value: str, expected: bool) -> None:
    environ = {"TANDEM_SLACK_ENABLED": value, "TANDEM_SLACK_BOT_TOKEN": "xoxb-1"}
    environ["TANDEM_SLACK_APP_TOKEN"] = "xapp-1"

    assert load_config(EXAMPLE, environ).platform(SlackConfig).enabled is expected


def test_full_secret_key_variable_beats_its_alias() -> None:
    environ = {"TANDEM_SECRET_KEY": "alias", "TANDEM_SECURITY_SECRET_KEY": "full"}

    assert load_config(EXAMPLE, environ).security.secret_key == "full"


def test_empty_quiet_hours_in_environment_turns_them_off() -> None:
    settings = load_config(EXAMPLE, {"TANDEM_SCHEDULE_QUIET_HOURS": ""})

    assert settings.schedule.quiet_hours is None


def test_empty_skip_dates_in_environment_means_none(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path, '[schedule]\nskip_dates = ["2026-11-26"]\n', {"TANDEM_SCHEDULE_SKIP_DATES": ""}
    )

    assert settings.schedule.skip_dates == ()


def test_unrelated_tandem_variables_are_ignored() -> None:
    environ = {"TANDEM_TEST_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test"}

    assert load_config(EXAMPLE, environ) == defaults()


# Bad values: each names its key

BAD_FILES = [
    ("[telegrm]\nenabled = true\n", "telegrm", "unknown section"),
    ("telegram = 1\n", "telegram", "expected a [telegram] table"),
    ('[telegram]\ntokn = "x"\n', "telegram.tokn", "unknown key"),
    ("[telegram]\nenabled = 1\n", "telegram.enabled", "expected true or false"),
    ('[telegram]\nenabled = "yes"\n', "telegram.enabled", "expected true or false"),
    ("[school]\nname = 5\n", "school.name", "expected a string"),
    ('[school]\nname = " "\n', "school.name", "must not be empty"),
    ('[school]\ntimezone = "America/Chicgo"\n', "school.timezone", "zoneinfo"),
    ('[school]\nlanguage = "fr"\n', "school.language", "expected one of 'en', 'es'"),
    ('[schedule]\ncheckin = "thursday"\n', "schedule.checkin", "like 'thu 17:00'"),
    ('[schedule]\ncheckin = "thr 17:00"\n', "schedule.checkin", "like 'thu 17:00'"),
    ('[schedule]\nsummary = "fri 25:00"\n', "schedule.summary", "24-hour"),
    ('[schedule]\nsummary = "fri 5pm"\n', "schedule.summary", "like 'thu 17:00'"),
    ('[schedule]\nquiet_hours = "8pm-7am"\n', "schedule.quiet_hours", "like '20:00-07:00'"),
    ('[schedule]\nquiet_hours = "20:00-20:00"\n', "schedule.quiet_hours", "same time"),
    ('[schedule]\nskip_dates = "2026-11-26"\n', "schedule.skip_dates", "expected a list"),
    ('[schedule]\nskip_dates = ["26/11/2026"]\n', "schedule.skip_dates", "item 1"),
    ('[schedule]\nskip_dates = ["2026-02-30"]\n', "schedule.skip_dates", "not a real"),
    (
        '[schedule]\nskip_dates = ["2026-11-26", "2027-01-01..2026-12-21"]\n',
        "schedule.skip_dates",
        "item 2: the date range ends before it starts",
    ),
    ('[telegram]\nmode = "hook"\n', "telegram.mode", "expected one of 'polling', 'webhook'"),
    ('[slack]\nmode = "events"\n', "slack.mode", "expected one of 'socket', 'http'"),
    ('[telegram]\nwebhook_listen = "8443"\n', "telegram.webhook_listen", "host:port"),
    ('[telegram]\nwebhook_listen = "0.0.0.0:0"\n', "telegram.webhook_listen", "1 and 65535"),
    ('[slack]\nhttp_listen = "0.0.0.0:70000"\n', "slack.http_listen", "1 and 65535"),
    ('[telegram]\nbase_url = "api.telegram.org"\n', "telegram.base_url", "http"),
    ("[security]\ninvite_ttl_hours = 0\n", "security.invite_ttl_hours", "positive"),
    ("[security]\nretention_days = -1\n", "security.retention_days", "positive"),
    ("[security]\nretention_days = 1.5\n", "security.retention_days", "whole number"),
    ("[security]\nmessages_per_minute = 0\n", "security.messages_per_minute", "positive"),
    ("[security]\nurgent_per_hour = -5\n", "security.urgent_per_hour", "positive"),
    ('[database]\nurl = "mysql://db/tandem"\n', "database.url", "postgresql+asyncpg://"),
    ('[database]\nurl = "sqlite:///tandem.db"\n', "database.url", "sqlite+aiosqlite://"),
    (
        "[telegram]\nenabled = true\n",
        "telegram.token",
        "required when telegram.enabled is true (or set TANDEM_TELEGRAM_TOKEN)",
    ),
    (ENABLED_TELEGRAM + 'mode = "webhook"\n', "telegram.webhook_url", "required"),
    (
        ENABLED_TELEGRAM + 'mode = "webhook"\nwebhook_url = "https://t.example.org/hook"\n',
        "telegram.webhook_secret",
        "required",
    ),
    ("[slack]\nenabled = true\n", "slack.bot_token", "required when slack.enabled is true"),
    (
        '[slack]\nenabled = true\nbot_token = "xoxb-1"\n',
        "slack.app_token",
        "TANDEM_SLACK_APP_TOKEN",
    ),
    (
        '[slack]\nenabled = true\nbot_token = "xoxb-1"\nmode = "http"\n',
        "slack.signing_secret",
        "TANDEM_SLACK_SIGNING_SECRET",
    ),
]


@pytest.mark.parametrize(("text", "key", "why"), BAD_FILES)
def test_bad_value_in_file_names_the_key(tmp_path: Path, text: str, key: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)

    assert caught.value.key == key
    assert why in caught.value.why


BAD_ENVIRONMENT = [
    ({"TANDEM_TELEGRAM_ENABLED": "maybe"}, "telegram.enabled", "TANDEM_TELEGRAM_ENABLED"),
    ({"TANDEM_SECURITY_RETENTION_DAYS": "1y"}, "security.retention_days", "number in TANDEM_"),
    ({"TANDEM_SECURITY_INVITE_TTL_HOURS": "0"}, "security.invite_ttl_hours", "positive"),
    ({"TANDEM_SECURITY_MESSAGES_PER_MINUTE": "0"}, "security.messages_per_minute", "positive"),
    ({"TANDEM_SCHEDULE_SKIP_DATES": "2026-11-26,xmas"}, "schedule.skip_dates", "item 2"),
    ({"TANDEM_SCHOOL_TIMEZONE": "Central"}, "school.timezone", "zoneinfo"),
    ({"TANDEM_DATABASE_URL": "postgres://db"}, "database.url", "supported"),
    (
        {"TANDEM_TELEGRAM_ENABLED": "1", "TANDEM_TELEGRAM_TOKEN": ""},
        "telegram.token",
        "TANDEM_TELEGRAM_TOKEN is set but empty",
    ),
]


@pytest.mark.parametrize(("environ", "key", "why"), BAD_ENVIRONMENT)
def test_bad_value_in_environment_names_the_key(
    environ: dict[str, str], key: str, why: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE, environ)

    assert caught.value.key == key
    assert why in caught.value.why


# Secrets stay secret

SECRET_LEAKS = [
    f'[telegram]\nwebhook_listen = "{SECRET}:x"\n',
    f'[telegram]\nwebhook_secret = "{SECRET}!"\n',
    f'[telegram]\nmode = "{SECRET}"\n',
    f'[database]\nurl = "mysql://tandem:{SECRET}@db/tandem"\n',
    f'[security]\nsecret_key = "{SECRET}"\nretention_days = 0\n',
    f'[security]\nsecret_kee = "{SECRET}"\n',
    f'[slack]\nenabled = true\nbot_token = "{SECRET}"\nmode = "http"\n',
    f'[schedule]\nskip_dates = ["{SECRET}"]\n',
    f'[schedule]\ncheckin = "{SECRET}"\n',
    f'[school]\ntimezone = "{SECRET}"\n',
    f'[telegram]\ntoken = "{SECRET}\n',
]


@pytest.mark.parametrize("text", SECRET_LEAKS)
def test_secret_never_appears_in_an_error(tmp_path: Path, text: str) -> None:
    environ = {"TANDEM_TELEGRAM_TOKEN": SECRET, "TANDEM_SECRET_KEY": SECRET}

    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, environ)

    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


def test_secret_never_appears_in_repr() -> None:
    environ = {
        "TANDEM_DATABASE_URL": f"postgresql+asyncpg://tandem:{SECRET}@db/tandem",
        "TANDEM_TELEGRAM_TOKEN": SECRET,
        "TANDEM_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TANDEM_SLACK_BOT_TOKEN": SECRET,
        "TANDEM_SLACK_APP_TOKEN": SECRET,
        "TANDEM_SLACK_SIGNING_SECRET": SECRET,
        "TANDEM_SECRET_KEY": SECRET,
    }

    settings = load_config(EXAMPLE, environ)

    assert settings.platform(SlackConfig).signing_secret == SECRET
    assert SECRET not in repr(settings)


# Parsing the values people write


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thu 17:00", WeeklyTime(3, 17, 0)),
        ("Thursday 17:00", WeeklyTime(3, 17, 0)),
        ("MON 7:05", WeeklyTime(0, 7, 5)),
        ("  sunday   00:00 ", WeeklyTime(6, 0, 0)),
        ("Sat 23:59", WeeklyTime(5, 23, 59)),
    ],
)
def test_weekly_time_accepts_short_and_full_day_names(text: str, expected: WeeklyTime) -> None:
    assert parse_weekly_time(text, "schedule.checkin") == expected


def test_weekly_time_prints_as_written() -> None:
    assert str(parse_weekly_time("Thursday 17:00", "k")) == "thu 17:00"


def test_quiet_hours_across_midnight() -> None:
    quiet = parse_quiet_hours("20:00-07:00", "schedule.quiet_hours")
    assert quiet is not None

    assert quiet.contains(datetime.time(20, 0))
    assert quiet.contains(datetime.time(23, 59))
    assert quiet.contains(datetime.time(0, 0))
    assert quiet.contains(datetime.time(6, 59))
    assert not quiet.contains(datetime.time(7, 0))
    assert not quiet.contains(datetime.time(12, 0))
    assert not quiet.contains(datetime.time(19, 59))


def test_quiet_hours_within_a_day() -> None:
    quiet = parse_quiet_hours("12:00 - 13:30", "k")
    assert quiet is not None

    assert quiet.contains(datetime.time(12, 0))
    assert quiet.contains(datetime.time(13, 29, tzinfo=datetime.UTC))
    assert not quiet.contains(datetime.time(13, 30))
    assert not quiet.contains(datetime.time(11, 59))


def test_empty_quiet_hours_means_none() -> None:
    assert parse_quiet_hours("", "k") is None


def test_date_range_includes_both_ends() -> None:
    holidays = parse_date_range("2026-12-21..2027-01-01", "k")

    assert holidays.contains(datetime.date(2026, 12, 21))
    assert holidays.contains(datetime.date(2026, 12, 31))
    assert holidays.contains(datetime.date(2027, 1, 1))
    assert not holidays.contains(datetime.date(2026, 12, 20))
    assert not holidays.contains(datetime.date(2027, 1, 2))


def test_single_date_is_a_one_day_range() -> None:
    thanksgiving = parse_date_range("2026-11-26", "k")

    assert thanksgiving == DateRange(datetime.date(2026, 11, 26), datetime.date(2026, 11, 26))


def test_skip_dates_from_file_mark_skipped_days(tmp_path: Path) -> None:
    text = '[schedule]\nskip_dates = ["2026-11-26", "2026-12-21..2027-01-01", 2027-03-16]\n'

    schedule = load_text(tmp_path, text).schedule

    assert schedule.is_skipped(datetime.date(2026, 11, 26))
    assert schedule.is_skipped(datetime.date(2026, 12, 25))
    assert schedule.is_skipped(datetime.date(2027, 3, 16))
    assert not schedule.is_skipped(datetime.date(2026, 11, 27))
    assert not ScheduleConfig().is_skipped(datetime.date(2026, 11, 26))


def test_listen_address_forms() -> None:
    assert parse_listen("127.0.0.1:8080", "k") == ("127.0.0.1", 8080)
    assert parse_listen("[::]:8443", "k") == ("::", 8443)
    assert parse_listen("localhost:3000", "k") == ("localhost", 3000)


def test_file_values_are_read(tmp_path: Path) -> None:
    text = (
        '[school]\nname = "Oak Hill"\ntimezone = "Europe/Madrid"\nlanguage = "es"\n'
        '[telegram]\nenabled = true\ntoken = "123:abc"\nmode = "webhook"\n'
        'webhook_url = "https://tandem.example.org/tg"\nwebhook_listen = "127.0.0.1:9000"\n'
        'webhook_secret = "abc_DEF-123"\nbot_username = "@MapleTandemBot"\n'
        '[slack]\nenabled = true\nbot_token = "xoxb-1"\nsigning_secret = "sig"\n'
        'mode = "http"\nbase_url = "http://127.0.0.1:9999/api"\nteam_id = "T0001"\n'
        "[security]\nmax_entry_chars = 500\n"
    )

    settings = load_text(tmp_path, text)

    assert settings.school.language == "es"
    assert settings.platform(TelegramConfig).mode == "webhook"
    assert settings.platform(TelegramConfig).webhook_listen == ("127.0.0.1", 9000)
    assert settings.platform(TelegramConfig).bot_username == "MapleTandemBot"
    assert settings.platform(SlackConfig).mode == "http"
    assert settings.platform(SlackConfig).base_url == "http://127.0.0.1:9999/api/"
    assert settings.platform(SlackConfig).team_id == "T0001"
    assert settings.security.max_entry_chars == 500


# The outbox sender


def test_sender_defaults_match_the_documented_limits() -> None:
    sender = load_config(EXAMPLE, {}).sender

    assert sender == SenderConfig(
        max_attempts=8,
        claim_seconds=60,
        concurrency=16,
        limits={
            "telegram": PlatformLimits(30, 1),
            "slack": PlatformLimits(None, 1),
            "email": PlatformLimits(10, None),
        },
    )


def test_sender_limits_from_file_and_environment(tmp_path: Path) -> None:
    text = "[sender]\ntelegram_per_second = 20\nmax_attempts = 5\nconcurrency = 4\n"
    environ = {
        "TANDEM_SENDER_TELEGRAM_PER_SECOND": "25",
        "TANDEM_SENDER_SLACK_PER_CHANNEL_PER_SECOND": "2",
        "TANDEM_SENDER_CLAIM_SECONDS": "120",
    }

    sender = load_text(tmp_path, text, environ).sender

    assert sender.limits["telegram"].per_second == 25  # the environment beats the file
    assert sender.limits["slack"].per_chat_per_second == 2
    assert sender.claim_seconds == 120
    assert sender.max_attempts == 5
    assert sender.concurrency == 4


@pytest.mark.parametrize(
    ("text", "environ", "key", "why"),
    [
        ("[sender]\ntelegram_per_second = 0\n", {}, "sender.telegram_per_second", "positive"),
        ("[sender]\nconcurrency = 2.5\n", {}, "sender.concurrency", "whole number"),
        ("[sender]\nmax_attempt = 3\n", {}, "sender.max_attempt", "unknown key"),
        (
            "",
            {"TANDEM_SENDER_MAX_ATTEMPTS": "lots"},
            "sender.max_attempts",
            "TANDEM_SENDER_MAX_ATTEMPTS",
        ),
        ("[sender]\nclaim_seconds = 5\n", {}, "sender.claim_seconds", "at least 10"),
        (
            "[sender]\ntelegram_per_second = 2\ntelegram_per_chat_per_second = 3\n",
            {},
            "sender.telegram_per_chat_per_second",
            "not be more than telegram_per_second",
        ),
    ],
)
def test_bad_sender_value_names_the_key(
    tmp_path: Path, text: str, environ: dict[str, str], key: str, why: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, environ)

    assert caught.value.key == key
    assert why in caught.value.why


def test_summary_pictures_are_on_by_default_and_off_by_file_or_environment(
    tmp_path: Path,
) -> None:
    assert load_text(tmp_path, "").summary.charts is True
    assert load_text(tmp_path, "[summary]\ncharts = false\n").summary.charts is False
    off = load_text(tmp_path, "", {"TANDEM_SUMMARY_CHARTS": "false"})
    assert off.summary.charts is False
    with pytest.raises(ConfigError, match=r"summary\.charts"):
        load_text(tmp_path, '[summary]\ncharts = "no"\n')
