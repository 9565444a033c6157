"""Teams change: what a removal, an archived student and the nightly purge leave behind, seen
through chat and the record (the CLI side is tests/unit/test_team_cli.py)."""

from __future__ import annotations

from datetime import timedelta

from adapters.telegram_config import TelegramConfig
from bot import invites, roster, team
from bot.blocked_notice import PLATFORM_NAMES
from bot.config import Settings
from bot.context import Context
from bot.demo import DEMO_SCHOOL
from bot.i18n import Translator
from storage.models import (
    AccessAction,
    AccessLog,
    Account,
    Invite,
    Outbox,
    Person,
    Platform,
    Role,
    TeamChange,
    Via,
)
from storage.stores import Store
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, Record, en


async def remove(school: DemoSchool, student: str, person_id: int) -> team.Removed:
    """The office takes someone off a student's team (what `tandem team remove` runs)."""
    async with school.db.session() as session:
        store = Store(session)
        found = await store.students.school_named(DEMO_SCHOOL)
        assert found is not None
        pupil = await roster.student_named(store, found, student)
        ctx = Context(store, school.clock, Settings(), Translator("en"), via=Via.CLI)
        return await team.remove_member(ctx, pupil, person_id)


# --- the nightly purge ----------------------------------------------------------------------------


async def make_invite(school: DemoSchool, hours: float) -> Invite:
    async with school.db.session() as session:
        store = Store(session)
        found = await store.students.school_named(DEMO_SCHOOL)
        assert found is not None
        settings = Settings()
        new = await invites.create_invite(
            store,
            settings,
            school.clock.now() - timedelta(hours=168) + timedelta(hours=hours),
            found,
            None,
            Role.TEACHER,
            None,
        )
        return new.invite


async def test_purge_deletes_invites_unused_a_month_past_their_expiry(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    long_gone = await make_invite(school, -31 * 24)
    just_expired = await make_invite(school, -24)
    open_ = await make_invite(school, 24)

    purged = await mail.purge()

    assert purged["invites"] == 1
    kept = {invite.id for invite in await record.rows(Invite)}
    assert kept == {just_expired.id, open_.id} and long_gone.id not in kept


async def test_purge_deletes_people_left_with_no_team_and_no_school(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.parent_of_maya, "+ Maya drew a cat")
    lee = await record.person_id(school.parent_of_maya)
    await remove(school, "Maya", lee)

    purged = await mail.purge()

    assert purged["people"] == 1
    assert await record.people() == ["Dana Rivera", "Luis Rivera", "Ms. Ortiz"]
    assert [entry.author_id for entry in await record.entries("Maya")] == [None]
    said = await school.say(school.parent_of_maya, "/log Maya")
    assert said.text == en("onboarding.stranger")


async def test_purge_keeps_admins_with_no_team(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    ortiz = await record.person_id(school.teacher)
    await remove(school, "Sam", ortiz)
    await remove(school, "Maya", ortiz)

    await mail.purge()

    assert "Ms. Ortiz" in await record.people()


async def test_purge_deletes_letters_to_a_platform_no_longer_enabled(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    dana = await record.person_id(school.parent)
    async with school.db.session() as session:
        store = Store(session)
        person = await store.people.get(dana)
        assert person is not None
        telegram = await store.people.add_account(person, Platform.TELEGRAM, "", "5001", "5001")
        console = await store.people.account(Platform.CONSOLE, "", school.parent.external_id)
        assert console is not None
        for n, account in enumerate([telegram, console]):
            assert account.id is not None
            session.add(
                Outbox(
                    dedupe_key=f"test:{n}",
                    person_id=dana,
                    account_id=account.id,
                    kind="summary",
                    not_before=school.clock.now(),
                )
            )

    with_telegram = Settings(platforms={"telegram": TelegramConfig(enabled=True, token="1:x")})
    assert (await mail.purge(with_telegram))["undeliverable"] == 0
    purged = await mail.purge()

    assert purged["undeliverable"] == 1
    [left] = await record.rows(Outbox)
    [account] = await record.rows(Account, Account.id == left.account_id)
    assert account.platform == Platform.CONSOLE
    assert await record.rows(Person, Person.id == dana)


# --- after a removal --------------------------------------------------------------------------


async def test_a_removed_parent_can_no_longer_undo_or_edit_their_note(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.parent, "+ Sam tied his shoes", message_ref="m-1")
    await remove(school, "Sam", await record.person_id(school.parent))

    edited = await school.say(school.parent, "/undo")
    await school.edit(school.parent, "m-1", "+ Sam never tied his shoes")

    assert edited.text == en("entry.nothing_to_undo")
    assert [entry.text for entry in await record.entries("Sam")] == ["Sam tied his shoes"]


async def test_a_removed_parent_writes_nothing_more_about_the_student(
    school: DemoSchool, record: Record
) -> None:
    await remove(school, "Sam", await record.person_id(school.parent))

    said = await school.say(school.parent, "+ Sam read a page")

    assert said.text == en("students.none")
    assert await record.entries("Sam") == []


async def test_removal_keeps_what_they_wrote_in_the_record(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.parent, "+ Sam tied his shoes")
    await remove(school, "Sam", await record.person_id(school.parent))

    log = await school.say(school.teacher, "/log Sam")

    assert "tied his shoes" in log.text and "Dana Rivera" in log.text


async def test_an_archived_student_is_listed_as_archived(school: DemoSchool) -> None:
    await archive(school, "Sam")

    said = await school.say(school.parent, "/students")

    assert en("students.line_archived", student="Sam Rivera", role="parent") in said.text


async def test_a_parent_whose_only_student_is_archived_is_told_so_kindly(
    school: DemoSchool,
) -> None:
    await archive(school, "Sam")

    said = await school.say(school.parent, "slept badly last night")

    assert said.text == en("student.archived", student="Sam Rivera")


async def test_an_archived_students_goals_cannot_be_set_and_invites_cannot_be_made(
    school: DemoSchool, record: Record
) -> None:
    await archive(school, "Sam")

    goal = await school.say(school.teacher, "/goal Sam calm: breathes")
    invite = await school.say(school.teacher, "/invite Sam parent")

    assert goal.text == invite.text == en("student.archived", student="Sam Rivera")
    assert await record.goal("Sam", "calm") is None


async def archive(school: DemoSchool, student: str, archived: bool = True) -> None:
    async with school.db.session() as session:
        store = Store(session)
        found = await store.students.school_named(DEMO_SCHOOL)
        assert found is not None
        pupil = await roster.student_named(store, found, student)
        ctx = Context(store, school.clock, Settings(), Translator("en"), via=Via.CLI)
        await team.set_archived(ctx, pupil, archived)


# --- team changes in the access log, as the family reads them ---------------------------------


async def team_rows(record: Record) -> list[tuple[int | None, str, int | None, str | None]]:
    rows = await record.rows(AccessLog, AccessLog.action == AccessAction.TEAM)
    return [(row.student_id, row.what, row.subject_id, row.role) for row in rows]


async def test_a_removal_is_in_the_record_saying_who_was_removed_by_whom(
    school: DemoSchool, record: Record
) -> None:
    luis = await record.person_id(school.spanish_parent)
    await remove(school, "Sam", luis)

    said = await school.say(school.parent, "/record Sam")

    removed = en("record.team_change.removed", person="Luis Rivera", role=en("role.parent"))
    assert f"{en('record.the_school')} · {removed}" in said.text
    sam = await record.student_id("Sam")
    assert await team_rows(record) == [(sam, TeamChange.REMOVED, luis, Role.PARENT)]


async def test_archiving_and_bringing_back_are_in_the_record(
    school: DemoSchool, record: Record
) -> None:
    await archive(school, "Sam")
    await archive(school, "Sam", archived=False)

    sam = await record.student_id("Sam")
    assert await team_rows(record) == [
        (sam, TeamChange.ARCHIVED, None, None),
        (sam, TeamChange.UNARCHIVED, None, None),
    ]


# --- /team in chat ------------------------------------------------------------------------------


async def test_team_lists_the_members_with_remove_under_each_other_one(
    school: DemoSchool,
) -> None:
    said = await school.say(school.teacher, "/team Sam")

    console = en("platform.console")
    assert said.text.splitlines() == [
        en("team.title", student="Sam Rivera"),
        en("team.line", name="Ms. Ortiz", role=en("role.teacher"), platforms=console),
        en("team.line", name="Dana Rivera", role=en("role.parent"), platforms=console),
        en("team.line", name="Luis Rivera", role=en("role.parent"), platforms=console),
    ]
    assert [button.label for button in said.buttons] == ["Remove Dana Rivera", "Remove Luis Rivera"]


def test_every_platform_has_its_own_name_in_the_team_list_and_the_blocked_notice() -> None:
    names = [en(PLATFORM_NAMES[platform]) for platform in Platform]

    assert names == ["Telegram", "Slack", "email", "the console"]


async def test_a_parent_gets_no_team_list(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/team Sam")

    assert said.text == en("students.not_found")
    assert said.buttons == []


async def test_remove_asks_once_more_and_changes_nothing_until_yes(
    school: DemoSchool,
) -> None:
    listed = await school.say(school.teacher, "/team Sam")

    asked = await school.press(school.teacher, listed.button("Remove Dana Rivera"))

    assert asked.text == en("team.confirm_remove", name="Dana Rivera", student="Sam Rivera")
    assert [button.label for button in asked.buttons] == ["Yes, remove", "Cancel"]
    assert (await school.say(school.parent, "/log Sam")).text == en(
        "log.empty", student="Sam Rivera"
    )


async def test_yes_takes_them_off_the_team_and_the_record_says_who_did(
    school: DemoSchool, record: Record
) -> None:
    listed = await school.say(school.teacher, "/team Sam")
    asked = await school.press(school.teacher, listed.button("Remove Dana Rivera"))

    done = await school.press(school.teacher, asked.button("Yes, remove"))

    assert done.text == en("team.removed", name="Dana Rivera", student="Sam Rivera")
    assert (await school.say(school.parent, "/log Sam")).text == en("students.not_found")
    [row] = await record.rows(AccessLog, AccessLog.what == TeamChange.REMOVED)
    assert (row.actor_id, row.subject_id, row.via) == (
        await record.person_id(school.teacher),
        await record.person_id(school.parent),
        Via.CHAT,
    )
    again = await school.press(school.teacher, listed.button("Remove Dana Rivera"))
    assert again.replies == []  # that button was retired with the removal


async def test_cancel_removes_nobody(school: DemoSchool) -> None:
    listed = await school.say(school.teacher, "/team Sam")
    asked = await school.press(school.teacher, listed.button("Remove Dana Rivera"))

    kept = await school.press(school.teacher, asked.button("Cancel"))
    late_yes = await school.press(school.teacher, asked.button("Yes, remove"))

    assert kept.text == en("team.kept", name="Dana Rivera", student="Sam Rivera")
    assert late_yes.replies == []
    assert (await school.say(school.parent, "/log Sam")).text == en(
        "log.empty", student="Sam Rivera"
    )


async def test_the_team_of_an_archived_student_can_still_change(school: DemoSchool) -> None:
    await archive(school, "Sam")
    listed = await school.say(school.teacher, "/team Sam")
    asked = await school.press(school.teacher, listed.button("Remove Luis Rivera"))

    done = await school.press(school.teacher, asked.button("Yes, remove"))

    assert done.text == en("team.removed", name="Luis Rivera", student="Sam Rivera")
