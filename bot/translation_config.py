"""The [translation] section: which service translates notes between the team's languages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bot.config_values import when_is
from bot.errors import said

if TYPE_CHECKING:
    from bot.config_values import Section

ProviderName = Literal["none", "libretranslate", "deepl"]
PROVIDERS: tuple[ProviderName, ...] = ("none", "libretranslate", "deepl")


@dataclass(frozen=True)
class TranslationConfig:
    provider: ProviderName = "none"
    url: str = ""
    api_key: str = field(default="", repr=False)
    timeout_seconds: float = 5
    # Characters sent a month, over every provider call; 0 is no limit.
    monthly_char_limit: int = 0

    @property
    def enabled(self) -> bool:
        return self.provider != "none"


def read_translation(s: Section) -> TranslationConfig:
    """The [translation] section, checked: a provider needs its url (and DeepL its key)."""
    default = TranslationConfig()
    config = TranslationConfig(
        provider=s.choice("provider", default.provider, PROVIDERS),
        url=s.url("url", default.url).rstrip("/"),
        api_key=s.text("api_key", default.api_key),
        timeout_seconds=s.positive("timeout_seconds", int(default.timeout_seconds)),
        monthly_char_limit=s.integer("monthly_char_limit", default.monthly_char_limit),
    )
    if config.monthly_char_limit < 0:
        raise s.error("monthly_char_limit", said("operator.char_limit"))
    if config.provider != "none":
        s.required("url", config.url, when_is("translation.provider", f'"{config.provider}"'))
    if config.provider == "deepl":
        s.required("api_key", config.api_key, when_is("translation.provider", '"deepl"'))
    return config
