"""One person on two platforms: `/link` on one account, `/link CODE` on the other."""

from __future__ import annotations

import re

from bot.events import Sender
from bot.handlers.link import MAX_WRONG_CODES
from storage.models import AccessLog, Account, Entry, PendingAction, Platform
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

    said = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    assert said.text == en("link.joined", name="Dana Rivera")
    assert await record.person_id(DANA_ON_TELEGRAM) == await record.person_id(school.parent)
    assert await record.people() == ["Dana Rivera", "Lee Chen", "Luis Rivera", "Ms. Ortiz"]


async def test_the_linked_account_reads_what_the_person_may_read(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    code = link_code(await school.say(school.parent, "/link"))
    await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    said = await school.say(DANA_ON_TELEGRAM, "/log Sam")

    assert "read a whole page aloud" in said.text


async def test_the_new_account_is_reached_in_the_chat_it_linked_from(
    school: DemoSchool, record: Record
) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    await school.say(DANA_ON_SLACK, f"/link {code}")

    [account] = await record.rows(Account, Account.platform == Platform.SLACK)
    assert (account.workspace, account.external_id) == ("T0SCHOOL", "U0DANA")
    assert account.dm_chat_id == DANA_ON_SLACK.external_id  # the harness's chat id
    assert account.active


async def test_the_code_may_be_typed_in_small_letters_without_the_dash(
    school: DemoSchool,
) -> None:
    code = link_code(await school.say(school.parent, "/link"))

    said = await school.say(DANA_ON_TELEGRAM, f"/link {code.replace('-', ' ').lower()}")

    assert said.text == en("link.joined", name="Dana Rivera")


async def test_the_code_works_once(school: DemoSchool, record: Record) -> None:
    code = link_code(await school.say(school.parent, "/link"))
    await school.say(DANA_ON_TELEGRAM, f"/link {code}")

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
    accepted = await school.say(DANA_ON_TELEGRAM, f"/link {new}")

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

    said = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    assert said.text == en("link.joined", name="Dana Rivera")


async def test_wrong_codes_stop_counting_after_an_hour(school: DemoSchool) -> None:
    for _ in range(MAX_WRONG_CODES):
        await school.say(DANA_ON_TELEGRAM, "/link AAAA-AAAA")
    school.clock.advance(hours=1, seconds=1)
    code = link_code(await school.say(school.parent, "/link"))

    said = await school.say(DANA_ON_TELEGRAM, f"/link {code}")

    assert said.text == en("link.joined", name="Dana Rivera")


# --- merging two people -----------------------------------------------------------------------


async def test_an_account_that_was_already_someone_brings_its_teams_and_notes(
    school: DemoSchool, record: Record
) -> None:
    await join_as(school, DANA_ON_SLACK, "Maya", "parent")
    await school.say(DANA_ON_SLACK, "+ Maya drew a cat")
    code = link_code(await school.say(school.parent, "/link"))

    said = await school.say(DANA_ON_SLACK, f"/link {code}")

    assert said.text == (
        "Linked! This account is now part of Dana Rivera's profile. I moved its team for 1 student "
        "and 1 note here too, so everything is in one place."
    )
    dana = await record.person_id(school.parent)
    assert await record.person_id(DANA_ON_SLACK) == dana
    assert [entry.author_id for entry in await record.entries("Maya")] == [dana]
    assert await record.people() == ["Dana Rivera", "Lee Chen", "Luis Rivera", "Ms. Ortiz"]


async def test_after_merging_either_account_sees_both_teams(school: DemoSchool) -> None:
    await join_as(school, DANA_ON_SLACK, "Maya", "parent")
    code = link_code(await school.say(school.parent, "/link"))
    await school.say(DANA_ON_SLACK, f"/link {code}")

    said = await school.say(school.parent, "/students")

    assert "Maya Chen (parent)" in said.text
    assert "Sam Rivera (parent)" in said.text


async def test_merging_keeps_the_access_log_of_both_accounts(
    school: DemoSchool, record: Record
) -> None:
    await join_as(school, DANA_ON_SLACK, "Maya", "parent")
    await school.say(DANA_ON_SLACK, "/log Maya")
    await school.say(school.parent, "/log Sam")
    code = link_code(await school.say(school.parent, "/link"))
    await school.say(DANA_ON_SLACK, f"/link {code}")

    views = await record.access_log(actor=school.parent, action="view")

    assert sorted((row.what, row.count) for row in views) == [("log", 10), ("log", 10)]
    assert len(await record.rows(AccessLog, AccessLog.action == "view")) == 2


async def test_a_team_both_accounts_share_in_one_role_is_kept_once(
    school: DemoSchool, record: Record
) -> None:
    await join_as(school, DANA_ON_SLACK, "Sam", "parent")
    code = link_code(await school.say(school.parent, "/link"))

    said = await school.say(DANA_ON_SLACK, f"/link {code}")

    assert said.text == en("link.joined", name="Dana Rivera")
    students = await school.say(DANA_ON_SLACK, "/students")
    assert students.text.count("Sam Rivera") == 1


async def test_accounts_on_one_team_in_different_roles_are_not_merged(
    school: DemoSchool, record: Record
) -> None:
    await join_as(school, DANA_ON_SLACK, "Sam", "teacher")
    await school.say(DANA_ON_SLACK, "+ Sam read a page")
    code = link_code(await school.say(school.parent, "/link"))

    said = await school.say(DANA_ON_SLACK, f"/link {code}")

    assert said.text == en("link.conflict", students="Sam Rivera")
    assert await record.person_id(DANA_ON_SLACK) != await record.person_id(school.parent)
    [entry] = await record.rows(Entry)
    assert entry.author_id == await record.person_id(DANA_ON_SLACK)
    assert "Dana (Slack)" in await record.people()
