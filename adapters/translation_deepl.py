"""DeepL (`POST /v2/translate`): a cloud service, so the masked words leave the school."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.translation_http import TranslationClient
from bot.translation import Failure, TranslationFailed

# DeepL needs a variant for some target languages.
_TARGETS = {"en": "EN-US", "pt": "PT-BR", "zh_hans": "ZH-HANS"}


def deepl_source(language: str) -> str:
    return language.split("_")[0].upper()


def deepl_target(language: str) -> str:
    return _TARGETS.get(language.lower(), language.replace("_", "-").upper())


class DeepL(TranslationClient):
    """Translates a batch in one request, the key in the Authorization header."""

    refused = frozenset({401, 403})
    over_quota = frozenset({456})  # "Quota exceeded"

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        body: dict[str, Any] = {
            "text": list(texts),
            "source_lang": deepl_source(source),
            "target_lang": deepl_target(target),
        }
        headers = {"Authorization": f"DeepL-Auth-Key {self.config.api_key}"}
        answer = await self.post("/v2/translate", body, headers)
        items = answer.get("translations") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise TranslationFailed(Failure.ERROR, "unexpected answer")
        translated = [item.get("text") if isinstance(item, dict) else None for item in items]
        if not all(isinstance(text, str) for text in translated):
            raise TranslationFailed(Failure.ERROR, "unexpected answer")
        return [str(text) for text in translated]
