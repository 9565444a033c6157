"""Who hears about a new entry, and when: urgent notes, instant delivery, sharing, undo."""

from __future__ import annotations

from storage.models import Outbox
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, Record, chicago, en

FELL = "Sam fell on the playground, nurse saw him"
PAGE = "Sam read a whole page aloud"


async def late_at_night(school: DemoSchool) -> None:
    """22:00 at the school: inside everyone's default quiet hours (20:00-07:00)."""
    school.clock.set(chicago(2026, 11, 26, 22))


# --- urgent -------------------------------------------------------------------------------------


async def test_urgent_reaches_the_whole_team_at_once_even_in_quiet_hours(
    school: DemoSchool, mail: Mail
) -> None:
    await late_at_night(school)

    await school.say(school.parent, f"! {FELL}")

    urgent = await mail.letter(school.teacher, "urgent")
    assert urgent.text == en(
        "notify.urgent", author="Dana Rivera", student="Sam Rivera", text=f"│ {FELL}"
    )
    assert urgent.labels == [en("button.seen")]
    assert urgent.not_before == school.clock.now()
    assert await mail.letters(school.parent) == []
    assert await mail.letters(school.parent_of_maya) == []


async def test_urgent_ignores_weekly_delivery_and_a_pause(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.parent, "/pause")
    await late_at_night(school)

    await school.say(school.teacher, f"! {FELL}")

    urgent = await mail.letter(school.parent, "urgent")
    assert urgent.not_before == school.clock.now()
    assert urgent.labels == [en("button.seen")]


async def test_pressing_seen_tells_the_author_once(school: DemoSchool, mail: Mail) -> None:
    await late_at_night(school)
    await school.say(school.teacher, f"! {FELL}")
    urgent = await mail.letter(school.parent, "urgent")

    seen = await school.press(school.parent, urgent.button(en("button.seen")))
    again = await school.press(school.parent, urgent.button(en("button.seen")))

    assert seen.text == en("urgent.seen_thanks", student="Sam Rivera")
    assert again.replies == []
    told = await mail.letter(school.teacher, "seen")
    assert told.text == en("notify.seen", person="Dana Rivera", student="Sam Rivera")


async def test_only_the_person_it_was_sent_to_can_press_seen(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, f"! {FELL}")
    urgent = await mail.letter(school.parent, "urgent")

    pressed = await school.press(school.parent_of_maya, urgent.button(en("button.seen")))

    assert pressed.replies == []
    assert await mail.letters(school.teacher, "seen") == []


# --- instant delivery ---------------------------------------------------------------------------


async def test_an_instant_parent_gets_each_teacher_entry_as_it_comes(
    school: DemoSchool, mail: Mail
) -> None:
    chosen = await school.say(school.parent, "/delivery instant")
    await school.say(school.spanish_parent, "/delivery instant")

    logged = await school.say(school.teacher, f"+ {PAGE}")

    assert chosen.text == en("settings.delivery_set.instant")
    letter = await mail.letter(school.parent, "win")
    assert letter.text == en(
        "notify.entry",
        author="Ms. Ortiz",
        student="Sam Rivera",
        kind=en("kind.win"),
        text=f"│ {PAGE}",
    )
    assert letter.not_before == school.clock.now()
    assert [button.label for button in logged.buttons] == [en("button.undo")]


async def test_instant_delivery_still_respects_quiet_hours(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.parent, "/delivery instant")
    await late_at_night(school)

    await school.say(school.teacher, "- Sam hit a peer at recess")

    letter = await mail.letter(school.parent, "concern")
    assert letter.not_before == chicago(2026, 11, 27, 7)


async def test_instant_delivery_is_only_about_your_own_child(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.parent_of_maya, "/delivery instant")

    await school.say(school.teacher, f"+ {PAGE}")

    assert await mail.letters(school.parent_of_maya) == []


async def test_an_instant_parent_is_not_sent_their_own_note(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.parent, "/delivery instant")

    await school.say(school.parent, "+ read a whole page at bedtime")

    assert await mail.letters(school.parent) == []
    assert await mail.letters(school.teacher) == []


async def test_an_instant_teacher_gets_a_parents_home_note_as_it_comes(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, "/delivery instant")

    await school.say(school.parent, "+ read a whole page at bedtime")

    letter = await mail.letter(school.teacher, "win")
    assert "read a whole page at bedtime" in letter.text
    assert await mail.letters(school.parent) == []


async def test_a_weekly_parent_does_not_get_entries_as_they_come(
    school: DemoSchool, mail: Mail
) -> None:
    logged = await school.say(school.teacher, f"+ {PAGE}")

    assert await mail.letters(school.parent) == []
    assert [button.label for button in logged.buttons] == [en("button.undo"), en("button.share")]


# --- sharing now --------------------------------------------------------------------------------


async def test_share_with_family_now_queues_the_entry_and_logs_the_share(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    logged = await school.say(school.teacher, f"+ {PAGE}")

    shared = await school.press(school.teacher, logged.button(en("button.share")))

    assert shared.text == en("entry.shared", student="Sam Rivera")
    letter = await mail.letter(school.parent, "share")
    assert letter.text == en(
        "notify.entry",
        author="Ms. Ortiz",
        student="Sam Rivera",
        kind=en("kind.win"),
        text=f"│ {PAGE}",
    )
    assert letter.not_before == school.clock.now()
    assert len(await record.access_log(actor=school.teacher, action="share")) == 1
    assert await mail.letters(school.parent_of_maya) == []


async def test_a_shared_entry_waits_for_the_familys_quiet_hours(
    school: DemoSchool, mail: Mail
) -> None:
    await late_at_night(school)
    logged = await school.say(school.teacher, f"+ {PAGE}")

    await school.press(school.teacher, logged.button(en("button.share")))

    assert (await mail.letter(school.parent, "share")).not_before == chicago(2026, 11, 27, 7)


async def test_a_parents_own_entry_offers_no_share_button(school: DemoSchool) -> None:
    logged = await school.say(school.parent, "+ Sam tried a new food")

    assert [button.label for button in logged.buttons] == [en("button.undo")]


# --- undo ---------------------------------------------------------------------------------------


async def test_undo_before_sending_cancels_the_queued_letters(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.teacher, f"! {FELL}")
    assert len(await mail.letters(school.parent, "urgent")) == 1

    undone = await school.say(school.teacher, "/undo")

    assert undone.text == en(
        "entry.undone", kind=en("kind.urgent"), student="Sam Rivera", text=FELL
    )
    assert await mail.letters(school.parent) == []
    assert await record.entries() == []


async def test_undo_cancels_a_shared_entry_not_yet_sent(school: DemoSchool, mail: Mail) -> None:
    logged = await school.say(school.teacher, f"+ {PAGE}")
    await school.press(school.teacher, logged.button(en("button.share")))

    await school.press(school.teacher, logged.button(en("button.undo")))

    assert await mail.letters(school.parent) == []


async def test_undo_cancels_an_answer_not_yet_sent(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.parent, "? Can Sam bring headphones on the bus?")
    question = await record.entry()
    await school.say(school.teacher, f"/answer {question.id} Yes, the blue ones")

    await school.say(school.teacher, "/undo")

    assert await mail.letters(school.parent, "answer") == []
    assert [entry.id for entry in await record.entries()] == [question.id]


async def test_undo_leaves_letters_already_sent_alone(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.teacher, f"! {FELL}")
    urgent = await mail.letter(school.parent, "urgent")
    async with school.db.session() as session:
        row = await session.get(Outbox, urgent.row.id)
        assert row is not None
        row.status = "sent"
        session.add(row)

    await school.say(school.teacher, "/undo")

    assert [letter.row.status for letter in await mail.letters(school.parent)] == ["sent"]


async def test_undoing_an_urgent_note_cancels_the_seen_notice_to_its_author(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, f"! {FELL}")
    urgent = await mail.letter(school.parent, "urgent")
    await school.press(school.parent, urgent.button(en("button.seen")))

    await school.say(school.teacher, "/undo")

    assert await mail.letters(school.teacher, "seen") == []
