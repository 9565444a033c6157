"""What Tandem knows of Slack before slack-bolt is loaded: the [slack] section and the [sender]
key that paces it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Self

from bot.config import PlatformConfig, SendLimit
from bot.config_values import Section, missing, parse_listen, when_is
from bot.errors import said

if TYPE_CHECKING:
    from adapters.platforms import Adapter
    from bot.dispatch import Dispatcher
    from storage.db import Database

NAME = "slack"

SlackMode = Literal["socket", "http"]
SLACK_MODES: tuple[SlackMode, ...] = ("socket", "http")

# Slack limits chat.postMessage per channel; the workspace-wide limit is far higher.
PER_CHANNEL_PER_SECOND = SendLimit("slack_per_channel_per_second", 1)


@dataclass(frozen=True)
class SlackConfig(PlatformConfig):
    bot_token: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)
    mode: SlackMode = "socket"
    http_listen: tuple[str, int] = ("0.0.0.0", 3000)
    base_url: str = "https://slack.com/api/"
    team_id: str = ""  # the one workspace accepted; empty = take it from auth.test

    @classmethod
    def read(cls, section: Section) -> Self:
        """The [slack] section, checked; a disabled adapter's may be incomplete."""
        s, default = section, cls()
        base_url = s.url("base_url", default.base_url)
        if not base_url:
            raise s.error("base_url", said("operator.not_empty"))
        config = cls(
            enabled=s.flag("enabled", default.enabled),
            bot_token=s.text("bot_token", default.bot_token),
            app_token=s.text("app_token", default.app_token),
            signing_secret=s.text("signing_secret", default.signing_secret),
            mode=s.choice("mode", default.mode, SLACK_MODES),
            http_listen=s.parsed("http_listen", default.http_listen, parse_listen),
            # slack_sdk joins base_url + method name, so the slash must be there.
            base_url=base_url if base_url.endswith("/") else f"{base_url}/",
            team_id=s.text("team_id", default.team_id),
        )
        if config.enabled:
            s.required("bot_token", config.bot_token, when_is("slack.enabled", "true"))
            if config.mode == "socket":
                s.required("app_token", config.app_token, when_is("slack.mode", '"socket"'))
            else:
                s.required("signing_secret", config.signing_secret, when_is("slack.mode", '"http"'))
        return config

    def check(self) -> None:
        """Refuse what the loader lets through only for a disabled adapter."""
        if self.mode == "http" and not self.signing_secret:
            # Without the secret anyone could post events in any user's name.
            raise missing(NAME, "signing_secret", when_is("slack.mode", '"http"'))


def build(config: SlackConfig, dispatcher: Dispatcher, db: Database) -> Adapter:
    """The adapter, slack-bolt loaded only now: a CLI command that sends nothing never loads it."""
    from adapters.slack import SlackAdapter

    return SlackAdapter(config, dispatcher, db)
