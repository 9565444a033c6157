"""People and their accounts: who wrote, who is reached where, merging two people into one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    PrimaryKeyConstraint,
    UniqueConstraint,
    case,
    delete,
    exists,
    func,
    update,
)
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.main import default_registry

from storage import pg_driver
from storage.locks import chat_key
from storage.models import Account, Entry, Membership, Person, Platform, Student
from storage.stores._sql import SEEN_AND_SENDER, SENDER, SENDER_AND_LINKS, Queries, Row
from storage.stores.events import EventStore
from storage.stores.students import links_from, remember_links


@dataclass(frozen=True)
class MergedPeople:
    """What moved when two people became one: new students on the team, notes they wrote."""

    students: int
    entries: int


@dataclass(frozen=True)
class KnownSender:
    """Who wrote: their account and person, and whether a follow-up awaits their next text."""

    account: Account
    person: Person
    awaits_follow_up: bool  # an unexpired pending action of the kinds asked about


@dataclass(frozen=True)
class Arrival:
    """An incoming event as its transaction first sees it: whether it is new (False: a
    platform's retry of one handled already), and who sent it (None: a stranger)."""

    fresh: bool
    sender: KnownSender | None


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


# Where each entity's columns are in a row of SENDER_AND_LINKS: the account's, the person's,
# whether a follow-up awaits, the student's, then the link's role and team.
_ACCOUNT_COLUMNS = tuple(Account.__table__.columns.keys())  # type: ignore[attr-defined]
_PERSON_COLUMNS = tuple(Person.__table__.columns.keys())  # type: ignore[attr-defined]
_STUDENT_COLUMNS = tuple(Student.__table__.columns.keys())  # type: ignore[attr-defined]
_PERSON_AT = len(_ACCOUNT_COLUMNS)
_STUDENT_AT = _PERSON_AT + len(_PERSON_COLUMNS) + 1
_LINK_AT = _STUDENT_AT + len(_STUDENT_COLUMNS)


class PeopleStore(Queries):
    """People and their platform accounts."""

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
        which answer none, need no look for one). On PostgreSQL the same query brings the
        person's students, which then stand for `students.links_of` (see `remember_links`)."""
        params = {
            "platform": platform,
            "workspace": workspace,
            "external_id": external_id,
            "actions": list(follow_ups),
            "now": now,
        }
        if self._dialect.name != "postgresql":
            found = (await self.session.exec(SENDER, params=params)).first()
            return KnownSender(found[0], found[1], bool(found[2])) if found else None
        return self._sender_from(await pg_driver.fetch(self.session, SENDER_AND_LINKS, params))

    async def arrival(
        self,
        *,
        platform: str,
        workspace: str,
        external_id: str,
        chat: str,
        event_id: str,
        follow_ups: Sequence[str],
        now: datetime,
    ) -> Arrival:
        """Take the chat's turn (storage/locks.py), then mark the event seen and read its sender
        as `sender` does: replicas handle one chat's events one at a time, in the order they
        came, and a retry of one handled meanwhile is recognised. The dedupe row shares the
        transaction: if handling fails, a retry is handled again. On PostgreSQL two round
        trips (BEGIN with the turn; the dedupe row with the sender). SQLite has one process,
        whose adapters keep a chat's order (adapters/kit.py, ChatTurns)."""
        if self._dialect.name != "postgresql":
            if not await EventStore(self.session).mark_seen(platform, event_id, now):
                return Arrival(fresh=False, sender=None)
            found = await self.sender(platform, workspace, external_id, follow_ups, now)
            return Arrival(fresh=True, sender=found)
        await pg_driver.begin_in_turn(self.session, chat_key(platform, workspace, chat))
        params = {
            "platform": platform,
            "event_id": event_id,
            "seen_at": now,
            "workspace": workspace,
            "external_id": external_id,
            "actions": list(follow_ups),
            "now": now,
        }
        rows = await pg_driver.fetch(self.session, SEEN_AND_SENDER, params)
        if not rows[0][0]:
            return Arrival(fresh=False, sender=None)
        # Past `fresh`, a row of SENDER_AND_LINKS; a stranger's has its account's id null.
        known = [row[1:] for row in rows] if rows[0][1] is not None else []
        return Arrival(fresh=True, sender=self._sender_from(known))

    def _sender_from(self, rows: Sequence[Sequence[Any]]) -> KnownSender | None:
        """The sender in SENDER_AND_LINKS' rows, their students remembered (`remember_links`)."""
        if not rows:
            return None
        account = self._attach(Account, _ACCOUNT_COLUMNS, rows[0], 0)
        person = self._attach(Person, _PERSON_COLUMNS, rows[0], _PERSON_AT)
        assert person.id is not None
        linked = [
            (self._attach(Student, _STUDENT_COLUMNS, row, _STUDENT_AT), *row[_LINK_AT:])
            for row in rows
            if row[_STUDENT_AT] is not None
        ]
        remember_links(self.session, person.id, links_from(linked))
        return KnownSender(account, person, bool(rows[0][_PERSON_AT + len(_PERSON_COLUMNS)]))

    def _attach(self, model: type[Row], columns: Sequence[str], row: Sequence[Any], at: int) -> Row:
        """The `model` whose columns start at `at` in a row of SENDER_AND_LINKS."""
        return pg_driver.attach(self.session, model, dict(zip(columns, row[at:], strict=False)))

    async def account(self, platform: str, workspace: str, external_id: str) -> Account | None:
        statement = select(Account).where(
            Account.platform == platform,
            Account.workspace == workspace,
            Account.external_id == external_id,
        )
        return (await self.session.exec(statement)).first()

    async def get(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def add(self, display_name: str, language: str) -> Person:
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

    async def save(self, row: Row) -> Row:
        """Write back a person or an account this transaction changed."""
        return await self._add(row)

    async def attach_account(self, account: Account, person_id: int) -> None:
        """Make an account one of `person_id`'s; it is active again, its owner just wrote."""
        account.person_id = person_id
        account.active = True
        await self._add(account)

    async def on_platform(self, platform: str) -> Sequence[tuple[Person, Account]]:
        statement = (
            select(Person, Account)
            .join(Account, col(Account.person_id) == col(Person.id))
            .where(Account.platform == platform)
            .order_by(col(Person.id))
        )
        return (await self.session.exec(statement)).all()

    async def delivery_account(self, person_id: int) -> Account | None:
        """The account a person is reached on: their active one on the platform they chose
        (`/delivery email`), else their first active one."""
        statement = (
            select(Account)
            .join(Person, col(Person.id) == col(Account.person_id))
            .where(Account.person_id == person_id, col(Account.active).is_(True))
            .order_by(chosen_first(), col(Account.id))
        )
        return (await self.session.exec(statement)).first()

    async def deactivate_accounts(self, platform: str, dm_chat_id: str) -> int:
        """Mark the accounts reached through this direct chat inactive (the bot was blocked)."""
        statement = (
            update(Account)
            .where(col(Account.platform) == platform, col(Account.dm_chat_id) == dm_chat_id)
            .values(active=False)
        )
        result = await self.session.exec(statement)
        return int(result.rowcount)

    async def deactivate_account(self, account_id: int) -> bool:
        """Mark one account inactive (it blocked the bot); False if it already was."""
        statement = (
            update(Account)
            .where(col(Account.id) == account_id, col(Account.active).is_(True))
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
        return bool((await self.session.exec(statement)).rowcount)

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

    async def platforms_of(self, person_ids: Sequence[int]) -> dict[int, list[str]]:
        """The platforms each of these people has an account on, each once, by name."""
        if not person_ids:
            return {}
        statement = (
            select(Account.person_id, Account.platform)
            .distinct()
            .where(col(Account.person_id).in_(person_ids))
            .order_by(col(Account.person_id), col(Account.platform))
        )
        found: dict[int, list[str]] = {person_id: [] for person_id in person_ids}
        for person_id, platform in (await self.session.exec(statement)).all():
            found[person_id].append(platform)
        return found

    async def authored(self, person_id: int) -> int:
        """How many entries a person wrote."""
        statement = select(func.count()).select_from(Entry).where(Entry.author_id == person_id)
        return int((await self.session.exec(statement)).one())

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

    async def merge(self, keep_id: int, drop_id: int) -> MergedPeople:
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

    async def delete(self, person_ids: Sequence[int]) -> int:
        """Delete people and, through their foreign keys, their accounts, buttons and letters."""
        if not person_ids:
            return 0
        statement = delete(Person).where(col(Person.id).in_(person_ids))
        return int(
            (
                await self.session.exec(statement.execution_options(synchronize_session=False))
            ).rowcount
        )


def chosen_first() -> ColumnElement[int]:
    """0 for an account on the platform its person chose, 1 for the others: an order."""
    return case((col(Account.platform) == col(Person.delivery_platform), 0), else_=1)
