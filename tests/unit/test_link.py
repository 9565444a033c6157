"""One person on two platforms: `/link` on one account, `/link CODE` on the other."""

from __future__ import annotations

import re

from bot import roster, team
from bot.config import Settings
from bot.context import Context
from bot.events import Sender
from bot.handlers.link import MAX_WRONG_CODES
from bot.i18n import Translator, translate
from storage.models import AccessLog, Account, Admin, PendingAction, Platform, TeamChange, Via
from storage.stores import Store
from tests.conftest import DemoSchool, Said
from tests.unit.conftest import Record, en, invite_code

DANA_ON_TELEGRAM = Sender(Platform.TELEGRAM, "", "5001", "Dana R.")
DANA_ON_SLACK = Sender(Platform.SLACK, "T0SCHOOL", "U0DANA", "Dana (Slack)")
SOMEONE_ON_TELEGRAM = Sender(Platform.TELEGRAM, "", "666", "Mallory")


def link_code(said: Said) -> str:
    """The code in a `/link` reply, as the person would copy it."""
    found = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", said.text)
    assert found, f"no link code in {said.text!r}"
    return found.group(0)


async def redeem(school: DemoSchool, sender: Sender, code: str) -> Said:
    """The sender sends the code and, shown whom it joins, presses [Join]."""
    offer = await school.say(sender, f"/link {code}")
    if not offer.buttons:
        return offer
    return await school.press(sender, offer.button("Join"))


async def join_as(school: DemoSchool, sender: Sender, student: str, role: str) -> None:
    """The sender joins a team with an invite from the teacher, as a separate person."""
    code = invite_code(await school.say(school.teacher, f"/invite {student} {role}"))
    said = await school.say(sender, f"/start {code}")
    assert "Welcome" in said.text, said.text


# --- the code ---------------------------------------------------------------------------------


async def test_link_shows_a_one_time_code_for_fifteen_minutes(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/link")

    assert said.text == en("link.code", code=link_code(said), minutes=15)
    assert said.buttons == []


async def test_the_database_keeps_only_a_keyed_hash_of_the_code(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))

    [pending] = await record.rows(PendingAction, PendingAction.action == "link")
    assert code not in pending.token
    assert code.replace("-", "") not in pending.token
    assert pending.payload == {}


async def test_a_stranger_asking_for_a_code_gets_only_the_onboarding_line(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(DANA_ON_TELEGRAM, "/link")

    assert said.text == en("onboarding.stranger")
    assert await record.rows(PendingAction) == []


async def test_no_code_is_shown_in_a_group(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.parent, "/link", private=False)

    assert said.text == en("group.direct_only")
    assert await record.rows(PendingAction) == []


# --- joining a new account --------------------------------------------------------------------


async def test_the_code_sent_from_a_new_account_joins_it_to_the_person(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))

    said = await redeem(school, DANA_ON_TELEGRAM, code)

    assert said.text == en("link.joined", name="Dana Rivera")
    assert await record.person_id(DANA_ON_TELEGRAM) == await record.person_id(school.parent)
    assert await record.people() == ["Dana Rivera", "Lee Chen", "Luis Rivera", "Ms. Ortiz"]


async def test_the_linked_account_reads_what_the_person_may_read(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    code = link_code(await school.say(school.parent, "/link"))
    await redeem(school, DANA_ON_TELEGRAM, code)

    said = await school.say(DANA_ON_TELEGRAM, "/log Sam")

    assert "read a whole page aloud" in said.text


async def test_the_new_account_is_reached_in_the_chat_it_linked_from(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    await redeem(school, DANA_ON_SLACK, code)

    [account] = await record.rows(Account, Account.platform == Platform.SLACK)
    assert (account.workspace, account.external_id) == ("T0SCHOOL", "U0DANA")
    assert account.dm_chat_id == DANA_ON_SLACK.external_id  # the harness's chat id
    assert account.active


async def test_the_code_may_be_typed_in_small_letters_without_the_dash(
    school: DemoSchool,
) -> None:
    code = link_code(await school.say(school.parent, "/link"))

    said = await redeem(school, DANA_ON_TELEGRAM, code.replace("-", " ").lower())

    assert said.text == en("link.joined", name="Dana Rivera")


async def test_the_code_works_once(school: DemoSchool, record: Record) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    await redeem(school, DANA_ON_TELEGRAM, code)

    said = await school.say(SOMEONE_ON_TELEGRAM, f"/link {code}")

    assert said.text == en("link.bad_code")
    assert await record.accounts() == 5


async def test_the_code_expires_after_fifteen_minutes(school: DemoSchool, record: Record) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    school.clock.advance(minutes=15)

    said = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    assert said.text == en("link.bad_code")
    assert await record.accounts() == 4
    assert await record.rows(PendingAction) == []


async def test_a_new_code_retires_the_one_shown_before(school: DemoSchool) -> None:
    old = link_code(await school.say(school.parent, "/link"))
    new = link_code(await school.say(school.parent, "/link"))

    refused = await school.say(DANA_ON_TELEGRAM, f"/link {old}")
    accepted = await redeem(school, DANA_ON_TELEGRAM, new)

    assert refused.text == en("link.bad_code")
    assert accepted.text == en("link.joined", name="Dana Rivera")


async def test_sending_the_code_from_the_same_account_changes_nothing(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))

    said = await school.say(school.parent, f"/link {code}")

    assert said.text == en("link.same")
    assert await record.accounts() == 4


# --- guessing ---------------------------------------------------------------------------------


async def test_after_too_many_wrong_codes_even_the_right_one_is_refused(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    for _ in range(MAX_WRONG_CODES):
        wrong = await school.say(SOMEONE_ON_TELEGRAM, "/link AAAA-AAAA")
        assert wrong.text == en("link.bad_code")

    said = await school.say(SOMEONE_ON_TELEGRAM, f"/link {code}")

    assert said.text == en("link.too_many")
    assert await record.accounts() == 4


async def test_wrong_codes_count_against_the_account_that_sent_them(school: DemoSchool) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    for _ in range(MAX_WRONG_CODES):
        await school.say(SOMEONE_ON_TELEGRAM, "/link AAAA-AAAA")

    said = await redeem(school, DANA_ON_TELEGRAM, code)

    assert said.text == en("link.joined", name="Dana Rivera")


async def test_wrong_codes_stop_counting_after_an_hour(school: DemoSchool) -> None:
    for _ in range(MAX_WRONG_CODES):
        await school.say(DANA_ON_TELEGRAM, "/link AAAA-AAAA")
    school.clock.advance(hours=1, seconds=1)
    code = link_code(await school.say(school.parent, "/link"))

    said = await redeem(school, DANA_ON_TELEGRAM, code)

    assert said.text == en("link.joined", name="Dana Rivera")


# --- nothing changes until [Join] ---------------------------------------------------------------


async def test_the_code_shows_whom_it_joins_and_what_they_see_and_changes_nothing(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))

    said = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    sees = en("link.sees_team", students=f"Sam Rivera ({en('role.parent')})")
    assert said.text == en("link.offer", name="Dana Rivera", sees=sees)
    assert [button.label for button in said.buttons] == ["Join", "Cancel"]
    assert await record.accounts() == 4
    assert "Sam" not in (await school.say(DANA_ON_TELEGRAM, "/log Sam")).text


async def test_an_admins_code_says_the_new_account_would_see_every_record_of_the_school(
    school: DemoSchool,
) -> None:
    code = link_code(await school.say(school.teacher, "/link"))

    said = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    assert en("link.sees_school", school="Maple Elementary (demo)") in said.text


async def test_cancel_joins_nothing_and_the_code_stops_working(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    offer = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    cancelled = await school.press(DANA_ON_TELEGRAM, offer.button("Cancel"))
    join_after = await school.press(DANA_ON_TELEGRAM, offer.button("Join"))
    again = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    assert cancelled.text == en("link.kept_apart")
    assert join_after.text == ""
    assert again.text == en("link.bad_code")
    assert await record.accounts() == 4


async def test_join_pressed_from_any_other_account_does_nothing(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    offer = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    by_issuer = await school.press(school.parent, offer.button("Join"))
    by_someone = await school.press(SOMEONE_ON_TELEGRAM, offer.button("Join"))

    assert by_issuer.replies == by_someone.replies == []
    assert await record.accounts() == 4


async def test_join_after_the_code_expired_joins_nothing(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    offer = await school.say(DANA_ON_TELEGRAM, f"/link {code}")
    school.clock.advance(minutes=15)

    said = await school.press(DANA_ON_TELEGRAM, offer.button("Join"))

    assert said.text == en("button.expired")
    assert await record.accounts() == 4


# --- hole 1: a code never hands the redeemer's identity to its issuer ---------------------------


MALLORY = Sender(Platform.TELEGRAM, "", "777", "Mallory")


async def parent_of_a_new_student(school: DemoSchool, record: Record) -> None:
    """Zoe joins the school, and Mallory joins Zoe's team as her parent: a team Ms. Ortiz, an
    admin of the school, is not on."""
    async with school.db.session() as session:
        store = Store(session)
        [maple] = await store.students.schools()
        await roster.add_student(store, maple, "Zoe Park")
    code = invite_code(await school.say(school.teacher, "/invite Zoe parent"))
    await school.say(MALLORY, f"/start {code}")


async def test_a_parents_code_sent_by_a_teacher_who_is_an_admin_moves_nothing(
    school: DemoSchool, record: Record
) -> None:
    await parent_of_a_new_student(school, record)
    await school.say(school.teacher, "+ Maya drew a whole cat")
    ortiz, mallory = await record.person_id(school.teacher), await record.person_id(MALLORY)
    code = link_code(await school.say(MALLORY, "/link"))

    said = await school.say(school.teacher, f"/link {code}")
    for button in said.buttons:  # whatever the teacher presses
        await school.press(school.teacher, button)

    assert await record.person_id(school.teacher) == ortiz
    assert await record.person_id(MALLORY) == mallory
    assert [entry.author_id for entry in await record.entries("Maya")] == [ortiz]
    # The parent reads nothing new; the teacher keeps her teams and her admin rights.
    assert (await school.say(MALLORY, "/log Maya")).text == en("students.not_found")
    assert "Maya" not in (await school.say(MALLORY, "/students")).text
    assert "whole cat" in (await school.say(school.teacher, "/log Maya")).text
    assert (await school.say(school.teacher, "/log Zoe")).text == en(
        "log.empty", student="Zoe Park"
    )
    assert said.text == en("link.refused_both")
    assert await record.rows(AccessLog, AccessLog.what == TeamChange.MERGED) == []


async def test_two_people_who_both_have_teams_are_not_joined_in_chat(
    school: DemoSchool, record: Record
) -> None:
    await join_as(school, DANA_ON_SLACK, "Maya", "parent")
    code = link_code(await school.say(school.parent, "/link"))

    said = await school.say(DANA_ON_SLACK, f"/link {code}")

    assert said.text == en("link.refused_both")
    assert said.buttons == []
    assert await record.person_id(DANA_ON_SLACK) != await record.person_id(school.parent)


async def off_every_team(school: DemoSchool, record: Record, sender: Sender) -> int:
    """The school took this person off every team they were on; their person id."""
    person_id = await record.person_id(sender)
    async with school.db.session() as session:
        store = Store(session)
        ctx = Context(store, school.clock, Settings(), Translator("en"), via=Via.CLI)
        for membership in await store.students.memberships_of(person_id):
            student = await store.students.get(membership.student_id)
            assert student is not None
            await team.remove_member(ctx, student, person_id)
    return person_id


async def test_an_account_with_teams_never_joins_a_code_of_someone_without(
    school: DemoSchool, record: Record
) -> None:
    await join_as(school, DANA_ON_SLACK, "Maya", "parent")
    await off_every_team(school, record, DANA_ON_SLACK)
    code = link_code(await school.say(DANA_ON_SLACK, "/link"))

    said = await school.say(school.parent, f"/link {code}")

    assert said.text == en("link.refused_turn_around")
    assert said.buttons == []


async def test_the_other_way_round_the_account_without_teams_joins_and_brings_its_notes(
    school: DemoSchool, record: Record
) -> None:
    await join_as(school, DANA_ON_SLACK, "Maya", "parent")
    await school.say(DANA_ON_SLACK, "+ Maya drew a cat")
    await school.say(DANA_ON_SLACK, "/log Maya")
    await off_every_team(school, record, DANA_ON_SLACK)
    code = link_code(await school.say(school.parent, "/link"))

    said = await redeem(school, DANA_ON_SLACK, code)

    assert said.text == (
        "Linked! This account is now part of Dana Rivera's profile. I moved its teams for 0 "
        "students and 1 note here too, so everything is in one place."
    )
    dana = await record.person_id(school.parent)
    assert await record.person_id(DANA_ON_SLACK) == dana
    assert [entry.author_id for entry in await record.entries("Maya")] == [dana]
    views = await record.access_log(actor=school.parent, action="view")
    assert [await record.student_id("Maya")] == [row.student_id for row in views]
    assert await record.people() == ["Dana Rivera", "Lee Chen", "Luis Rivera", "Ms. Ortiz"]


async def test_each_merge_is_in_the_record_of_every_student_it_touches(
    school: DemoSchool, record: Record
) -> None:
    await join_as(school, DANA_ON_SLACK, "Maya", "parent")
    await off_every_team(school, record, DANA_ON_SLACK)
    code = link_code(await school.say(school.parent, "/link"))

    await redeem(school, DANA_ON_SLACK, code)

    dana = await record.person_id(school.parent)
    merged = await record.rows(AccessLog, AccessLog.what == TeamChange.MERGED)
    assert [(row.student_id, row.subject_id) for row in merged] == [
        (await record.student_id("Sam"), dana)
    ]
    said = await school.say(school.spanish_parent, "/record Sam")
    assert translate("es", "record.team_change.merged", person="Dana Rivera") in said.text


async def test_a_new_account_linked_to_an_admin_gains_no_admin_rights_of_its_own(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.teacher, "/link"))

    await redeem(school, DANA_ON_TELEGRAM, code)

    # One person, Ms. Ortiz, on two accounts: still one admin of the school, not two.
    ortiz = await record.person_id(school.teacher)
    assert await record.person_id(DANA_ON_TELEGRAM) == ortiz
    assert len(await record.rows(Admin)) == 1
