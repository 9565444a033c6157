"""Tandem on Slack: the real slack-bolt against a fake Slack Web API on 127.0.0.1.

Each story runs in Socket Mode and in HTTP mode (signed requests), on SQLite (and PostgreSQL
when TANDEM_TEST_DATABASE_URL is set). The fake checks every call against Slack's spec.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import select

from adapters.slack_payloads import SECTION_LIMIT
from bot.dispatch import Dispatcher
from bot.events import Button, Event, IncomingMessage, RecipientBlocked, Reply
from bot.i18n import translate
from bot.outbox import PermanentError, RateLimited
from storage.models import (
    Account,
    Entry,
    EntryKind,
    EntryRevision,
    PendingAction,
    Person,
    SeenEvent,
    Setting,
)
from tests.adapters.fake_slack import (
    GatedDispatcher,
    SlackUser,
    SlackWorld,
    slack_world,
)
from tests.adapters.fake_telegram_files import png_size
from tests.conftest import DemoSchool

TEACHER = SlackUser("U0ORTIZ001", "Ana Ortiz")
PARENT = SlackUser("U0RIVERA01", "Dana Rivera", locale="es-MX")
STRANGER = SlackUser("U0STRANGER", "Pat Stranger")
CHANNEL = "C0STAFFROOM"


def t(key: str, **values: object) -> str:
    return translate("en", key, **values)


@pytest.fixture(params=["socket", "http"])
async def slack(
    request: pytest.FixtureRequest, school: DemoSchool, specs_dir: Path
) -> AsyncIterator[SlackWorld]:
    async with slack_world(school, specs_dir, request.param) as world:
        for person in (TEACHER, PARENT, STRANGER):
            world.fake.add_user(person)
        yield world


async def rows(slack: SlackWorld, model: type) -> list:  # type: ignore[type-arg]
    async with slack.school.db.session() as session:
        return list((await session.exec(select(model))).all())


async def slack_account(slack: SlackWorld) -> Account:
    """The one Slack account there is."""
    [account] = [a for a in await rows(slack, Account) if a.platform == "slack"]
    return account


async def entries(slack: SlackWorld) -> list[Entry]:
    return sorted(await rows(slack, Entry), key=lambda entry: entry.id or 0)


# --- direct messages --------------------------------------------------------------------------


async def test_a_teacher_logs_a_win_from_a_direct_message(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")

    said = await slack.send(TEACHER, "+ Sam read a whole page aloud")

    reply = said.reply()
    assert reply.shown == t("entry.logged_win", student="Sam Rivera")
    assert reply.channel == TEACHER.dm
    assert reply.button(t("button.undo"))
    [entry] = await entries(slack)
    assert (entry.kind, entry.setting, entry.text) == (
        EntryKind.WIN,
        Setting.SCHOOL,
        "Sam read a whole page aloud",
    )
    assert (entry.source_platform, entry.source_ref) == ("slack", f"{TEACHER.dm}:{said.ts}")


async def test_a_reply_is_block_kit_with_the_token_as_the_only_button_data(
    slack: SlackWorld,
) -> None:
    await slack.join(TEACHER, "Sam", "teacher")

    reply = (await slack.send(TEACHER, "+ Sam read a whole page aloud")).reply()

    section, actions = reply.blocks
    assert section["text"] == {"type": "plain_text", "text": reply.text, "emoji": False}
    assert actions["type"] == "actions"
    button = reply.button(t("button.undo"))
    assert button["action_id"].startswith("tandem:")
    async with slack.school.db.session() as session:
        assert await session.get(PendingAction, button["value"]) is not None
    [post] = slack.fake.calls_of("chat.postMessage")[-1:]
    assert (post.params["unfurl_links"], post.params["unfurl_media"]) == (False, False)


async def test_a_stranger_gets_only_the_onboarding_line(slack: SlackWorld) -> None:
    said = await slack.send(STRANGER, "+ Sam read a whole page aloud")

    assert said.reply().shown == t("onboarding.stranger")
    assert said.reply().buttons == []
    assert await entries(slack) == []


async def test_joining_from_slack_takes_the_name_slack_knows(slack: SlackWorld) -> None:
    await slack.join(PARENT, "Sam", "parent")

    [account] = [a for a in await rows(slack, Account) if a.platform == "slack"]
    assert (account.workspace, account.external_id, account.dm_chat_id) == (
        "T0SCHOOL01",
        PARENT.user_id,
        PARENT.dm,
    )
    people = {person.id: person for person in await rows(slack, Person)}
    assert people[account.person_id].display_name == "Dana Rivera"
    assert people[account.person_id].language == "es"  # her Slack locale is es-MX
    [lookup] = slack.fake.calls_of("users.info")
    assert lookup.params["include_locale"] in ("1", "true")  # the language hint


async def test_editing_the_message_edits_the_entry_and_keeps_the_old_text(
    slack: SlackWorld,
) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    sent = await slack.send(TEACHER, "+ Sam read a page aloud")

    edited = await slack.edit(
        TEACHER, sent.ts, "+ Sam read a page aloud", "+ Sam read a whole page aloud"
    )

    assert edited.reply().shown == t("entry.edited", student="Sam Rivera")
    [entry] = await entries(slack)
    assert entry.text == "Sam read a whole page aloud"
    [revision] = await rows(slack, EntryRevision)
    assert revision.text == "Sam read a page aloud"


async def test_a_link_preview_changing_the_message_is_not_an_edit(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    sent = await slack.send(TEACHER, "+ Sam liked https://example.org")

    unfurled = await slack.deliver(slack.payloads.edit(TEACHER, sent.ts, "x", "x", edited=False))

    assert unfurled == []
    assert await rows(slack, EntryRevision) == []


async def test_a_reply_in_a_thread_is_answered_in_that_thread(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    first = await slack.send(TEACHER, "+ Sam read a page")

    said = await slack.send(TEACHER, "- Sam was upset after lunch", thread_ts=first.ts)

    assert said.reply().thread_ts == first.ts


# --- the slash command ------------------------------------------------------------------------


async def test_slash_tandem_win_logs_like_the_sign(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")

    said = await slack.slash(TEACHER, "win Sam read a whole page aloud")

    reply = said.reply()
    assert reply.shown == t("entry.logged_win", student="Sam Rivera")
    assert (reply.channel, reply.kind) == (TEACHER.dm, "message")
    [entry] = await entries(slack)
    assert (entry.kind, entry.text) == (EntryKind.WIN, "Sam read a whole page aloud")


async def test_slash_tandem_log_reads_the_record(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    await slack.send(TEACHER, "+ Sam read a whole page aloud")

    said = await slack.slash(TEACHER, "log Sam")

    assert "Sam read a whole page aloud" in said.text
    assert said.text.startswith(t("log.title", student="Sam Rivera", count=1))


async def test_slash_tandem_alone_shows_the_help(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")

    said = await slack.slash(TEACHER, "")

    assert said.reply().shown == t("help.text")


# --- buttons ----------------------------------------------------------------------------------


async def test_undo_removes_the_entry_and_replaces_the_message(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    logged = (await slack.send(TEACHER, "+ Sam read a whole page aloud")).reply()

    pressed = await slack.press(TEACHER, logged, t("button.undo"))

    assert pressed.replies == []  # shown in place of the message, not as a new one
    assert logged.edits == 1
    assert logged.shown.startswith("Removed your win for Sam Rivera")
    assert logged.buttons == []
    assert await entries(slack) == []


async def test_a_press_of_someone_elses_button_does_nothing(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    await slack.join(PARENT, "Sam", "parent")
    logged = (await slack.send(TEACHER, "+ Sam read a whole page aloud")).reply()

    # The parent's own chat, with the teacher's button data copied in.
    pressed = await slack.press(PARENT, logged, t("button.undo"), channel=PARENT.dm)

    assert pressed.replies == []
    assert logged.edits == 0
    assert len(await entries(slack)) == 1


async def test_a_press_outside_the_direct_chat_is_answered_privately_without_data(
    slack: SlackWorld,
) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    logged = (await slack.send(TEACHER, "+ Sam read a whole page aloud")).reply()

    pressed = await slack.press(TEACHER, logged, t("button.undo"), channel=CHANNEL)

    assert [(r.kind, r.shown) for r in pressed.replies] == [("response", t("group.direct_only"))]
    assert logged.edits == 0
    assert len(await entries(slack)) == 1


async def test_a_note_asks_its_kind_and_the_press_files_it(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    noted = (await slack.send(TEACHER, "Sam: slept badly, anxious this morning")).reply()

    await slack.press(TEACHER, noted, t("button.concern"))

    assert noted.shown == t("entry.logged_concern", student="Sam Rivera")
    [entry] = await entries(slack)
    assert entry.kind == EntryKind.CONCERN


# --- what is ignored or refused ---------------------------------------------------------------


async def test_a_duplicated_event_is_handled_once(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    body = slack.payloads.message(TEACHER, "+ Sam read a whole page aloud")

    first = await slack.deliver(body)
    retried = await slack.deliver(body, retry=1)

    assert len(first) == 1
    assert retried == []
    assert len(await entries(slack)) == 1


async def test_the_apps_own_message_is_ignored(slack: SlackWorld) -> None:
    seen_before = len(await rows(slack, SeenEvent))

    replies = await slack.deliver(
        slack.payloads.bot_message("+ Sam read a page", channel=TEACHER.dm)
    )

    assert replies == []
    assert len(await rows(slack, SeenEvent)) == seen_before  # never reached the core


async def test_another_bots_message_is_ignored(slack: SlackWorld) -> None:
    body = slack.payloads.bot_message(
        "+ Sam read a page", channel=TEACHER.dm, bot_id="B0OTHERBOT1", user=None
    )

    assert await slack.deliver(body) == []
    assert await rows(slack, SeenEvent) == []


async def test_a_mention_in_a_channel_gets_only_message_me_directly(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    await slack.send(TEACHER, "+ Sam read a whole page aloud")

    replies = await slack.deliver(slack.payloads.mention(TEACHER, "/log Sam", CHANNEL))

    [reply] = replies
    assert (reply.kind, reply.channel, reply.user) == ("ephemeral", CHANNEL, TEACHER.user_id)
    assert reply.shown == t("group.direct_only")
    assert "page" not in reply.shown


async def test_a_note_written_at_the_app_in_a_channel_is_not_logged(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")

    replies = await slack.deliver(
        slack.payloads.mention(TEACHER, "+ Sam read a whole page aloud", CHANNEL)
    )

    assert [reply.shown for reply in replies] == [t("group.direct_only")]
    assert await entries(slack) == []


async def test_a_channel_message_not_addressed_to_the_app_is_ignored(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    body = slack.payloads.message(
        TEACHER, "+ Sam read a page", channel=CHANNEL, channel_type="channel"
    )

    assert await slack.deliver(body) == []
    assert await entries(slack) == []


async def test_slash_tandem_in_a_channel_answers_privately_without_data(
    slack: SlackWorld,
) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    await slack.send(TEACHER, "+ Sam read a whole page aloud")

    said = await slack.slash(TEACHER, "log Sam", channel=CHANNEL, channel_name="staffroom")

    reply = said.reply()
    assert (reply.kind, reply.shown) == ("response", t("group.direct_only"))
    [call] = slack.fake.calls_of("response_url")
    assert call.params["response_type"] == "ephemeral"


async def test_slash_tandem_in_a_chat_with_someone_else_shows_nothing(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    await slack.send(TEACHER, "+ Sam win")

    said = await slack.slash(TEACHER, "log Sam", channel=PARENT.dm)

    assert [(r.kind, r.shown) for r in said.replies] == [("response", t("group.direct_only"))]


# --- what goes out ----------------------------------------------------------------------------


async def test_user_text_never_forms_a_mention_or_a_link(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    # Slack's own encoding of what was typed: "<!channel> & <@U0RIVERA01>" as plain characters.
    await slack.send(TEACHER, "+ Sam wrote &lt;!channel&gt; &amp; &lt;@U0RIVERA01&gt; on the board")

    said = await slack.send(TEACHER, "/log Sam")

    [entry] = await entries(slack)
    assert entry.text == "Sam wrote <!channel> & <@U0RIVERA01> on the board"
    reply = said.reply()
    assert "<!channel> & <@U0RIVERA01>" in reply.shown
    assert "&lt;!channel&gt; &amp; &lt;@U0RIVERA01&gt;" in reply.text
    assert "<" not in reply.text
    assert all("<" not in block["text"]["text"] for block in reply.blocks)


async def test_slack_markup_is_stored_as_the_person_wrote_it(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")

    await slack.send(TEACHER, "+ Sam read <https://example.org/book|the book> with <@U0RIVERA01>")

    [entry] = await entries(slack)
    assert entry.text == "Sam read the book (https://example.org/book) with @U0RIVERA01"


async def test_a_429_is_waited_out_for_as_long_as_slack_asks(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    slack.fake.fail("chat.postMessage", retry_after=7)

    said = await slack.send(TEACHER, "+ Sam read a whole page aloud")

    assert said.reply().shown == t("entry.logged_win", student="Sam Rivera")
    assert slack.slept == [7.0]


async def test_send_delivers_a_reply_with_buttons(slack: SlackWorld) -> None:
    await slack.adapter.send(PARENT.dm, Reply("How was Sam's week?", (Button("Good week", "tok"),)))

    [post] = slack.fake.in_channel(PARENT.dm)
    assert post.shown == "How was Sam's week?"
    assert post.button("Good week")["value"] == "tok"


async def test_a_send_that_keeps_getting_429_gives_up_to_its_caller(slack: SlackWorld) -> None:
    slack.fake.fail("chat.postMessage", retry_after=2, times=10)

    with pytest.raises(Exception, match="ratelimited"):
        await slack.adapter.send(PARENT.dm, Reply("hello"))

    assert slack.slept == [2.0, 2.0, 2.0]


async def test_a_chat_gone_for_good_marks_the_account_inactive(slack: SlackWorld) -> None:
    await slack.join(PARENT, "Sam", "parent")
    slack.fake.gone.add(PARENT.dm)

    with pytest.raises(RecipientBlocked):
        await slack.adapter.send(PARENT.dm, Reply("hello"))

    [account] = [a for a in await rows(slack, Account) if a.platform == "slack"]
    assert not account.active
    assert slack.slept == []


async def test_deliver_sends_to_the_accounts_direct_chat_and_returns_the_ref(
    slack: SlackWorld,
) -> None:
    await slack.join(PARENT, "Sam", "parent")

    ref = await slack.adapter.deliver(await slack_account(slack), Reply("How was Sam's week?"))

    [post] = slack.fake.in_channel(PARENT.dm)[-1:]
    assert ref == f"{PARENT.dm}:{post.ts}"
    assert post.shown == "How was Sam's week?"


class RecordingDispatcher(Dispatcher):
    """The real dispatcher, keeping each event it was given."""

    def __init__(self, inner: Dispatcher) -> None:
        super().__init__(inner.db, inner.settings, inner.clock, inner.routes)
        self.events: list[Event] = []

    async def dispatch(self, event: Event) -> list[Reply]:
        self.events.append(event)
        return await super().dispatch(event)


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_a_reply_in_the_thread_of_a_delivered_message_refers_to_it(
    school: DemoSchool, specs_dir: Path, mode: str
) -> None:
    recording = RecordingDispatcher(school.dispatcher)
    async with slack_world(school, specs_dir, mode, dispatcher=recording) as slack:
        slack.fake.add_user(PARENT)
        await slack.join(PARENT, "Sam", "parent")
        # The outbox keeps this ref with the letter (a question's notification, say).
        ref = await slack.adapter.deliver(await slack_account(slack), Reply("? Headphones?"))

        await slack.send(PARENT, "Yes, they help a lot", thread_ts=ref.split(":")[1])

        reply = recording.events[-1]
        assert isinstance(reply, IncomingMessage)
        assert reply.reply_to_ref == ref


async def test_deliver_leaves_a_429_to_the_sender(slack: SlackWorld) -> None:
    await slack.join(PARENT, "Sam", "parent")
    slack.fake.fail("chat.postMessage", retry_after=30)

    with pytest.raises(RateLimited) as limited:
        await slack.adapter.deliver(await slack_account(slack), Reply("hello"))

    assert limited.value.retry_after == 30.0
    assert slack.slept == []


async def test_deliver_of_a_message_slack_refuses_is_permanent(slack: SlackWorld) -> None:
    await slack.join(PARENT, "Sam", "parent")
    slack.fake.fail("chat.postMessage", error="msg_too_long", status=200, retry_after=None)

    with pytest.raises(PermanentError):
        await slack.adapter.deliver(await slack_account(slack), Reply("hello"))


async def test_deliver_to_a_chat_gone_for_good_is_recipient_blocked(slack: SlackWorld) -> None:
    await slack.join(PARENT, "Sam", "parent")
    slack.fake.gone.add(PARENT.dm)

    with pytest.raises(RecipientBlocked):
        await slack.adapter.deliver(await slack_account(slack), Reply("hello"))

    assert not (await slack_account(slack)).active


async def test_a_long_reply_is_split_within_block_kit_limits(slack: SlackWorld) -> None:
    lines = [f"{n:03d} " + "x" * 995 for n in range(40)]

    await slack.adapter.send(PARENT.dm, Reply("\n".join(lines), (Button("Undo", "tok"),)))

    posts = slack.fake.in_channel(PARENT.dm)
    assert len(posts) == 2
    assert "\n".join(post.shown for post in posts).split("\n") == lines
    sections = [b for post in posts for b in post.blocks if b["type"] == "section"]
    assert all(len(section["text"]["text"]) <= SECTION_LIMIT for section in sections)
    assert posts[0].buttons == []
    assert posts[-1].button("Undo")


# --- ack first, then work ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_slack_is_answered_before_the_work_is_done(
    school: DemoSchool, specs_dir: Path, mode: str
) -> None:
    gated = GatedDispatcher(school.dispatcher)
    async with slack_world(school, specs_dir, mode, dispatcher=gated) as slack:
        slack.fake.add_user(STRANGER)

        await slack.side.event(slack.payloads.message(STRANGER, "hello"))

        # Acknowledged (the HTTP response or the socket ack came back); the work goes on.
        await asyncio.wait_for(gated.reached.wait(), 5)
        assert slack.fake.calls_of("chat.postMessage") == []
        gated.gate.set()
        await slack.adapter.wait_idle()
        [post] = slack.fake.in_channel(STRANGER.dm)
        assert post.shown == t("onboarding.stranger")


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_a_message_and_its_quick_edit_are_handled_in_order(
    school: DemoSchool, specs_dir: Path, mode: str
) -> None:
    gated = GatedDispatcher(school.dispatcher)
    async with slack_world(school, specs_dir, mode, dispatcher=gated) as slack:
        slack.fake.add_user(TEACHER)
        gated.gate.set()
        await slack.join(TEACHER, "Sam", "teacher")
        gated.gate.clear()
        gated.reached.clear()
        message = slack.payloads.message(TEACHER, "+ Sam read a page")
        ts = message["event"]["ts"]

        await slack.side.event(message)
        await slack.side.event(
            slack.payloads.edit(TEACHER, ts, "+ Sam read a page", "+ Sam read two pages")
        )
        await asyncio.wait_for(gated.reached.wait(), 5)
        gated.gate.set()
        await slack.adapter.wait_idle()

        # The edit waited for its message instead of racing it to the database.
        assert gated.most_inside == 1
        [entry] = await entries(slack)
        assert entry.text == "Sam read two pages"


async def test_stop_finishes_the_work_under_way(school: DemoSchool, specs_dir: Path) -> None:
    gated = GatedDispatcher(school.dispatcher)
    async with slack_world(school, specs_dir, "socket", dispatcher=gated) as slack:
        slack.fake.add_user(STRANGER)
        await slack.side.event(slack.payloads.message(STRANGER, "hello"))

        stopping = asyncio.create_task(slack.adapter.stop())
        gated.gate.set()
        await stopping

        assert len(slack.fake.in_channel(STRANGER.dm)) == 1


async def test_progress_uploads_the_chart_in_two_steps_then_says_its_numbers(
    slack: SlackWorld,
) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    await slack.send(TEACHER, "/goal Sam reading: Reads aloud | target 80% | baseline 40%")
    await slack.send(TEACHER, "+ Sam read 6/10 words #reading")

    said = await slack.send(TEACHER, "/progress Sam")

    [chart] = slack.fake.files.values()
    assert chart["channel"] == TEACHER.dm
    assert chart["filename"] == "reading.png"
    assert png_size(chart["data"])[0] >= 800 and png_size(chart["data"])[1] >= 500
    words = "#reading — Reads aloud: 60 % (6/10) · target 80 % · baseline 40 %"
    assert chart["alt_txt"] == words
    assert said.reply().text == words
    assert [call.method for call in slack.fake.calls if call.method.startswith("files.")] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


async def test_report_uploads_the_pdf_in_two_steps(slack: SlackWorld) -> None:
    await slack.join(TEACHER, "Sam", "teacher")
    await slack.send(TEACHER, "+ Sam read 6/10 words #reading")

    said = await slack.send(TEACHER, "/report Sam")

    [report] = slack.fake.files.values()
    assert report["channel"] == TEACHER.dm and report["filename"].endswith(".pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(report["data"])).pages)
    assert "Goal #reading" in text and "60 % (6/10)" in text
    assert said.reply().text.startswith("Sam Rivera's progress report")
