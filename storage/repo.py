"""The queries the core uses; handlers never write SQL."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    JSON,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    null,
    or_,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy import column as sa_column
from sqlalchemy import select as sa_select  # sqlmodel's select types at most 4 columns
from sqlalchemy import table as sa_table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.main import default_registry
from sqlmodel.sql.expression import Select

from storage.models import (
    AccessLog,
    Account,
    Acknowledgement,
    Admin,
    Amendment,
    AmendmentStatus,
    BotProfile,
    CodeGuess,
    Delivery,
    Entry,
    EntryRevision,
    Goal,
    Invite,
    Membership,
    Outbox,
    OutboxStatus,
    PendingAction,
    Person,
    Platform,
    Role,
    School,
    SeenEvent,
    Student,
    UTCDateTime,
)

Row = TypeVar("Row")


@dataclass(frozen=True)
class MergedPeople:
    """What moved when two people became one: new students on the team, notes they wrote."""

    students: int
    entries: int


class WeekEntry(NamedTuple):
    """What a weekly summary needs of an entry, read without the ORM: a school's week is big."""

    id: int
    student_id: int
    kind: str
    setting: str
    text: str
    mood: str | None
    goal_id: int | None
    attachment_ref: str | None
    created_at: datetime
    edited_at: datetime | None


_WEEK_ENTRY_COLUMNS = (
    Entry.id,
    Entry.student_id,
    Entry.kind,
    Entry.setting,
    Entry.text,
    Entry.mood,
    Entry.goal_id,
    Entry.attachment_ref,
    Entry.created_at,
    Entry.edited_at,
)


class WeekGoal(NamedTuple):
    """What a weekly summary needs of a goal."""

    id: int
    student_id: int
    tag: str
    description: str


class Reader(NamedTuple):
    """A member of a student's team, as a weekly job addresses them."""

    student_id: int
    person_id: int
    language: str
    timezone: str | None
    quiet_hours: str | None


@dataclass(frozen=True)
class KnownSender:
    """Who wrote: their account and person, and whether a follow-up awaits their next text."""

    account: Account
    person: Person
    awaits_follow_up: bool  # an unexpired pending action of the kinds asked about


@dataclass(frozen=True)
class TeamShape:
    """How a student's team hears of a new entry, counted when a member's link to the student
    is read: a note that tells nobody at once then needs no read of the team."""

    weekly_parents: int  # parents who wait for the weekly summary
    instant_others: int  # the other members, who get each entry as it comes


@dataclass(frozen=True)
class StudentLink:
    """A student and how a person is tied to them (role on the team, or admin of the school)."""

    student: Student
    role: str | None  # "teacher" / "parent" from a membership, None if only an admin
    is_admin: bool
    team: TeamShape | None = None  # for a member of the team; None: not counted


def _person_columns() -> list[tuple[type[Any], str]]:
    """Every (model, column) that refers to a person, from the tables' foreign keys."""
    columns = []
    for mapper in default_registry.mappers:
        for key in mapper.local_table.foreign_keys:
            if key.column.table.name == Person.__tablename__:
                columns.append((mapper.class_, key.parent.name))
    return sorted(columns, key=lambda found: (found[0].__name__, found[1]))


def _unique_with(model: type[Any], column: str) -> list[list[str]]:
    """For each unique set of columns on `model` that includes `column`, the other columns."""
    table = model.__table__
    sets = [
        [c.name for c in constraint.columns]
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
    ]
    sets += [[c.name for c in index.columns] for index in table.indexes if index.unique]
    sets += [[c.name] for c in table.columns if c.unique]
    return [[name for name in names if name != column] for names in sets if column in names]


def outbox_values(**values: Any) -> dict[str, Any]:
    """An outbox row's column values (all but `id`), with the model's defaults filled in."""
    row = {
        name: info.get_default(call_default_factory=True)
        for name, info in _OUTBOX_FACTORIES.items()
        if name not in values
    }
    row.update((name, value) for name, value in _OUTBOX_DEFAULTS.items() if name not in values)
    row.update(values)
    return row


_OUTBOX_DEFAULTS = {
    name: info.get_default()
    for name, info in Outbox.model_fields.items()
    if name != "id" and not info.is_required() and info.default_factory is None
}
_OUTBOX_FACTORIES = {
    name: info for name, info in Outbox.model_fields.items() if info.default_factory is not None
}

# PostgreSQL stages a job's letters here (temporary tables: `Repo._copy_outbox_values`).
_STAGED_LETTERS = "outbox_staged_letter"
_STAGED_PAYLOADS = "outbox_staged_payload"


def _json_serializer(connection: AsyncConnection) -> Callable[[Any], str]:
    """The function the JSON column type serialises with on this connection."""
    serialize: Callable[[Any], str] | None = getattr(connection.dialect, "_json_serializer", None)
    return serialize or json.dumps


# --- the statements every message runs, built once --------------------------------------------
# Building a statement and its cache key costs more than SQLite takes to run it, so what each
# incoming message asks is built here once, with bound parameters, and only executed per event.


def _table(model: type[SQLModel]) -> Table:
    """A model's table: writes against it are plain Core statements (no ORM bulk mode, no unit
    of work), for rows the transaction does not touch again."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


_SEEN = {
    dialect: insert_for(_table(SeenEvent)).on_conflict_do_nothing()
    for dialect, insert_for in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _awaiting(person_id: Any) -> tuple[Any, ...]:
    """A pending action of `person_id`'s, of the kinds bound as `actions`, unexpired at `now`."""
    return (
        col(PendingAction.person_id) == person_id,
        col(PendingAction.action).in_(bindparam("actions", expanding=True)),
        col(PendingAction.expires_at) > bindparam("now"),
    )


_AWAITS_FOLLOW_UP = exists().where(*_awaiting(col(Person.id)))

_SENDER = (
    select(Account, Person, _AWAITS_FOLLOW_UP.label("awaits_follow_up"))
    .join(Person, col(Person.id) == col(Account.person_id))
    .where(
        col(Account.platform) == bindparam("platform"),
        col(Account.workspace) == bindparam("workspace"),
        col(Account.external_id) == bindparam("external_id"),
    )
)


def _links_statement() -> Select[Student, Any, Any, Any]:
    """A person's students in one query: each team they are on (with its role, and the shape of
    the team), then each student of each school they run (no role: that is how they differ)."""
    student_columns = _table(Student).columns
    weekly, instant = aliased(Membership), aliased(Membership)
    weekly_parents = (
        select(func.count())
        .select_from(weekly)
        .where(
            col(weekly.student_id) == col(Student.id),
            col(weekly.role) == Role.PARENT,
            col(weekly.delivery) == Delivery.WEEKLY,
        )
        .scalar_subquery()
    )
    instant_others = (
        select(func.count())
        .select_from(instant)
        .where(
            col(instant.student_id) == col(Student.id),
            col(instant.delivery) == Delivery.INSTANT,
            col(instant.person_id) != bindparam("person_id"),
        )
        .scalar_subquery()
    )
    on_team = (
        sa_select(
            *student_columns,
            col(Membership.role).label("role"),
            weekly_parents.label("weekly_parents"),
            instant_others.label("instant_others"),
        )
        .join(Membership, col(Membership.student_id) == col(Student.id))
        .where(
            col(Membership.person_id) == bindparam("person_id"), col(Student.archived).is_(False)
        )
    )
    administered = sa_select(
        *student_columns,
        null().label("role"),
        null().label("weekly_parents"),
        null().label("instant_others"),
    ).where(
        col(Student.school_id).in_(
            select(Admin.school_id).where(col(Admin.person_id) == bindparam("person_id"))
        ),
        col(Student.archived).is_(False),
    )
    linked = union_all(on_team, administered).subquery("linked")
    return select(
        aliased(Student, linked), linked.c.role, linked.c.weekly_parents, linked.c.instant_others
    )


_LINKS = _links_statement()

_GOALS = (
    select(Goal)
    .where(col(Goal.student_id) == bindparam("student_id"), col(Goal.active).is_(True))
    .order_by(col(Goal.tag))
)

_NEW_ENTRY = insert(_table(Entry)).returning(_table(Entry).c.id)
_ENTRY_COLUMNS = tuple(column.name for column in _table(Entry).columns if column.name != "id")

_TEAM = (
    select(Person, Membership)
    .join(Membership, col(Membership.person_id) == col(Person.id))
    .where(col(Membership.student_id) == bindparam("student_id"))
    .order_by(col(Membership.role).desc(), col(Person.display_name))
)

_NEW_BUTTONS = insert(_table(PendingAction))

_FOLLOW_UP = (
    select(PendingAction)
    .where(*_awaiting(bindparam("person_id")))
    .order_by(col(PendingAction.expires_at).desc())
)


class Repo:
    """Queries over one session (one transaction per incoming event or CLI command)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Outbox rows this transaction queued, so the caller knows whether to wake the sender.
        self.letters_queued = 0

    async def flush(self) -> None:
        await self.session.flush()

    async def _add(self, row: Row) -> Row:
        self.session.add(row)
        await self.session.flush()
        return row

    # --- incoming events -------------------------------------------------------------------

    async def mark_seen(self, platform: str, event_id: str, now: datetime) -> bool:
        """Record an incoming event id; False if it was seen before (a platform retry)."""
        statement = _SEEN[self.session.get_bind().dialect.name]
        result = await self.session.exec(
            statement, params={"platform": platform, "event_id": event_id, "seen_at": now}
        )
        return bool(result.rowcount)

    # --- people and accounts ---------------------------------------------------------------

    async def account(self, platform: str, workspace: str, external_id: str) -> Account | None:
        statement = select(Account).where(
            Account.platform == platform,
            Account.workspace == workspace,
            Account.external_id == external_id,
        )
        return (await self.session.exec(statement)).first()

    async def sender(
        self,
        platform: str,
        workspace: str,
        external_id: str,
        follow_ups: Sequence[str],
        now: datetime,
    ) -> KnownSender | None:
        """The account with these platform ids and its person, in one query, with whether one
        of the `follow_ups` actions awaits the person's next free text (so that most texts,
        which answer none, need no look for one)."""
        found = (
            await self.session.exec(
                _SENDER,
                params={
                    "platform": platform,
                    "workspace": workspace,
                    "external_id": external_id,
                    "actions": list(follow_ups),
                    "now": now,
                },
            )
        ).first()
        return KnownSender(found[0], found[1], bool(found[2])) if found else None

    async def person(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def add_person(self, display_name: str, language: str) -> Person:
        return await self._add(Person(display_name=display_name, language=language))

    async def add_account(
        self,
        person: Person,
        platform: Platform | str,
        workspace: str,
        external_id: str,
        dm_chat_id: str,
    ) -> Account:
        assert person.id is not None
        return await self._add(
            Account(
                person_id=person.id,
                platform=platform,
                workspace=workspace,
                external_id=external_id,
                dm_chat_id=dm_chat_id,
            )
        )

    async def accounts_of(self, person_id: int) -> Sequence[Account]:
        statement = select(Account).where(Account.person_id == person_id).order_by(col(Account.id))
        return (await self.session.exec(statement)).all()

    async def people_on_platform(self, platform: str) -> Sequence[tuple[Person, Account]]:
        statement = (
            select(Person, Account)
            .join(Account, col(Account.person_id) == col(Person.id))
            .where(Account.platform == platform)
            .order_by(col(Person.id))
        )
        return (await self.session.exec(statement)).all()

    async def deactivate_accounts(self, platform: str, dm_chat_id: str) -> int:
        """Mark the accounts reached through this direct chat inactive (the bot was blocked)."""
        statement = (
            update(Account)
            .where(col(Account.platform) == platform, col(Account.dm_chat_id) == dm_chat_id)
            .values(active=False)
        )
        result = await self.session.exec(statement)
        return int(result.rowcount)

    # --- the bot itself --------------------------------------------------------------------

    async def bot_username(self, platform: str) -> str | None:
        """The username the platform gave our bot when it last started, if it ever did."""
        profile = await self.session.get(BotProfile, platform)
        return profile.username if profile else None

    async def set_bot_username(self, platform: str, username: str, now: datetime) -> None:
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        # An upsert: several replicas may start at once.
        statement = insert(BotProfile).values(platform=platform, username=username, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=["platform"], set_={"username": username, "updated_at": now}
        )
        await self.session.exec(statement)

    async def attach_account(self, account: Account, person_id: int) -> None:
        """Make an account one of `person_id`'s; it is active again, its owner just wrote."""
        account.person_id = person_id
        account.active = True
        await self._add(account)

    async def role_conflicts(self, person_id: int, other_id: int) -> list[str]:
        """Students both people are on the team of, with different roles (they cannot merge)."""
        mine = (
            select(Membership.student_id, Membership.role)
            .where(Membership.person_id == person_id)
            .subquery()
        )
        statement = (
            select(Student.name)
            .join(Membership, col(Membership.student_id) == col(Student.id))
            .join(mine, mine.c.student_id == col(Membership.student_id))
            .where(Membership.person_id == other_id, col(Membership.role) != mine.c.role)
            .order_by(col(Student.name))
        )
        return list((await self.session.exec(statement)).all())

    async def merge_people(self, keep_id: int, drop_id: int) -> MergedPeople:
        """Move everything of person `drop_id` to `keep_id`, then delete the emptied person.

        Every column that refers to a person is moved, found from the tables' foreign keys, so
        a table added later is moved too instead of being cascade-deleted with the person.
        """
        memberships = (
            select(func.count())
            .select_from(Membership)
            .where(
                Membership.person_id == drop_id,
                col(Membership.student_id).not_in(
                    select(Membership.student_id).where(Membership.person_id == keep_id)
                ),
            )
        )
        entries = select(func.count()).select_from(Entry).where(Entry.author_id == drop_id)
        merged = MergedPeople(
            students=int((await self.session.exec(memberships)).one()),
            entries=int((await self.session.exec(entries)).one()),
        )
        for model, column in _person_columns():
            for others in _unique_with(model, column):
                # A row the kept person already has (same student, same school, same entry
                # seen...) wins: moving the other one would break the unique constraint.
                kept = aliased(model)
                await self.session.exec(
                    delete(model).where(
                        getattr(model, column) == drop_id,
                        exists().where(
                            getattr(kept, column) == keep_id,
                            *[getattr(kept, name) == getattr(model, name) for name in others],
                        ),
                    )
                )
        for model, column in _person_columns():
            # ORM updates, so rows already loaded in this session see their new person too.
            attribute = getattr(model, column)
            await self.session.exec(
                update(model).where(attribute == drop_id).values({column: keep_id})
            )
        dropped = await self.session.get(Person, drop_id)
        if dropped is not None:
            await self.session.delete(dropped)
        await self.session.flush()
        return merged

    # --- schools and students --------------------------------------------------------------

    async def school(self, school_id: int) -> School | None:
        return await self.session.get(School, school_id)

    async def school_named(self, name: str) -> School | None:
        statement = select(School).where(func.lower(School.name) == name.lower())
        return (await self.session.exec(statement)).first()

    async def schools(self) -> Sequence[School]:
        return (await self.session.exec(select(School).order_by(col(School.id)))).all()

    async def add_school(self, name: str, timezone: str, language: str) -> School:
        return await self._add(School(name=name, timezone=timezone, language=language))

    async def add_student(self, school: School, name: str, name_key: str) -> Student:
        assert school.id is not None
        return await self._add(Student(school_id=school.id, name=name, name_key=name_key))

    async def student(self, student_id: int) -> Student | None:
        return await self.session.get(Student, student_id)

    async def students_in(self, school_id: int) -> Sequence[Student]:
        statement = (
            select(Student)
            .where(Student.school_id == school_id, col(Student.archived).is_(False))
            .order_by(col(Student.name))
        )
        return (await self.session.exec(statement)).all()

    async def students_keyed(self, key: str) -> Sequence[Student]:
        """Students anywhere whose folded name is `key` or starts with it as whole words."""
        statement = (
            select(Student)
            .where(
                # Escaped: a `%` or `_` typed as a name must not match every student as a wildcard.
                or_(
                    col(Student.name_key) == key,
                    col(Student.name_key).startswith(key + " ", autoescape=True),
                )
            )
            .limit(20)
        )
        return (await self.session.exec(statement)).all()

    async def links_of(self, person_id: int) -> list[StudentLink]:
        """Every student a person is tied to: through a team membership or as a school admin."""
        students: dict[int, Student] = {}
        teams: dict[int, tuple[str, TeamShape]] = {}
        administered: set[int] = set()
        rows = (await self.session.exec(_LINKS, params={"person_id": person_id})).all()
        for student, role, weekly_parents, instant_others in rows:
            assert student.id is not None
            students[student.id] = student
            if role is None:
                administered.add(student.id)
            else:
                teams[student.id] = (role, TeamShape(weekly_parents, instant_others))
        links = []
        for student_id, student in students.items():
            role, team = teams.get(student_id, (None, None))
            links.append(StudentLink(student, role, is_admin=student_id in administered, team=team))
        return sorted(links, key=lambda link: link.student.name.casefold())

    async def membership(self, person_id: int, student_id: int) -> Membership | None:
        statement = select(Membership).where(
            Membership.person_id == person_id, Membership.student_id == student_id
        )
        return (await self.session.exec(statement)).first()

    async def add_membership(
        self, person_id: int, student_id: int, role: str, delivery: str
    ) -> Membership:
        existing = await self.membership(person_id, student_id)
        if existing is not None:
            return existing
        return await self._add(
            Membership(person_id=person_id, student_id=student_id, role=role, delivery=delivery)
        )

    async def team_of(self, student_id: int) -> Sequence[tuple[Person, Membership]]:
        return (await self.session.exec(_TEAM, params={"student_id": student_id})).all()

    async def is_admin(self, person_id: int, school_id: int) -> bool:
        statement = select(Admin).where(Admin.person_id == person_id, Admin.school_id == school_id)
        return (await self.session.exec(statement)).first() is not None

    async def add_admin(self, person_id: int, school_id: int) -> None:
        if not await self.is_admin(person_id, school_id):
            await self._add(Admin(person_id=person_id, school_id=school_id))

    # --- entries ---------------------------------------------------------------------------

    async def add_entry(self, entry: Entry) -> Entry:
        return await self._add(entry)

    async def insert_entry(self, entry: Entry) -> Entry:
        """Write a new entry in one INSERT, without the unit of work; the entry gets its id.

        The entry stays outside the session: it is not changed later in the transaction that
        writes it (an edit, a kind or an undo come as later events, which load it again).
        """
        values = {name: getattr(entry, name) for name in _ENTRY_COLUMNS}
        entry.id = (await self.session.exec(_NEW_ENTRY, params=values)).scalar_one()
        return entry

    async def entry(self, entry_id: int) -> Entry | None:
        return await self.session.get(Entry, entry_id)

    async def entry_from_message(
        self, platform: str, message_ref: str, author_id: int
    ) -> Entry | None:
        statement = select(Entry).where(
            Entry.source_platform == platform,
            Entry.source_ref == message_ref,
            Entry.author_id == author_id,
        )
        return (await self.session.exec(statement)).first()

    async def last_entry_by(self, author_id: int, since: datetime) -> Entry | None:
        statement = (
            select(Entry)
            .where(Entry.author_id == author_id, col(Entry.created_at) >= since)
            .order_by(col(Entry.created_at).desc(), col(Entry.id).desc())
        )
        return (await self.session.exec(statement)).first()

    async def delete_entry(self, entry: Entry) -> None:
        revisions = delete(EntryRevision).where(col(EntryRevision.entry_id) == entry.id)
        await self.session.exec(revisions)
        await self.session.delete(entry)
        await self.session.flush()

    async def revise_entry(self, entry: Entry, text: str, now: datetime) -> None:
        """Change an entry's text, keeping the old text as a revision."""
        assert entry.id is not None
        self.session.add(EntryRevision(entry_id=entry.id, text=entry.text, edited_at=now))
        entry.text = text
        entry.edited_at = now
        self.session.add(entry)
        await self.session.flush()

    async def recent_entries(self, student_id: int, limit: int) -> Sequence[tuple[Entry, str]]:
        """The newest entries with their author's name, newest first."""
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(Entry.student_id == student_id)
            .order_by(col(Entry.created_at).desc(), col(Entry.id).desc())
            .limit(limit)
        )
        return (await self.session.exec(statement)).all()

    async def entries_between(
        self, student_id: int, start: datetime, end: datetime
    ) -> Sequence[tuple[Entry, str]]:
        """Entries in [start, end) with their author's name, oldest first."""
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(
                Entry.student_id == student_id,
                col(Entry.created_at) >= start,
                col(Entry.created_at) < end,
            )
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        return (await self.session.exec(statement)).all()

    # --- goals -----------------------------------------------------------------------------

    async def goals(self, student_id: int) -> Sequence[Goal]:
        return (await self.session.exec(_GOALS, params={"student_id": student_id})).all()

    async def goal_counts(self, student_id: int) -> dict[int, int]:
        statement = (
            select(Entry.goal_id, func.count())
            .where(Entry.student_id == student_id, col(Entry.goal_id).is_not(None))
            .group_by(col(Entry.goal_id))
        )
        return {
            goal_id: count
            for goal_id, count in (await self.session.exec(statement)).all()
            if goal_id is not None
        }

    async def set_goal(self, student_id: int, tag: str, description: str) -> tuple[Goal, bool]:
        """Create or update a goal by tag; True if it is new."""
        statement = select(Goal).where(Goal.student_id == student_id, Goal.tag == tag)
        goal = (await self.session.exec(statement)).first()
        created = goal is None
        if goal is None:
            goal = Goal(student_id=student_id, tag=tag, description=description)
        goal.description = description
        goal.active = True
        return await self._add(goal), created

    # --- invites ---------------------------------------------------------------------------

    async def add_invite(self, invite: Invite) -> Invite:
        return await self._add(invite)

    async def invite_by_hash(self, code_hash: str) -> Invite | None:
        statement = select(Invite).where(Invite.code_hash == code_hash)
        return (await self.session.exec(statement)).first()

    async def use_invite(self, invite: Invite, person_id: int, now: datetime) -> bool:
        """Mark an invite used; False if someone else used it first (single use under races)."""
        statement = (
            update(Invite)
            .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
            .values(used_at=now, used_by=person_id)
        )
        result = await self.session.exec(statement)
        return bool(result.rowcount)

    # --- buttons ---------------------------------------------------------------------------

    async def add_pending(
        self,
        person_id: int,
        action: str,
        payload: dict[str, Any],
        expires_at: datetime,
        token: str | None = None,
    ) -> str:
        """Store what a button (or a typed code, given as `token`) means; returns the token."""
        token = token or secrets.token_urlsafe(16)
        # No flush: the key is made here, and a later query in this transaction autoflushes;
        # a reply's buttons are then written in one statement.
        self.session.add(
            PendingAction(
                token=token,
                person_id=person_id,
                action=action,
                payload=payload,
                expires_at=expires_at,
            )
        )
        return token

    async def add_buttons(
        self, person_id: int, meanings: Sequence[tuple[str, dict[str, Any]]], expires_at: datetime
    ) -> list[str]:
        """Store what each of a reply's buttons means, (action, payload) each, in one statement;
        their tokens, in the same order."""
        tokens = [secrets.token_urlsafe(16) for _ in meanings]
        if tokens:
            await self.session.exec(
                _NEW_BUTTONS,
                params=[
                    {
                        "token": token,
                        "person_id": person_id,
                        "action": action,
                        "payload": payload,
                        "expires_at": expires_at,
                    }
                    for token, (action, payload) in zip(tokens, meanings, strict=True)
                ],
            )
        return tokens

    async def pending(self, token: str) -> PendingAction | None:
        return await self.session.get(PendingAction, token)

    async def drop_pending(self, person_id: int, action: str, key: str, value: object) -> None:
        """Forget the other buttons that point at the same thing (e.g. an entry just undone)."""
        statement = select(PendingAction).where(
            PendingAction.person_id == person_id, PendingAction.action == action
        )
        for row in (await self.session.exec(statement)).all():
            if row.payload.get(key) == value:
                await self.session.delete(row)

    async def delete_pending(self, pending: PendingAction) -> None:
        await self.session.delete(pending)
        await self.session.flush()

    async def drop_pending_actions(self, person_id: int, action: str) -> None:
        """Forget every pending action of one kind for a person (e.g. an older link code)."""
        await self.session.exec(
            delete(PendingAction).where(
                col(PendingAction.person_id) == person_id, col(PendingAction.action) == action
            )
        )

    # --- code guesses ----------------------------------------------------------------------

    async def code_guesses(
        self, kind: str, platform: str, workspace: str, external_id: str, since: datetime
    ) -> int:
        """How many wrong codes of one kind this platform account sent since `since`."""
        statement = (
            select(func.count())
            .select_from(CodeGuess)
            .where(
                CodeGuess.kind == kind,
                CodeGuess.platform == platform,
                CodeGuess.workspace == workspace,
                CodeGuess.external_id == external_id,
                col(CodeGuess.at) >= since,
            )
        )
        return int((await self.session.exec(statement)).one())

    async def add_code_guess(
        self, kind: str, platform: str, workspace: str, external_id: str, at: datetime
    ) -> None:
        await self._add(
            CodeGuess(
                kind=kind, platform=platform, workspace=workspace, external_id=external_id, at=at
            )
        )

    # --- outbox ----------------------------------------------------------------------------

    async def delivery_account(self, person_id: int) -> Account | None:
        """The account a person is reached on: their first active one."""
        statement = (
            select(Account)
            .where(Account.person_id == person_id, col(Account.active).is_(True))
            .order_by(col(Account.id))
        )
        return (await self.session.exec(statement)).first()

    async def insert_outbox(self, row: Outbox) -> bool:
        """Insert unless a row with the same dedupe key exists; True if inserted."""
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        values = row.model_dump(exclude={"id"})
        statement = (
            insert(Outbox).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result = await self.session.exec(statement)
        self.letters_queued += int(bool(result.rowcount))
        return bool(result.rowcount)

    # The sender's side of the outbox: claim due letters, then settle each one in its own short
    # transaction, only while this worker still holds its claim.

    async def claim_outbox(
        self, worker: str, now: datetime, until: datetime, limit: int, platforms: Sequence[str]
    ) -> list[tuple[Outbox, Account]]:
        """Reserve up to `limit` due letters for `worker` until `until`, oldest due first.

        Due: pending, `not_before` reached, and unclaimed or claimed by a worker whose claim has
        run out (it crashed). On PostgreSQL concurrent claimers skip each other's locked rows
        (FOR UPDATE SKIP LOCKED); the update checks the claim again, so no row goes to two.
        """
        if limit <= 0 or not platforms:
            return []
        unclaimed = or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) <= now)
        due = (
            select(Outbox.id)
            .join(Account, col(Account.id) == col(Outbox.account_id))
            .where(
                col(Outbox.status) == OutboxStatus.PENDING,
                col(Outbox.not_before) <= now,
                unclaimed,
                col(Account.platform).in_(platforms),
            )
            .order_by(col(Outbox.not_before), col(Outbox.id))
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True, of=Outbox)
        ids = [row_id for row_id in (await self.session.exec(due)).all() if row_id is not None]
        if not ids:
            return []
        await self.session.exec(
            update(Outbox)
            .where(col(Outbox.id).in_(ids), col(Outbox.status) == OutboxStatus.PENDING, unclaimed)
            .values(claimed_by=worker, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        claimed = (
            select(Outbox, Account)
            .join(Account, col(Account.id) == col(Outbox.account_id))
            .where(
                col(Outbox.id).in_(ids),
                col(Outbox.claimed_by) == worker,
                col(Outbox.claimed_until) == until,
            )
            .order_by(col(Outbox.not_before), col(Outbox.id))
        )
        return list((await self.session.exec(claimed)).all())

    async def _settle(self, row_id: int, worker: str, *, where: Any = None, **values: Any) -> bool:
        statement = (
            update(Outbox)
            .where(
                col(Outbox.id) == row_id,
                col(Outbox.claimed_by) == worker,
                col(Outbox.status) == OutboxStatus.PENDING,
                true() if where is None else where,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool((await self.session.exec(statement)).rowcount)

    async def outbox_sent(self, row_id: int, worker: str, now: datetime, sent_ref: str) -> bool:
        """Mark a claimed letter delivered; False if `worker` no longer holds it."""
        return await self._settle(
            row_id, worker, status=OutboxStatus.SENT, sent_at=now, sent_ref=sent_ref or None
        )

    async def outbox_retry(
        self, row_id: int, worker: str, not_before: datetime, attempts: int, error: str
    ) -> bool:
        """Put a claimed letter back in the queue, due again at `not_before`."""
        return await self._settle(
            row_id,
            worker,
            not_before=not_before,
            attempts=attempts,
            last_error=error,
            claimed_by=None,
            claimed_until=None,
        )

    async def outbox_give_up(
        self, row_id: int, worker: str, status: OutboxStatus, attempts: int, error: str
    ) -> bool:
        """End a claimed letter as `dead` (or `failed`) with the reason."""
        return await self._settle(
            row_id, worker, status=status, attempts=attempts, last_error=error, claimed_until=None
        )

    async def outbox_release(self, row_id: int, worker: str) -> bool:
        """Hand a claimed letter back unsent, due at once for any worker."""
        return await self._settle(row_id, worker, claimed_by=None, claimed_until=None)

    async def renew_outbox_claims(
        self, ids: Sequence[int], worker: str, now: datetime, until: datetime
    ) -> list[int]:
        """Extend `worker`'s claims that have not run out (it is still on them); which were."""
        if not ids:
            return []
        await self.session.exec(
            update(Outbox)
            .where(
                col(Outbox.id).in_(ids),
                col(Outbox.claimed_by) == worker,
                col(Outbox.claimed_until) > now,
                col(Outbox.status) == OutboxStatus.PENDING,
            )
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        renewed = select(Outbox.id).where(
            col(Outbox.id).in_(ids),
            col(Outbox.claimed_by) == worker,
            col(Outbox.claimed_until) == until,
        )
        return [row_id for row_id in (await self.session.exec(renewed)).all() if row_id]

    async def reclaim_outbox(
        self, row_id: int, worker: str, held_until: datetime, until: datetime
    ) -> bool:
        """Take back a letter whose claim ran out while `worker` held it, unless another
        worker has claimed it since (its claim would differ from `held_until`)."""
        return await self._settle(
            row_id, worker, claimed_until=until, where=col(Outbox.claimed_until) == held_until
        )

    async def fail_outbox_to(self, account_id: int, error: str) -> int:
        """Give up every queued letter to an account that cannot be reached (blocked the bot)."""
        statement = (
            update(Outbox)
            .where(col(Outbox.account_id) == account_id, col(Outbox.status) == OutboxStatus.PENDING)
            .values(status=OutboxStatus.FAILED, last_error=error, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return int((await self.session.exec(statement)).rowcount)

    async def next_outbox_due(self, platforms: Sequence[str]) -> datetime | None:
        """When the next queued letter may be claimed: its due time, or its claim's end."""
        if not platforms:
            return None
        claimable = case(
            (col(Outbox.claimed_until) > col(Outbox.not_before), col(Outbox.claimed_until)),
            else_=col(Outbox.not_before),
        )
        statement = (
            select(func.min(claimable, type_=UTCDateTime()))
            .join(Account, col(Account.id) == col(Outbox.account_id))
            .where(col(Outbox.status) == OutboxStatus.PENDING, col(Account.platform).in_(platforms))
        )
        found: datetime | None = (await self.session.exec(statement)).one()
        return found

    async def deactivate_account(self, account_id: int) -> bool:
        """Mark one account inactive (it blocked the bot); False if it already was."""
        statement = (
            update(Account)
            .where(col(Account.id) == account_id, col(Account.active).is_(True))
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
        return bool((await self.session.exec(statement)).rowcount)

    async def admins_over(self, person_id: int) -> Sequence[tuple[Person, School]]:
        """The admins of every school where the person is on a student's team (or is an admin
        too), each once with one of those schools, the person themselves left out."""
        team_schools = (
            select(Student.school_id)
            .join(Membership, col(Membership.student_id) == col(Student.id))
            .where(col(Membership.person_id) == person_id)
        )
        own_schools = select(Admin.school_id).where(col(Admin.person_id) == person_id)
        statement = (
            select(Person, School)
            .join(Admin, col(Admin.person_id) == col(Person.id))
            .join(School, col(School.id) == col(Admin.school_id))
            .where(
                or_(col(Admin.school_id).in_(team_schools), col(Admin.school_id).in_(own_schools)),
                col(Person.id) != person_id,
            )
            .order_by(col(Person.id), col(School.id))
        )
        admins: dict[int, tuple[Person, School]] = {}
        for admin, school in (await self.session.exec(statement)).all():
            assert admin.id is not None
            admins.setdefault(admin.id, (admin, school))
        return list(admins.values())

    # --- weekly cycle ----------------------------------------------------------------------

    async def follow_up(
        self, person_id: int, actions: Sequence[str], now: datetime
    ) -> PendingAction | None:
        """The newest unexpired "tell me more" the person's next free text answers."""
        if not actions:
            return None
        return (
            await self.session.exec(
                _FOLLOW_UP, params={"person_id": person_id, "actions": list(actions), "now": now}
            )
        ).first()

    async def add_pendings(self, rows: Sequence[PendingAction]) -> None:
        self.session.add_all(rows)
        await self.session.flush()

    async def school_teams(self, school_id: int) -> Sequence[tuple[Membership, Person]]:
        """Every membership of the school's active students, with the person (one query)."""
        statement = (
            select(Membership, Person)
            .join(Person, col(Person.id) == col(Membership.person_id))
            .join(Student, col(Student.id) == col(Membership.student_id))
            .where(Student.school_id == school_id, col(Student.archived).is_(False))
            .order_by(col(Membership.student_id), col(Person.id))
        )
        return (await self.session.exec(statement)).all()

    async def school_entries(
        self, school_id: int, start: datetime, end: datetime
    ) -> Sequence[tuple[Entry, str]]:
        """All of a school's entries in [start, end) with author names, oldest first."""
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .join(Student, col(Student.id) == col(Entry.student_id))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(
                Student.school_id == school_id,
                col(Entry.created_at) >= start,
                col(Entry.created_at) < end,
            )
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        return (await self.session.exec(statement)).all()

    async def school_goals(self, school_id: int) -> list[WeekGoal]:
        """The active goals of a school's students, as light rows, by tag."""
        statement = (
            sa_select(col(Goal.id), col(Goal.student_id), col(Goal.tag), col(Goal.description))
            .join(Student, col(Student.id) == col(Goal.student_id))
            .where(col(Student.school_id) == school_id, col(Goal.active).is_(True))
            .order_by(col(Goal.tag))
        )
        connection = await self.session.connection()
        return [WeekGoal._make(row) for row in (await connection.execute(statement)).all()]

    async def open_questions(
        self, student_ids: Sequence[int], since: datetime
    ) -> Sequence[tuple[Entry, str]]:
        """Questions about these students since `since` that have no answer yet."""
        answered = select(Entry.reply_to_id).where(
            Entry.kind == "answer", col(Entry.reply_to_id).is_not(None)
        )
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(
                col(Entry.student_id).in_(student_ids),
                Entry.kind == "question",
                col(Entry.created_at) >= since,
                col(Entry.id).not_in(answered),
            )
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        return (await self.session.exec(statement)).all()

    async def school_week(
        self, school_id: int, start: datetime, end: datetime, batch: int = 2000
    ) -> AsyncIterator[tuple[int, list[tuple[WeekEntry, str]]]]:
        """A school's entries in [start, end) with author names, one student at a time.

        Streamed in batches (oldest first within each student), so a week of half a million
        entries never sits in memory at once; nothing else may use the session meanwhile.
        """
        statement = (
            sa_select(
                *(col(column) for column in _WEEK_ENTRY_COLUMNS),
                func.coalesce(Person.display_name, ""),
            )
            .join(Student, col(Student.id) == col(Entry.student_id))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(
                col(Student.school_id) == school_id,
                col(Entry.created_at) >= start,
                col(Entry.created_at) < end,
            )
            # By the student's own id, not the entry's copy of it: then SQLite walks the
            # students in order and each one's entries by index, with no sort of the whole week.
            .order_by(col(Student.id), col(Entry.created_at), col(Entry.id))
            .execution_options(yield_per=batch)
        )
        result = await self.session.stream(statement)
        student: int | None = None
        week: list[tuple[WeekEntry, str]] = []
        async for rows in result.partitions():
            for row in rows:
                entry = WeekEntry._make(row[:10])
                if entry.student_id != student:
                    if student is not None:
                        yield student, week
                    student, week = entry.student_id, []
                week.append((entry, row[10]))
        if student is not None:
            yield student, week

    async def students_noted(self, school_id: int, start: datetime, end: datetime) -> set[int]:
        """The school's students with at least one entry in [start, end)."""
        statement = (
            select(Entry.student_id)
            .distinct()
            .join(Student, col(Student.id) == col(Entry.student_id))
            .where(
                Student.school_id == school_id,
                col(Entry.created_at) >= start,
                col(Entry.created_at) < end,
            )
        )
        return set((await self.session.exec(statement)).all())

    async def school_readers(self, school_id: int) -> list[Reader]:
        """Every member of the teams of the school's active students, by student then person."""
        statement = (
            sa_select(
                col(Membership.student_id),
                col(Person.id),
                col(Person.language),
                col(Person.timezone),
                col(Person.quiet_hours),
            )
            .join(Person, col(Person.id) == col(Membership.person_id))
            .join(Student, col(Student.id) == col(Membership.student_id))
            .where(col(Student.school_id) == school_id, col(Student.archived).is_(False))
            .order_by(col(Membership.student_id), col(Person.id))
        )
        connection = await self.session.connection()
        return [Reader._make(row) for row in (await connection.execute(statement)).all()]

    async def school_open_questions(
        self, school_id: int, since: datetime
    ) -> list[tuple[WeekEntry, str]]:
        """Unanswered questions about the school's students since `since`, as light rows (one
        query, whatever the number of students: no list of ids to outgrow a driver's limit)."""
        answered = select(Entry.reply_to_id).where(
            Entry.kind == "answer", col(Entry.reply_to_id).is_not(None)
        )
        statement = (
            sa_select(
                *(col(column) for column in _WEEK_ENTRY_COLUMNS),
                func.coalesce(Person.display_name, ""),
            )
            .join(Student, col(Student.id) == col(Entry.student_id))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(
                col(Student.school_id) == school_id,
                col(Entry.kind) == "question",
                col(Entry.created_at) >= since,
                col(Entry.id).not_in(answered),
            )
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        connection = await self.session.connection()
        return [
            (WeekEntry._make(row[:10]), row[10])
            for row in (await connection.execute(statement)).all()
        ]

    async def school_accounts(self, school_id: int) -> dict[int, Account]:
        """The delivery account (first active) of everyone on a team at the school."""
        members = (
            select(Membership.person_id)
            .join(Student, col(Student.id) == col(Membership.student_id))
            .where(Student.school_id == school_id)
        )
        statement = (
            select(Account)
            .where(col(Account.person_id).in_(members), col(Account.active).is_(True))
            .order_by(col(Account.id).desc())
        )
        return {account.person_id: account for account in (await self.session.exec(statement))}

    async def accounts_for(self, person_ids: Sequence[int]) -> dict[int, Account]:
        """Each person's delivery account (first active), for many people in one query."""
        statement = (
            select(Account)
            .where(col(Account.person_id).in_(person_ids), col(Account.active).is_(True))
            .order_by(col(Account.id).desc())
        )
        return {account.person_id: account for account in (await self.session.exec(statement))}

    async def insert_outbox_values(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert many outbox rows given as column values (every column but `id`, as
        `outbox_values` makes them), skipping dedupe keys already queued; how many were new.
        A constant number of statements, however many rows: PostgreSQL copies them into
        temporary tables and inserts from there (`_copy_outbox_values`), SQLite runs one
        prepared statement for every row (executemany).

        Rows that share one payload object (a summary to each member of a team) share its JSON
        too: it is written as the JSON type would write it, once.
        """
        if not rows:
            return 0
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            inserted = await self._copy_outbox_values(connection, rows)
        else:
            serialize = _json_serializer(connection)
            encoded: dict[int, str] = {}
            payloads = [
                encoded.get(id(row["payload"]))
                or encoded.setdefault(id(row["payload"]), serialize(row["payload"]))
                for row in rows
            ]
            each_row = (
                sqlite_insert(Outbox)
                .values(payload=bindparam("payload_json", type_=Text()))
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
            )
            result = await connection.execute(
                each_row,
                [
                    {
                        **{name: value for name, value in row.items() if name != "payload"},
                        "payload_json": payload,
                    }
                    for row, payload in zip(rows, payloads, strict=True)
                ],
            )
            inserted = int(result.rowcount)
        self.letters_queued += inserted
        return inserted

    async def _copy_outbox_values(
        self, connection: AsyncConnection, rows: Sequence[dict[str, Any]]
    ) -> int:
        """PostgreSQL's `insert_outbox_values`: COPY the letters and their distinct payloads
        into two temporary tables, then one INSERT … SELECT … ON CONFLICT DO NOTHING.

        COPY streams (asyncpg sends about 512 KB at a time) and each payload is serialised only
        as it is sent, so neither one statement's arrays of every letter nor every letter's
        JSON is ever in memory at once. Six statements, whatever the number of rows.
        """
        dialect = connection.dialect
        serialize = _json_serializer(connection)
        columns = [
            column
            for column in Outbox.__table__.columns  # type: ignore[attr-defined]
            if column.name not in ("id", "payload")
        ]
        names = [column.name for column in columns]
        numbers: dict[int, int] = {}  # id(payload) -> its place among the distinct payloads
        payloads: list[dict[str, Any]] = []
        for row in rows:
            if id(row["payload"]) not in numbers:
                numbers[id(row["payload"])] = len(payloads)
                payloads.append(row["payload"])
        # Each value as SQLAlchemy would hand it to the driver (UTC datetimes checked and
        # converted), before COPY starts: a bad value fails here, not halfway through it.
        processors = [
            column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns
        ]
        letters = [
            (
                order,
                numbers[id(row["payload"])],
                *(
                    row[name] if process is None else process(row[name])
                    for name, process in zip(names, processors, strict=True)
                ),
            )
            for order, row in enumerate(rows)
        ]

        def payload_texts() -> Iterator[tuple[int, str]]:
            for number, payload in enumerate(payloads):
                yield number, serialize(payload)

        # Both tables are dropped at the end of this call (and would be at the transaction's).
        await connection.execute(
            text(
                f"CREATE TEMPORARY TABLE {_STAGED_LETTERS} ON COMMIT DROP AS "
                f"SELECT 0 AS letter_order, 0 AS payload_at, {', '.join(names)} "
                f"FROM {Outbox.__tablename__} WITH NO DATA"
            )
        )
        await connection.execute(
            text(
                f"CREATE TEMPORARY TABLE {_STAGED_PAYLOADS} (payload_at integer, payload text) "
                "ON COMMIT DROP"
            )
        )
        # The driver's own connection, inside the transaction the statements above are in.
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            _STAGED_LETTERS, records=letters, columns=["letter_order", "payload_at", *names]
        )
        del letters  # sent: not kept while the payloads are serialised
        await driver.copy_records_to_table(
            _STAGED_PAYLOADS, records=payload_texts(), columns=["payload_at", "payload"]
        )
        staged = sa_table(
            _STAGED_LETTERS, *(sa_column(name) for name in ["letter_order", "payload_at", *names])
        )
        staged_payloads = sa_table(_STAGED_PAYLOADS, sa_column("payload_at"), sa_column("payload"))
        source = (
            sa_select(*(staged.c[name] for name in names), cast(staged_payloads.c.payload, JSON))
            .join(staged_payloads, staged_payloads.c.payload_at == staged.c.payload_at)
            # In the job's order: ids as before, and two replicas running the same job take
            # the dedupe keys in the same order (one waits for the other, neither deadlocks).
            .order_by(staged.c.letter_order)
        )
        result = await connection.execute(
            pg_insert(Outbox)
            .from_select([*names, "payload"], source)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        await connection.execute(text(f"DROP TABLE {_STAGED_LETTERS}, {_STAGED_PAYLOADS}"))
        return int(result.rowcount)

    async def add_acknowledgement(self, entry_id: int, person_id: int, now: datetime) -> bool:
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(Acknowledgement)
            .values(entry_id=entry_id, person_id=person_id, seen_at=now)
            .on_conflict_do_nothing()
        )
        return bool((await self.session.exec(statement)).rowcount)

    async def cancel_letters(self, entry: Entry) -> int:
        """Drop the not-yet-sent letters about an entry (it was undone)."""
        keys = [f"{kind}:{entry.id}:%" for kind in ("entry", "share", "answer", "seen")]
        statement = delete(Outbox).where(
            col(Outbox.status) == "pending",
            or_(*(col(Outbox.dedupe_key).like(key) for key in keys)),
        )
        return int((await self.session.exec(statement)).rowcount)

    async def outbox_sent_as(self, account_id: int, sent_ref: str) -> Outbox | None:
        """The letter delivered to this account as that platform message."""
        statement = select(Outbox).where(
            Outbox.account_id == account_id, Outbox.sent_ref == sent_ref
        )
        return (await self.session.exec(statement)).first()

    async def memberships_of(self, person_id: int) -> Sequence[Membership]:
        statement = select(Membership).where(Membership.person_id == person_id)
        return (await self.session.exec(statement)).all()

    async def set_delivery(self, person_id: int, delivery: str) -> int:
        statement = (
            update(Membership)
            .where(col(Membership.person_id) == person_id)
            .values(delivery=delivery)
        )
        return int((await self.session.exec(statement)).rowcount)

    async def save(self, row: Row) -> Row:
        return await self._add(row)

    async def purge(
        self, entries_before: datetime, events_before: datetime, now: datetime
    ) -> dict[str, int]:
        """Delete what retention no longer allows, and the bot's own expired bookkeeping."""
        counts: dict[str, int] = {}
        old_entries = select(Entry.id).where(col(Entry.created_at) < entries_before)
        steps: list[tuple[str, Any]] = [
            (
                "revisions",
                delete(EntryRevision).where(col(EntryRevision.entry_id).in_(old_entries)),
            ),
            ("entries", delete(Entry).where(col(Entry.created_at) < entries_before)),
            ("access_log", delete(AccessLog).where(col(AccessLog.at) < entries_before)),
            ("seen_events", delete(SeenEvent).where(col(SeenEvent.seen_at) < events_before)),
            ("buttons", delete(PendingAction).where(col(PendingAction.expires_at) < now)),
            ("code_guesses", delete(CodeGuess).where(col(CodeGuess.at) < events_before)),
            (
                "outbox",
                delete(Outbox).where(
                    col(Outbox.status).in_(["sent", "dead", "failed"]),
                    col(Outbox.not_before) < events_before,
                ),
            ),
        ]
        for name, statement in steps:
            counts[name] = int((await self.session.exec(statement)).rowcount)
        return counts

    # --- access log ------------------------------------------------------------------------

    async def log_access(
        self, at: datetime, actor_id: int | None, student_id: int | None, action: str, detail: str
    ) -> None:
        self.session.add(
            AccessLog(
                at=at, actor_id=actor_id, student_id=student_id, action=action, detail=detail[:200]
            )
        )
        await self.session.flush()

    async def access_log(
        self, student_id: int | None = None, actor_id: int | None = None, action: str | None = None
    ) -> Sequence[AccessLog]:
        statement = select(AccessLog).order_by(col(AccessLog.at), col(AccessLog.id))
        if student_id is not None:
            statement = statement.where(AccessLog.student_id == student_id)
        if actor_id is not None:
            statement = statement.where(AccessLog.actor_id == actor_id)
        if action is not None:
            statement = statement.where(AccessLog.action == action)
        return (await self.session.exec(statement)).all()

    # --- the whole record (/record, export) -------------------------------------------------

    async def all_entries(self, student_id: int) -> Sequence[tuple[Entry, str]]:
        """Every entry about a student with its author's name, oldest first."""
        statement = (
            select(Entry, func.coalesce(Person.display_name, ""))
            .outerjoin(Person, col(Person.id) == col(Entry.author_id))
            .where(Entry.student_id == student_id)
            .order_by(col(Entry.created_at), col(Entry.id))
        )
        return (await self.session.exec(statement)).all()

    async def revisions_of(self, entry_ids: Sequence[int]) -> Sequence[EntryRevision]:
        """Earlier wordings of these entries, oldest first."""
        if not entry_ids:
            return []
        statement = (
            select(EntryRevision)
            .where(col(EntryRevision.entry_id).in_(entry_ids))
            .order_by(col(EntryRevision.edited_at), col(EntryRevision.id))
        )
        return (await self.session.exec(statement)).all()

    async def all_goals(self, student_id: int) -> Sequence[Goal]:
        """Every goal a student has had, retired ones too."""
        statement = select(Goal).where(Goal.student_id == student_id).order_by(col(Goal.tag))
        return (await self.session.exec(statement)).all()

    async def names_of(self, person_ids: Sequence[int]) -> dict[int, str]:
        """Display names of these people (those still here)."""
        if not person_ids:
            return {}
        statement = select(Person).where(col(Person.id).in_(person_ids))
        return {
            person.id: person.display_name
            for person in (await self.session.exec(statement)).all()
            if person.id is not None
        }

    async def admins_of(self, school_id: int) -> Sequence[Person]:
        statement = (
            select(Person)
            .join(Admin, col(Admin.person_id) == col(Person.id))
            .where(Admin.school_id == school_id)
            .order_by(col(Person.id))
        )
        return (await self.session.exec(statement)).all()

    # --- amendments (a parent asks for a correction) ---------------------------------------

    async def add_amendment(self, amendment: Amendment) -> Amendment:
        return await self._add(amendment)

    async def amendment(self, amendment_id: int) -> Amendment | None:
        return await self.session.get(Amendment, amendment_id)

    async def amendments_of(self, student_id: int) -> Sequence[Amendment]:
        statement = (
            select(Amendment)
            .where(Amendment.student_id == student_id)
            .order_by(col(Amendment.requested_at), col(Amendment.id))
        )
        return (await self.session.exec(statement)).all()

    async def decide_amendment(
        self, amendment: Amendment, status: AmendmentStatus, person_id: int, now: datetime
    ) -> bool:
        """Settle a pending request; False if someone else decided it first."""
        statement = (
            update(Amendment)
            .where(
                col(Amendment.id) == amendment.id, col(Amendment.status) == AmendmentStatus.PENDING
            )
            .values(status=status, decided_by=person_id, decided_at=now)
            .execution_options(synchronize_session=False)
        )
        if not (await self.session.exec(statement)).rowcount:
            return False
        await self.session.refresh(amendment)
        return True

    # --- roster import ---------------------------------------------------------------------

    async def roster_invites(self, student_id: int, role: str, label: str) -> Sequence[Invite]:
        """Invites a roster import made for this adult on this student's team."""
        statement = select(Invite).where(
            Invite.student_id == student_id, Invite.role == role, Invite.label == label
        )
        return (await self.session.exec(statement)).all()

    # --- forgetting a student ----------------------------------------------------------------

    async def lone_team_members(self, student_id: int) -> list[int]:
        """People on this student's team with no other team and no school to administer."""
        others = select(Membership.person_id).where(Membership.student_id != student_id)
        admins = select(Admin.person_id)
        statement = select(Membership.person_id).where(
            Membership.student_id == student_id,
            col(Membership.person_id).not_in(others),
            col(Membership.person_id).not_in(admins),
        )
        return sorted(set((await self.session.exec(statement)).all()))

    async def forget_student(
        self, student_id: int, mentions: Callable[[str], bool], meant: Callable[[str], bool]
    ) -> dict[str, int]:
        """Delete the student and every row about them; how many of each went.

        Rows that carry no student id can still name them: `mentions(text)` finds the name in a
        letter or a button's payload (a teacher's nudge lists names), `meant(detail)` in an
        access-log row (a refusal logged before the student existed). Explicit deletes, not
        cascades, so each count is known.
        """
        entry_ids = list(
            (await self.session.exec(select(Entry.id).where(Entry.student_id == student_id))).all()
        )
        amendment_ids = list(
            (
                await self.session.exec(
                    select(Amendment.id).where(Amendment.student_id == student_id)
                )
            ).all()
        )
        counts: dict[str, int] = {}

        def payload_names_it(payload: dict[str, Any]) -> bool:
            return (
                payload.get("student_id") == student_id
                or payload.get("entry_id") in entry_ids
                or payload.get("amendment_id") in amendment_ids
                or mentions(json.dumps(payload, ensure_ascii=False))
            )

        pending = [
            row
            for row in (await self.session.exec(select(PendingAction))).all()
            if payload_names_it(row.payload)
        ]
        for row in pending:
            await self.session.delete(row)
        counts["pending_actions"] = len(pending)
        unaddressed = select(Outbox).where(col(Outbox.student_id).is_(None))
        mentioned = [
            row.id
            for row in (await self.session.exec(unaddressed)).all()
            if payload_names_it(row.payload)
        ]
        counts["outbox"] = int(
            (
                await self.session.exec(
                    delete(Outbox).where(
                        or_(col(Outbox.student_id) == student_id, col(Outbox.id).in_(mentioned))
                    )
                )
            ).rowcount
        )
        unfiled = select(AccessLog).where(col(AccessLog.student_id).is_(None))
        named = [row.id for row in (await self.session.exec(unfiled)).all() if meant(row.detail)]
        counts["access_log"] = int(
            (
                await self.session.exec(
                    delete(AccessLog).where(
                        or_(col(AccessLog.student_id) == student_id, col(AccessLog.id).in_(named))
                    )
                )
            ).rowcount
        )
        steps: list[tuple[str, Any]] = [
            (
                "acknowledgements",
                delete(Acknowledgement).where(col(Acknowledgement.entry_id).in_(entry_ids)),
            ),
            ("amendments", delete(Amendment).where(col(Amendment.student_id) == student_id)),
            ("revisions", delete(EntryRevision).where(col(EntryRevision.entry_id).in_(entry_ids))),
            ("entries", delete(Entry).where(col(Entry.student_id) == student_id)),
            ("goals", delete(Goal).where(col(Goal.student_id) == student_id)),
            ("invites", delete(Invite).where(col(Invite.student_id) == student_id)),
            ("memberships", delete(Membership).where(col(Membership.student_id) == student_id)),
            ("students", delete(Student).where(col(Student.id) == student_id)),
        ]
        for name, statement in steps:
            counts[name] = int(
                (
                    await self.session.exec(statement.execution_options(synchronize_session=False))
                ).rowcount
            )
        await self.session.flush()
        self.session.expunge_all()
        return counts

    async def delete_people(self, person_ids: Sequence[int]) -> int:
        """Delete people and, through their foreign keys, their accounts, buttons and letters."""
        if not person_ids:
            return 0
        statement = delete(Person).where(col(Person.id).in_(person_ids))
        return int(
            (
                await self.session.exec(statement.execution_options(synchronize_session=False))
            ).rowcount
        )

    async def entries_in_school_mentioning(
        self, school_id: int, word: str, names_it: Callable[[str], bool]
    ) -> int:
        """How many entries (of any student of the school) name someone, by `names_it`."""
        statement = (
            select(Entry.text)
            .join(Student, col(Student.id) == col(Entry.student_id))
            .where(
                Student.school_id == school_id,
                func.lower(Entry.text).contains(word.lower(), autoescape=True),
            )
        )
        return sum(1 for text in (await self.session.exec(statement)).all() if names_it(text))

    # --- status ----------------------------------------------------------------------------

    async def status_counts(self, week_start: datetime) -> dict[str, Any]:
        async def count(model: Any, *where: Any) -> int:
            statement = select(func.count()).select_from(model).where(*where)
            return int((await self.session.exec(statement)).one())

        by_status = select(Outbox.status, func.count()).group_by(col(Outbox.status))
        return {
            "schools": await count(School),
            "people": await count(Person),
            "students": await count(Student, col(Student.archived).is_(False)),
            "entries_this_week": await count(Entry, col(Entry.created_at) >= week_start),
            "outbox": {status: n for status, n in (await self.session.exec(by_status)).all()},
        }

    # --- urgent notes ----------------------------------------------------------------------

    async def urgent_count_since(self, author_id: int, since: datetime) -> int:
        """How many urgent notes the person has written since `since`. Asked only when an
        urgent note comes (they are rare), so no index is kept for it."""
        statement = (
            select(func.count())
            .select_from(Entry)
            .where(
                Entry.author_id == author_id,
                Entry.kind == "urgent",
                col(Entry.created_at) >= since,
            )
        )
        return int((await self.session.exec(statement)).one())
