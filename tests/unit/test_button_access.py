"""Every press is checked again against the access matrix (issue 13, hole 13): someone taken
off a student's team since a button was sent gets the expired-button reply, and nothing about
the student changes: no entry, no letter, no correction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlmodel import col

from adapters.translation_libre import LibreTranslate
from bot.buttons import KINDS, CheckinMore
from bot.events import Button, Sender
from bot.i18n import translate
from bot.translation import NoteTranslator
from bot.translation_config import TranslationConfig
from storage.models import (
    AccessAction,
    Acknowledgement,
    Amendment,
    Entry,
    Membership,
    Outbox,
    PendingAction,
)
from tests.adapters.conftest import SPECS_DIR
from tests.adapters.fake_translation import running_libre
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, Record, en, invite_code
from tests.unit.test_access_in_chat import PARK


@dataclass(frozen=True)
class Sent:
    """A button someone on Sam's team was given."""

    who: Sender
    button: Button


async def park_joins(school: DemoSchool, *students: str) -> None:
    """Mr. Park, a teacher who is no school admin (Ms. Ortiz is one), joins these teams."""
    for student in students:
        code = invite_code(await school.say(school.teacher, f"/invite {student} teacher"))
        await school.say(PARK, f"/start {code}")


async def undo(school: DemoSchool, mail: Mail) -> Sent:
    said = await school.say(school.parent, "+ Sam tried a new food")
    return Sent(school.parent, said.button(en("button.undo")))


async def classify(school: DemoSchool, mail: Mail) -> Sent:
    said = await school.say(school.parent, "Sam slept badly")
    return Sent(school.parent, said.button(en("button.win")))


async def share(school: DemoSchool, mail: Mail) -> Sent:
    await park_joins(school, "Sam")
    said = await school.say(PARK, "+ Sam read a whole page aloud")
    return Sent(PARK, said.button(en("button.share")))


async def seen(school: DemoSchool, mail: Mail) -> Sent:
    await school.say(school.teacher, "! Sam fell on the playground, nurse saw him")
    letter = await mail.letter(school.parent, "urgent")
    return Sent(school.parent, letter.button(en("button.seen")))


async def pick_student(school: DemoSchool, mail: Mail) -> Sent:
    await park_joins(school, "Sam", "Maya")
    said = await school.say(PARK, "+ read a whole page aloud")
    return Sent(PARK, said.button("Sam Rivera"))


async def checkin(school: DemoSchool, mail: Mail) -> Sent:
    await mail.checkin()
    letter = await mail.letter(school.parent, "checkin")
    return Sent(school.parent, letter.button(en("checkin.button.good")))


async def correction(school: DemoSchool, mail: Mail, label: str) -> Sent:
    await park_joins(school, "Sam")
    await school.say(PARK, "+ Sam read one page")
    await school.say(school.parent, "/amend 1 Sam read two pages")
    letter = await mail.letter(PARK, "amend")
    return Sent(PARK, letter.button(en(label)))


async def accept(school: DemoSchool, mail: Mail) -> Sent:
    return await correction(school, mail, "button.accept")


async def decline(school: DemoSchool, mail: Mail) -> Sent:
    return await correction(school, mail, "button.decline")


async def remove_member(school: DemoSchool, mail: Mail) -> Sent:
    await park_joins(school, "Sam")
    said = await school.say(PARK, "/team Sam")
    return Sent(PARK, said.button(en("button.remove", name="Dana Rivera")))


async def confirm_removal(school: DemoSchool, mail: Mail, label: str = "button.yes_remove") -> Sent:
    asked = await remove_member(school, mail)
    said = await school.press(PARK, asked.button)
    return Sent(PARK, said.button(en(label)))


async def keep_member(school: DemoSchool, mail: Mail) -> Sent:
    return await confirm_removal(school, mail, "button.cancel")


async def original(school: DemoSchool, mail: Mail) -> Sent:
    """[Original] comes only under a translated note: the school translates while it is sent."""
    async with running_libre(SPECS_DIR) as libre:
        config = TranslationConfig("libretranslate", libre.url, timeout_seconds=1)
        provider = LibreTranslate(config)
        school.dispatcher.notes = NoteTranslator(provider, config, school.clock, ("en", "es"))
        try:
            await school.say(school.spanish_parent, "/delivery instant")
            await school.say(school.teacher, "+ Sam read a whole page aloud")
            letter = await mail.letter(school.spanish_parent, "win")
        finally:
            school.dispatcher.notes = None
            await provider.close()
    return Sent(school.spanish_parent, letter.button("Ver original"))


# Each button kind that is about a student, and how a member of Sam's team comes to hold one.
SENDS: dict[str, Callable[[DemoSchool, Mail], Awaitable[Sent]]] = {
    "undo": undo,
    "classify": classify,
    "share": share,
    "seen": seen,
    "pick_student": pick_student,
    "checkin": checkin,
    "amend_accept": accept,
    "amend_decline": decline,
    "team_remove": remove_member,
    "team_remove_yes": confirm_removal,
    "team_remove_no": keep_member,
    "original": original,
}


def test_every_button_kind_about_a_student_is_tried() -> None:
    checked = {action for action, kind in KINDS.items() if kind.needs is not None}
    assert set(SENDS) == checked - {CheckinMore.action}


async def take_off_sams_team(school: DemoSchool, record: Record, who: Sender) -> None:
    """What `tandem team remove` will do to the membership: the row goes."""
    person, sam = await record.person_id(who), await record.student_id("Sam")
    async with school.db.session() as session:
        for membership in await record.rows(
            Membership, col(Membership.person_id) == person, col(Membership.student_id) == sam
        ):
            await session.delete(await session.get(Membership, membership.id))


async def everything_about_the_students(record: Record) -> list[object]:
    """The entries, letters, corrections and acknowledgements, as they stand."""
    rows: list[object] = []
    for model in (Entry, Outbox, Amendment, Acknowledgement):
        rows += sorted((row.model_dump() for row in await record.rows(model)), key=repr)
    return rows


@pytest.mark.parametrize("kind", sorted(SENDS))
async def test_a_member_taken_off_the_team_pressing_an_old_button_changes_nothing(
    school: DemoSchool, mail: Mail, record: Record, kind: str
) -> None:
    sent = await SENDS[kind](school, mail)
    before = await everything_about_the_students(record)
    await take_off_sams_team(school, record, sent.who)

    said = await school.press(sent.who, sent.button)
    again = await school.press(sent.who, sent.button)

    language = "es" if sent.who == school.spanish_parent else "en"
    assert said.text == translate(language, "button.expired")
    assert again.replies == []  # the button is gone
    assert await everything_about_the_students(record) == before
    denied = await record.access_log(sent.who, AccessAction.DENIED)
    assert [row.student_id for row in denied] == [await record.student_id("Sam")]


async def test_a_parent_taken_off_the_team_cannot_add_to_a_checkin_answered_before(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    sent = await checkin(school, mail)
    await school.press(sent.who, sent.button)
    before = await everything_about_the_students(record)
    await take_off_sams_team(school, record, sent.who)

    said = await school.say(school.parent, "He slept well all week")

    assert said.text == en("follow_up.closed")
    assert await everything_about_the_students(record) == before
    assert await record.rows(PendingAction, PendingAction.action == "checkin_more") == []
