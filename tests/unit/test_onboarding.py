"""Strangers, invite codes and joining a student's team."""

from __future__ import annotations

import pytest

from bot import invites, roster
from bot.config import Settings
from bot.demo import DEMO_SCHOOL
from storage.models import Invite, Membership, Role
from storage.stores import Store
from tests.conftest import DemoSchool, welcome
from tests.unit.conftest import Record, en, invite_code

DEMO_PEOPLE = ["Dana Rivera", "Lee Chen", "Luis Rivera", "Ms. Ortiz"]


async def make_invite(school: DemoSchool, student: str | None, role: Role) -> str:
    """An invite made the way the CLI makes one, outside any chat."""
    async with school.db.session() as session:
        store = Store(session)
        found = await store.students.school_named(DEMO_SCHOOL)
        assert found is not None
        pupil = await roster.student_named(store, found, student) if student else None
        new = await invites.create_invite(
            store, Settings(), school.clock.now(), found, pupil, role, None
        )
        return new.code


# --- strangers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "/log Sam",
        "/students",
        "+ Sam read a page",
        "? where is the bus",
        "/help",
        "/start",
        "/join",
        "/undo",
        "/goal Sam x: y",
        "Sam: slept badly",
    ],
)
async def test_a_stranger_gets_only_the_onboarding_line(
    school: DemoSchool, record: Record, text: str
) -> None:
    said = await school.say(school.stranger(), text)

    assert said.text == en("onboarding.stranger")
    assert said.buttons == []
    assert await record.people() == DEMO_PEOPLE
    assert await record.accounts() == 4
    assert await record.entries() == []


async def test_a_strangers_edit_gets_only_the_onboarding_line(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page", message_ref="m-1")

    said = await school.edit(school.stranger(), "m-1", "+ Sam did nothing")

    assert said.text == en("onboarding.stranger")
    assert (await record.entry()).text == "Sam read a page"


# --- joining with a code ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/start", "/join"])
async def test_an_invited_parent_joins_the_childs_team(
    school: DemoSchool, record: Record, command: str
) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    grandma = school.stranger("Grandma")

    said = await school.say(grandma, f"{command} {code}")

    assert said.text == welcome("onboarding.welcome_parent", name="Grandma", student="Sam Rivera")
    memberships = await record.rows(
        Membership, Membership.person_id == await record.person_id(grandma)
    )
    assert [(m.student_id, m.role) for m in memberships] == [
        (await record.student_id("Sam"), "parent")
    ]


async def test_a_joined_parent_can_read_the_childs_log(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    grandma = school.stranger("Grandma")
    await school.say(grandma, f"/start {code}")

    log = await school.say(grandma, "/log Sam")

    assert "read a whole page aloud" in log.text


async def test_a_joined_parent_logs_notes_from_home(school: DemoSchool, record: Record) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    grandma = school.stranger("Grandma")
    await school.say(grandma, f"/start {code}")

    await school.say(grandma, "+ ate all his dinner")

    entry = await record.entry()
    assert (entry.student_id, entry.setting) == (await record.student_id("Sam"), "home")


async def test_a_joined_parent_sees_only_their_childs_record(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Maya used her calm-down corner")
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    grandma = school.stranger("Grandma")
    await school.say(grandma, f"/start {code}")

    said = await school.say(grandma, "/log Maya")

    assert said.text == en("students.not_found")


async def test_an_invite_code_works_exactly_once(school: DemoSchool, record: Record) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    await school.say(school.stranger("Grandma"), f"/start {code}")

    said = await school.say(school.stranger("Grandpa"), f"/start {code}")

    assert said.text == en("onboarding.code_used")
    assert await record.people() == sorted([*DEMO_PEOPLE, "Grandma"])


async def test_an_expired_invite_code_is_refused(school: DemoSchool, record: Record) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    school.clock.advance(hours=168, minutes=1)

    said = await school.say(school.stranger(), f"/start {code}")

    assert said.text == en("onboarding.code_expired")
    assert await record.people() == DEMO_PEOPLE


async def test_an_invite_code_still_works_just_before_it_expires(school: DemoSchool) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    school.clock.advance(hours=167, minutes=59)

    said = await school.say(school.stranger(), f"/start {code}")

    assert said.text == welcome("onboarding.welcome_parent", name="Grandma", student="Sam Rivera")


@pytest.mark.parametrize("code", ["nonsense", "A" * 22, "%' OR 1=1 --", "x" * 500])
async def test_a_garbage_code_is_refused_and_creates_nobody(
    school: DemoSchool, record: Record, code: str
) -> None:
    said = await school.say(school.stranger(), f"/start {code}")

    assert said.text == en("onboarding.code_unknown")
    assert await record.people() == DEMO_PEOPLE
    assert await record.accounts() == 4


async def test_invite_codes_are_stored_hashed(school: DemoSchool, record: Record) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))

    stored = await record.rows(Invite)

    assert len(stored) == 1
    assert code not in stored[0].code_hash
    assert len(code) >= 22  # 128 random bits, URL-safe


async def test_a_parent_cannot_invite(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.parent, "/invite Sam parent")

    assert said.text == en("students.not_found")
    assert await record.rows(Invite) == []
    assert await record.access_log(school.parent, "denied")


async def test_invite_without_a_role_explains_the_form(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "/invite Sam grandma")

    assert said.text == en("invite.usage")
    assert await record.rows(Invite) == []


async def test_a_cli_invite_is_redeemed_in_chat(school: DemoSchool, record: Record) -> None:
    code = await make_invite(school, "Maya", Role.TEACHER)
    para = school.stranger("Mr. Okafor")

    said = await school.say(para, f"/start {code}")
    students = await school.say(para, "/students")

    assert said.text == welcome(
        "onboarding.welcome_teacher", name="Mr. Okafor", student="Maya Chen"
    )
    assert students.text == "\n".join([en("students.title"), "• Maya Chen (teacher)"])


async def test_a_cli_admin_invite_makes_a_school_admin(school: DemoSchool) -> None:
    code = await make_invite(school, None, Role.ADMIN)
    coordinator = school.stranger("Ms. Baker")

    said = await school.say(coordinator, f"/join {code}")
    students = await school.say(coordinator, "/students")

    assert said.text == welcome("onboarding.welcome_admin", name="Ms. Baker", school=DEMO_SCHOOL)
    assert students.text == "\n".join(
        [en("students.title"), "• Maya Chen (admin)", "• Sam Rivera (admin)"]
    )


async def test_a_known_person_joins_a_second_team(school: DemoSchool) -> None:
    code = await make_invite(school, "Sam", Role.PARENT)

    await school.say(school.parent_of_maya, f"/start {code}")
    students = await school.say(school.parent_of_maya, "/students")

    assert students.text == "\n".join(
        [en("students.title"), "• Maya Chen (parent)", "• Sam Rivera (parent)"]
    )


async def test_start_without_a_code_gives_a_known_person_the_help(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/start")

    assert said.text == en("help.text")
