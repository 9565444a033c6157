"""HTTP mode: Slack posts to /slack/events; bolt verifies each request's signature and age.

Every refused request changes nothing: no event is marked seen, nothing is logged or sent.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from adapters.slack import SlackAdapter
from bot.config import ConfigError
from bot.i18n import translate
from storage.models import Entry, SeenEvent
from tests.adapters.fake_slack import (
    OTHER_TEAM_ID,
    SignedHttp,
    SlackUser,
    SlackWorld,
    running_fake,
    slack_config,
    slack_world,
)
from tests.conftest import DemoSchool

TEACHER = SlackUser("U0ORTIZ001", "Ana Ortiz")
OUTSIDER = SlackUser("U0OUTSIDER", "Out Sider", team_id=OTHER_TEAM_ID)
FIVE_MINUTES = 5 * 60


@pytest.fixture
async def slack(school: DemoSchool, specs_dir: Path) -> AsyncIterator[SlackWorld]:
    async with slack_world(school, specs_dir, "http") as world:
        world.fake.add_user(TEACHER)
        world.fake.add_user(OUTSIDER)
        await world.join(TEACHER, "Sam", "teacher")
        yield world


def http(slack: SlackWorld) -> SignedHttp:
    assert isinstance(slack.side, SignedHttp)
    return slack.side


async def nothing_changed(slack: SlackWorld, seen_before: int) -> None:
    await slack.adapter.wait_idle()
    async with slack.school.db.session() as session:
        assert len((await session.exec(select(SeenEvent))).all()) == seen_before
        assert (await session.exec(select(Entry))).all() == []
    assert slack.fake.in_channel(TEACHER.dm)[-1].shown.startswith("Welcome")


async def seen(slack: SlackWorld) -> int:
    async with slack.school.db.session() as session:
        return len((await session.exec(select(SeenEvent))).all())


async def test_a_correctly_signed_event_is_acknowledged_and_handled(slack: SlackWorld) -> None:
    body = slack.payloads.message(TEACHER, "+ Sam read a whole page aloud")

    status, _ = await http(slack).post(json.dumps(body).encode(), "application/json")

    assert status == 200
    await slack.adapter.wait_idle()
    assert slack.fake.in_channel(TEACHER.dm)[-1].shown == translate(
        "en", "entry.logged_win", student="Sam Rivera"
    )


async def test_a_wrong_signature_is_refused_and_changes_nothing(slack: SlackWorld) -> None:
    before = await seen(slack)
    body = slack.payloads.message(TEACHER, "+ Sam read a whole page aloud")

    status, _ = await http(slack).post(
        json.dumps(body).encode(), "application/json", secret="not-the-signing-secret"
    )

    assert status == 401
    await nothing_changed(slack, before)


async def test_a_stale_timestamp_is_refused_and_changes_nothing(slack: SlackWorld) -> None:
    before = await seen(slack)
    body = slack.payloads.message(TEACHER, "+ Sam read a whole page aloud")
    # Signed correctly, but captured over five minutes ago and sent again: a replay.
    stale = str(int(time.time()) - FIVE_MINUTES - 60)

    status, _ = await http(slack).post(
        json.dumps(body).encode(), "application/json", timestamp=stale
    )

    assert status == 401
    await nothing_changed(slack, before)


async def test_a_request_without_a_signature_is_refused(slack: SlackWorld) -> None:
    before = await seen(slack)
    body = json.dumps(slack.payloads.message(TEACHER, "+ Sam read a page")).encode()

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            http(slack).url, data=body, headers={"Content-Type": "application/json"}
        ) as response,
    ):
        assert response.status == 401

    await nothing_changed(slack, before)


async def test_an_event_from_another_workspace_is_refused_and_changes_nothing(
    slack: SlackWorld,
) -> None:
    before = await seen(slack)
    body = slack.payloads.message(TEACHER, "+ Sam read a page", team_id=OTHER_TEAM_ID)

    status, _ = await http(slack).post(json.dumps(body).encode(), "application/json")

    assert status == 403
    await nothing_changed(slack, before)


async def test_a_slash_command_from_another_workspace_is_refused(slack: SlackWorld) -> None:
    before = await seen(slack)

    await http(slack).command(slack.payloads.command(OUTSIDER, "win Sam read a page"))

    assert http(slack).statuses[-1] == 403
    assert slack.fake.calls_of("response_url") == []
    await nothing_changed(slack, before)


async def test_a_button_press_from_another_workspace_is_refused(slack: SlackWorld) -> None:
    logged = (await slack.send(TEACHER, "+ Sam read a page")).reply()
    before = await seen(slack)

    await http(slack).action(slack.payloads.press(TEACHER, logged, "Undo", team_id=OTHER_TEAM_ID))

    assert http(slack).statuses[-1] == 403
    await slack.adapter.wait_idle()
    assert await seen(slack) == before
    assert logged.edits == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"type": "event_callback", "event": {"text": "+ Sam', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
    ],
)
async def test_a_body_that_is_not_a_slack_payload_is_refused_with_one_log_line(
    slack: SlackWorld, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    before = await seen(slack)
    caplog.set_level(logging.DEBUG)

    status, _ = await http(slack).post(body, content_type)

    assert status == 400
    lines = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.name for record in lines] == ["adapters.slack"]
    assert "refused" in lines[0].getMessage()
    assert not any(record.exc_info or record.exc_text for record in caplog.records)
    assert "Sam" not in caplog.text  # the body is never logged
    await nothing_changed(slack, before)


async def test_slacks_url_check_is_answered_with_its_challenge(slack: SlackWorld) -> None:
    challenge = {
        "token": "legacy",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }

    status, text = await http(slack).post(json.dumps(challenge).encode(), "application/json")

    assert status == 200
    assert challenge["challenge"] in text


async def test_only_post_to_slack_events_is_served(slack: SlackWorld) -> None:
    url = http(slack).url
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            assert response.status == 405
        async with session.post(url.replace("/slack/events", "/admin")) as response:
            assert response.status == 404


async def test_http_mode_without_a_signing_secret_does_not_start(
    school: DemoSchool, specs_dir: Path
) -> None:
    async with running_fake(specs_dir) as fake:
        config = slack_config(fake, "http", signing_secret="")

        with pytest.raises(ConfigError) as refused:
            SlackAdapter(config, school.dispatcher, school.db)

    assert refused.value.key == "slack.signing_secret"


async def test_stop_stops_listening(school: DemoSchool, specs_dir: Path) -> None:
    async with slack_world(school, specs_dir, "http") as slack:
        url = http(slack).url
        await slack.adapter.stop()

        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as session, session.post(url) as response:
                await response.read()
