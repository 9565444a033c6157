"""What a full run leaves in the logs (no token, no code, no message text), and markup in names
and notes shown literally on every platform."""

from __future__ import annotations

import logging

import pytest

from adapters.slack import render as render_for_slack
from bot import roster
from bot.events import Reply
from bot.sender import OutboxSender
from storage.models import Platform, Role
from storage.stores import Store
from tests.adapters import test_telegram
from tests.adapters.fake_telegram import TgUser
from tests.adapters.test_telegram import PARENT, SECRET, TEACHER, Telegram

# The Telegram stories' fixture: the real adapter against the fake Bot API, polling and webhook.
telegram = test_telegram.telegram

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NOTES = [
    "read the whole giraffe chapter aloud",
    "slipped on the wet ramp by the gym",
    "may he bring noise-cancelling headphones",
    "read half the giraffe chapter",
]


async def test_a_full_run_logs_no_token_no_code_and_no_message_text(
    telegram: Telegram, caplog: pytest.LogCaptureFixture
) -> None:
    # What `tandem run` logs (INFO), and everything Tandem's own modules log (DEBUG).
    caplog.set_level(logging.INFO)
    for name in ("bot", "adapters", "storage"):
        caplog.set_level(logging.DEBUG, logger=name)
    codes = [
        (await telegram.invite("Sam Rivera", role)).code for role in (Role.TEACHER, Role.PARENT)
    ]
    await telegram.say(TEACHER, f"/start {codes[0]}")
    await telegram.say(PARENT, f"/start {codes[1]}")
    await telegram.say(TEACHER, f"+ Sam {NOTES[0]}")
    await telegram.say(TEACHER, f"! Sam {NOTES[1]}")
    await telegram.say(PARENT, f"? Sam {NOTES[2]}")
    await telegram.say(PARENT, "/record Sam")
    await telegram.say(PARENT, f"/amend 1 {NOTES[3]}")
    await telegram.say(PARENT, "/link")

    async def no_wait(seconds: float) -> None:
        telegram.clock.advance(seconds=seconds)

    sender = OutboxSender(
        telegram.db,
        {Platform.TELEGRAM: telegram.adapter},
        telegram.clock,
        telegram.settings.sender,
        worker="log-test",
        sleep=no_wait,
    )
    report = await sender.drain()

    assert report.sent >= 3  # urgent, question and correction request reached their people
    logged = caplog.text
    assert "handled" in logged  # the run's own lines were captured
    secrets = [telegram.fake.token, SECRET, *codes, *NOTES, "Sam Rivera"]
    assert [secret for secret in secrets if secret in logged] == []


async def test_markup_in_student_and_people_names_reaches_telegram_as_plain_text(
    telegram: Telegram,
) -> None:
    async with telegram.db.session() as session:
        store = Store(session)
        school = await store.students.school_named("Maple Elementary")
        assert school is not None
        await roster.add_student(store, school, "<b>Bo</b> *Star* [x](tg://user?id=1)")
    sly = TgUser(5009, "<i>Dana</i>", "_Sly_ &amp;")
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    new = await telegram.invite("<b>Bo</b>", Role.PARENT)
    await telegram.say(sly, f"/start {new.code}")
    await telegram.say(sly, "+ drew a <script>alert(1)</script> **robot**")

    [record] = await telegram.say(sly, "/record")

    assert record["text"].startswith("<b>Bo</b> *Star* [x](tg://user?id=1) — the whole record")
    note = "<i>Dana</i> _Sly_ &amp;:\n  │ drew a <script>alert(1)</script> **robot**"
    assert note in record["text"]
    assert all("parse_mode" not in call.params for call in telegram.fake.calls_of("sendMessage"))
    assert all("entities" not in call.params for call in telegram.fake.calls_of("sendMessage"))


def test_slack_escapes_what_would_be_a_mention_or_a_link_in_a_name() -> None:
    [message] = render_for_slack(Reply("<!channel> <@U1> <https://x.invalid|Bo> & co"))

    section = message.blocks[0]["text"]["text"]
    assert "<" not in section and ">" not in section
    assert "&lt;!channel&gt; &lt;@U1&gt;" in section


def test_slack_shows_markdown_in_a_name_or_note_as_typed() -> None:
    [message] = render_for_slack(Reply("*Bo* _Star_ ~x~ `code`"))

    section = message.blocks[0]["text"]
    shown_literally = section["type"] == "plain_text" or "*Bo*" not in section["text"]
    assert shown_literally
