"""The access matrix in chat: people with no tie to a student ask about them, and what an
invited person sees (the matrix cell by cell and the property test: test_access_matrix.py)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot import roster
from bot.events import Sender
from storage.models import (
    AccessAction,
    AccessLog,
    Outbox,
    Platform,
    Role,
)
from storage.stores import Store
from tests.conftest import DemoSchool
from tests.unit.conftest import Record, en, invite_code

# --- the matrix in chat: people with no tie to Sam ----------------------------------------------

PARK = Sender(Platform.CONSOLE, "", "mr-park", "Mr. Park")  # teaches Maya, not Sam
NG = Sender(Platform.CONSOLE, "", "ms-ng", "Ms. Ng")  # admin of another school
STRANGER = DemoSchool.stranger("Mallory")


async def add_outsiders(school: DemoSchool) -> None:
    """A teacher on Maya's team only, and the admin of a second school."""
    async with school.db.session() as session:
        store = Store(session)
        maple = await store.students.school_named("Maple Elementary (demo)")
        assert maple is not None and maple.id is not None
        harbor = await store.students.add_school("Harbor School", "America/Chicago", "en")
        assert harbor.id is not None
        maya = await roster.student_named(store, maple, "Maya")
        assert maya.id is not None
        park = await store.people.add("Mr. Park", "en")
        ng = await store.people.add("Ms. Ng", "en")
        assert park.id is not None and ng.id is not None
        await store.people.add_account(
            park, Platform.CONSOLE, "", PARK.external_id, PARK.external_id
        )
        await store.people.add_account(ng, Platform.CONSOLE, "", NG.external_id, NG.external_id)
        await store.students.add_membership(park.id, maya.id, Role.TEACHER, "weekly")
        await store.students.add_admin(ng.id, harbor.id)


OUTSIDERS = {
    "parent of another child": DemoSchool.parent_of_maya,
    "teacher off the team": PARK,
    "admin of another school": NG,
}
READS = ["/log {name}", "/week {name}", "/record {name}", "/goals {name}"]


@pytest.mark.parametrize("command", READS)
@pytest.mark.parametrize("who", sorted(OUTSIDERS))
async def test_a_read_about_a_student_not_theirs_looks_like_no_student(
    school: DemoSchool, record: Record, who: str, command: str
) -> None:
    await add_outsiders(school)
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    outsider = OUTSIDERS[who]

    about_sam = await school.say(outsider, command.format(name="Sam"))
    about_nobody = await school.say(outsider, command.format(name="Zed"))

    assert about_sam.text == about_nobody.text
    assert "Sam" not in about_sam.text and "page" not in about_sam.text
    sam = await record.student_id("Sam")
    denied = await record.access_log(outsider, AccessAction.DENIED)
    # Logged against Sam only for someone of Sam's school; another school's admin names nobody.
    against = None if who == "admin of another school" else sam
    assert against in [row.student_id for row in denied]
    assert all(row.student_id in (sam, None) for row in denied)
    assert not await record.access_log(outsider, AccessAction.VIEW)


@pytest.mark.parametrize("command", [*READS, "/amend 1 fixed", "/answer 1 yes"])
async def test_a_stranger_gets_only_the_onboarding_line(school: DemoSchool, command: str) -> None:
    await school.say(school.teacher, "? Sam can he bring headphones")

    said = await school.say(STRANGER, command.format(name="Sam"))

    assert said.text == en("onboarding.stranger")


@pytest.mark.parametrize(
    "command",
    [
        "/goal Sam calm: breathes",
        "/invite Sam parent",
        "/invite Sam teacher",
        "/amend 1 Sam never read",
        "/answer 1 no headphones",
        "+ Sam hit a peer",
    ],
)
@pytest.mark.parametrize("who", sorted(OUTSIDERS))
async def test_a_write_about_a_student_not_theirs_changes_nothing_of_theirs(
    school: DemoSchool, record: Record, who: str, command: str
) -> None:
    await add_outsiders(school)
    await school.say(school.teacher, "? Sam can he bring headphones")
    sam = await record.student_id("Sam")
    before = await record.entries("Sam")

    said = await school.say(OUTSIDERS[who], command)

    assert "headphones" not in said.text and "Sam Rivera" not in said.text
    assert await record.entries("Sam") == before
    assert await record.goal("Sam", "calm") is None
    letters = await record.rows(Outbox, Outbox.student_id == sam)
    assert {row.kind for row in letters} <= {"question"}


async def test_a_parent_may_not_invite_set_goals_or_export_but_may_ask_for_a_correction(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page")

    invited = await school.say(school.parent, "/invite Sam parent")
    goal = await school.say(school.parent, "/goal Sam calm: breathes")
    amend = await school.say(school.parent, "/amend 1 Sam read two pages")

    assert invited.text == goal.text == en("students.not_found")
    assert amend.text.startswith("I've asked Ms. Ortiz")


async def test_a_teacher_may_not_ask_for_a_correction(school: DemoSchool) -> None:
    await school.say(school.parent, "+ Sam tried a new food")

    said = await school.say(school.teacher, "/amend 1 Sam tried two new foods")

    assert said.text == en("amend.not_found", number="1")


async def test_every_refusal_in_the_property_world_is_logged(school: DemoSchool) -> None:
    await school.say(school.parent_of_maya, "/record Sam")

    async with school.db.session() as session:
        rows = (await session.exec(select(AccessLog))).all()

    assert [(row.action, row.what, row.legacy_detail) for row in rows] == [("denied", "record", "")]


async def test_an_invited_teacher_sees_their_student_and_no_other(
    school: DemoSchool,
) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Maya teacher"))
    await school.say(PARK, f"/start {code}")
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    sam = await school.say(PARK, "/record Sam")
    maya = await school.say(PARK, "/record Maya")

    assert sam.text == en("students.not_found")
    assert maya.text.startswith("Maya Chen — the whole record")
