"""The Slack adapter's translations on their own: payloads in, Block Kit out."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.slack_payloads import (
    BUTTONS_PER_BLOCK,
    LABEL_LIMIT,
    SECTION_LIMIT,
    BotIdentity,
    action_to_core,
    command_text,
    command_to_core,
    escape,
    event_to_core,
    plain_text,
    render,
)
from bot.events import Button, ButtonPress, IncomingMessage, MessageEdited, Reply
from storage.models import Platform

BOT = BotIdentity(team_id="T0SCHOOL01", user_id="U0TANDEMBOT", bot_id="B0TANDEMBOT")


def callback(**event: Any) -> dict[str, Any]:
    base = {
        "type": "message",
        "channel": "D0ORTIZ001",
        "channel_type": "im",
        "user": "U0ORTIZ001",
        "text": "+ Sam read",
        "ts": "1764100001.000001",
    }
    return {
        "team_id": "T0SCHOOL01",
        "event_id": "Ev0001",
        "type": "event_callback",
        "event": base | event,
    }


# --- in ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "core"),
    [
        ("win Sam read a page", "/win Sam read a page"),
        ("log Sam", "/log Sam"),
        ("", "/help"),
        ("   ", "/help"),
        ("+ Sam read a page", "+ Sam read a page"),
        ("/log Sam", "/log Sam"),
        ("link K7QM-2XPD", "/link K7QM-2XPD"),
    ],
)
def test_slash_tandem_text_becomes_the_core_grammar(typed: str, core: str) -> None:
    assert command_text(typed) == core


@pytest.mark.parametrize(
    ("slack", "typed"),
    [
        ("2 &lt; 3 &amp;&amp; 4 &gt; 1", "2 < 3 && 4 > 1"),
        ("see <https://example.org>", "see https://example.org"),
        ("see <https://example.org|example.org>", "see example.org"),
        ("<https://a.org/b|the form>", "the form (https://a.org/b)"),
        ("<mailto:dana@example.org|dana@example.org>", "dana@example.org"),
        ("ask <@U0RIVERA01>", "ask @U0RIVERA01"),
        ("ask <@U0RIVERA01|dana>", "ask @dana"),
        ("in <#C0STAFFROOM|staff>", "in #staff"),
        ("<!here> and <!channel>", "@here and @channel"),
        ("&lt;!channel&gt;", "<!channel>"),
    ],
)
def test_slack_markup_is_read_as_what_was_typed(slack: str, typed: str) -> None:
    assert plain_text(slack) == typed


def test_a_direct_message_becomes_an_incoming_message() -> None:
    event = event_to_core(callback(files=[{"id": "F0PHOTO01"}], subtype="file_share"), BOT)

    assert isinstance(event, IncomingMessage)
    assert event.sender.platform == Platform.SLACK
    assert (event.sender.workspace, event.sender.external_id) == ("T0SCHOOL01", "U0ORTIZ001")
    assert (event.chat.id, event.chat.private) == ("D0ORTIZ001", True)
    assert event.event_id == "slack:Ev0001"
    assert event.message_ref == "D0ORTIZ001:1764100001.000001"
    assert event.reply_to_ref is None
    assert event.attachment_ref == "F0PHOTO01"


def test_a_reply_in_a_thread_refers_to_the_threads_first_message() -> None:
    event = event_to_core(callback(thread_ts="1764000000.000009"), BOT)

    assert isinstance(event, IncomingMessage)
    assert event.reply_to_ref == "D0ORTIZ001:1764000000.000009"


def test_an_edit_becomes_message_edited_for_the_original_message() -> None:
    body = callback(
        subtype="message_changed",
        ts="1764100009.000009",
        message={
            "user": "U0ORTIZ001",
            "text": "+ Sam read two",
            "ts": "1764100001.000001",
            "edited": {"user": "U0ORTIZ001"},
        },
        previous_message={"user": "U0ORTIZ001", "text": "+ Sam read"},
    )
    del body["event"]["user"]

    event = event_to_core(body, BOT)

    assert isinstance(event, MessageEdited)
    assert (event.text, event.message_ref) == ("+ Sam read two", "D0ORTIZ001:1764100001.000001")


@pytest.mark.parametrize(
    "event",
    [
        {"bot_id": "B0TANDEMBOT"},
        {"user": "U0TANDEMBOT"},
        {"subtype": "bot_message", "bot_id": "B0OTHER0001"},
        {"subtype": "message_deleted"},
        {"subtype": "channel_join"},
        {"channel_type": "channel", "channel": "C0STAFFROOM"},
        {"channel_type": "mpim", "channel": "G0GROUPDM01"},
        {"type": "reaction_added"},
        {"user": None},
    ],
    ids=[
        "own bot",
        "own user",
        "other bot",
        "deleted",
        "join",
        "channel",
        "group dm",
        "reaction",
        "no user",
    ],
)
def test_what_is_not_a_person_writing_to_tandem_is_ignored(event: dict[str, Any]) -> None:
    assert event_to_core(callback(**event), BOT) is None


def test_a_mention_in_a_channel_is_a_message_that_is_not_private() -> None:
    event = event_to_core(
        callback(type="app_mention", channel="C0STAFFROOM", channel_type=None), BOT
    )

    assert isinstance(event, IncomingMessage)
    assert (event.chat.id, event.chat.private) == ("C0STAFFROOM", False)


def test_a_slash_command_keeps_its_trigger_as_the_event_id() -> None:
    message = command_to_core(
        {
            "user_id": "U0ORTIZ001",
            "channel_id": "D0ORTIZ001",
            "text": "win Sam read",
            "trigger_id": "123.456.abc",
        },
        "T0SCHOOL01",
        private=True,
    )

    assert (message.text, message.event_id) == ("/win Sam read", "slack:command:123.456.abc")
    assert message.chat.private


def test_only_our_buttons_become_presses() -> None:
    body = {
        "user": {"id": "U0ORTIZ001"},
        "trigger_id": "9.9.t",
        "container": {"channel_id": "D0ORTIZ001", "message_ts": "1.000001"},
        "actions": [{"action_id": "tandem:0", "value": "opaque-token"}],
    }
    foreign = body | {"actions": [{"action_id": "approve", "value": "x"}]}

    press = action_to_core(body, "T0SCHOOL01", private=True)

    assert isinstance(press, ButtonPress)
    assert (press.token, press.event_id) == ("opaque-token", "slack:action:9.9.t")
    assert action_to_core(foreign, "T0SCHOOL01", private=True) is None


# --- out --------------------------------------------------------------------------------------


@given(st.text())
def test_escaped_text_has_no_markup_and_reads_back_the_same(text: str) -> None:
    escaped = escape(text)

    assert "<" not in escaped and ">" not in escaped
    assert plain_text(escaped) == text


@given(st.text(alphabet="ab&<>\n ", max_size=8000))
def test_every_section_fits_and_no_entity_is_cut(text: str) -> None:
    messages = render(Reply(text))

    sections = [block["text"]["text"] for m in messages for block in m.blocks]
    assert all(1 <= len(section) <= SECTION_LIMIT for section in sections)
    assert all(plain_text(section) == plain_text(section.strip()) for section in sections)
    shown = "".join(plain_text(m.text) for m in messages)
    assert shown.replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_many_buttons_are_spread_over_actions_blocks_of_25() -> None:
    buttons = tuple(Button(f"Student {n}", f"token-{n}") for n in range(30))

    [message] = render(Reply("Which student is this about?", buttons))

    _, *actions = message.blocks
    assert [len(block["elements"]) for block in actions] == [BUTTONS_PER_BLOCK, 5]
    ids = [e["action_id"] for block in actions for e in block["elements"]]
    assert len(set(ids)) == 30


def test_a_long_button_label_is_shortened() -> None:
    [message] = render(Reply("Which?", (Button("A" * 100, "t"),)))

    label = message.blocks[-1]["elements"][0]["text"]["text"]
    assert len(label) == LABEL_LIMIT and label.endswith("…")


def test_an_empty_reply_sends_nothing() -> None:
    assert render(Reply("")) == []
