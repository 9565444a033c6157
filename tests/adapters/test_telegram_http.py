"""The Bot API calls made with aiohttp (adapters/telegram_http.py), through the real PTB `Bot`:
fields, uploads and keyboards as the spec-checking fake expects them, and a silent or absent
server turned into PTB's own failures, never with the token in their message."""

from __future__ import annotations

import asyncio
import socket
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut

from adapters.telegram_config import TelegramConfig
from adapters.telegram_http import AiohttpRequest
from adapters.telegram_profile import ProfileUnavailable, fetch_bot_username
from tests.adapters.fake_telegram import TOKEN, BotApiSpec, FakeTelegram

CHAT = 4242


def _png(width: int, height: int) -> bytes:
    """A valid PNG of one grey colour (enough for the fake to read its size)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@asynccontextmanager
async def bot_on(base_url: str, request: AiohttpRequest) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, base_url=base_url, request=request, get_updates_request=AiohttpRequest())
    await request.initialize()
    try:
        yield bot
    finally:
        await request.shutdown()


@pytest.fixture
async def fake(specs_dir: Path) -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await server.start()
    server.chats[CHAT] = {"id": CHAT, "type": "private", "first_name": "Dana"}
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A server that takes the request and never answers; its Bot API base URL."""
    hold = web.Application()

    async def never(_request: web.Request) -> web.Response:
        await asyncio.Event().wait()  # until the client gives up
        raise AssertionError("unreachable")

    hold.router.add_route("*", "/{tail:.*}", never)
    runner = web.AppRunner(hold, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/bot"
    finally:
        await runner.cleanup()


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_message_with_a_keyboard_arrives_as_the_spec_says(fake: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Undo", callback_data="undo:7")]])
    async with bot_on(fake.base_url, AiohttpRequest(4)) as bot:
        sent = await bot.send_message(
            CHAT, "Saved: a win for Sam · #reading", reply_markup=keyboard
        )

    assert sent.text == "Saved: a win for Sam · #reading"
    [call] = [call for call in fake.calls if call.method == "sendMessage"]
    assert call.params["reply_markup"] == keyboard.to_dict()
    assert fake.violations == []


async def test_a_photo_is_uploaded_as_multipart_with_its_caption(fake: FakeTelegram) -> None:
    png = _png(800, 500)
    async with bot_on(fake.base_url, AiohttpRequest(4)) as bot:
        sent = await bot.send_photo(CHAT, png, caption="#reading: 60 %, 80 %", filename="r.png")

    assert fake.uploads == [("photo", png)]
    assert (sent.photo[-1].width, sent.photo[-1].height) == (800, 500)
    [call] = [call for call in fake.calls if call.method == "sendPhoto"]
    assert call.params["caption"] == "#reading: 60 %, 80 %"
    assert fake.violations == []


async def test_a_server_that_never_answers_times_out_as_ptb_says() -> None:
    async with (
        silent_server() as base_url,
        bot_on(base_url, AiohttpRequest(1, read_timeout=0.2)) as bot,
    ):
        with pytest.raises(TimedOut):
            await bot.get_me()


async def test_an_unreachable_server_is_a_network_error_without_the_token() -> None:
    base_url = f"http://127.0.0.1:{_closed_port()}/bot"
    async with bot_on(base_url, AiohttpRequest(1)) as bot:
        with pytest.raises(NetworkError) as raised:
            await bot.get_me()

    assert not isinstance(raised.value, TimedOut)
    assert TOKEN not in str(raised.value)
    assert TOKEN.split(":")[1] not in str(raised.value)


async def test_a_call_before_start_up_is_refused_plainly() -> None:
    request = AiohttpRequest(1)
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:1/bot1:x/getMe", "POST")


async def test_asking_for_the_bot_name_of_a_silent_server_says_it_did_not_answer() -> None:
    async with silent_server() as base_url:
        config = TelegramConfig(enabled=True, token=TOKEN, base_url=base_url)
        with pytest.raises(ProfileUnavailable, match=r"did not answer within 0\.3 s"):
            await fetch_bot_username(config, seconds=0.3)
