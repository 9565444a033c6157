"""What Tandem knows of Telegram before python-telegram-bot is loaded: the [telegram] section,
the [sender] keys that pace it, and its invite deep links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Self

from bot.config import PlatformConfig, SendLimit
from bot.config_values import Section, missing, parse_listen, when_is
from bot.errors import said

if TYPE_CHECKING:
    from adapters.platforms import Adapter
    from bot.dispatch import Dispatcher
    from storage.db import Database

NAME = "telegram"

TelegramMode = Literal["polling", "webhook"]
TELEGRAM_MODES: tuple[TelegramMode, ...] = ("polling", "webhook")
# Telegram's own rules for setWebhook's secret_token and for a bot's username.
_WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}", re.ASCII)
_BOT_USERNAME_RE = re.compile(r"[A-Za-z0-9_]{5,32}", re.ASCII)

# DESIGN §5: 30 messages a second overall, one a second to each chat.
PER_SECOND = SendLimit("telegram_per_second", 30)
PER_CHAT_PER_SECOND = SendLimit("telegram_per_chat_per_second", 1)


@dataclass(frozen=True)
class TelegramConfig(PlatformConfig):
    token: str = field(default="", repr=False)
    mode: TelegramMode = "polling"
    base_url: str = "https://api.telegram.org/bot"
    webhook_url: str = ""
    webhook_listen: tuple[str, int] = ("0.0.0.0", 8443)
    webhook_secret: str = field(default="", repr=False)
    bot_username: str = ""  # for invite deep links until getMe fills it

    @classmethod
    def read(cls, section: Section) -> Self:
        """The [telegram] section, checked; a disabled adapter's may be incomplete."""
        s, default = section, cls()
        config = cls(
            enabled=s.flag("enabled", default.enabled),
            token=s.text("token", default.token),
            mode=s.choice("mode", default.mode, TELEGRAM_MODES),
            base_url=s.url("base_url", default.base_url),
            webhook_url=s.url("webhook_url", default.webhook_url),
            webhook_listen=s.parsed("webhook_listen", default.webhook_listen, parse_listen),
            webhook_secret=s.text("webhook_secret", default.webhook_secret),
            bot_username=s.text("bot_username", default.bot_username).removeprefix("@"),
        )
        if not config.base_url:
            raise s.error("base_url", said("operator.not_empty"))
        if config.webhook_secret and not _WEBHOOK_SECRET_RE.fullmatch(config.webhook_secret):
            raise s.error("webhook_secret", said("operator.webhook_secret"))
        if config.bot_username and not _BOT_USERNAME_RE.fullmatch(config.bot_username):
            raise s.error("bot_username", said("operator.bot_username"))
        if config.enabled:
            s.required("token", config.token, when_is("telegram.enabled", "true"))
            if config.mode == "webhook":
                s.required("webhook_url", config.webhook_url, when_is("telegram.mode", '"webhook"'))
                # Without the secret anyone could post updates in any user's name.
                s.required(
                    "webhook_secret", config.webhook_secret, when_is("telegram.mode", '"webhook"')
                )
        return config

    def check(self) -> None:
        """Refuse what the loader lets through only for a disabled adapter."""
        if self.mode == "webhook" and not self.webhook_secret:
            # Without the secret anyone could post updates in any user's name.
            raise missing(NAME, "webhook_secret", when_is("telegram.mode", '"webhook"'))

    def invite_link(self, code: str, bot_username: str | None) -> str | None:
        """The deep link `https://t.me/<bot>?start=<code>`: telegram.bot_username wins over the
        name getMe gave."""
        username = self.bot_username or bot_username
        return f"https://t.me/{username}?start={code}" if username else None


def build(config: TelegramConfig, dispatcher: Dispatcher, db: Database) -> Adapter:
    """The adapter, python-telegram-bot loaded only now: a CLI command that sends nothing
    never loads it."""
    from adapters.telegram import TelegramAdapter

    return TelegramAdapter(config, dispatcher, db)
