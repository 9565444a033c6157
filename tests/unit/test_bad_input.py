"""Odd, empty, huge and hostile messages: a clear reply, and nothing changed that shouldn't be."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.events import Chat, IncomingMessage
from storage.models import AccessAction, EntryKind
from tests.conftest import DemoSchool
from tests.unit.conftest import Record, en

LIMIT = Settings().security.max_entry_chars


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n", "\u200b\u202e", "\x00\x07"])
async def test_an_empty_message_says_so_and_saves_nothing(
    school: DemoSchool, record: Record, text: str
) -> None:
    said = await school.say(school.teacher, text)

    assert said.text == en("input.empty")
    assert await record.entries() == []


async def test_a_huge_message_names_the_limit_and_saves_nothing(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ Sam " + "a" * 9994)

    assert said.text == en("input.too_long", length=10_000, limit=LIMIT)
    assert str(LIMIT) in said.text
    assert await record.entries() == []


async def test_a_message_of_exactly_the_limit_is_logged(school: DemoSchool, record: Record) -> None:
    text = "+ Sam " + "a" * (LIMIT - 6)
    assert len(text) == LIMIT

    said = await school.say(school.teacher, text)

    assert said.text == en("entry.logged_win", student="Sam Rivera")
    assert (await record.entry()).text == text[2:]


async def test_one_character_over_the_limit_is_refused(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "+ Sam " + "a" * (LIMIT - 5))

    assert said.text == en("input.too_long", length=LIMIT + 1, limit=LIMIT)
    assert await record.entries() == []


async def test_an_edit_past_the_limit_keeps_the_entry(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "+ Sam read a page", message_ref="m-1")

    said = await school.edit(school.teacher, "m-1", "+ Sam " + "a" * LIMIT)

    assert str(LIMIT) in said.text
    assert (await record.entry()).text == "Sam read a page"


async def test_emoji_only_from_a_parent_is_kept_as_a_note(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.parent, "🎉🎉")

    assert [button.label for button in said.buttons] == ["Win", "Concern", "Note", "Undo"]
    entry = await record.entry()
    assert (entry.kind, entry.text) == (EntryKind.NOTE, "🎉🎉")


async def test_emoji_only_from_a_teacher_asks_which_student(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "🎉🎉")

    assert said.text == en("note.which_student")
    assert await record.entries() == []


async def test_control_and_bidi_characters_are_cleaned_from_a_note(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ Sam\u202e read\x00 a\u200b pa\x07ge\u2066 aloud")

    assert said.text == en("entry.logged_win", student="Sam Rivera")
    assert (await record.entry()).text == "Sam read a page aloud"


async def test_newlines_in_a_note_are_kept(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "Sam: slept badly\nanxious this morning")

    assert (await record.entry()).text == "slept badly\nanxious this morning"


async def test_a_name_matching_no_student_reads_nothing(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "/log Zed")

    assert said.text == en("students.not_found")
    assert not await record.access_log(school.teacher, AccessAction.VIEW)
    assert await record.access_log(school.teacher, AccessAction.DENIED)


async def test_a_note_about_no_known_student_waits_for_a_choice(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "- Zed: hit a peer")

    assert said.text == en("note.which_student_unknown", name="Zed")
    assert await record.entries() == []


@pytest.mark.parametrize("sign", ["+", "-", "?", "!", "+   "])
async def test_a_sign_with_no_text_asks_for_the_text(
    school: DemoSchool, record: Record, sign: str
) -> None:
    said = await school.say(school.teacher, sign)

    assert "has no text" in said.text
    assert await record.entries() == []


@pytest.mark.parametrize("command", ["/win", "/concern", "/note", "/ask", "/urgent"])
async def test_a_note_command_with_no_text_asks_for_the_text(
    school: DemoSchool, record: Record, command: str
) -> None:
    said = await school.say(school.parent, command)

    assert "has no text" in said.text
    assert await record.entries() == []


@pytest.mark.parametrize("text", ["/frobnicate", "/LOGS Sam", "/x" + "y" * 300])
async def test_an_unknown_command_says_so_and_points_to_help(
    school: DemoSchool, record: Record, text: str
) -> None:
    said = await school.say(school.teacher, text)

    assert said.text.startswith("I don't know the command /")
    assert "/help" in said.text
    assert len(said.text) < 200
    assert await record.entries() == []


async def test_a_message_from_an_unknown_user_gets_the_onboarding_line(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.stranger("Someone"), "+ Sam read a page")

    assert said.text == en("onboarding.stranger")
    assert await record.entries() == []
    assert "Someone" not in await record.people()


async def test_a_log_count_that_is_not_a_number_is_part_of_the_name(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "/log Sam lots")

    assert said.text == en("students.not_found")


@pytest.mark.parametrize("count", ["0", "999999999999999999999"])
async def test_an_out_of_range_log_count_is_brought_into_range(
    school: DemoSchool, count: str
) -> None:
    await school.say(school.teacher, "+ Sam read a page")

    said = await school.say(school.teacher, f"/log Sam {count}")

    assert said.text.splitlines()[0] == en("log.title", student="Sam Rivera", count=1)


async def test_invisible_padding_does_not_count_against_the_limit(
    school: DemoSchool, record: Record
) -> None:
    text = "+ Sam " + "a" * (LIMIT - 6)

    said = await school.say(school.teacher, text + "\u200b" * 50)

    assert said.text == en("entry.logged_win", student="Sam Rivera")
    assert (await record.entry()).text == text[2:]


async def test_a_very_long_event_id_is_still_deduplicated(school: DemoSchool) -> None:
    message = IncomingMessage(
        school.parent, Chat(school.parent.external_id), "+ Sam sang at dinner", "x" * 500
    )

    first = await school.dispatcher.dispatch(message)
    again = await school.dispatcher.dispatch(message)

    assert first and again == []
