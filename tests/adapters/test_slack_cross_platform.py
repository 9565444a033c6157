"""One school, two platforms: the real Slack and Telegram adapters over one core and database.

A teacher on Slack and a parent on Telegram share one student's log, and `/link` makes one
person of a Slack account and a Telegram account. Slack runs against the fake Slack, Telegram
(webhook mode) against the fake Bot API; both fakes check every call against their spec.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from adapters.telegram import SECRET_HEADER, TelegramAdapter
from adapters.telegram_config import TelegramConfig
from bot.i18n import translate
from storage.models import Account, Entry
from tests.adapters.fake_slack import SlackUser, SlackWorld, slack_world
from tests.adapters.fake_telegram import JSON, BotApiSpec, FakeTelegram, TgUser
from tests.conftest import DemoSchool

HOOK_PATH = "/telegram/hook"
SECRET = "tandem-cross-platform-42"

TEACHER_ON_SLACK = SlackUser("U0ORTIZ001", "Ana Ortiz")
PARENT_ON_TELEGRAM = TgUser(7001, "Dana", "Rivera")
TEACHER_ON_TELEGRAM = TgUser(7002, "Ana", "O.")


def t(key: str, **values: object) -> str:
    return translate("en", key, **values)


@dataclass
class TelegramSide:
    """The parent's phone: Telegram delivering updates to the real Telegram adapter."""

    fake: FakeTelegram
    adapter: TelegramAdapter

    async def say(self, user: TgUser, text: str) -> str:
        """`user` sends `text`; the text of what the bot sent back."""
        mark = len(self.fake.calls)
        await self._deliver(self.fake.message(user, text))
        sent: list[JSON] = self.fake.sent(user.id, since=mark)
        return "\n".join(message["text"] for message in sent)

    async def press(self, user: TgUser, label: str) -> str:
        """`user` presses [label] under the bot's last message; that message's text after."""
        message = self.fake.sent(user.id)[-1]
        await self._deliver(self.fake.press(user, message, label))
        return str(self.fake.sent(user.id)[-1]["text"])

    async def _deliver(self, update: JSON) -> None:
        host, port = self.adapter.webhook_addresses[0][:2]
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://{host}:{port}{HOOK_PATH}", json=update, headers={SECRET_HEADER: SECRET}
            ) as response,
        ):
            assert response.status == 200
        # PTB marks an update done once its handler has finished.
        await self.adapter.application.update_queue.join()


@dataclass
class TwoPlatforms:
    school: DemoSchool
    slack: SlackWorld
    telegram: TelegramSide

    async def invite(self, student: str, role: str) -> str:
        said = await self.school.say(self.school.teacher, f"/invite {student} {role}")
        code = re.search(r"start[= ]([\w-]+)", said.text)
        assert code, said.text
        return code.group(1)

    async def account_person(self, platform: str, external_id: str) -> int:
        async with self.school.db.session() as session:
            statement = select(Account).where(
                Account.platform == platform, Account.external_id == external_id
            )
            account = (await session.exec(statement)).one()
            return account.person_id


@pytest.fixture
async def both(school: DemoSchool, specs_dir: Path) -> AsyncIterator[TwoPlatforms]:
    fake_telegram = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake_telegram.start()
    config = TelegramConfig(
        enabled=True,
        token=fake_telegram.token,
        mode="webhook",
        base_url=fake_telegram.base_url,
        webhook_url=f"https://tandem.invalid{HOOK_PATH}",
        webhook_listen=("127.0.0.1", 0),
        webhook_secret=SECRET,
    )
    # One dispatcher for both adapters, as `tandem run` has.
    telegram = TelegramAdapter(config, school.dispatcher, school.db)
    await telegram.start()
    try:
        async with slack_world(school, specs_dir, "socket") as slack:
            slack.fake.add_user(TEACHER_ON_SLACK)
            yield TwoPlatforms(school, slack, TelegramSide(fake_telegram, telegram))
    finally:
        await telegram.stop()
        await fake_telegram.stop()
    assert not fake_telegram.violations, fake_telegram.violations


async def test_a_parent_on_telegram_reads_what_a_teacher_logged_on_slack(
    both: TwoPlatforms,
) -> None:
    await both.slack.join(TEACHER_ON_SLACK, "Sam", "teacher")
    joined = await both.telegram.say(
        PARENT_ON_TELEGRAM, f"/start {await both.invite('Sam', 'parent')}"
    )
    assert joined.startswith("Welcome, Dana Rivera!")

    logged = await both.slack.send(TEACHER_ON_SLACK, "+ Sam read a whole page aloud")
    read = await both.telegram.say(PARENT_ON_TELEGRAM, "/log Sam")

    assert logged.replies[0].shown == t("entry.logged_win", student="Sam Rivera")
    assert read.startswith(t("log.title", student="Sam Rivera", count=1))
    assert "Win · Ana Ortiz:\n  │ Sam read a whole page aloud" in read


async def test_a_parent_on_telegram_and_a_teacher_on_slack_write_one_log(
    both: TwoPlatforms,
) -> None:
    await both.slack.join(TEACHER_ON_SLACK, "Sam", "teacher")
    await both.telegram.say(PARENT_ON_TELEGRAM, f"/start {await both.invite('Sam', 'parent')}")

    await both.telegram.say(PARENT_ON_TELEGRAM, "+ Sam tied his shoes by himself")
    said = await both.slack.slash(TEACHER_ON_SLACK, "log Sam")

    assert "Dana Rivera:\n  │ Sam tied his shoes by himself" in said.text
    async with both.school.db.session() as session:
        [entry] = (await session.exec(select(Entry))).all()
    assert (entry.source_platform, entry.setting) == ("telegram", "home")


async def test_link_on_slack_then_the_code_on_telegram_makes_one_person(
    both: TwoPlatforms,
) -> None:
    await both.slack.join(TEACHER_ON_SLACK, "Sam", "teacher")

    shown = (await both.slack.slash(TEACHER_ON_SLACK, "link")).text
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", shown)
    assert code, shown
    offer = await both.telegram.say(TEACHER_ON_TELEGRAM, f"/link {code.group(0)}")
    linked = await both.telegram.press(TEACHER_ON_TELEGRAM, t("button.join"))

    assert "Ana Ortiz" in offer
    assert linked == t("link.joined", name="Ana Ortiz")
    slack_person = await both.account_person("slack", TEACHER_ON_SLACK.user_id)
    assert await both.account_person("telegram", str(TEACHER_ON_TELEGRAM.id)) == slack_person
    students = await both.telegram.say(TEACHER_ON_TELEGRAM, "/students")
    assert "Sam Rivera (teacher)" in students


async def test_a_note_from_either_linked_account_is_by_the_same_person(
    both: TwoPlatforms,
) -> None:
    await both.slack.join(TEACHER_ON_SLACK, "Sam", "teacher")
    code = re.search(
        r"[A-Z2-9]{4}-[A-Z2-9]{4}", (await both.slack.send(TEACHER_ON_SLACK, "/link")).text
    )
    assert code
    await both.telegram.say(TEACHER_ON_TELEGRAM, f"/link {code.group(0)}")
    await both.telegram.press(TEACHER_ON_TELEGRAM, t("button.join"))

    await both.slack.send(TEACHER_ON_SLACK, "+ Sam read at school")
    await both.telegram.say(TEACHER_ON_TELEGRAM, "+ Sam read on the bus home")

    async with both.school.db.session() as session:
        entries = (await session.exec(select(Entry))).all()
    assert {entry.source_platform for entry in entries} == {"slack", "telegram"}
    assert len({entry.author_id for entry in entries}) == 1
