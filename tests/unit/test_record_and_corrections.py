"""A parent's rights over the record: /record shows all of it and who has read it; /amend asks
the author (or an admin) for a correction, which is accepted or declined with history kept."""

from __future__ import annotations

from sqlmodel import col

from bot.events import Sender
from storage.models import (
    AccessAction,
    Admin,
    Amendment,
    AmendmentStatus,
    EntryRevision,
    Membership,
    PendingAction,
    Platform,
    Read,
)
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, Record, en, invite_code

PARK = Sender(Platform.CONSOLE, "", "mr-park", "Mr. Park")

# --- /record ----------------------------------------------------------------------------------


async def test_record_shows_every_entry_with_its_number_and_earlier_wording(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, "+ Sam read a page aloud #reading", message_ref="m-1")
    await school.edit(school.teacher, "m-1", "+ Sam read two pages aloud")
    school.clock.advance(days=40)
    await school.say(school.parent, "Sam: slept badly")

    said = await school.say(school.parent, "/record Sam")

    assert said.text.startswith("Sam Rivera — the whole record (Maple Elementary (demo))")
    at = "Thu, Nov 26, 10:00\u202fAM"
    edited = en("entry.edited_mark")
    assert (
        f"#1 · school · {at} · Win · Ms. Ortiz {edited}:\n  │ Sam read two pages aloud" in said.text
    )
    assert f"earlier wording, until {at}:\n     │ Sam read a page aloud" in said.text
    assert "#2 · home · " in said.text and "slept badly" in said.text
    assert "#reading — Reads a page aloud to an adult (active, 1 note)" in said.text
    assert said.text.endswith(en("record.amend_hint"))


async def test_record_includes_who_has_read_it_this_reading_included(school: DemoSchool) -> None:
    await school.say(school.teacher, "/log Sam")
    await school.say(school.parent_of_maya, "/week Sam")

    said = await school.say(school.parent, "/record Sam")

    access = said.text.split(en("record.access", count=3))[1]
    assert "Ms. Ortiz · looked at the latest 10 notes" in access
    # Lee Chen, a parent outside Sam's team, is not named to Sam's family.
    assert "someone outside the team · was refused access" in access
    assert "Lee Chen" not in access
    assert "Dana Rivera · looked at the whole record" in access
    # What the refused person typed is not repeated to the family.
    assert "week: Sam" not in access


async def test_record_writes_a_view_row(school: DemoSchool, record: Record) -> None:
    await school.say(school.parent, "/record Sam")

    [view] = await record.access_log(school.parent, AccessAction.VIEW)
    assert (view.student_id, view.what) == (await record.student_id("Sam"), Read.RECORD)


async def test_reading_open_questions_is_logged_for_each_student_shown(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.parent, "? Sam can he bring headphones")
    await school.say(school.parent_of_maya, "? Maya can she stay late")

    await school.say(school.teacher, "/questions")

    views = await record.access_log(school.teacher, AccessAction.VIEW)
    assert sorted((row.student_id, row.what) for row in views) == sorted(
        [
            (await record.student_id("Sam"), Read.QUESTIONS),
            (await record.student_id("Maya"), Read.QUESTIONS),
        ]
    )


async def test_record_of_another_child_is_refused_like_a_missing_one(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page aloud")

    other = await school.say(school.parent_of_maya, "/record Sam")
    missing = await school.say(school.parent_of_maya, "/record Zed")

    assert other.text == missing.text == en("students.not_found")
    assert len(await record.access_log(school.parent_of_maya, AccessAction.DENIED)) == 2


async def test_a_parent_with_one_child_may_leave_the_name_out(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/record")

    assert said.text.startswith("Sam Rivera — the whole record")
    assert en("record.no_entries", student="Sam Rivera") in said.text


async def test_a_teacher_reads_the_record_without_the_correction_hint(school: DemoSchool) -> None:
    await school.say(school.parent, "+ Sam tried a new food")

    said = await school.say(school.teacher, "/record Sam")

    assert "tried a new food" in said.text
    assert en("record.amend_hint") not in said.text


async def test_record_lists_check_ins_with_what_was_added(school: DemoSchool, mail: Mail) -> None:
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")
    await school.press(school.parent, prompt.button("Tough week"))
    await school.say(school.parent, "he missed his dog")

    said = await school.say(school.parent, "/record Sam")

    checkins = said.text.split(en("record.checkins", count=1))[1]
    assert "Dana Rivera: a tough week at home" in checkins
    assert "added:\n     │ he missed his dog" in checkins


async def test_markup_in_the_record_is_shown_as_written(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam wrote <b>big</b> & *bold* [link](http://x.invalid)")

    said = await school.say(school.parent, "/record Sam")

    assert "<b>big</b> & *bold* [link](http://x.invalid)" in said.text


# --- /amend -----------------------------------------------------------------------------------


async def parent_asks(school: DemoSchool, text: str = "/amend 1 Sam read two pages") -> str:
    await school.say(school.teacher, "+ Sam read one page")
    return (await school.say(school.parent, text)).text


async def test_a_correction_request_goes_to_the_author_with_accept_and_decline(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    said = await parent_asks(school)

    assert said == en("amend.requested", people="Ms. Ortiz", number=1, student="Sam Rivera")
    letter = await mail.letter(school.teacher, "amend")
    assert letter.text == en(
        "notify.amend",
        parent="Dana Rivera",
        student="Sam Rivera",
        number=1,
        old="│ Sam read one page",
        new="│ Sam read two pages",
    )
    assert letter.labels == ["Accept", "Decline"]
    [amendment] = await record.rows(Amendment)
    assert amendment.status == AmendmentStatus.PENDING
    [logged] = await record.access_log(school.parent, AccessAction.AMEND)
    assert (logged.amendment_id, logged.entry_id, logged.what) == (1, 1, AmendmentStatus.PENDING)


async def test_accepting_revises_the_entry_keeps_the_old_text_and_tells_the_parent(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await parent_asks(school)
    letter = await mail.letter(school.teacher, "amend")

    said = await school.press(school.teacher, letter.button("Accept"))

    assert said.text == en("amend.accepted_done", number=1, student="Sam Rivera")
    entry = await record.entry()
    assert entry.text == "Sam read two pages" and entry.edited_at is not None
    [revision] = await record.rows(EntryRevision)
    assert revision.text == "Sam read one page"
    told = await mail.letter(school.parent, "amend")
    assert told.text == en(
        "notify.amend_accepted",
        person="Ms. Ortiz",
        student="Sam Rivera",
        number=1,
        text="│ Sam read two pages",
    )
    [decided] = await record.access_log(school.teacher, AccessAction.AMEND)
    assert (decided.amendment_id, decided.entry_id, decided.what) == (
        1,
        1,
        AmendmentStatus.ACCEPTED,
    )


async def test_declining_keeps_the_entry_and_tells_the_parent(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await parent_asks(school)
    letter = await mail.letter(school.teacher, "amend")

    said = await school.press(school.teacher, letter.button("Decline"))

    assert said.text == en("amend.declined_done", number=1, student="Sam Rivera")
    assert (await record.entry()).text == "Sam read one page"
    assert await record.rows(EntryRevision) == []
    [amendment] = await record.rows(Amendment)
    assert amendment.status == AmendmentStatus.DECLINED
    told = await mail.letter(school.parent, "amend")
    assert "declined your correction of note #1" in told.text
    record_text = (await school.say(school.parent, "/record Sam")).text
    assert "declined by Ms. Ortiz" in record_text and "Sam read two pages" in record_text


async def test_a_decided_request_ignores_a_second_press(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await parent_asks(school)
    letter = await mail.letter(school.teacher, "amend")
    await school.press(school.teacher, letter.button("Accept"))

    again = await school.press(school.teacher, letter.button("Accept"))
    other = await school.press(school.teacher, letter.button("Decline"))

    assert again.replies == other.replies == []
    assert len(await record.rows(EntryRevision)) == 1


async def test_the_other_decider_learns_it_was_decided_already(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    # Mr. Park wrote the note; Ms. Ortiz is the school's admin: both are asked.
    code = invite_code(await school.say(school.teacher, "/invite Sam teacher"))
    park = PARK
    await school.say(park, f"/start {code}")
    await school.say(park, "+ Sam read one page")
    asked = await school.say(school.parent, "/amend 1 Sam read two pages")
    assert "Mr. Park" in asked.text and "Ms. Ortiz" in asked.text
    await school.press(park, (await mail.letter(park, "amend")).button("Decline"))

    late = await school.press(
        school.teacher, (await mail.letter(school.teacher, "amend")).button("Accept")
    )

    assert late.text == en("amend.already_decided", number=1)
    assert (await record.entry()).text == "Sam read one page"


async def test_only_the_person_asked_can_press_the_buttons(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await parent_asks(school)
    letter = await mail.letter(school.teacher, "amend")

    said = await school.press(school.parent, letter.button("Accept"))

    assert said.replies == []
    assert (await record.entry()).text == "Sam read one page"


async def test_a_decider_who_left_the_team_can_no_longer_decide(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam teacher"))
    park = PARK
    await school.say(park, f"/start {code}")
    await school.say(park, "+ Sam read one page")
    await school.say(school.parent, "/amend 1 Sam read two pages")
    letter = await mail.letter(park, "amend")
    park_id = await record.person_id(park)
    async with school.db.session() as session:
        for membership in await record.rows(Membership, col(Membership.person_id) == park_id):
            await session.delete(await session.get(Membership, membership.id))

    said = await school.press(park, letter.button("Accept"))

    assert said.text == en("button.expired")
    assert (await record.entry()).text == "Sam read one page"
    assert await record.access_log(park, AccessAction.DENIED)


async def test_a_correction_about_another_childs_note_is_refused_like_a_missing_one(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read one page")

    other = await school.say(school.parent_of_maya, "/amend 1 Sam read nothing")
    missing = await school.say(school.parent_of_maya, "/amend 99 Sam read nothing")

    assert other.text == en("amend.not_found", number="1")
    assert missing.text == en("amend.not_found", number="99")
    assert await record.rows(Amendment) == []
    [denied] = await record.access_log(school.parent_of_maya, AccessAction.DENIED)
    assert denied.student_id == await record.student_id("Sam")


async def test_a_parent_corrects_their_own_note_by_editing_it(school: DemoSchool) -> None:
    await school.say(school.parent, "+ Sam tried a new food")

    said = await school.say(school.parent, "/amend 1 Sam tried two new foods")

    assert said.text == en("amend.own")


async def test_asking_for_what_the_note_already_says_changes_nothing(
    school: DemoSchool, record: Record
) -> None:
    said = await parent_asks(school, "/amend 1 Sam read one page")

    assert said == en("amend.same")
    assert await record.rows(Amendment) == []


async def test_amend_without_a_number_or_text_shows_how(school: DemoSchool) -> None:
    for text in ["/amend", "/amend 1", "/amend one page"]:
        said = await school.say(school.parent, text)
        assert said.text == en("amend.usage")


async def test_a_request_nobody_can_decide_is_kept_and_says_so(
    school: DemoSchool, record: Record
) -> None:
    # The author has left the team and the school has no admin.
    await school.say(school.teacher, "+ Sam read one page")
    async with school.db.session() as session:
        for admin in await record.rows(Admin):
            await session.delete(await session.get(Admin, admin.id))
        teacher = await record.person_id(school.teacher)
        for membership in await record.rows(Membership, col(Membership.person_id) == teacher):
            await session.delete(await session.get(Membership, membership.id))

    said = await school.say(school.parent, "/amend 1 Sam read two pages")

    assert said.text == en("amend.requested_nobody", number=1, student="Sam Rivera")
    assert len(await record.rows(Amendment)) == 1
    assert await record.rows(PendingAction, PendingAction.action == "amend_accept") == []


async def test_an_undone_note_takes_its_correction_request_with_it(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await parent_asks(school)
    letter = await mail.letter(school.teacher, "amend")
    await school.say(school.teacher, "/undo")

    said = await school.press(school.teacher, letter.button("Accept"))

    assert said.text == en("entry.gone")
    assert await record.rows(Amendment) == []


async def test_the_nightly_purge_takes_an_old_notes_correction_request_with_it(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await parent_asks(school)
    school.clock.advance(days=731)

    purged = await mail.purge()

    assert purged["entries"] == 1
    assert await record.rows(Amendment) == []
    assert await record.rows(PendingAction, PendingAction.action == "amend_accept") == []
