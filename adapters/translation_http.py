"""What the translation providers' adapters share: one aiohttp session, a bounded wait, and
the provider's answer turned into text or a TranslationFailed the core understands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from bot.translation import Failure, TranslationFailed
from bot.translation_config import TranslationConfig


class TranslationClient:
    """POSTs JSON to one provider; `close()` at shutdown."""

    # Statuses that mean the key (or this server) is refused, and the month's quota is spent.
    refused: frozenset[int] = frozenset({401, 403})
    over_quota: frozenset[int] = frozenset()

    def __init__(self, config: TranslationConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        """The JSON answer to a POST of `body`, or TranslationFailed (never the text sent)."""
        try:
            async with self._client().post(
                self.config.url + path, json=body, headers=headers
            ) as response:
                if response.status in self.refused:
                    raise TranslationFailed(Failure.REFUSED, f"HTTP {response.status}")
                if response.status in self.over_quota:
                    raise TranslationFailed(Failure.LIMIT, f"HTTP {response.status}")
                if response.status != 200:
                    raise TranslationFailed(Failure.ERROR, f"HTTP {response.status}")
                return await response.json(content_type=None)
        except TimeoutError as error:
            raise TranslationFailed(Failure.TIMEOUT) from error
        except (aiohttp.ClientError, ValueError) as error:
            raise TranslationFailed(Failure.ERROR, type(error).__name__) from error

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """The provider's request and answer (TranslationProvider)."""
        raise NotImplementedError

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
