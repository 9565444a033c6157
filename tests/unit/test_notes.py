"""The chat grammar (DESIGN.md section 4): one-line notes, buttons, undo, edits, photos."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.events import Button, Chat, IncomingMessage
from storage.models import EntryKind, EntryRevision, PendingAction, Setting
from tests.conftest import DemoSchool
from tests.unit.conftest import Record, en

KINDS = [
    ("+ Sam read a whole page aloud", EntryKind.WIN),
    ("- Sam hit a peer at recess", EntryKind.CONCERN),
    ("? Sam needs headphones on the bus?", EntryKind.QUESTION),
    ("! Sam fell on the playground, nurse saw him", EntryKind.URGENT),
    ("/win Sam read a whole page aloud", EntryKind.WIN),
    ("/concern Sam hit a peer at recess", EntryKind.CONCERN),
    ("/note Sam was tired today", EntryKind.NOTE),
    ("/ask Sam needs headphones on the bus?", EntryKind.QUESTION),
    ("/urgent Sam fell on the playground", EntryKind.URGENT),
]


# --- what each sign and command logs ----------------------------------------------------------


@pytest.mark.parametrize(("text", "kind"), KINDS, ids=[text.split()[0] for text, _ in KINDS])
async def test_teacher_logs_each_kind_at_school(
    school: DemoSchool, record: Record, text: str, kind: EntryKind
) -> None:
    said = await school.say(school.teacher, text)

    assert said.text.startswith(en(f"entry.logged_{kind}", student="Sam Rivera"))
    entry = await record.entry()
    assert entry.student_id == await record.student_id("Sam")
    assert (entry.kind, entry.setting) == (kind, Setting.SCHOOL)
    assert entry.author_id == await record.person_id(school.teacher)
    assert entry.text == text.split(" ", 1)[1]


@pytest.mark.parametrize(("text", "kind"), KINDS, ids=[text.split()[0] for text, _ in KINDS])
async def test_parent_logs_each_kind_at_home(
    school: DemoSchool, record: Record, text: str, kind: EntryKind
) -> None:
    said = await school.say(school.parent, text)

    assert said.text.startswith(en(f"entry.logged_{kind}", student="Sam Rivera"))
    entry = await record.entry()
    assert (entry.kind, entry.setting) == (kind, Setting.HOME)
    assert entry.student_id == await record.student_id("Sam")


async def test_every_logged_entry_offers_undo(school: DemoSchool) -> None:
    said = await school.say(school.parent, "+ Sam read a whole page aloud")

    assert [button.label for button in said.buttons] == ["Undo"]


async def test_parent_with_one_child_may_leave_the_name_out(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.parent, "+ tried a new food at dinner")

    assert said.text == en("entry.logged_win", student="Sam Rivera")
    entry = await record.entry()
    assert entry.student_id == await record.student_id("Sam")
    assert entry.text == "tried a new food at dinner"


async def test_colon_form_logs_the_text_after_the_name(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "Maya: slept badly, anxious this morning")

    entry = await record.entry()
    assert entry.student_id == await record.student_id("Maya")
    assert entry.text == "slept badly, anxious this morning"


async def test_a_name_is_found_whatever_its_case_and_accents(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ SÁM read a whole page aloud")

    assert said.text == en("entry.logged_win", student="Sam Rivera")
    assert (await record.entry()).student_id == await record.student_id("Sam")


# --- asking which student ---------------------------------------------------------------------


async def test_teacher_who_leaves_the_name_out_is_asked_which_student(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ read a whole page aloud")

    assert said.text == en("note.which_student")
    assert [button.label for button in said.buttons] == ["Maya Chen", "Sam Rivera"]
    assert await record.entries() == []


async def test_choosing_a_student_logs_the_note_for_that_student(
    school: DemoSchool, record: Record
) -> None:
    asked = await school.say(school.teacher, "+ read a whole page aloud")

    chosen = await school.press(school.teacher, asked.button("Sam Rivera"))

    assert chosen.text == en("entry.logged_win", student="Sam Rivera")
    assert chosen.replies[0].replaces
    entry = await record.entry()
    assert entry.student_id == await record.student_id("Sam")
    assert (entry.kind, entry.text) == (EntryKind.WIN, "read a whole page aloud")


async def test_choosing_a_student_retires_the_other_choices(
    school: DemoSchool, record: Record
) -> None:
    asked = await school.say(school.teacher, "+ read a whole page aloud")
    await school.press(school.teacher, asked.button("Sam Rivera"))

    again = await school.press(school.teacher, asked.button("Maya Chen"))

    assert again.replies == []
    assert len(await record.entries()) == 1


async def test_unknown_name_says_so_and_lists_the_students(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "Zed: slept badly")

    assert said.text == en("note.which_student_unknown", name="Zed")
    assert [button.label for button in said.buttons] == ["Maya Chen", "Sam Rivera"]
    assert await record.entries() == []


async def test_unknown_name_note_keeps_its_whole_text_once_a_student_is_chosen(
    school: DemoSchool, record: Record
) -> None:
    asked = await school.say(school.teacher, "Zed: slept badly")

    await school.press(school.teacher, asked.button("Maya Chen"))

    entry = await record.entry()
    assert entry.student_id == await record.student_id("Maya")
    assert entry.text == "Zed: slept badly"


async def test_ambiguous_name_lists_only_the_students_it_could_mean(
    school: DemoSchool, record: Record
) -> None:
    samir = await record.add_student("Samir Khan", school.teacher)

    said = await school.say(school.teacher, "+ Sa shared a snack")
    chosen = await school.press(school.teacher, said.button("Samir Khan"))

    assert [button.label for button in said.buttons] == ["Sam Rivera", "Samir Khan"]
    assert chosen.text == en("entry.logged_win", student="Samir Khan")
    assert (await record.entry()).student_id == samir


async def test_a_name_may_be_followed_by_a_time_with_a_colon(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "- Sam at 10:30 had a meltdown")

    assert said.text == en("entry.logged_concern", student="Sam Rivera")
    assert (await record.entry()).student_id == await record.student_id("Sam")


# --- plain text -------------------------------------------------------------------------------


async def test_plain_text_is_a_note_that_asks_what_kind_it_is(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "Sam slept badly, anxious this morning")

    assert said.text == f"{en('entry.logged_note', student='Sam Rivera')} {en('entry.ask_kind')}"
    assert [button.label for button in said.buttons] == [
        "Win",
        "Concern",
        "Note",
        "Undo",
        "Share with family now",
    ]
    assert (await record.entry()).kind == EntryKind.NOTE


async def test_pressing_win_turns_a_note_into_a_win(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "Sam read a whole page aloud")

    pressed = await school.press(school.teacher, said.button("Win"))

    assert pressed.text == en("entry.logged_win", student="Sam Rivera")
    assert (await record.entry()).kind == EntryKind.WIN


async def test_pressing_note_keeps_a_note_and_stops_asking(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "Sam was quiet today")

    pressed = await school.press(school.teacher, said.button("Note"))

    assert pressed.text == en("entry.logged_note", student="Sam Rivera")
    assert en("entry.ask_kind") not in pressed.text
    assert [button.label for button in pressed.buttons] == ["Undo"]
    assert (await record.entry()).kind == EntryKind.NOTE


async def test_note_command_does_not_ask_what_kind_it_is(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "/note Sam was quiet today")

    assert said.text == en("entry.logged_note", student="Sam Rivera")
    assert en("entry.ask_kind") not in said.text
    assert [button.label for button in said.buttons] == ["Undo", "Share with family now"]


async def test_note_command_for_a_chosen_student_does_not_ask_what_kind_it_is(
    school: DemoSchool,
) -> None:
    asked = await school.say(school.teacher, "/note was quiet today")

    chosen = await school.press(school.teacher, asked.button("Sam Rivera"))

    assert chosen.text == en("entry.logged_note", student="Sam Rivera")
    assert [button.label for button in chosen.buttons] == ["Undo", "Share with family now"]


async def test_plain_text_for_a_chosen_student_asks_what_kind_it_is(school: DemoSchool) -> None:
    asked = await school.say(school.teacher, "was quiet today")

    chosen = await school.press(school.teacher, asked.button("Sam Rivera"))

    assert [button.label for button in chosen.buttons] == [
        "Win",
        "Concern",
        "Note",
        "Undo",
        "Share with family now",
    ]


# --- goals ------------------------------------------------------------------------------------


async def test_tag_links_the_entry_to_the_goal(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "+ Sam read a whole page aloud #reading")

    assert "#reading" in said.text
    entry = await record.entry()
    goal = await record.goal("Sam", "reading")
    assert goal is not None
    assert entry.goal_id == goal.id
    assert entry.text == "Sam read a whole page aloud"


async def test_unknown_tag_is_reported_with_the_goals_and_the_entry_kept(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ Sam did his sums #math")

    assert said.replies[0].text == en("entry.logged_win", student="Sam Rivera")
    assert said.replies[1].text == en(
        "entry.unknown_tags", tags="#math", student="Sam Rivera", goals="#reading"
    )
    entry = await record.entry()
    assert entry.goal_id is None
    assert entry.text == "Sam did his sums #math"


async def test_another_students_goal_is_not_linked(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "+ Sam took a deep breath #calm")

    assert "#calm" in said.replies[1].text
    assert (await record.entry()).goal_id is None


# --- undo -------------------------------------------------------------------------------------


async def test_undo_button_removes_the_entry(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "+ Sam read a whole page aloud")

    undone = await school.press(school.teacher, said.button("Undo"))

    assert undone.text == en(
        "entry.undone", kind="win", student="Sam Rivera", text="Sam read a whole page aloud"
    )
    assert await record.entries() == []


async def test_undo_command_removes_only_the_latest_entry(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    school.clock.advance(minutes=5)
    await school.say(school.teacher, "- Maya left the room twice")

    undone = await school.say(school.teacher, "/undo")

    assert "Maya left the room twice" in undone.text
    assert [entry.text for entry in await record.entries()] == ["Sam read a whole page aloud"]


async def test_undo_command_leaves_other_peoples_entries(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    said = await school.say(school.parent, "/undo")

    assert said.text == en("entry.nothing_to_undo")
    assert len(await record.entries()) == 1


async def test_undo_command_does_not_reach_back_past_a_day(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    school.clock.advance(hours=25)

    said = await school.say(school.teacher, "/undo")

    assert said.text == en("entry.nothing_to_undo")
    assert len(await record.entries()) == 1


async def test_undo_button_does_nothing_after_the_entry_was_undone(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    said = await school.say(school.teacher, "+ Sam read another page")
    await school.say(school.teacher, "/undo")

    pressed = await school.press(school.teacher, said.button("Undo"))

    assert pressed.replies == []
    assert [entry.text for entry in await record.entries()] == ["Sam read a whole page aloud"]


# --- buttons that must not work ---------------------------------------------------------------


async def test_someone_elses_button_does_nothing(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "+ Sam read a whole page aloud")

    pressed = await school.press(school.parent, said.button("Undo"))

    assert pressed.replies == []
    assert len(await record.entries()) == 1
    # The button is still the teacher's to use.
    assert (await school.press(school.teacher, said.button("Undo"))).text


async def test_a_stranger_pressing_a_button_gets_nothing(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "Sam read a whole page aloud")

    pressed = await school.press(school.stranger(), said.button("Win"))

    assert pressed.replies == []
    assert (await record.entry()).kind == EntryKind.NOTE


async def test_an_expired_button_says_so_and_changes_nothing(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ Sam read a whole page aloud")
    school.clock.advance(days=3)

    pressed = await school.press(school.teacher, said.button("Undo"))

    assert pressed.text == en("button.expired")
    assert len(await record.entries()) == 1


async def test_an_expired_choice_of_student_logs_nothing(
    school: DemoSchool, record: Record
) -> None:
    asked = await school.say(school.teacher, "+ read a whole page aloud")
    school.clock.advance(days=3)

    pressed = await school.press(school.teacher, asked.button("Sam Rivera"))

    assert pressed.text == en("button.expired")
    assert await record.entries() == []


@pytest.mark.parametrize("token", ["forged", "", "x" * 500, "'; DROP TABLE entry; --"])
async def test_a_forged_button_does_nothing(school: DemoSchool, record: Record, token: str) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    pressed = await school.press(school.teacher, Button("Undo", token))

    assert pressed.replies == []
    assert len(await record.entries()) == 1


# --- edits, photos, retries -------------------------------------------------------------------


async def test_editing_the_message_edits_the_entry_and_keeps_the_old_text(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page aloud", message_ref="m-1")
    school.clock.advance(minutes=2)

    said = await school.edit(school.teacher, "m-1", "+ Sam read two pages aloud")

    assert said.text == en("entry.edited", student="Sam Rivera")
    entry = await record.entry()
    assert entry.text == "Sam read two pages aloud"
    assert entry.edited_at == school.clock.now()
    revisions = await record.rows(EntryRevision)
    assert [(r.entry_id, r.text) for r in revisions] == [(entry.id, "Sam read a page aloud")]


async def test_every_edit_keeps_a_revision(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "Sam: slept badly", message_ref="m-1")
    await school.edit(school.teacher, "m-1", "Sam: slept very badly")
    await school.edit(school.teacher, "m-1", "Sam: slept badly, woke at 4")

    assert (await record.entry()).text == "slept badly, woke at 4"
    texts = [revision.text for revision in await record.rows(EntryRevision)]
    assert sorted(texts) == ["slept badly", "slept very badly"]


async def test_editing_someone_elses_message_ref_changes_nothing(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page aloud", message_ref="m-1")

    said = await school.edit(school.parent, "m-1", "+ Sam did nothing")

    assert said.replies == []
    assert (await record.entry()).text == "Sam read a page aloud"
    assert await record.rows(EntryRevision) == []


async def test_editing_a_message_to_nothing_keeps_the_entry(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page aloud", message_ref="m-1")

    said = await school.edit(school.teacher, "m-1", "+ ")

    assert said.text == en("entry.edit_empty")
    assert (await record.entry()).text == "Sam read a page aloud"


async def test_a_photo_with_a_caption_is_an_entry_keeping_the_file_reference(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.parent, "+ Sam built this tower", attachment_ref="photo-77")

    assert said.text == en("entry.logged_win", student="Sam Rivera")
    entry = await record.entry()
    assert (entry.attachment_ref, entry.text) == ("photo-77", "Sam built this tower")


async def test_a_photo_without_a_caption_is_still_kept(school: DemoSchool, record: Record) -> None:
    await school.say(school.parent, "", attachment_ref="photo-78")

    entry = await record.entry()
    assert entry.attachment_ref == "photo-78"
    assert entry.setting == Setting.HOME


async def test_a_photo_shows_in_the_log(school: DemoSchool) -> None:
    await school.say(school.parent, "+ Sam built this tower", attachment_ref="photo-77")

    log = await school.say(school.teacher, "/log Sam")

    assert f"Dana Rivera {en('entry.photo_mark')}:\n  │ Sam built this tower" in log.text


async def test_a_message_delivered_twice_is_logged_once(school: DemoSchool, record: Record) -> None:
    sender = school.teacher
    message = IncomingMessage(sender, Chat(sender.external_id), "+ Sam read a page", "tg:4242")

    first = await school.dispatcher.dispatch(message)
    second = await school.dispatcher.dispatch(message)

    assert first and second == []
    assert len(await record.entries()) == 1


async def test_buttons_are_opaque_tokens_stored_server_side(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "Sam read a page")

    async with school.db.session() as session:
        stored = {row.token for row in (await session.exec(select(PendingAction))).all()}
    assert {button.token for button in said.buttons} <= stored
    assert all(len(button.token.encode()) <= 64 for button in said.buttons)


async def test_a_question_naming_the_student_mid_sentence_is_for_that_student(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "? Can Sam bring headphones on the bus?")

    assert said.text == en("entry.logged_question", student="Sam Rivera")
    assert (await record.entry()).student_id == await record.student_id("Sam")


async def test_a_note_mentioning_two_students_asks_which(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "+ Great day, Maya helped Sam with the puzzle")

    assert {button.label for button in said.buttons} == {"Sam Rivera", "Maya Chen"}
