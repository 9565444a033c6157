"""Socket Mode: Tandem opens Slack's websocket with the app-level token, Slack says hello,
sends envelopes, and every envelope is acknowledged by its id before the work is done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.slack import SlackAdapter
from bot.config import ConfigError
from bot.events import Reply
from bot.i18n import translate
from tests.adapters.fake_slack import (
    APP_TOKEN,
    BOT_TOKEN,
    OTHER_TEAM_ID,
    TEAM_ID,
    SlackUser,
    SlackWorld,
    running_fake,
    slack_config,
    slack_world,
)
from tests.conftest import DemoSchool

TEACHER = SlackUser("U0ORTIZ001", "Ana Ortiz")


@pytest.fixture
async def slack(school: DemoSchool, specs_dir: Path) -> AsyncIterator[SlackWorld]:
    async with slack_world(school, specs_dir, "socket") as world:
        world.fake.add_user(TEACHER)
        yield world


async def test_start_logs_in_then_connects_with_the_app_level_token(slack: SlackWorld) -> None:
    auth, opened = slack.fake.calls[:2]

    assert (auth.method, auth.token) == ("auth.test", BOT_TOKEN)
    assert (opened.method, opened.token) == ("apps.connections.open", APP_TOKEN)
    assert slack.fake.hellos == 1
    assert len(slack.fake.sockets) == 1
    assert slack.adapter.bot.team_id == TEAM_ID


async def test_an_event_envelope_is_acked_with_its_envelope_id(slack: SlackWorld) -> None:
    body = slack.payloads.message(TEACHER, "hello")

    envelope_id = await slack.fake.send_envelope("events_api", body)

    assert await slack.fake.ack(envelope_id) == {"envelope_id": envelope_id}
    await slack.adapter.wait_idle()
    assert slack.fake.in_channel(TEACHER.dm)[-1].shown == translate("en", "onboarding.stranger")


async def test_a_slash_command_envelope_is_acked_before_the_answer(slack: SlackWorld) -> None:
    envelope_id = await slack.fake.send_envelope(
        "slash_commands", slack.payloads.command(TEACHER, "help")
    )

    # An empty ack: the answer comes as a message of its own, after the work.
    assert await slack.fake.ack(envelope_id) == {"envelope_id": envelope_id}
    await slack.adapter.wait_idle()
    assert slack.fake.in_channel(TEACHER.dm)[-1].shown == translate("en", "onboarding.stranger")


async def test_a_redelivered_envelope_is_acked_again_and_handled_once(slack: SlackWorld) -> None:
    body = slack.payloads.message(TEACHER, "hello")

    first = await slack.fake.send_envelope("events_api", body)
    again = await slack.fake.send_envelope("events_api", body, retry_attempt=1)

    assert await slack.fake.ack(first) == {"envelope_id": first}
    assert await slack.fake.ack(again) == {"envelope_id": again}
    await slack.adapter.wait_idle()
    assert len(slack.fake.in_channel(TEACHER.dm)) == 1


async def test_stop_closes_the_connection(slack: SlackWorld) -> None:
    await slack.adapter.stop()

    await slack.fake.wait_until(lambda: not slack.fake.sockets)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"bot_token": "xoxb-revoked"}, "slack.bot_token"),
        ({"app_token": "xapp-revoked"}, "slack.app_token"),
        ({"team_id": OTHER_TEAM_ID}, "slack.team_id"),
    ],
    ids=["bot token", "app token", "another workspace"],
)
async def test_a_start_slack_refuses_names_the_setting(
    school: DemoSchool, specs_dir: Path, changes: dict[str, str], key: str
) -> None:
    async with running_fake(specs_dir) as fake:
        adapter = SlackAdapter(
            slack_config(fake, "socket", **changes), school.dispatcher, school.db
        )

        with pytest.raises(ConfigError) as refused:
            await adapter.start()
        await adapter.stop()

        assert refused.value.key == key
        assert fake.sockets == []


async def test_connect_logs_in_to_send_without_taking_events(
    school: DemoSchool, specs_dir: Path
) -> None:
    async with running_fake(specs_dir) as fake:
        adapter = SlackAdapter(slack_config(fake, "socket"), school.dispatcher, school.db)

        await adapter.connect()
        await adapter.send(TEACHER.dm, Reply("Your weekly summary"))
        await adapter.stop()

        assert [call.method for call in fake.calls] == ["auth.test", "chat.postMessage"]
        assert fake.sockets == []
