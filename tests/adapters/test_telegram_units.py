"""The Telegram adapter's translation and rendering, and the fake's own checks, piece by piece."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Update

from adapters.bootstrap import build_router
from adapters.kit import ChatTurns
from adapters.telegram import ChatOrderedUpdates, TelegramAdapter, keyboard, split_text, to_core
from adapters.telegram_config import TelegramConfig
from bot import invites, roster
from bot.config import ConfigError, Settings
from bot.dispatch import Dispatcher
from bot.events import Button, ButtonPress, Chat, IncomingMessage, MessageEdited, Sender
from storage.db import Database
from storage.models import Platform, Role
from storage.stores import Store
from tests.adapters.fake_telegram import (
    BotApiSpec,
    FakeTelegram,
    SpecError,
    TgUser,
    group_chat,
)
from tests.conftest import FakeClock

DANA = TgUser(5002, "Dana", "Rivera", language_code="es-MX")


@pytest.fixture(scope="module")
def spec(specs_dir: Path) -> BotApiSpec:
    return BotApiSpec.load(specs_dir / "telegram-bot-api.json")


@pytest.fixture
def fake(spec: BotApiSpec) -> FakeTelegram:
    """The fake's update builders (its server is not started)."""
    return FakeTelegram(spec)


def parsed(data: dict[str, Any]) -> Update:
    update = Update.de_json(data, None)
    assert update is not None
    return update


# --- updates in -----------------------------------------------------------------------------


def test_a_private_message_becomes_an_incoming_message(fake: FakeTelegram) -> None:
    earlier = fake.message(DANA, "? Can Sam bring headphones?")["message"]
    data = fake.message(DANA, "Yes, in his bag", reply_to=earlier)

    event = to_core(parsed(data))

    message_id = data["message"]["message_id"]
    assert event == IncomingMessage(
        sender=Sender(Platform.TELEGRAM, "", "5002", "Dana Rivera", "es-MX"),
        chat=Chat("5002", private=True),
        text="Yes, in his bag",
        event_id=f"tg:{data['update_id']}",
        message_ref=f"5002:{message_id}",
        reply_to_ref=f"5002:{earlier['message_id']}",
        attachment_ref=None,
    )


def test_a_photo_keeps_its_caption_and_the_largest_size(fake: FakeTelegram) -> None:
    data = fake.message(DANA, caption="Sam's drawing", photo=True)

    event = to_core(parsed(data))

    assert isinstance(event, IncomingMessage)
    assert event.text == "Sam's drawing"
    assert event.attachment_ref == data["message"]["photo"][-1]["file_id"]


def test_a_group_message_is_marked_not_private(fake: FakeTelegram) -> None:
    event = to_core(parsed(fake.message(DANA, "/log Sam", chat=group_chat())))

    assert event is not None and event.chat == Chat("-1001234567890", private=False)


def test_an_edit_becomes_message_edited_for_the_same_message(fake: FakeTelegram) -> None:
    original = fake.message(DANA, "+ Sam ate lunch")

    event = to_core(parsed(fake.edited(original, "+ Sam ate all his lunch")))

    assert isinstance(event, MessageEdited)
    assert event.text == "+ Sam ate all his lunch"
    assert event.message_ref == f"5002:{original['message']['message_id']}"


def test_a_button_press_carries_only_the_opaque_token(fake: FakeTelegram) -> None:
    sent = {
        "message_id": 77,
        "date": 0,
        "chat": DANA.chat,
        "from": {"id": 1, "is_bot": True, "first_name": "Tandem"},
        "text": "Logged.",
    }

    event = to_core(parsed(fake.press(DANA, sent, data="tok_123")))

    assert isinstance(event, ButtonPress)
    assert (event.token, event.chat, event.sender.external_id) == (
        "tok_123",
        Chat("5002", private=True),
        "5002",
    )


def test_what_carries_nothing_to_log_is_not_an_event(fake: FakeTelegram) -> None:
    sticker = fake.message(DANA)  # no text, caption or photo: a sticker, a voice note...
    channel_post = {
        "update_id": 9,
        "channel_post": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": -100500, "type": "channel"},
            "text": "hi",
        },
    }
    from_a_bot = fake.message(TgUser(42, "OtherBot"), "hello")
    from_a_bot["message"]["from"]["is_bot"] = True

    assert [to_core(parsed(d)) for d in (sticker, channel_post, from_a_bot)] == [None] * 3


async def test_one_chats_updates_run_in_turn_while_other_chats_go_ahead(fake: FakeTelegram) -> None:
    processor = ChatOrderedUpdates(ChatTurns(4))
    first, second = (parsed(fake.message(DANA, text)) for text in ("one", "two"))
    elsewhere = parsed(fake.message(TgUser(5003, "Lee"), "other"))
    order: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def handle(name: str, hold: bool = False) -> None:
        order.append(f"{name} starts")
        if hold:
            started.set()
            await release.wait()
        order.append(f"{name} ends")

    running = [
        asyncio.create_task(processor.process_update(first, handle("one", hold=True))),
        asyncio.create_task(processor.process_update(second, handle("two"))),
    ]
    await started.wait()
    await processor.process_update(elsewhere, handle("other"))
    release.set()
    await asyncio.gather(*running)

    assert order == [
        "one starts",
        "other starts",
        "other ends",
        "one ends",
        "two starts",
        "two ends",
    ]


# --- replies out ----------------------------------------------------------------------------


def test_short_text_is_one_message() -> None:
    assert split_text("Logged a win for Sam.") == ["Logged a win for Sam."]


def test_long_text_is_cut_after_a_line_break() -> None:
    text = "\n".join(f"line {n:02d} ......" for n in range(10))  # 15 characters a line

    pieces = split_text(text, limit=40)

    assert "".join(pieces) == text
    assert all(piece.endswith("\n") for piece in pieces[:-1])
    assert all(len(piece) <= 40 for piece in pieces)


def test_a_line_longer_than_a_message_is_cut_between_words() -> None:
    pieces = split_text("word " * 30, limit=32)

    assert all(piece.endswith(" ") and len(piece) <= 32 for piece in pieces)


def test_the_limit_counts_utf16_units_like_telegram() -> None:
    pieces = split_text("🙂" * 10, limit=8)  # each emoji is two UTF-16 units

    assert pieces == ["🙂" * 4, "🙂" * 4, "🙂" * 2]


@given(
    st.text(alphabet=st.sampled_from("ab c\n🙂é"), max_size=400),
    st.integers(min_value=2, max_value=60),
)
def test_split_text_keeps_every_visible_character_within_the_limit(text: str, limit: int) -> None:
    pieces = split_text(text, limit)

    assert all(len(piece.encode("utf-16-le")) // 2 <= limit for piece in pieces)
    assert all(piece.strip() for piece in pieces)
    assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", text)


def test_a_keyboard_carries_each_token_as_callback_data() -> None:
    markup = keyboard(
        [Button("Win", "t1"), Button("Concern", "t2"), Button("Note", "t3"), Button("Undo", "t4")]
    )

    assert markup is not None
    assert [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard] == [
        [("Win", "t1"), ("Concern", "t2"), ("Note", "t3"), ("Undo", "t4")]
    ]


def test_long_labels_go_on_rows_of_their_own() -> None:
    markup = keyboard(
        [
            Button("Share with family now", "a"),
            Button("Undo", "b"),
            Button("Maya Chen-Rodriguez", "c"),
        ]
    )

    assert markup is not None
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [
        ["Share with family now", "Undo"],
        ["Maya Chen-Rodriguez"],
    ]
    assert keyboard([]) is None


# --- configuration and the bot's name -------------------------------------------------------


def test_webhook_mode_without_a_secret_refuses_to_start(db: Database, clock: FakeClock) -> None:
    config = TelegramConfig(
        enabled=True, token="1:x", mode="webhook", webhook_url="https://bot.example/tg"
    )

    with pytest.raises(ConfigError) as refused:
        TelegramAdapter(config, Dispatcher(db, Settings(), clock, build_router()), db)

    assert refused.value.key == "telegram.webhook_secret"


async def test_invite_links_use_the_username_getme_gave(
    db: Database, clock: FakeClock, settings: Settings
) -> None:
    async with db.session() as session:
        store = Store(session)
        school = await roster.ensure_school(store, "Oak", "America/Chicago", "en")
        before = await invites.create_invite(
            store, settings, clock.now(), school, None, Role.ADMIN, None
        )
        await store.bot_profile.set_username(Platform.TELEGRAM, "OakTandemBot", clock.now())
        await store.bot_profile.set_username(Platform.TELEGRAM, "OakTandem2Bot", clock.now())
        after = await invites.create_invite(
            store, settings, clock.now(), school, None, Role.ADMIN, None
        )

    assert before.link is None
    assert after.link == f"https://t.me/OakTandem2Bot?start={after.code}"


async def test_a_configured_bot_username_wins(db: Database, clock: FakeClock) -> None:
    settings = Settings(platforms={"telegram": TelegramConfig(bot_username="ConfiguredBot")})
    async with db.session() as session:
        store = Store(session)
        await store.bot_profile.set_username(Platform.TELEGRAM, "FromGetMeBot", clock.now())

        assert await invites.invite_link(store, settings, "abc") == (
            "https://t.me/ConfiguredBot?start=abc"
        )


async def test_deactivating_a_chat_touches_only_that_platforms_account(db: Database) -> None:
    async with db.session() as session:
        store = Store(session)
        person = await store.people.add("Dana", "en")
        await store.people.add_account(person, Platform.TELEGRAM, "", "5002", "5002")
        await store.people.add_account(person, Platform.SLACK, "T1", "5002", "5002")

        assert await store.people.deactivate_accounts(Platform.TELEGRAM, "5002") == 1
        telegram = await store.people.account(Platform.TELEGRAM, "", "5002")
        slack = await store.people.account(Platform.SLACK, "T1", "5002")

    assert telegram is not None and not telegram.active
    assert slack is not None and slack.active


# --- the fake holds the adapter to the real API ---------------------------------------------


@pytest.fixture
async def served(fake: FakeTelegram) -> Any:
    await fake.start()
    yield fake
    await fake.stop()


async def call(
    fake: FakeTelegram, method: str, token: str | None = None, **form: str
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake.base_url}{token or fake.token}/{method}", data=form) as response,
    ):
        return response.status, await response.json()


async def test_the_fake_refuses_what_telegram_would(served: FakeTelegram) -> None:
    refused = [
        await call(served, "sendMesage", chat_id="1", text="hi"),
        await call(served, "sendMessage", text="hi"),
        await call(served, "sendMessage", chat_id="1", text="hi", colour="red"),
        await call(
            served,
            "sendMessage",
            chat_id="1",
            text="hi",
            reply_markup='{"inline_keyboard": [[{"label": "Undo"}]]}',
        ),
    ]

    assert [status for status, _ in refused] == [400] * 4
    assert len(served.violations) == 4
    assert "no such Bot API method" in served.violations[0]
    assert "'chat_id' missing" in served.violations[1]
    assert "unknown parameter 'colour'" in served.violations[2]
    assert "InlineKeyboardButton has no field 'label'" in served.violations[3]
    served.violations.clear()


async def test_the_fake_answers_in_the_bot_apis_shapes(served: FakeTelegram) -> None:
    status, me = await call(served, "getMe")
    _, nothing = await call(served, "getUpdates", timeout="0")
    unauthorized, _ = await call(served, "getMe", token="1:wrong")

    assert status == 200 and me["result"]["username"] == "tandem_test_bot"
    assert nothing == {"ok": True, "result": []}
    assert unauthorized == 401
    assert served.violations == []


def test_an_update_telegram_would_never_send_cannot_be_built(fake: FakeTelegram) -> None:
    with pytest.raises(SpecError):
        fake.message(TgUser(1, ""), "hi", chat={"id": 1})  # a chat without a type


def test_a_missing_spec_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        BotApiSpec.load(tmp_path / "telegram-bot-api.json")
