"""Tandem on Telegram: the real python-telegram-bot against a fake Bot API on 127.0.0.1.

Each story runs in polling mode and in webhook mode, on SQLite (and PostgreSQL when
TANDEM_TEST_DATABASE_URL is set). The fake checks every call against the Bot API spec.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from pypdf import PdfReader
from sqlmodel import col, func, select
from telegram.error import RetryAfter

from adapters.bootstrap import build_router
from adapters.kit import MAX_WAITING_PER_CHAT
from adapters.telegram import (
    CONCURRENT_UPDATES,
    MAX_MESSAGE_LENGTH,
    MAX_UNHANDLED_UPDATES,
    SECRET_HEADER,
    TelegramAdapter,
)
from adapters.telegram_config import TelegramConfig
from bot import invites, roster
from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.events import Event, RecipientBlocked, Reply
from bot.i18n import translate
from bot.outbox import PermanentError, RateLimited
from storage.db import Database
from storage.models import Account, Entry, EntryRevision, Person, Role, SeenEvent
from storage.stores import Store
from tests.adapters.fake_telegram import (
    BOT_USERNAME,
    JSON,
    BotApiSpec,
    Call,
    FakeTelegram,
    TgUser,
    group_chat,
)
from tests.conftest import FakeClock, welcome

# PTB's own RetryAfter reads its deprecated int `retry_after` when it is raised; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

SECRET = "tandem-webhook_Secret-42"
HOOK_URL = "https://tandem.invalid/telegram/hook"

TEACHER = TgUser(5001, "Maria", "Ortiz")
PARENT = TgUser(5002, "Dana", "Rivera")
FATHER = TgUser(5003, "Luis", "Rivera", language_code="es")  # his Telegram is in Spanish
OTHER_PARENT = TgUser(5003, "Lee", "Chen")
STRANGER = TgUser(5099, "Pat", "Flood")


def t(key: str, **values: object) -> str:
    return translate("en", key, **values)


def labels(message: JSON) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


@dataclass
class Telegram:
    """One running adapter, its fake Telegram, and the school it serves."""

    fake: FakeTelegram
    adapter: TelegramAdapter
    db: Database
    settings: Settings
    clock: FakeClock
    mode: str
    sleeps: list[float] = field(default_factory=list)

    async def deliver(self, *updates: JSON) -> list[Call]:
        """Hand updates over the way Telegram would; return once they are handled."""
        mark = len(self.fake.calls)
        await self.hand_over(*updates)
        if self.mode == "polling":
            last = max(update["update_id"] for update in updates)
            await self.fake.wait_until(
                lambda: self.fake.confirmed_offset > last, f"getUpdates to confirm update {last}"
            )
        # PTB marks an update done only once its handler has finished.
        await self.adapter.application.update_queue.join()
        return [call for call in self.fake.calls[mark:] if call.method != "getUpdates"]

    async def hand_over(self, *updates: JSON) -> None:
        """Hand updates over the way Telegram would, without waiting for them to be handled."""
        if self.mode == "polling":
            await self.fake.push(*updates)
        else:
            for update in updates:
                assert await self.post(update) == 200

    async def post(self, update: Any, secret: str | None = SECRET) -> int:
        """POST an update to the adapter's webhook, as Telegram does; the HTTP status."""
        host, port = self.adapter.webhook_addresses[0][:2]
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://{host}:{port}{urlsplit(HOOK_URL).path}", json=update, headers=headers
            ) as response,
        ):
            return response.status

    async def say(self, user: TgUser, text: str | None, **message: Any) -> list[JSON]:
        """`user` sends a message; what the bot sent back to that chat."""
        update = self.fake.message(user, text, **message)
        mark = len(self.fake.calls)
        await self.deliver(update)
        return self.fake.sent(update["message"]["chat"]["id"], since=mark)

    async def invite(self, student: str, role: Role) -> invites.NewInvite:
        async with self.db.session() as session:
            store = Store(session)
            school = await roster.pick_school(store, self.settings, None)
            pupil = await roster.student_named(store, school, student)
            return await invites.create_invite(
                store, self.settings, self.clock.now(), school, pupil, role, None
            )

    async def join(self, user: TgUser, student: str, role: Role) -> list[JSON]:
        new = await self.invite(student, role)
        return await self.say(user, f"/start {new.code}")

    async def entries(self) -> Sequence[Entry]:
        async with self.db.session() as session:
            return (await session.exec(select(Entry).order_by(col(Entry.id)))).all()

    async def count(self, model: Any) -> int:
        async with self.db.session() as session:
            return int((await session.exec(select(func.count()).select_from(model))).one())

    async def account(self, user: TgUser) -> Account | None:
        async with self.db.session() as session:
            return await Store(session).people.account("telegram", "", str(user.id))


@pytest.fixture(params=["polling", "webhook"])
async def telegram(
    request: pytest.FixtureRequest,
    db: Database,
    clock: FakeClock,
    settings: Settings,
    specs_dir: Any,
) -> AsyncIterator[Telegram]:
    async with db.session() as session:
        store = Store(session)
        school = await roster.ensure_school(store, "Maple Elementary", "America/Chicago", "en")
        sam = await roster.add_student(store, school, "Sam Rivera")
        await roster.add_student(store, school, "Maya Chen")
        assert sam.id is not None
        await store.entries.set_goal(sam.id, "reading", "Reads a page aloud to an adult")

    fake = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake.start()
    config = TelegramConfig(
        enabled=True,
        token=fake.token,
        mode=request.param,
        base_url=fake.base_url,
        webhook_url=HOOK_URL,
        webhook_listen=("127.0.0.1", 0),
        webhook_secret=SECRET,
    )
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)  # RetryAfter is honoured without waiting for real

    adapter = TelegramAdapter(
        config, Dispatcher(db, settings, clock, build_router()), db, sleep=sleep
    )
    await adapter.start()
    try:
        yield Telegram(fake, adapter, db, settings, clock, request.param, sleeps)
    finally:
        await adapter.stop()
        await fake.stop()
    assert not fake.violations, fake.violations


# --- the stories ----------------------------------------------------------------------------


async def test_a_teacher_joins_logs_a_win_and_undoes_it(telegram: Telegram) -> None:
    joined = await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    [logged] = await telegram.say(TEACHER, "+ Sam read a whole page aloud #reading")

    assert [m["text"] for m in joined] == [
        welcome("onboarding.welcome_teacher", name="Maria Ortiz", student="Sam Rivera")
    ]
    assert logged["text"].startswith(t("entry.logged_win", student="Sam Rivera"))
    assert labels(logged) == [t("button.undo")]
    [entry] = await telegram.entries()
    assert (entry.kind, entry.setting) == ("win", "school")
    assert "read a whole page aloud" in entry.text

    calls = await telegram.deliver(telegram.fake.press(TEACHER, logged, t("button.undo")))

    assert [call.method for call in calls] == ["answerCallbackQuery", "editMessageText"]
    shown = telegram.fake.messages[(TEACHER.id, logged["message_id"])]
    assert shown["text"].startswith("Removed your win for Sam Rivera")
    assert "reply_markup" not in shown  # the pressed keyboard is gone with the old text
    assert await telegram.entries() == []


async def test_a_father_whose_telegram_is_in_spanish_is_answered_in_spanish(
    telegram: Telegram,
) -> None:
    [joined] = await telegram.join(FATHER, "Sam Rivera", Role.PARENT)
    [noted] = await telegram.say(FATHER, "+ Sam comió solo hoy")

    assert joined["text"] == welcome(
        "onboarding.welcome_parent", "es", name="Luis Rivera", student="Sam Rivera"
    )
    assert labels(joined) == ["English", "Español", "Tiếng Việt", "العربية", "简体中文"]
    assert noted["text"].startswith(translate("es", "entry.logged_win", student="Sam Rivera"))
    assert labels(noted) == [translate("es", "button.undo")]
    [entry] = await telegram.entries()
    assert entry.text == "Sam comió solo hoy"  # kept as he wrote it


@pytest.mark.parametrize(
    ("app_language", "language"), [("vi", "vi"), ("ar", "ar"), ("zh-hans", "zh_Hans")]
)
async def test_a_parent_whose_telegram_is_in_a_new_language_is_answered_in_it(
    telegram: Telegram, app_language: str, language: str
) -> None:
    parent = TgUser(5010, "Lan", "Nguyen", language_code=app_language)
    [joined] = await telegram.join(parent, "Sam Rivera", Role.PARENT)
    [noted] = await telegram.say(parent, "+ Sam ate everything today")
    [settings] = await telegram.say(parent, "/settings")

    assert joined["text"] == welcome(
        "onboarding.welcome_parent", language, name="Lan Nguyen", student="Sam Rivera"
    )
    assert noted["text"].startswith(translate(language, "entry.logged_win", student="Sam Rivera"))
    assert labels(noted) == [translate(language, "button.undo")]
    assert "America/Chicago" in settings["text"]  # the time zone, shown in /settings


async def test_tapping_english_under_the_welcome_rewrites_it_in_english(
    telegram: Telegram,
) -> None:
    [joined] = await telegram.join(FATHER, "Sam Rivera", Role.PARENT)

    await telegram.deliver(telegram.fake.press(FATHER, joined, "English"))

    shown = telegram.fake.messages[(FATHER.id, joined["message_id"])]
    assert shown["text"] == "\n\n".join(
        [
            t("onboarding.welcome_parent", name="Luis Rivera", student="Sam Rivera"),
            t("settings.language_set"),
        ]
    )
    assert "reply_markup" not in shown
    [help_text] = await telegram.say(FATHER, "/help")
    assert help_text["text"] == t("help.text")


async def test_a_parent_joins_through_the_deep_link_and_writes_a_home_note(
    telegram: Telegram,
) -> None:
    new = await telegram.invite("Sam Rivera", Role.PARENT)
    assert new.link == f"https://t.me/{BOT_USERNAME}?start={new.code}"
    # Opening the link and tapping Start makes the parent's app send "/start CODE".
    code = parse_qs(urlsplit(new.link).query)["start"][0]

    joined = await telegram.say(PARENT, f"/start {code}")
    [noted] = await telegram.say(PARENT, "Slept badly, anxious this morning")

    assert joined[0]["text"] == welcome(
        "onboarding.welcome_parent", name="Dana Rivera", student="Sam Rivera"
    )
    assert noted["text"].startswith(t("entry.logged_note", student="Sam Rivera"))
    assert labels(noted) == [
        t("button.win"),
        t("button.concern"),
        t("button.note"),
        t("button.undo"),
    ]
    [entry] = await telegram.entries()
    assert (entry.kind, entry.setting, entry.text) == (
        "note",
        "home",
        "Slept badly, anxious this morning",
    )


async def test_editing_the_message_edits_the_entry_and_keeps_the_old_text(
    telegram: Telegram,
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    original = telegram.fake.message(TEACHER, "+ Sam read a page")
    await telegram.deliver(original)

    calls = await telegram.deliver(telegram.fake.edited(original, "+ Sam read two pages"))

    [entry] = await telegram.entries()
    assert "read two pages" in entry.text
    assert entry.source_ref == f"{TEACHER.id}:{original['message']['message_id']}"
    async with telegram.db.session() as session:
        [revision] = (await session.exec(select(EntryRevision))).all()
    assert "read a page" in revision.text
    assert [call.params["text"] for call in calls] == [t("entry.edited", student="Sam Rivera")]


async def test_a_press_of_someone_elses_button_does_nothing(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    [logged] = await telegram.say(TEACHER, "+ Sam read a whole page aloud")
    [welcome] = await telegram.join(PARENT, "Sam Rivera", Role.PARENT)
    undo = logged["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    calls = await telegram.deliver(telegram.fake.press(PARENT, welcome, data=undo))

    assert [call.method for call in calls] == ["answerCallbackQuery"]
    assert len(await telegram.entries()) == 1
    assert labels(telegram.fake.messages[(TEACHER.id, logged["message_id"])]) == ["Undo"]


async def test_messages_from_one_chat_are_handled_in_the_order_sent(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    logged = telegram.fake.message(TEACHER, "+ Sam read a whole page aloud")
    undone = telegram.fake.message(TEACHER, "/undo")

    await telegram.deliver(logged, undone)  # one getUpdates batch, or two quick POSTs

    texts = [m["text"] for m in telegram.fake.sent(TEACHER.id)]
    assert texts[-2].startswith(t("entry.logged_win", student="Sam Rivera"))
    assert texts[-1].startswith("Removed your win for Sam Rivera")
    assert await telegram.entries() == []


# --- what Telegram may throw at us ----------------------------------------------------------


async def test_forged_callback_data_does_nothing(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    [logged] = await telegram.say(TEACHER, "+ Sam read a whole page aloud")

    forged = [
        telegram.fake.press(TEACHER, logged, data=data)
        for data in ("undo:1", "x" * 64, "' OR 1=1 --", "\u202e🙂")
    ]
    calls = await telegram.deliver(*forged)

    assert sorted(call.method for call in calls) == ["answerCallbackQuery"] * 4
    assert len(await telegram.entries()) == 1


@pytest.mark.parametrize("telegram", ["webhook"], indirect=True)
async def test_a_webhook_post_without_the_right_secret_is_refused_and_changes_nothing(
    telegram: Telegram,
) -> None:
    new = await telegram.invite("Sam Rivera", Role.TEACHER)
    update = telegram.fake.message(TEACHER, f"/start {new.code}")

    refused = [
        await telegram.post(update, secret=None),
        await telegram.post(update, secret="wrong-secret"),
        await telegram.post(update, secret=SECRET + "x"),
        await telegram.post(update, secret=""),
    ]
    await telegram.adapter.application.update_queue.join()

    assert refused == [403, 403, 403, 403]
    assert telegram.fake.calls_of("sendMessage") == []
    assert await telegram.count(SeenEvent) == 0
    assert await telegram.count(Person) == 0
    # The same update with the secret is taken: it was only the secret that was wrong.
    await telegram.deliver(update)
    assert await telegram.count(Person) == 1


@pytest.mark.parametrize("telegram", ["webhook"], indirect=True)
async def test_a_webhook_post_that_is_not_an_update_is_refused(telegram: Telegram) -> None:
    assert await telegram.post(["not", "an", "update"]) == 400
    assert await telegram.post({"update_id": "twelve", "message": 3}) == 400


async def test_a_duplicated_update_is_handled_once(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    update = telegram.fake.message(TEACHER, "+ Sam read a whole page aloud")

    calls = await telegram.deliver(update, update)

    assert [call.method for call in calls] == ["sendMessage"]
    assert len(await telegram.entries()) == 1


async def test_a_group_chat_gets_no_student_data_only_message_me_directly(
    telegram: Telegram,
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    await telegram.say(TEACHER, "+ Sam read a whole page aloud")
    group = group_chat()

    logged = await telegram.say(TEACHER, "- Sam hit a peer at recess", chat=group)
    asked = await telegram.say(TEACHER, "/log Sam", chat=group)

    assert [m["text"] for m in logged + asked] == [t("group.direct_only")] * 2
    assert all(m["chat"]["id"] == group["id"] for m in logged + asked)
    [entry] = await telegram.entries()
    assert "read a whole page aloud" in entry.text


async def test_a_429_is_waited_out_for_as_long_as_telegram_asks(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    telegram.fake.fail_next("sendMessage", times=2, retry_after=7)

    calls = await telegram.deliver(telegram.fake.message(TEACHER, "/help"))

    assert [(call.method, call.status) for call in calls] == [
        ("sendMessage", 429),
        ("sendMessage", 429),
        ("sendMessage", 200),
    ]
    assert telegram.sleeps == [7.0, 7.0]
    assert calls[-1].params["text"] == t("help.text")


@pytest.mark.parametrize("telegram", ["polling"], indirect=True)
async def test_a_send_that_keeps_getting_429_gives_up_to_its_caller(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    telegram.fake.fail_next("sendMessage", times=10, retry_after=30)

    with pytest.raises(RetryAfter):
        await telegram.adapter.send(str(TEACHER.id), Reply("Sam's week"))

    assert telegram.sleeps == [30.0, 30.0, 30.0]


@pytest.mark.parametrize("telegram", ["polling"], indirect=True)
async def test_a_blocked_bot_marks_the_account_inactive_without_retrying(
    telegram: Telegram,
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    telegram.fake.block(TEACHER.id)
    mark = len(telegram.fake.calls)

    with pytest.raises(RecipientBlocked):
        await telegram.adapter.send(str(TEACHER.id), Reply("Sam's week"))

    assert [c.status for c in telegram.fake.calls_of("sendMessage", since=mark)] == [403]
    account = await telegram.account(TEACHER)
    assert account is not None and not account.active
    assert telegram.sleeps == []


@pytest.mark.parametrize("telegram", ["polling"], indirect=True)
async def test_a_reply_to_someone_who_blocked_the_bot_is_dropped_quietly(
    telegram: Telegram,
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    telegram.fake.block(TEACHER.id)

    calls = await telegram.deliver(telegram.fake.message(TEACHER, "+ Sam read aloud"))

    assert [(call.method, call.status) for call in calls] == [("sendMessage", 403)]
    account = await telegram.account(TEACHER)
    assert account is not None and not account.active


# --- rendering ------------------------------------------------------------------------------


async def test_a_long_reply_is_split_at_line_breaks(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    notes = [f"note {n}: " + " ".join(["read"] * 370) for n in range(1, 4)]
    for note in notes:
        await telegram.say(TEACHER, f"Sam: {note}")

    pieces = await telegram.say(TEACHER, "/log Sam")

    assert len(pieces) == 2
    assert all(len(piece["text"]) <= MAX_MESSAGE_LENGTH for piece in pieces)
    # Every note is whole in exactly one message: the cut fell between lines.
    for note in notes:
        assert sum(note in piece["text"] for piece in pieces) == 1
    assert pieces[1]["text"].startswith(("•", "  │"))  # an item, or the quoted words of one


async def test_the_answer_to_a_press_on_a_deleted_message_comes_as_a_new_message(
    telegram: Telegram,
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    [logged] = await telegram.say(TEACHER, "+ Sam read a whole page aloud")
    del telegram.fake.messages[(TEACHER.id, logged["message_id"])]  # the teacher deleted it

    calls = await telegram.deliver(telegram.fake.press(TEACHER, logged, t("button.undo")))

    assert [(call.method, call.status) for call in calls] == [
        ("answerCallbackQuery", 200),
        ("editMessageText", 400),
        ("sendMessage", 200),
    ]
    assert calls[-1].params["text"].startswith("Removed your win for Sam Rivera")
    assert await telegram.entries() == []


@pytest.mark.parametrize("telegram", ["polling"], indirect=True)
async def test_send_delivers_to_a_chat_and_returns_the_message_ref(telegram: Telegram) -> None:
    await telegram.join(PARENT, "Sam Rivera", Role.PARENT)

    ref = await telegram.adapter.send(str(PARENT.id), Reply("How was Sam's week at home?"))

    [sent] = telegram.fake.sent(PARENT.id)[-1:]
    assert sent["text"] == "How was Sam's week at home?"
    assert ref == f"{PARENT.id}:{sent['message_id']}"


# --- the outbox's way out ------------------------------------------------------------------


@pytest.mark.parametrize("telegram", ["polling"], indirect=True)
async def test_deliver_sends_to_the_accounts_chat_and_returns_the_message_ref(
    telegram: Telegram,
) -> None:
    await telegram.join(PARENT, "Sam Rivera", Role.PARENT)
    account = await telegram.account(PARENT)
    assert account is not None

    ref = await telegram.adapter.deliver(account, Reply("How was Sam's week at home?"))

    [sent] = telegram.fake.sent(PARENT.id)[-1:]
    assert sent["text"] == "How was Sam's week at home?"
    assert ref == f"{PARENT.id}:{sent['message_id']}"


@pytest.mark.parametrize("telegram", ["polling"], indirect=True)
async def test_deliver_leaves_a_429_to_the_outbox(telegram: Telegram) -> None:
    await telegram.join(PARENT, "Sam Rivera", Role.PARENT)
    account = await telegram.account(PARENT)
    assert account is not None
    telegram.fake.fail_next("sendMessage", retry_after=12)

    with pytest.raises(RateLimited) as limited:
        await telegram.adapter.deliver(account, Reply("How was Sam's week at home?"))

    assert limited.value.retry_after == 12.0
    assert telegram.sleeps == []  # the sender reschedules; nothing waits here


@pytest.mark.parametrize("telegram", ["polling"], indirect=True)
async def test_deliver_names_a_blocked_bot_and_a_refused_message(telegram: Telegram) -> None:
    await telegram.join(PARENT, "Sam Rivera", Role.PARENT)
    account = await telegram.account(PARENT)
    assert account is not None
    nowhere = account.model_copy(update={"dm_chat_id": "777"})  # a chat Telegram never saw

    with pytest.raises(PermanentError):
        await telegram.adapter.deliver(nowhere, Reply("Hello"))
    telegram.fake.block(PARENT.id)
    with pytest.raises(RecipientBlocked):
        await telegram.adapter.deliver(account, Reply("Hello"))

    blocked = await telegram.account(PARENT)
    assert blocked is not None and not blocked.active


async def test_connect_logs_in_to_send_without_taking_updates(
    db: Database, clock: FakeClock, settings: Settings, specs_dir: Path
) -> None:
    fake = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake.start()
    config = TelegramConfig(enabled=True, token=fake.token, base_url=fake.base_url)
    adapter = TelegramAdapter(config, Dispatcher(db, settings, clock, build_router()), db)
    try:
        await adapter.connect()
    finally:
        await adapter.stop()
        await fake.stop()

    assert [call.method for call in fake.calls] == ["getMe"]
    async with db.session() as session:
        assert await Store(session).bot_profile.username("telegram") == BOT_USERNAME
    assert fake.violations == []


async def test_user_text_is_sent_as_plain_text_never_as_markup(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    await telegram.say(TEACHER, "Sam: <b>loud</b> & *proud* [x](tg://user?id=1)")

    [log] = await telegram.say(TEACHER, "/log Sam")

    assert "<b>loud</b> & *proud* [x](tg://user?id=1)" in log["text"]
    assert all("parse_mode" not in call.params for call in telegram.fake.calls_of("sendMessage"))


async def test_a_photo_with_a_caption_is_an_entry_with_the_largest_photo(
    telegram: Telegram,
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)

    update = telegram.fake.message(TEACHER, caption="+ Sam drew a map of the school", photo=True)
    await telegram.deliver(update)

    [entry] = await telegram.entries()
    assert "drew a map of the school" in entry.text
    assert entry.attachment_ref == update["message"]["photo"][-1]["file_id"]


async def test_a_stranger_gets_the_onboarding_line_and_nothing_else(telegram: Telegram) -> None:
    replies = await telegram.say(OTHER_PARENT, "/log Sam")

    assert [m["text"] for m in replies] == [t("onboarding.stranger")]
    assert await telegram.count(Person) == 0


# --- start and stop -------------------------------------------------------------------------


async def test_start_registers_the_command_menu_and_remembers_the_username(
    telegram: Telegram,
) -> None:
    english, spanish, *others = telegram.fake.calls_of("setMyCommands")
    names = [command["command"] for command in english.params["commands"]]
    known = telegram.adapter.dispatcher.routes.commands

    assert {"help", "log", "week", "undo", "invite"} <= set(names)
    assert all(name in known for name in names)
    # The menu in Spanish for Telegram users whose app is in Spanish: same commands, own words.
    assert "language_code" not in english.params
    assert spanish.params["language_code"] == "es"
    # Telegram takes two-letter codes: the Simplified Chinese menu is the `zh` one.
    assert [call.params["language_code"] for call in others] == ["vi", "ar", "zh"]
    menu = {command["command"]: command["description"] for command in spanish.params["commands"]}
    assert list(menu) == names
    assert menu["help"] == translate("es", "menu.help") != translate("en", "menu.help")
    assert telegram.adapter.username == BOT_USERNAME
    async with telegram.db.session() as session:
        assert await Store(session).bot_profile.username("telegram") == BOT_USERNAME


async def test_an_invite_made_in_chat_is_a_deep_link(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)

    [made] = await telegram.say(TEACHER, "/invite Sam parent")

    assert f"https://t.me/{BOT_USERNAME}?start=" in made["text"]


@pytest.mark.parametrize("telegram", ["polling"], indirect=True)
async def test_polling_clears_any_webhook_then_confirms_what_it_took_on_stop(
    telegram: Telegram,
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    first_poll = telegram.fake.calls_of("getUpdates")[0]
    assert telegram.fake.calls.index(
        telegram.fake.calls_of("deleteWebhook")[0]
    ) < telegram.fake.calls.index(first_poll)
    assert set(first_poll.params["allowed_updates"]) == {
        "message",
        "edited_message",
        "callback_query",
    }

    await telegram.adapter.stop()

    last = telegram.fake.calls_of("getUpdates")[-1]
    assert last.params["timeout"] == 0  # no long poll left hanging
    assert last.params["offset"] == telegram.fake.confirmed_offset
    assert not telegram.adapter.application.running


@pytest.mark.parametrize("telegram", ["webhook"], indirect=True)
async def test_webhook_mode_registers_the_secret_and_stops_listening_on_stop(
    telegram: Telegram,
) -> None:
    assert telegram.fake.webhook["url"] == HOOK_URL
    assert telegram.fake.webhook["secret_token"] == SECRET
    assert telegram.fake.calls_of("getUpdates") == []
    update = telegram.fake.message(TEACHER, "/help")
    host, port = telegram.adapter.webhook_addresses[0][:2]

    await telegram.adapter.stop()

    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http:
            await http.post(
                f"http://{host}:{port}/telegram/hook", json=update, headers={SECRET_HEADER: SECRET}
            )
    assert not telegram.adapter.application.running


class HeldDispatcher(Dispatcher):
    """A dispatcher that lets no event through until `released`, so that updates pile up."""

    def __init__(self, db: Database, settings: Settings, clock: FakeClock) -> None:
        super().__init__(db, settings, clock, build_router())
        self.released = asyncio.Event()
        self.all_busy = asyncio.Event()  # as many events held as the adapter handles at once
        self._held = 0

    async def dispatch(self, event: Event) -> list[Reply]:
        self._held += 1
        if self._held == CONCURRENT_UPDATES:
            self.all_busy.set()
        await self.released.wait()
        return await super().dispatch(event)


async def test_a_stop_under_a_backlog_finishes_what_it_took_and_telegram_keeps_the_rest(
    db: Database, clock: FakeClock, settings: Settings, specs_dir: Path
) -> None:
    fake = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake.start()
    config = TelegramConfig(enabled=True, token=fake.token, mode="polling", base_url=fake.base_url)
    strangers = [TgUser(7000 + number, f"Stranger{number}") for number in range(200)]
    backlog = [fake.message(user, "hello") for user in strangers]
    held = HeldDispatcher(db, settings, clock)
    first = TelegramAdapter(config, held, db)
    await first.start()
    try:
        await fake.push(*backlog)
        async with asyncio.timeout(10):
            await held.all_busy.wait()
        stopping = asyncio.create_task(first.stop())
        await fake.wait_until(
            lambda: bool(fake.calls_of("getUpdates", timeout=0)),
            "the getUpdates that confirms what a stop leaves",
        )
        held.released.set()
        await stopping

        answered_before_restart = len(fake.calls_of("sendMessage"))
        assert 0 < answered_before_restart <= MAX_UNHANDLED_UPDATES
        # Telegram forgets only updates that were handled.
        forgotten = [u for u in backlog if u["update_id"] < fake.confirmed_offset]
        assert len(forgotten) <= answered_before_restart

        second = TelegramAdapter(config, Dispatcher(db, settings, clock, build_router()), db)
        await second.start()
        try:
            last = backlog[-1]["update_id"]
            await fake.wait_until(
                lambda: fake.confirmed_offset > last, f"getUpdates to confirm update {last}"
            )
            await second.application.update_queue.join()
        finally:
            await second.stop()
    finally:
        await fake.stop()

    # Every stranger got the one onboarding line: nothing lost, nothing twice.
    assert [len(fake.sent(user.id)) for user in strangers] == [1] * len(strangers)
    assert {m["text"] for user in strangers for m in fake.sent(user.id)} == {
        t("onboarding.stranger")
    }
    assert not fake.violations, fake.violations


# --- one chat's flood ------------------------------------------------------------------------


class HeldPerson(Dispatcher):
    """The real dispatcher, but one person's events wait until `released` (a slow database, a
    slow handler); everyone else's go through."""

    def __init__(self, inner: Dispatcher, user: TgUser) -> None:
        super().__init__(inner.db, inner.settings, inner.clock, inner.routes)
        self.user = str(user.id)
        self.holding = asyncio.Event()
        self.released = asyncio.Event()

    async def dispatch(self, event: Event) -> list[Reply]:
        if event.sender.external_id == self.user:
            self.holding.set()
            await self.released.wait()
        return await super().dispatch(event)


async def test_a_strangers_flood_does_not_hold_up_a_teachers_note(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    held = HeldPerson(telegram.adapter.dispatcher, STRANGER)
    telegram.adapter.dispatcher = held
    flood = [telegram.fake.message(STRANGER, f"hello {n}") for n in range(200)]
    note = telegram.fake.message(TEACHER, "+ Sam read a whole page aloud")
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(10):
            await telegram.hand_over(*flood)
            await held.holding.wait()
        mark = len(telegram.fake.calls)
        started = loop.time()

        await telegram.hand_over(note)
        await telegram.fake.wait_until(
            lambda: bool(telegram.fake.sent(TEACHER.id, since=mark)), "the answer to the note"
        )

        waited = loop.time() - started
        # Answered while the stranger's first message is still being handled.
        assert not held.released.is_set()
        assert waited < 1.0
    finally:
        held.released.set()
    await telegram.adapter.application.update_queue.join()

    [answer] = telegram.fake.sent(TEACHER.id, since=mark)
    assert answer["text"].startswith(t("entry.logged_win", student="Sam Rivera"))
    # The stranger's first messages had their one onboarding line each; the rest were dropped.
    assert [m["text"] for m in telegram.fake.sent(STRANGER.id)] == [
        t("onboarding.stranger")
    ] * MAX_WAITING_PER_CHAT


async def test_a_parent_who_sends_too_fast_hears_it_once_in_her_language(
    telegram: Telegram,
) -> None:
    await telegram.join(FATHER, "Sam Rivera", Role.PARENT)
    held = HeldPerson(telegram.adapter.dispatcher, FATHER)
    telegram.adapter.dispatcher = held
    mark = len(telegram.fake.calls)
    try:
        await telegram.hand_over(
            *[telegram.fake.message(FATHER, f"+ Sam leyó la página {n}") for n in range(30)]
        )
        await telegram.fake.wait_until(
            lambda: bool(telegram.fake.sent(FATHER.id, since=mark)), "the one notice"
        )
    finally:
        held.released.set()
    await telegram.adapter.application.update_queue.join()

    notice, *answers = [m["text"] for m in telegram.fake.sent(FATHER.id, since=mark)]
    assert notice == translate("es", "input.too_fast", kept=MAX_WAITING_PER_CHAT)
    assert len(answers) == MAX_WAITING_PER_CHAT
    assert all(
        answer.startswith(translate("es", "entry.logged_win", student="Sam Rivera"))
        for answer in answers
    )
    assert [entry.text for entry in await telegram.entries()] == [
        f"Sam leyó la página {n}" for n in range(MAX_WAITING_PER_CHAT)
    ]


async def test_progress_sends_the_chart_as_a_photo_then_its_numbers_in_words(
    telegram: Telegram,
) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    await telegram.say(TEACHER, "/goal Sam reading: Reads aloud | target 80% | baseline 40%")
    await telegram.say(TEACHER, "+ Sam read 6/10 words #reading")

    mark = len(telegram.fake.calls)
    [words] = await telegram.say(TEACHER, "/progress Sam")

    [photo_call] = telegram.fake.calls_of("sendPhoto", mark)
    [photo] = telegram.fake.messages[(TEACHER.id, photo_call.result["message_id"])]["photo"]
    assert photo["width"] >= 800 and photo["height"] >= 500
    [(field_name, png)] = telegram.fake.uploads
    assert field_name == "photo" and png.startswith(b"\x89PNG")
    assert words["text"] == ("#reading — Reads aloud: 60 % (6/10) · target 80 % · baseline 40 %")
    assert photo_call.result["message_id"] < words["message_id"]


async def test_report_sends_a_pdf_document_whose_text_holds_the_measures(
    telegram: Telegram,
) -> None:
    await telegram.join(PARENT, "Sam Rivera", Role.PARENT)
    await telegram.say(PARENT, "+ Sam read 9/10 words at bedtime #reading")

    mark = len(telegram.fake.calls)
    [words] = await telegram.say(PARENT, "/report Sam")

    [document_call] = telegram.fake.calls_of("sendDocument", mark)
    assert document_call.status == 200
    [(field_name, pdf)] = telegram.fake.uploads
    assert field_name == "document"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Progress report: Sam Rivera" in text
    assert "Goal #reading" in text and "90 % (9/10) (home)" in text
    assert words["text"].startswith("Sam Rivera's progress report")
