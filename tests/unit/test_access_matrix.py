"""The access matrix (bot/access.py): every action by every kind of person, and a property test
that builds random schools and requests and finds no student's record in anyone else's hands."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from adapters.bootstrap import build_router
from bot import access, roster
from bot.access import MATRIX, Action
from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.events import ButtonPress, Chat, IncomingMessage, Reply, Sender
from storage.db import Database
from storage.models import (
    AccessAction,
    AccessLog,
    Entry,
    EntryKind,
    Outbox,
    PendingAction,
    Platform,
    Role,
    Setting,
    Student,
)
from storage.stores import Store
from storage.stores.students import StudentLink
from tests.conftest import START, DemoSchool, FakeClock
from tests.unit.conftest import Record, en, invite_code

# --- the matrix, cell by cell ----------------------------------------------------------------

# The table in docs/security.md. "own": only on entries the person wrote. Someone with no tie to
# the student (parent of another child, teacher off the team, admin of another school, unknown)
# may do nothing, so they have no column here.
EXPECTED: dict[Action, dict[str, str]] = {
    Action.READ: {"parent": "yes", "teacher": "yes", "admin": "yes"},
    Action.RECORD: {"parent": "yes", "teacher": "yes", "admin": "yes"},
    Action.GOALS: {"parent": "yes", "teacher": "yes", "admin": "yes"},
    Action.LOG: {"parent": "yes", "teacher": "yes", "admin": "yes"},
    Action.ANSWER: {"parent": "yes", "teacher": "yes", "admin": "yes"},
    Action.SET_GOAL: {"parent": "no", "teacher": "yes", "admin": "yes"},
    Action.INVITE_PARENT: {"parent": "no", "teacher": "yes", "admin": "yes"},
    Action.INVITE_TEACHER: {"parent": "no", "teacher": "yes", "admin": "yes"},
    Action.AMEND: {"parent": "yes", "teacher": "no", "admin": "no"},
    Action.DECIDE_AMEND: {"parent": "own", "teacher": "own", "admin": "yes"},
    Action.TEAM: {"parent": "no", "teacher": "yes", "admin": "yes"},
    Action.EXPORT: {"parent": "no", "teacher": "no", "admin": "yes"},
    Action.FORGET: {"parent": "no", "teacher": "no", "admin": "yes"},
}
SAM = Student(id=1, school_id=1, name="Sam Rivera", name_key="sam rivera")
LINKS = {
    "parent": StudentLink(SAM, Role.PARENT, is_admin=False),
    "teacher": StudentLink(SAM, Role.TEACHER, is_admin=False),
    "admin": StudentLink(SAM, None, is_admin=True),
}


def test_the_expected_table_covers_every_action() -> None:
    assert set(EXPECTED) == set(Action)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("tie", sorted(LINKS))
def test_each_tie_to_the_student_allows_what_the_table_says(tie: str, action: Action) -> None:
    assert access.permits(LINKS[tie], action) == (EXPECTED[action][tie] != "no")


@pytest.mark.parametrize("action", list(Action))
def test_no_tie_to_the_student_allows_nothing(action: Action) -> None:
    # A parent of another child, a teacher off the team, an admin of another school and a
    # stranger all reach access.py with no link to this student.
    assert not access.permits(None, action)


@pytest.mark.parametrize("tie", ["parent", "teacher"])
def test_a_team_member_decides_on_corrections_of_their_own_entries_only(tie: str) -> None:
    theirs = Entry(
        id=5,
        student_id=1,
        author_id=7,
        kind="win",
        setting="school",
        text="x",
        source_platform="console",
        created_at=START,
    )

    assert access.may_decide(LINKS[tie], theirs, person_id=7)
    assert not access.may_decide(LINKS[tie], theirs, person_id=8)


def test_an_admin_decides_on_any_correction_about_their_schools_students() -> None:
    entry = Entry(
        id=5,
        student_id=1,
        author_id=7,
        kind="win",
        setting="school",
        text="x",
        source_platform="console",
        created_at=START,
    )
    other_student = Entry(
        id=6,
        student_id=2,
        author_id=7,
        kind="win",
        setting="school",
        text="x",
        source_platform="console",
        created_at=START,
    )

    assert access.may_decide(LINKS["admin"], entry, person_id=99)
    assert not access.may_decide(LINKS["admin"], other_student, person_id=99)
    assert not access.may_decide(None, entry, person_id=7)


def test_the_cli_operator_is_the_schools_admin() -> None:
    link = access.school_admin(SAM)

    assert access.permits(link, Action.EXPORT) and access.permits(link, Action.FORGET)
    assert MATRIX[Role.ADMIN] == frozenset(Action) - {Action.AMEND}


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
    assert sam in [row.student_id for row in denied]
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


# --- property: random schools, random requests, no cross-student leak -------------------------

# First names with distinct two-letter prefixes, so a typed prefix means at most one of them.
FIRST_NAMES = ("Zorbak", "Quilla", "Vendra", "Marlo", "Tavish", "Oriel")
PEOPLE = ("Pat", "Kim", "Lou", "Ari", "Sol")
COMMANDS = (
    "/log {name}",
    "/week {name}",
    "/record {name}",
    "/goals {name}",
    "/students",
    "/questions",
    "/invite {name} parent",
    "/goal {name} tag: said",
    "/amend {entry} x",
    "/answer {entry} y",
    "+ {name} did a thing",
    "? {name} a question",
    "{name}: a note",
    "/undo",
    "press",
)


def marker(index: int) -> str:
    """A word only student `index`'s record contains."""
    return f"mk{index}q{FIRST_NAMES[index][::-1].lower()}"


@dataclass
class World:
    schools: int
    students: list[int]  # school index of each student
    ties: list[dict[int, str]]  # per person: student index -> "parent" / "teacher"
    admins: list[set[int]]  # per person: school indexes they administer
    requests: list[tuple[int, str, int, int]] = field(default_factory=list)

    def may_see(self, person: int, student: int) -> bool:
        return student in self.ties[person] or self.students[student] in self.admins[person]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    schools = draw(st.integers(1, 2))
    students = draw(st.lists(st.integers(0, schools - 1), min_size=1, max_size=len(FIRST_NAMES)))
    count = draw(st.integers(1, len(PEOPLE)))
    ties = [
        draw(
            st.dictionaries(
                st.integers(0, len(students) - 1),
                st.sampled_from(["parent", "teacher"]),
                max_size=3,
            )
        )
        for _ in range(count)
    ]
    admins = [draw(st.sets(st.integers(0, schools - 1), max_size=1)) for _ in range(count)]
    requests = draw(
        st.lists(
            st.tuples(
                st.integers(-1, count - 1),  # -1: a stranger
                st.sampled_from(COMMANDS),
                st.integers(0, len(FIRST_NAMES)),  # a student index; past the world's: nobody
                st.integers(1, len(students) * 2 + 2),  # an entry number
            ),
            min_size=1,
            max_size=10,
        )
    )
    return World(schools, students, ties, admins, requests)


def sender(person: int) -> Sender:
    name = PEOPLE[person] if person >= 0 else "Stranger"
    return Sender(Platform.CONSOLE, "", f"p-{name.lower()}", name)


async def build(db: Database, world: World) -> None:
    """The world in the database: each student has a win and a question carrying its marker."""
    async with db.session() as session:
        store = Store(session)
        schools = [
            await store.students.add_school(f"School {n}", "America/Chicago", "en")
            for n in range(world.schools)
        ]
        ids = []
        for index, school_index in enumerate(world.students):
            student = await roster.add_student(
                store, schools[school_index], f"{FIRST_NAMES[index]} Doe"
            )
            assert student.id is not None
            ids.append(student.id)
            await store.entries.set_goal(student.id, "focus", f"goal {marker(index)}")
        for person_index, ties in enumerate(world.ties):
            person = await store.people.add(PEOPLE[person_index], "en")
            assert person.id is not None
            who = sender(person_index)
            await store.people.add_account(
                person, who.platform, "", who.external_id, who.external_id
            )
            for student_index, role in ties.items():
                await store.students.add_membership(person.id, ids[student_index], role, "instant")
            for school_index in world.admins[person_index]:
                school = schools[school_index]
                assert school.id is not None
                await store.students.add_admin(person.id, school.id)
        for index, student_id in enumerate(ids):
            for kind in (EntryKind.WIN, EntryKind.QUESTION):
                await store.entries.add(
                    Entry(
                        student_id=student_id,
                        author_id=None,
                        kind=kind,
                        setting=Setting.SCHOOL,
                        text=f"{kind} {marker(index)}",
                        source_platform="console",
                        created_at=START,
                    )
                )


async def play(template: Path, world: World) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        shutil.copy(template, folder / "t.db")
        db = Database(f"sqlite+aiosqlite:///{folder / 't.db'}")
        try:
            await build(db, world)
            await check(db, world)
        finally:
            await db.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def check(db: Database, world: World) -> None:
    dispatcher = Dispatcher(db, Settings(), FakeClock(), build_router())
    known = range(len(world.students))
    for number, (person, command, target, entry) in enumerate(world.requests):
        who = sender(person)
        name = FIRST_NAMES[target] if target < len(FIRST_NAMES) else "Nobody"
        if command == "press":
            replies = await press_someone_elses_button(db, dispatcher, who, number)
        else:
            text = command.format(name=name, entry=entry)
            replies = await dispatcher.dispatch(
                IncomingMessage(
                    who, Chat(who.external_id), text, f"ev-{number}", message_ref=f"m-{number}"
                )
            )
        shown = "\n".join(reply.text for reply in replies)
        hidden = [index for index in known if person < 0 or not world.may_see(person, index)]
        for index in hidden:
            assert marker(index) not in shown, (command, name, shown)
            if index != target:  # a name the sender typed may be echoed back to them
                assert f"{FIRST_NAMES[index]} Doe" not in shown, (command, name, shown)
    await check_letters(db, world)


async def press_someone_elses_button(
    db: Database, dispatcher: Dispatcher, who: Sender, number: int
) -> list[Reply]:
    """Press a button token that belongs to another person: it must do nothing at all."""
    async with db.session() as session:
        account = await Store(session).people.account(who.platform, who.workspace, who.external_id)
        owner = account.person_id if account else -1
        tokens = [
            row.token
            for row in (await session.exec(select(PendingAction))).all()
            if row.person_id != owner
        ]
    if not tokens:
        return []
    replies = await dispatcher.dispatch(
        ButtonPress(who, Chat(who.external_id), tokens[0], f"press-{number}")
    )
    assert replies == []
    return replies


async def check_letters(db: Database, world: World) -> None:
    """Every queued letter about a student goes to someone who may see that student."""
    async with db.session() as session:
        store = Store(session)
        for letter in (await session.exec(select(Outbox))).all():
            if letter.student_id is None:
                continue
            links = await store.students.links_of(letter.person_id)
            assert letter.student_id in [link.student.id for link in links], letter


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(world=worlds())
def test_no_request_shows_anyone_a_student_they_are_not_tied_to(
    sqlite_template: Path, world: World
) -> None:
    asyncio.run(play(sqlite_template, world))


async def test_every_refusal_in_the_property_world_is_logged(school: DemoSchool) -> None:
    await school.say(school.parent_of_maya, "/record Sam")

    async with school.db.session() as session:
        rows = (await session.exec(select(AccessLog))).all()

    assert [(row.action, row.detail) for row in rows] == [("denied", "record: Sam")]


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
