"""What the stores share: their base class and the statements every message runs, built once."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    String,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    null,
    true,
    union_all,
)
from sqlalchemy import column as sql_column
from sqlalchemy import select as sa_select  # sqlmodel's select types at most 4 columns
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.expression import Executable
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from storage import pg_driver
from storage.db import session_dialect
from storage.models import (
    Account,
    Admin,
    Delivery,
    Entry,
    Goal,
    Membership,
    PendingAction,
    Person,
    Role,
    SeenEvent,
    Student,
)

Row = TypeVar("Row")


# Where a session keeps the links read with the sender until it writes (students.py).
KNOWN_LINKS = "tandem.known_links"


class Queries:
    """Queries over one session (one transaction per incoming event or CLI command)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> Dialect:
        return session_dialect(self.session)

    async def _add(self, row: Row) -> Row:
        self.session.add(row)
        await self.session.flush()
        return row

    async def _run_core(self, statement: Executable, params: dict[str, Any]) -> CursorResult[Any]:
        """Run a Core statement on the session's connection, past the ORM's execution (its
        compile state, events and result wrapping: more Python than a hot INSERT needs). What
        the session holds unflushed is flushed first, as the ORM's autoflush would."""

        def run(session: Session) -> CursorResult[Any]:
            session.flush()
            # A write here is past the ORM's events, which forget the links read with the
            # sender (students.py): forgotten here too.
            session.info.pop(KNOWN_LINKS, None)
            return session.connection().execute(statement, params)

        return await self.session.run_sync(run)

    async def _write_on_driver(self, statement: Executable, params: dict[str, Any]) -> int:
        """PostgreSQL: `_run_core` for a statement that answers no rows, straight on asyncpg
        (storage/pg_driver.py); how many rows it wrote."""
        self.session.info.pop(KNOWN_LINKS, None)
        written = await pg_driver.execute(self.session, statement, params)
        self.session.info.pop(KNOWN_LINKS, None)  # a flush before it may have brought them
        return written

    async def _returning_on_driver(
        self, statement: Executable, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        """`_write_on_driver` for a statement that answers rows (RETURNING): those rows."""
        self.session.info.pop(KNOWN_LINKS, None)
        rows = await pg_driver.fetch(self.session, statement, params)
        self.session.info.pop(KNOWN_LINKS, None)
        return rows


# --- the statements every message runs, built once --------------------------------------------
# Building a statement and its cache key costs more than SQLite takes to run it, so what each
# incoming message asks is built here once, with bound parameters, and only executed per event.


def _table(model: type[SQLModel]) -> Table:
    """A model's table: writes against it are plain Core statements (no ORM bulk mode, no unit
    of work), for rows the transaction does not touch again."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


SEEN = {
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

SENDER = (
    select(Account, Person, _AWAITS_FOLLOW_UP.label("awaits_follow_up"))
    .join(Person, col(Person.id) == col(Account.person_id))
    .where(
        col(Account.platform) == bindparam("platform"),
        col(Account.workspace) == bindparam("workspace"),
        col(Account.external_id) == bindparam("external_id"),
    )
)


def _linked(person_id: Any) -> Any:
    """A person's students (`person_id`: a bound parameter, or a column of an outer query): each
    team they are on (with its role, and the shape of the team), then each student of each
    school they run (no role: that is how they differ). Archived students too: their record
    stays readable; access.py refuses what would add to it."""
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
            col(instant.person_id) != person_id,
        )
        .correlate_except(instant)  # the student, and the person of an outer query
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
        .where(col(Membership.person_id) == person_id)
    )
    administered = sa_select(
        *student_columns,
        null().label("role"),
        null().label("weekly_parents"),
        null().label("instant_others"),
    ).where(
        col(Student.school_id).in_(
            select(Admin.school_id).where(col(Admin.person_id) == person_id).correlate_except(Admin)
        )
    )
    return union_all(on_team, administered)


def _links_statement() -> Select[Student, Any, Any, Any]:
    """A person's students (`_linked`) in one query, the person bound as `person_id`."""
    linked = _linked(bindparam("person_id")).subquery("linked")
    return select(
        aliased(Student, linked), linked.c.role, linked.c.weekly_parents, linked.c.instant_others
    )


LINKS = _links_statement()

GOALS = (
    select(Goal)
    .where(col(Goal.student_id) == bindparam("student_id"), col(Goal.active).is_(True))
    .order_by(col(Goal.tag))
)

NEW_ENTRY = insert(_table(Entry)).returning(_table(Entry).c.id)
ENTRY_COLUMNS = tuple(column.name for column in _table(Entry).columns if column.name != "id")

TEAM = (
    select(Person, Membership)
    .join(Membership, col(Membership.person_id) == col(Person.id))
    .where(col(Membership.student_id) == bindparam("student_id"))
    .order_by(col(Membership.role).desc(), col(Person.display_name))
)

NEW_BUTTONS = insert(_table(PendingAction))

FOLLOW_UP = (
    select(PendingAction)
    .where(*_awaiting(bindparam("person_id")))
    .order_by(col(PendingAction.expires_at).desc())
)


def _awaits_follow_up_pg() -> Any:
    """_AWAITS_FOLLOW_UP with the actions as one array parameter (`= ANY`): an expanding IN
    is rendered into the SQL again at each execution."""
    return exists().where(
        col(PendingAction.person_id) == col(Person.id),
        col(PendingAction.action) == any_(bindparam("actions", type_=ARRAY(String))),
        col(PendingAction.expires_at) > bindparam("now"),
    )


def _sender_and_links() -> Any:
    """PostgreSQL's SENDER with the person's students (LINKS), in one query: a row per student
    (one row, without a student, for a person who has none)."""
    linked = _linked(col(Person.id)).subquery("linked").lateral("linked")
    return (
        sa_select(
            Account,
            Person,
            _awaits_follow_up_pg().label("awaits_follow_up"),
            aliased(Student, linked),
            linked.c.role,
            linked.c.weekly_parents,
            linked.c.instant_others,
        )
        .join(Person, col(Person.id) == col(Account.person_id))
        .outerjoin(linked, true())
        .where(
            col(Account.platform) == bindparam("platform"),
            col(Account.workspace) == bindparam("workspace"),
            col(Account.external_id) == bindparam("external_id"),
        )
    )


SENDER_AND_LINKS = _sender_and_links()


def _seen_and_sender() -> Any:
    """PostgreSQL's SEEN and SENDER_AND_LINKS in one statement, run once the chat's turn is held
    (`pg_driver.begin_in_turn`): its snapshot is taken after the wait, so what it reads includes
    what the chat's previous event committed; ON CONFLICT checks the unique index, which sees a
    retry handled meanwhile. Its first column, `fresh`, is 1 if the event is new (0: a retry);
    the sender's columns follow (null, in the one row, for a stranger)."""
    seen = _table(SeenEvent)
    new_row = (
        pg_insert(seen)
        .values({column.name: bindparam(column.name, type_=column.type) for column in seen.columns})
        .on_conflict_do_nothing()
        .returning(seen.c.event_id)
        .cte("seen")
    )
    fresh = sa_select(func.count().label("fresh")).select_from(new_row).subquery("fresh")
    sender = _sender_and_links().subquery("sender")
    return sa_select(fresh.c.fresh, *sender.c).select_from(fresh.outerjoin(sender, true()))


SEEN_AND_SENDER = _seen_and_sender()


def _new_entry_with_buttons() -> Any:
    """PostgreSQL's NEW_ENTRY and NEW_BUTTONS in one statement: the entry's INSERT and its
    buttons' (bound as `buttons`, a JSON list of {token, action, payload}, with `person_id` and
    `expires_at`) as data-modifying CTEs; each payload gets the new entry's id as `entry_id`.
    Answers the entry's id."""
    entry, pending = _table(Entry), _table(PendingAction)
    new_entry = (
        insert(entry)
        .values({name: bindparam(name, type_=entry.c[name].type) for name in ENTRY_COLUMNS})
        .returning(entry.c.id)
        .cte("new_entry")
    )
    button = (
        func.jsonb_to_recordset(bindparam("buttons", type_=JSONB))
        .table_valued(
            sql_column("token", Text), sql_column("action", Text), sql_column("payload", JSONB)
        )
        .render_derived("button", with_types=True)
    )
    with_entry_id = button.c.payload.op("||")(
        func.jsonb_build_object(literal_column("'entry_id'"), new_entry.c.id)
    )
    rows = (
        sa_select(
            button.c.token,
            bindparam("person_id", type_=pending.c.person_id.type),
            button.c.action,
            cast(with_entry_id, pending.c.payload.type),
            bindparam("expires_at", type_=pending.c.expires_at.type),
        )
        .select_from(new_entry)
        .join(button, true())
    )
    columns = ["token", "person_id", "action", "payload", "expires_at"]
    new_buttons = insert(pending).from_select(columns, rows).cte("new_buttons")
    return sa_select(new_entry.c.id).add_cte(new_buttons)


NEW_ENTRY_WITH_BUTTONS = _new_entry_with_buttons()
