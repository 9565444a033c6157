"""The bot's Telegram username, asked of getMe by a command run before `tandem run` ever was
(invite links need it: `https://t.me/<bot>?start=<code>`)."""

from __future__ import annotations

import asyncio

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut

from adapters.telegram_config import TelegramConfig
from adapters.telegram_http import AiohttpRequest

GET_ME_TIMEOUT = 5.0


class ProfileUnavailable(Exception):
    """Telegram did not say the bot's name; the message says why (never with the token)."""


async def fetch_bot_username(config: TelegramConfig, seconds: float = GET_ME_TIMEOUT) -> str:
    """The bot's username as getMe gives it, or ProfileUnavailable within `seconds`."""

    def request() -> AiohttpRequest:
        return AiohttpRequest(
            connect_timeout=seconds,
            read_timeout=seconds,
            write_timeout=seconds,
            pool_timeout=seconds,
        )

    try:
        async with asyncio.timeout(seconds):
            bot = Bot(
                config.token,
                base_url=config.base_url,
                request=request(),
                get_updates_request=request(),
            )
            async with bot:
                return bot.username
    # PTB's own messages may quote the token: only the kind of failure is told.
    except InvalidToken:
        raise ProfileUnavailable("Telegram refused telegram.token") from None
    except (TimedOut, TimeoutError):
        raise ProfileUnavailable(f"Telegram did not answer within {seconds:g} s") from None
    except NetworkError:
        raise ProfileUnavailable("Telegram cannot be reached at telegram.base_url") from None
    except TelegramError as error:
        raise ProfileUnavailable(f"Telegram's getMe failed ({type(error).__name__})") from None
