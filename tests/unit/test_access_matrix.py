"""The access matrix (bot/access.py): every action by every kind of person, and a property test
that builds random schools and requests, takes people off teams, archives students and revokes
invites half-way, and finds no student's record in anyone else's hands."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from adapters.bootstrap import build_router
from bot import access, invites, roster, team
from bot.access import MATRIX, Action
from bot.config import Settings
from bot.context import Context
from bot.dispatch import Dispatcher
from bot.events import ButtonPress, Chat, IncomingMessage, Reply, Sender
from bot.i18n import Translator
from storage.db import Database
from storage.models import (
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
from tests.conftest import START, FakeClock

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


# What an archived student's record still allows its team (the rest of the table): reading,
# corrections, changes to the team, export and forget; nothing new is written into it.
STILL_ON_ARCHIVED = {
    Action.READ,
    Action.RECORD,
    Action.GOALS,
    Action.AMEND,
    Action.DECIDE_AMEND,
    Action.TEAM,
    Action.EXPORT,
    Action.FORGET,
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("tie", sorted(LINKS))
def test_an_archived_students_record_stays_readable_and_takes_nothing_new(
    tie: str, action: Action
) -> None:
    archived = Student(id=1, school_id=1, name="Sam Rivera", name_key="sam rivera", archived=True)
    link = StudentLink(archived, LINKS[tie].role, is_admin=LINKS[tie].is_admin)

    allowed = EXPECTED[action][tie] != "no" and action in STILL_ON_ARCHIVED
    assert access.permits(link, action) == allowed


def test_the_cli_operator_is_the_schools_admin() -> None:
    link = access.school_admin(SAM)

    assert access.permits(link, Action.EXPORT) and access.permits(link, Action.FORGET)
    assert MATRIX[Role.ADMIN] == frozenset(Action) - {Action.AMEND}


# --- property: random schools, random requests, no cross-student leak -------------------------
#
# The world lives through two phases of requests. Between them the office takes some people off
# some teams, archives some students and revokes some of the invites a newcomer holds. After
# that, a removed member reads, writes and is sent nothing more about the student; an archived
# student's record takes nothing new; a revoked code lets nobody in.

# First names with distinct two-letter prefixes, so a typed prefix means at most one of them.
FIRST_NAMES = ("Zorbak", "Quilla", "Vendra", "Marlo", "Tavish", "Oriel")
PEOPLE = ("Pat", "Kim", "Lou", "Ari", "Sol")
STRANGER_INDEX, NEWCOMER_INDEX = -1, -2  # a stranger; someone holding an invite per student
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
    "/start {code}",
    "press",
)

Request = tuple[int, str, int, int]  # person, command, student index, entry number


def marker(index: int) -> str:
    """A word only student `index`'s record contains."""
    return f"mk{index}q{FIRST_NAMES[index][::-1].lower()}"


@dataclass
class World:
    schools: int
    students: list[int]  # school index of each student
    ties: list[dict[int, str]]  # per person: student index -> "parent" / "teacher"
    admins: list[set[int]]  # per person: school indexes they administer
    requests: list[Request] = field(default_factory=list)
    # Between the phases: memberships taken away, students archived, newcomer invites revoked.
    removed: set[tuple[int, int]] = field(default_factory=set)
    archived: set[int] = field(default_factory=set)
    revoked: set[int] = field(default_factory=set)
    later: list[Request] = field(default_factory=list)

    def may_see(self, person: int, student: int, later: bool = False) -> bool:
        """Whether the person may read the student's record in that phase. The newcomer may
        have joined any team with its code; once `revoked` holds the invites actually revoked
        (unused ones), they are checked where they must see nothing."""
        if person == NEWCOMER_INDEX:
            return not later or student not in self.revoked
        if person < 0:
            return False
        on_team = student in self.ties[person] and not (later and (person, student) in self.removed)
        return on_team or self.students[student] in self.admins[person]

    def may_write(self, person: int, student: int, later: bool) -> bool:
        return self.may_see(person, student, later) and not (later and student in self.archived)


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
    memberships = sorted((person, student) for person, tied in enumerate(ties) for student in tied)
    students_drawn = st.sets(st.integers(0, len(students) - 1), max_size=len(students))

    def requests() -> st.SearchStrategy[list[Request]]:
        return st.lists(
            st.tuples(
                st.integers(NEWCOMER_INDEX, count - 1),
                st.sampled_from(COMMANDS),
                # A student index (past the world's: nobody; -1: the sender's first student).
                st.integers(-1, len(FIRST_NAMES)),
                st.integers(1, len(students) * 2 + 2),  # an entry number
            ),
            min_size=1,
            max_size=8,
        )

    return World(
        schools,
        students,
        ties,
        admins,
        draw(requests()),
        removed=draw(st.sets(st.sampled_from(memberships))) if memberships else set(),
        archived=draw(students_drawn),
        revoked=draw(students_drawn),
        later=draw(requests()),
    )


def sender(person: int) -> Sender:
    name = {STRANGER_INDEX: "Stranger", NEWCOMER_INDEX: "Neo"}.get(person) or PEOPLE[person]
    return Sender(Platform.CONSOLE, "", f"p-{name.lower()}", name)


async def build(db: Database, world: World) -> dict[int, str]:
    """The world in the database: each student has a win and a question carrying its marker,
    and an unused invite to its team for the newcomer; the invite codes by student."""
    async with db.session() as session:
        store = Store(session)
        schools = [
            await store.students.add_school(f"School {n}", "America/Chicago", "en")
            for n in range(world.schools)
        ]
        ids, codes = [], {}
        for index, school_index in enumerate(world.students):
            student = await roster.add_student(
                store, schools[school_index], f"{FIRST_NAMES[index]} Doe"
            )
            assert student.id is not None
            ids.append(student.id)
            await store.entries.set_goal(student.id, "focus", f"goal {marker(index)}")
            new = await invites.create_invite(
                store, Settings(), START, schools[school_index], student, Role.PARENT, None
            )
            codes[index] = new.code
        for person_index, ties in enumerate(world.ties):
            person = await store.people.add(PEOPLE[person_index], "en")
            assert person.id is not None
            who = sender(person_index)
            account = await store.people.add_account(
                person, who.platform, "", who.external_id, who.external_id
            )
            for student_index, role in ties.items():
                await store.students.add_membership(person.id, ids[student_index], role, "instant")
                # A summary waiting to go out: a removal must cancel it.
                await store.outbox.add(
                    Outbox(
                        dedupe_key=f"summary:{ids[student_index]}:{person.id}",
                        person_id=person.id,
                        account_id=account.id or 0,
                        student_id=ids[student_index],
                        kind="summary",
                        payload={"text": marker(student_index)},
                        not_before=START,
                    )
                )
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
    return codes


async def play(template: Path, world: World) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        shutil.copy(template, folder / "t.db")
        db = Database(f"sqlite+aiosqlite:///{folder / 't.db'}")
        try:
            codes = await build(db, world)
            await check(db, world, codes)
        finally:
            await db.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def check(db: Database, world: World, codes: dict[int, str]) -> None:
    dispatcher = Dispatcher(db, Settings(), FakeClock(), build_router())
    await ask(dispatcher, db, world, codes, world.requests, later=False)
    before = await written(db)
    world = replace(world, revoked=await change_teams(db, world, codes))
    await ask(dispatcher, db, world, codes, world.later, later=True)
    await check_writes(db, world, before)
    await check_letters(db, world, before.letters)


async def ask(
    dispatcher: Dispatcher,
    db: Database,
    world: World,
    codes: dict[int, str],
    requests: list[Request],
    *,
    later: bool,
) -> None:
    """Send one phase's requests; no reply may show a record its reader may not see."""
    known = range(len(world.students))
    for number, (person, command, target, entry) in enumerate(requests):
        if command == "/start {code}":
            person = NEWCOMER_INDEX  # the codes are the newcomer's: someone else's would join
        who = sender(person)
        if target < 0:  # most requests are about one's own students: these are worth trying
            target = min(world.ties[person], default=0) if person >= 0 else 0
        name = FIRST_NAMES[target] if target < len(FIRST_NAMES) else "Nobody"
        event = f"{'later' if later else 'first'}-{number}"
        if command == "press":
            replies = await press_someone_elses_button(db, dispatcher, who, event)
        else:
            text = command.format(name=name, entry=entry, code=codes.get(target, "nocode"))
            replies = await dispatcher.dispatch(
                IncomingMessage(who, Chat(who.external_id), text, event, message_ref=event)
            )
        shown = "\n".join(reply.text for reply in replies)
        for index in known:
            if world.may_see(person, index, later):
                continue
            assert marker(index) not in shown, (command, name, shown)
            if index != target:  # a name the sender typed may be echoed back to them
                assert f"{FIRST_NAMES[index]} Doe" not in shown, (command, name, shown)


async def change_teams(db: Database, world: World, codes: dict[int, str]) -> set[int]:
    """The office between the phases: removals, archiving, revoked invites (the CLI's core);
    the students whose invite was revoked (one already used cannot be)."""
    revoked = set()
    async with db.session() as session:
        store = Store(session)
        ctx = Context(store, FakeClock(), Settings(), Translator("en"))
        students = sorted(
            (await session.exec(select(Student))).all(), key=lambda student: student.id or 0
        )
        for person, index in sorted(world.removed):
            account = await store.people.account(Platform.CONSOLE, "", sender(person).external_id)
            assert account is not None
            if await store.students.membership(account.person_id, students[index].id or 0):
                await team.remove_member(ctx, students[index], account.person_id)
        for index in sorted(world.revoked):
            invite = await store.invites.by_hash(invites.hash_code(codes[index], ""))
            if invite is not None and invite.used_at is None:
                await team.revoke_invite(ctx, invite)
                revoked.add(index)
        for index in sorted(world.archived):
            await team.set_archived(ctx, students[index], True)
    return revoked


@dataclass(frozen=True)
class Written:
    """What the first phase left: its entries (id -> author, student) and the last letter."""

    entries: dict[int, tuple[int | None, int]]
    letters: int


async def written(db: Database) -> Written:
    async with db.session() as session:
        entries = (await session.exec(select(Entry))).all()
        letters = (await session.exec(select(Outbox.id))).all()
    return Written(
        {entry.id or 0: (entry.author_id, entry.student_id) for entry in entries},
        max([letter or 0 for letter in letters], default=0),
    )


async def world_people(db: Database, world: World) -> dict[int, int]:
    """Each person's index in the world by their id in the database."""
    async with db.session() as session:
        store = Store(session)
        found = {}
        for person in [*range(len(world.ties)), NEWCOMER_INDEX]:
            account = await store.people.account(Platform.CONSOLE, "", sender(person).external_id)
            if account is not None:
                found[account.person_id] = person
        return found


async def check_writes(db: Database, world: World, before: Written) -> None:
    """Every entry was written, and every first-phase entry undone, by someone allowed to."""
    people = await world_people(db, world)
    async with db.session() as session:
        student_ids = sorted((await session.exec(select(Student.id))).all(), key=lambda i: i or 0)
        entries = (await session.exec(select(Entry))).all()
    index_of = {student_id: index for index, student_id in enumerate(student_ids)}
    for entry in entries:
        if entry.author_id is None:
            continue
        later = (entry.id or 0) not in before.entries
        person, student = people[entry.author_id], index_of[entry.student_id]
        assert not (later and student in world.archived), (entry.text, student)
        if person == NEWCOMER_INDEX:
            assert student not in world.revoked or not later, entry
        else:
            assert world.may_write(person, student, later), (entry.text, person, student)
    kept = {entry.id for entry in entries}
    for entry_id, (author, student_id) in before.entries.items():
        if entry_id not in kept and author is not None and people.get(author, -3) >= 0:
            assert world.may_write(people[author], index_of[student_id], True), entry_id


async def press_someone_elses_button(
    db: Database, dispatcher: Dispatcher, who: Sender, event: str
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
        ButtonPress(who, Chat(who.external_id), tokens[0], f"press-{event}")
    )
    assert replies == []
    return replies


async def check_letters(db: Database, world: World, first_phase: int) -> None:
    """Every queued letter about a student goes to someone who may see that student still, and
    none written after the changes is about an archived student (but a correction's: the
    record stays correctable)."""
    async with db.session() as session:
        store = Store(session)
        archived = {
            student.id
            for student in (await session.exec(select(Student))).all()
            if student.archived
        }
        for letter in (await session.exec(select(Outbox))).all():
            if letter.student_id is None:
                continue
            links = await store.students.links_of(letter.person_id)
            assert letter.student_id in [link.student.id for link in links], letter
            if (letter.id or 0) > first_phase and letter.kind != "amend":
                assert letter.student_id not in archived, letter


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
