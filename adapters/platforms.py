"""The chat platforms Tandem runs on: each one's name, [section], pace and adapter, in one place.

The composition root reads the config with `load_settings` and builds what is enabled with
`enabled_adapters`; the core never imports this (it knows platforms only as `PlatformConfig`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from adapters import email_config, slack_config, telegram_config
from adapters.email_config import EmailConfig
from adapters.slack_config import SlackConfig
from adapters.telegram_config import TelegramConfig
from bot.config import (
    ConfigError,
    PlatformConfig,
    SendLimit,
    Settings,
    default_settings,
    load_config,
)
from bot.config_values import env_name, read_file
from bot.dispatch import Dispatcher
from bot.i18n import DEFAULT_LANGUAGE, find_language
from bot.i18n.school_catalog import read_school_catalog, use_school_catalog
from bot.outbox import Transport
from storage.db import Database

__all__ = [
    "PLATFORMS",
    "Adapter",
    "EmailConfig",
    "PlatformSpec",
    "SlackConfig",
    "TelegramConfig",
    "defaults",
    "enabled_adapters",
    "load_settings",
]

_Config = TypeVar("_Config", bound=PlatformConfig)


class Adapter(Transport, Protocol):
    """A running platform: takes events for the dispatcher, delivers the outbox's letters."""

    async def start(self) -> None:
        """Log in, then take events (polling, webhook, socket...)."""

    async def connect(self) -> None:
        """Log in to send only (`tandem jobs drain`)."""

    async def stop(self) -> None:
        """Stop taking events, finish those under way, close connections."""

    async def is_connected(self) -> bool:
        """Started and taking events (for /healthz): polling, the webhook server listening,
        the Socket Mode connection up."""


@dataclass(frozen=True)
class PlatformSpec(Generic[_Config]):
    """What Tandem knows of a platform before its library is loaded."""

    name: str  # its [section], and Account.platform
    config: type[_Config]
    build: Callable[[_Config, Dispatcher, Database], Adapter]
    per_second: SendLimit | None = None  # [sender] keys that pace it
    per_chat_per_second: SendLimit | None = None

    def adapter(self, settings: Settings, dispatcher: Dispatcher, db: Database) -> Adapter:
        return self.build(settings.platform(self.config), dispatcher, db)


PLATFORMS: Mapping[str, PlatformSpec[Any]] = {
    spec.name: spec
    for spec in (
        PlatformSpec(
            telegram_config.NAME,
            TelegramConfig,
            telegram_config.build,
            telegram_config.PER_SECOND,
            telegram_config.PER_CHAT_PER_SECOND,
        ),
        PlatformSpec(
            slack_config.NAME,
            SlackConfig,
            slack_config.build,
            per_chat_per_second=slack_config.PER_CHANNEL_PER_SECOND,
        ),
        PlatformSpec(
            email_config.NAME,
            EmailConfig,
            email_config.build,
            per_second=email_config.PER_SECOND,
        ),
    )
}


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """The config file and the environment, every platform's section included; the school's
    own wording (`[school] catalog_dir`) is in use from here on."""
    try:
        settings = load_config(path, environ, PLATFORMS.values())
    except ConfigError:
        # The error itself is best read in the school's language, if the file names one.
        _school_language[:] = [language] if (language := _language_set(path, environ)) else []
        raise
    folder = settings.school.catalog_dir
    use_school_catalog(read_school_catalog(Path(folder)) if folder else {})
    _school_language[:] = [settings.school.language]
    return settings


# The language of the school in the settings last loaded: what the operator reads.
_school_language: list[str] = []


def _language_set(path: Path | None, environ: Mapping[str, str] | None) -> str | None:
    """`[school] language` (or TANDEM_SCHOOL_LANGUAGE) from a config that failed to load."""
    env = os.environ if environ is None else environ
    try:
        school = read_file(path).get("school")
    except ConfigError:
        school = None
    wanted = env.get(env_name("school", "language"))
    if wanted is None and isinstance(school, dict):
        wanted = school.get("language")
    return find_language(wanted) if isinstance(wanted, str) else None


def forget_operator_language() -> None:
    """Before a command: its settings are not loaded yet, so LANG speaks until they are."""
    _school_language.clear()


def operator_language(config: Path | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The school's language: from the settings once loaded, else as the config file (or the
    environment) sets it; with none, the operator's locale: LC_ALL, LC_MESSAGES or LANG
    (`es_MX.UTF-8` is Spanish)."""
    if _school_language:
        return _school_language[0]
    env = os.environ if environ is None else environ
    if language := _language_set(config, env):
        return language
    locale = env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or ""
    return find_language(locale.split(".")[0]) or DEFAULT_LANGUAGE


def defaults() -> Settings:
    """The settings with no file and no environment, every platform's section included."""
    return default_settings(PLATFORMS.values())


def enabled_adapters(
    settings: Settings, dispatcher: Dispatcher, db: Database
) -> dict[str, Adapter]:
    """An adapter (built, not started) for each platform the settings enable, by name."""
    return {
        name: PLATFORMS[name].adapter(settings, dispatcher, db)
        for name in settings.enabled_platforms
    }
