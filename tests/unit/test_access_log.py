"""The access log as a family and an auditor read it: refusals stay in the refuser's own
schools and do not name outsiders to families (issue 13, hole 8); team changes are in it
(hole 12)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import access, invites, roster
from bot.access import Action
from bot.i18n import translate
from storage.models import (
    AccessAction,
    AccessLog,
    AmendmentStatus,
    ExportFormat,
    Read,
    Role,
    TeamChange,
    Via,
)
from storage.stores import Store
from tests.conftest import DemoSchool
from tests.unit.conftest import Record, en, invite_code
from tests.unit.test_access_in_chat import NG, add_outsiders

HARBOR = "Harbor School"


async def add_harbors_sam(school: DemoSchool) -> int:
    """A second school (Harbor, with Ms. Ng as admin) and a Sam of its own there."""
    await add_outsiders(school)
    async with school.db.session() as session:
        store = Store(session)
        harbor = await store.students.school_named(HARBOR)
        assert harbor is not None
        other_sam = await roster.add_student(store, harbor, "Sam Okafor")
        assert other_sam.id is not None
        return other_sam.id


# --- hole 8: a refusal stays in the refuser's schools, and names no outsider to a family -------


async def test_a_refusal_about_a_name_two_schools_share_is_logged_only_in_the_refusers_school(
    school: DemoSchool, record: Record
) -> None:
    harbors_sam = await add_harbors_sam(school)

    await school.say(school.parent_of_maya, "/log Sam")

    denied = await record.access_log(school.parent_of_maya, AccessAction.DENIED)
    assert [row.student_id for row in denied] == [await record.student_id("Sam")]
    assert await record.rows(AccessLog, AccessLog.student_id == harbors_sam) == []


async def test_a_refusal_by_someone_of_another_school_is_logged_against_no_student(
    school: DemoSchool, record: Record
) -> None:
    await add_harbors_sam(school)

    await school.say(NG, "/log Sam Rivera")

    [denied] = await record.access_log(NG, AccessAction.DENIED)
    assert (denied.student_id, denied.school_id, denied.what) == (None, None, Action.READ)
    assert (
        await record.rows(AccessLog, AccessLog.student_id == await record.student_id("Sam")) == []
    )


async def test_sams_family_reads_someone_outside_the_team_and_the_teacher_reads_who(
    school: DemoSchool,
) -> None:
    await school.say(school.parent_of_maya, "/week Sam")

    mother = await school.say(school.parent, "/record Sam")
    father = await school.say(school.spanish_parent, "/record Sam")
    teacher = await school.say(school.teacher, "/record Sam")

    refused = en("record.action.denied")
    assert f"{en('record.outsider')} · {refused}" in mother.text
    assert "Lee Chen" not in mother.text
    outsider_es = translate("es", "record.outsider")
    assert f"{outsider_es} · {translate('es', 'record.action.denied')}" in father.text
    assert "Lee Chen" not in father.text
    assert f"Lee Chen · {refused}" in teacher.text


async def test_a_refusal_by_a_team_member_names_them_to_the_family(school: DemoSchool) -> None:
    # Dana may not set Sam's goals; she is on Sam's team, so she is no outsider.
    await school.say(school.parent, "/goal Sam reading: two pages a night")

    said = await school.say(school.parent, "/record Sam")

    assert f"Dana Rivera · {en('record.action.denied')}" in said.text


# --- hole 12: who may see the record changing is in the record ----------------------------------


async def test_an_invite_made_and_redeemed_appear_in_the_record(
    school: DemoSchool, record: Record
) -> None:
    grandma = DemoSchool.stranger("Grandma")
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    await school.say(grandma, f"/start {code}")

    said = await school.say(school.parent, "/record Sam")

    parent = en("role.parent")
    assert f"Ms. Ortiz · {en('record.team_change.invited', role=parent)}" in said.text
    assert f"Grandma · {en('record.team_change.joined', role=parent)}" in said.text
    sam = await record.student_id("Sam")
    rows = await record.rows(AccessLog, AccessLog.action == AccessAction.TEAM)
    assert [(row.student_id, row.what, row.role, row.subject_id) for row in rows] == [
        (sam, TeamChange.INVITED, Role.PARENT, None),
        (sam, TeamChange.JOINED, Role.PARENT, await record.person_id(grandma)),
    ]


async def test_a_new_admin_of_the_school_appears_in_every_record_of_it(
    school: DemoSchool, record: Record
) -> None:
    async with school.db.session() as session:
        store = Store(session)
        maple = await store.students.school_named("Maple Elementary (demo)")
        assert maple is not None
        made = await invites.create_invite(
            store, school.dispatcher.settings, school.clock.now(), maple, None, Role.ADMIN, None
        )
    principal = DemoSchool.stranger("Principal Diaz")
    await school.say(principal, f"/start {made.code}")

    sam = await school.say(school.parent, "/record Sam")
    maya = await school.say(school.parent_of_maya, "/record Maya")

    admin = en("role.admin")
    for said in (sam, maya):
        school_office = en("record.the_school")
        assert f"{school_office} · {en('record.team_change.invited', role=admin)}" in said.text
        assert f"Principal Diaz · {en('record.team_change.joined', role=admin)}" in said.text


async def test_every_team_change_reads_in_the_readers_language(school: DemoSchool) -> None:
    async with school.db.session() as session:
        store = Store(session)
        sam = await roster.student_named(store, (await store.students.schools())[0], "Sam")
        dana = await store.people.account(
            school.parent.platform, school.parent.workspace, school.parent.external_id
        )
        assert dana is not None
        for change in TeamChange:
            row = access.to_row(
                access.TeamChanged(change, dana.person_id, Role.PARENT),
                datetime(2026, 11, 26, 16, 0, tzinfo=UTC),
                None,
                Via.CLI,
                sam,
            )
            await store.records.add_access_log(row)

    father = await school.say(school.spanish_parent, "/record Sam")

    for change in TeamChange:
        line = translate(
            "es",
            f"record.team_change.{change}",
            person="Dana Rivera",
            role=translate("es", "role.parent"),
        )
        assert f"{translate('es', 'record.the_school')} · {line}" in father.text


# --- the pair: an event and its row -------------------------------------------------------------


def test_every_kind_of_event_reads_back_from_its_row() -> None:
    at = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    events: list[access.Logged] = [
        access.Viewed(Read.LOG, 10),
        access.Viewed(Read.RECORD),
        access.Exported(ExportFormat.CSV),
        access.Shared(5, 2),
        access.Denied(Action.AMEND),
        access.Amended(3, 5, AmendmentStatus.DECLINED),
        access.Forgotten(9),
        access.TeamChanged(TeamChange.REMOVED, 4, Role.TEACHER),
        access.TeamChanged(TeamChange.ARCHIVED),
    ]

    for event in events:
        assert access.from_row(access.to_row(event, at, 1, Via.CHAT, None)) == event


def test_a_row_whose_columns_make_no_sense_reads_as_nothing_in_particular() -> None:
    at = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    odd = AccessLog(at=at, action=AccessAction.VIEW, what="", legacy_detail="looked around")

    assert access.from_row(odd) is None
