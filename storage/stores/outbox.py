"""The outbox: queueing letters (one or many at once), the sender's claims, each letter's fate."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Text,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    not_,
    or_,
    text,
    true,
    update,
)
from sqlalchemy import column as sa_column
from sqlalchemy import select as sa_select  # sqlmodel's select types at most 4 columns
from sqlalchemy import table as sa_table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Subquery
from sqlalchemy.sql.schema import Column
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Account,
    Admin,
    Entry,
    EntryKind,
    Membership,
    Outbox,
    OutboxStatus,
    Student,
    UTCDateTime,
)
from storage.outbox_keys import CHART, CHECKIN, NUDGE, SUMMARY, entry_letter_prefixes
from storage.stores._sql import Queries


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

# PostgreSQL stages a job's letters here (temporary tables: `OutboxStore._copy_values`).
_STAGED_LETTERS = "outbox_staged_letter"
_STAGED_PAYLOADS = "outbox_staged_payload"


def _json_serializer(connection: AsyncConnection) -> Callable[[Any], str]:
    """The function the JSON column type serialises with on this connection."""
    serialize: Callable[[Any], str] | None = getattr(connection.dialect, "_json_serializer", None)
    return serialize or json.dumps


def _staged_records(
    dialect: Dialect, columns: Sequence[Column[Any]], rows: Sequence[dict[str, Any]]
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    """The letters as COPY records (their order, their payload's place, then `columns`), and
    the distinct payloads they point to: a payload shared by many letters is staged once."""
    names = [column.name for column in columns]
    numbers: dict[int, int] = {}  # id(payload) -> its place among the distinct payloads
    payloads: list[dict[str, Any]] = []
    for row in rows:
        if id(row["payload"]) not in numbers:
            numbers[id(row["payload"])] = len(payloads)
            payloads.append(row["payload"])
    # Each value as SQLAlchemy would hand it to the driver (UTC datetimes checked and
    # converted), before COPY starts: a bad value fails here, not halfway through it.
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
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
    return letters, payloads


async def _create_staging_tables(connection: AsyncConnection, names: Sequence[str]) -> None:
    """The two temporary tables COPY fills: the letters' columns, and the distinct payloads.
    Both are dropped by `_copy_values` (and would be at the end of the transaction)."""
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


async def _insert_staged(connection: AsyncConnection, names: Sequence[str]) -> int:
    """Insert the staged letters, each with its payload, skipping dedupe keys already queued;
    how many were new."""
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
    return int(result.rowcount)


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    """No live claim: never claimed, or claimed by a worker whose claim has run out."""
    return or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) <= now)


def _turns_in_school(now: datetime, platforms: Sequence[str]) -> Subquery:
    """Each due letter's turn within its school (`turn`: 1 for the school's first): urgent
    notes first, then the oldest due."""
    turn = func.row_number().over(
        partition_by=col(Outbox.school_id),
        order_by=(
            case((col(Outbox.kind) == EntryKind.URGENT, 0), else_=1),
            col(Outbox.not_before),
            col(Outbox.id),
        ),
    )
    return (
        sa_select(col(Outbox.id).label("id"), turn.label("turn"))
        .join(Account, col(Account.id) == col(Outbox.account_id))
        .where(
            col(Outbox.status) == OutboxStatus.PENDING,
            col(Outbox.not_before) <= now,
            _unclaimed(now),
            col(Account.platform).in_(platforms),
        )
        .subquery("turns")
    )


# What `last_error` says of a letter dropped at delivery (`OutboxStore.drop_unwelcome`).
NOT_ON_TEAM = "recipient no longer on the team"
# The weekly letters about a student that stop when the student is archived.
WEEKLY_KINDS = (CHECKIN, NUDGE, SUMMARY, CHART)


def _unwelcome() -> ColumnElement[bool]:
    """A letter about a student whose recipient may no longer read about them: not on the
    student's team and not an admin of their school (or the student is gone), or a weekly
    letter about an archived student. Each test is one lookup in a unique index."""
    on_team = exists().where(
        col(Membership.person_id) == col(Outbox.person_id),
        col(Membership.student_id) == col(Outbox.student_id),
    )
    admin = exists().where(
        col(Admin.person_id) == col(Outbox.person_id),
        col(Admin.school_id) == col(Outbox.school_id),
    )
    archived = exists().where(
        col(Student.id) == col(Outbox.student_id), col(Student.archived).is_(True)
    )
    return and_(
        col(Outbox.student_id).is_not(None),
        or_(
            and_(not_(on_team), not_(admin)),
            and_(col(Outbox.kind).in_(WEEKLY_KINDS), archived),
        ),
    )


# A job queueing this many letters at once brings the planner's statistics up to date.
ANALYZE_AFTER_ROWS = 500


class OutboxStore(Queries):
    """Letters: queued by handlers and jobs, claimed and settled by the sender."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        # Outbox rows this transaction queued, so the caller knows whether to wake the sender.
        self.letters_queued = 0
        # Letters this transaction's claims dropped: their recipient had left the team.
        self.letters_cancelled = 0

    async def add(self, row: Outbox) -> bool:
        """Insert unless a row with the same dedupe key exists; True if inserted."""
        dialect = self._dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        values: dict[str, Any] = row.model_dump(exclude={"id"})
        if row.school_id is None and row.student_id is not None:
            # The student's school, read by the same statement.
            values["school_id"] = (
                select(Student.school_id).where(Student.id == row.student_id).scalar_subquery()
            )
        statement = (
            insert(Outbox).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result = await self.session.exec(statement)
        self.letters_queued += int(bool(result.rowcount))
        return bool(result.rowcount)

    async def add_claimed(self, row: Outbox) -> Outbox | None:
        """Insert a letter already claimed (`row.claimed_by`, `row.claimed_until`) by the
        sender that queues it (a letter's follow-up), unless its dedupe key is queued; the row
        with its id, or None."""
        dialect = self._dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert(Outbox)
            .values(**row.model_dump(exclude={"id"}))
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(col(Outbox.id))
        )
        row_id = (await self.session.exec(statement)).scalar()
        if row_id is None:
            return None
        self.letters_queued += 1
        return row.model_copy(update={"id": row_id})

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert many outbox rows given as column values (every column but `id`, as
        `outbox_values` makes them), skipping dedupe keys already queued; how many were new.
        A constant number of statements, however many rows: PostgreSQL copies them into
        temporary tables and inserts from there (`_copy_values`), SQLite runs one
        prepared statement for every row (executemany).

        Rows that share one payload object (a summary to each member of a team) share its JSON
        too: it is written as the JSON type would write it, once.
        """
        if not rows:
            return 0
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            inserted = await self._copy_values(connection, rows)
            if inserted >= ANALYZE_AFTER_ROWS:
                # A table never analyzed looks empty to the planner, and the sender's claim,
                # planned as a nested loop, then takes seconds per claim (3.6 s with 5,000 due
                # letters) until autovacuum gets to it, if it is on at all.
                await connection.exec_driver_sql("ANALYZE outbox")
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

    async def _copy_values(
        self, connection: AsyncConnection, rows: Sequence[dict[str, Any]]
    ) -> int:
        """PostgreSQL's `add_many`: COPY the letters and their distinct payloads
        into two temporary tables, then one INSERT … SELECT … ON CONFLICT DO NOTHING.

        COPY streams (asyncpg sends about 512 KB at a time) and each payload is serialised only
        as it is sent, so neither one statement's arrays of every letter nor every letter's
        JSON is ever in memory at once. Six statements, whatever the number of rows.
        """
        serialize = _json_serializer(connection)
        columns = [
            column
            for column in Outbox.__table__.columns  # type: ignore[attr-defined]
            if column.name not in ("id", "payload")
        ]
        names = [column.name for column in columns]
        letters, payloads = _staged_records(connection.dialect, columns, rows)

        def payload_texts() -> Iterator[tuple[int, str]]:
            for number, payload in enumerate(payloads):
                yield number, serialize(payload)

        await _create_staging_tables(connection, names)
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
        inserted = await _insert_staged(connection, names)
        await connection.execute(text(f"DROP TABLE {_STAGED_LETTERS}, {_STAGED_PAYLOADS}"))
        return inserted

    async def delete_about_entry(self, entry: Entry) -> int:
        """Delete the not-yet-sent letters about an entry (it was undone)."""
        assert entry.id is not None
        keys = [prefix + "%" for prefix in entry_letter_prefixes(entry.id)]
        statement = delete(Outbox).where(
            col(Outbox.status) == OutboxStatus.PENDING,
            or_(*(col(Outbox.dedupe_key).like(key) for key in keys)),
        )
        return int((await self.session.exec(statement)).rowcount)

    async def cancel_for(
        self, person_id: int, student_id: int, mentions: Callable[[str], bool]
    ) -> int:
        """Delete a person's unsent letters about a student: those filed under the student, and
        those filed under none that name them (a teacher's weekly nudge lists names)."""
        unfiled = select(Outbox).where(
            col(Outbox.person_id) == person_id,
            col(Outbox.status) == OutboxStatus.PENDING,
            col(Outbox.student_id).is_(None),
        )
        naming = [
            row.id
            for row in (await self.session.exec(unfiled)).all()
            if mentions(json.dumps(row.payload, ensure_ascii=False))
        ]
        statement = delete(Outbox).where(
            col(Outbox.person_id) == person_id,
            col(Outbox.status) == OutboxStatus.PENDING,
            or_(col(Outbox.student_id) == student_id, col(Outbox.id).in_(naming)),
        )
        return int((await self.session.exec(statement)).rowcount)

    async def cancel_about(
        self, student_id: int, kinds: Sequence[str], mentions: Callable[[str], bool]
    ) -> int:
        """Delete the unsent letters of these kinds about a student (archived: its check-ins,
        summaries, and the teachers' nudges that name them)."""
        unfiled = select(Outbox).where(
            col(Outbox.status) == OutboxStatus.PENDING,
            col(Outbox.student_id).is_(None),
            col(Outbox.kind).in_(kinds),
        )
        naming = [
            row.id
            for row in (await self.session.exec(unfiled)).all()
            if mentions(json.dumps(row.payload, ensure_ascii=False))
        ]
        statement = delete(Outbox).where(
            col(Outbox.status) == OutboxStatus.PENDING,
            col(Outbox.kind).in_(kinds),
            or_(col(Outbox.student_id) == student_id, col(Outbox.id).in_(naming)),
        )
        return int((await self.session.exec(statement)).rowcount)

    async def sent_as(self, account_id: int, sent_ref: str) -> Outbox | None:
        """The letter delivered to this account as that platform message."""
        statement = select(Outbox).where(
            Outbox.account_id == account_id, Outbox.sent_ref == sent_ref
        )
        return (await self.session.exec(statement)).first()

    # The sender's side of the outbox: claim due letters, then settle each one in its own short
    # transaction, only while this worker still holds its claim.

    async def claim(
        self, worker: str, now: datetime, until: datetime, limit: int, platforms: Sequence[str]
    ) -> list[tuple[Outbox, Account]]:
        """Reserve up to `limit` due letters for `worker` until `until`, taking turns between
        schools: each school's oldest due letter first (its urgent notes before the rest), then
        each school's second, and so on. One school's flood never holds up another's letters.

        Due: pending, `not_before` reached, and unclaimed or claimed by a worker whose claim has
        run out (it crashed). On PostgreSQL concurrent claimers skip each other's locked rows
        (FOR UPDATE SKIP LOCKED); the update checks the claim again, so no row goes to two.
        """
        if limit <= 0 or not platforms:
            return []
        unclaimed = _unclaimed(now)
        pending = col(Outbox.status) == OutboxStatus.PENDING
        turns = _turns_in_school(now, platforms)
        # Ranked in a subquery: PostgreSQL locks no row in a query that ranks with a window.
        due = (
            select(Outbox.id)
            .join(turns, turns.c.id == col(Outbox.id))
            .where(pending, unclaimed)
            .order_by(turns.c.turn, col(Outbox.not_before), col(Outbox.id))
            .limit(limit)
        )
        if self._dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True, of=Outbox)
        ids = [row_id for row_id in (await self.session.exec(due)).all() if row_id is not None]
        ids = await self._drop_unwelcome(ids)
        if not ids:
            return []
        await self.session.exec(
            update(Outbox)
            .where(col(Outbox.id).in_(ids), pending, unclaimed)
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
        )
        # In turn, as chosen: the sender queues each chat's letters in this order.
        turn: dict[int | None, int] = {row_id: n for n, row_id in enumerate(ids)}
        return sorted((await self.session.exec(claimed)).all(), key=lambda got: turn[got[0].id])

    async def _drop_unwelcome(self, ids: list[int]) -> list[int]:
        """The second line of defence, once per claim: cancel the due letters whose recipient
        left the student's team after they were queued (the removal cancels them too); the
        rest of `ids`, in order."""
        if not ids:
            return ids
        dropped = await self.session.exec(
            update(Outbox)
            .where(col(Outbox.id).in_(ids), _unwelcome())
            .values(status=OutboxStatus.CANCELLED, last_error=NOT_ON_TEAM, claimed_until=None)
            .returning(col(Outbox.id))
            .execution_options(synchronize_session=False)
        )
        gone = set(dropped.scalars().all())
        self.letters_cancelled += len(gone)
        return [row_id for row_id in ids if row_id not in gone]

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

    async def mark_sent(self, row_id: int, worker: str, now: datetime, sent_ref: str) -> bool:
        """Mark a claimed letter delivered; False if `worker` no longer holds it."""
        return await self._settle(
            row_id, worker, status=OutboxStatus.SENT, sent_at=now, sent_ref=sent_ref or None
        )

    async def retry(
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

    async def give_up(
        self, row_id: int, worker: str, status: OutboxStatus, attempts: int, error: str
    ) -> bool:
        """End a claimed letter as `dead` (or `failed`) with the reason."""
        return await self._settle(
            row_id, worker, status=status, attempts=attempts, last_error=error, claimed_until=None
        )

    async def release(self, row_id: int, worker: str) -> bool:
        """Hand a claimed letter back unsent, due at once for any worker."""
        return await self._settle(row_id, worker, claimed_by=None, claimed_until=None)

    async def renew_claims(
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

    async def reclaim(
        self, row_id: int, worker: str, held_until: datetime, until: datetime
    ) -> bool:
        """Take back a letter whose claim ran out while `worker` held it, unless another
        worker has claimed it since (its claim would differ from `held_until`)."""
        return await self._settle(
            row_id, worker, claimed_until=until, where=col(Outbox.claimed_until) == held_until
        )

    async def fail_to(self, account_id: int, error: str) -> int:
        """Give up every queued letter to an account that cannot be reached (blocked the bot)."""
        statement = (
            update(Outbox)
            .where(col(Outbox.account_id) == account_id, col(Outbox.status) == OutboxStatus.PENDING)
            .values(status=OutboxStatus.FAILED, last_error=error, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return int((await self.session.exec(statement)).rowcount)

    async def next_due(self, platforms: Sequence[str]) -> datetime | None:
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
