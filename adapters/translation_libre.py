"""LibreTranslate (`POST /translate`), usually on the school's own machine: the default
recommendation, since the words then never leave the building."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.translation_http import TranslationClient
from bot.translation import Failure, TranslationFailed


def libre_language(language: str) -> str:
    """A catalog code as LibreTranslate names it (`zh_Hans` -> `zh-Hans`)."""
    return language.replace("_", "-")


class LibreTranslate(TranslationClient):
    """Translates a batch in one request: `q` is a list, answered by a list."""

    # LibreTranslate answers a missing or wrong key with 400 or 403.
    refused = frozenset({403})

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        body: dict[str, Any] = {
            "q": list(texts),
            "source": libre_language(source),
            "target": libre_language(target),
            "format": "text",
        }
        if self.config.api_key:
            body["api_key"] = self.config.api_key
        answer = await self.post("/translate", body, {})
        translated = answer.get("translatedText") if isinstance(answer, dict) else None
        if not isinstance(translated, list) or not all(isinstance(t, str) for t in translated):
            raise TranslationFailed(Failure.ERROR, "unexpected answer")
        return translated
