"""The statements every incoming message runs, on PostgreSQL run straight on asyncpg.

Why: through SQLAlchemy's async session each of them costs more Python than the round trip
itself (a greenlet hop, an execution context, result wrapping, ORM loading): that is what made
a note on PostgreSQL cost more than half of what it did before issue 18.

What stays SQLAlchemy's: the statements are the constructs of storage/stores/_sql.py, compiled
once for the engine's dialect, their parameters and results going through the column types'
processors as SQLAlchemy's execution would; they run on the session's connection, inside its
transaction (begun here as SQLAlchemy's asyncpg adapter would, and committed by the session);
an error comes out as the DBAPIError SQLAlchemy would raise, a dropped connection invalidated
(`storage.db.is_connection_lost`). What the session holds unflushed is flushed first.

An event's transaction begins with the chat's turn (`begin_in_turn`): `BEGIN` and the advisory
lock go as one simple query, a round trip fewer than BEGIN on its own; only an int of ours is
written into that SQL. The adapter is then given the transaction as begun (`_BegunInTurn`), so
that the session's commit or rollback ends it as it would one of its own. It ends on asyncpg too
(`commit_first`, storage/db.py): the session, with nothing to flush, then only keeps its books,
without a greenlet hop.

Parts of SQLAlchemy's asyncpg adapter used here are not public (its transaction, begun lazily
at a connection's first statement, set by `begin_in_turn` and committed by `commit_first`; its
statement mutex; its error handling), nor are the parts of the ORM `attach` uses (an object
put into the session's identity map and marked the session's, as the ORM's loading does).
Tests on PostgreSQL cover them: the sender's rows the session's own, changed and saved, not
added again, and the dedupe row rolled back with a failed event
(tests/unit/test_sender_links.py); the turn's transaction kept, undone and held as one, more
events at once than the pool keeps, and the session freed as it ends, with no cycle left for
the garbage collector (tests/integration/test_event_transaction.py); a
dropped connection (tests/integration/test_postgres_connections.py); one chat's events in
order across replicas (tests/integration/test_replicas.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import ref

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapper, class_mapper
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql.expression import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

Model = TypeVar("Model")
Processor = Callable[[Any], Any] | None


_REQUIRED: Any = object()  # a parameter with no value of its own: one must be given


@dataclass(frozen=True)
class _Compiled:
    """A statement as asyncpg takes it: its SQL, and for each positional argument the named
    parameter it comes from, with the value the statement binds itself (or _REQUIRED) and the
    processor of its type."""

    sql: str
    parameters: tuple[tuple[str, Any, Processor], ...]
    results: tuple[Processor, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        arguments = []
        for name, default, process in self.parameters:
            value = params.get(name, default)
            if value is _REQUIRED:
                raise KeyError(name)
            arguments.append(value if process is None or value is None else process(value))
        return arguments


_compiled: dict[tuple[int, str], _Compiled] = {}


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    found = _compiled.get((id(statement), dialect.name))
    if found is not None:
        return found
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    parameters = tuple(
        (
            name,
            _REQUIRED if bind.required else bind.value,
            bind.type.dialect_impl(dialect).bind_processor(dialect),
        )
        for name, bind in ((name, compiled.binds[name]) for name in compiled.positiontup or ())
    )
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in getattr(statement, "selected_columns", ())
    )
    made = _Compiled(compiled.string, parameters, results)
    # Keyed by id: the statements are module constants, alive as long as the process.
    _compiled[(id(statement), dialect.name)] = made
    return made


def _dialect(session: AsyncSession) -> Dialect:
    # As storage.db.session_dialect (which imports this module to commit).
    bind = session.bind
    return bind.dialect if bind is not None else session.get_bind().dialect


def has_changes(session: AsyncSession) -> bool:
    """Whether a flush of the session would have anything to look at: new or deleted objects,
    or changed ones (even changed back: the flush then writes nothing). Asked before each
    statement: `Session.dirty` builds a set of the changed objects each time."""
    sync_session = session.sync_session
    return bool(
        sync_session.identity_map.check_modified() or sync_session.new or sync_session.deleted
    )


# Where a session keeps its transaction's connection as asyncpg's, once looked up.
_DRIVER = "tandem.pg_driver"


async def _connection(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    """The session's connection and its pooled DBAPI connection, with what the session holds
    unflushed written first. Looked up once per transaction: each look-up is a greenlet hop."""
    sync_session = session.sync_session
    if has_changes(session):
        await session.flush()
    transaction = sync_session.get_transaction()
    known = session.info.get(_DRIVER)
    if known is not None and transaction is not None and known[0]() is transaction:
        return known[1], known[2]
    connection = await session.connection()
    # Just checked out for the session's transaction, its pooled DBAPI connection is there: read
    # without the greenlet hop of get_raw_connection (made for a connection to revive).
    sync = connection.sync_connection
    if sync is not None and not (sync.closed or sync.invalidated):
        raw: Any = sync.connection
    else:
        raw = await connection.get_raw_connection()
    # The transaction by a weak reference: it refers to the session, and a strong one here would
    # make the session's whole graph (its connection's too) a cycle for the garbage collector.
    session.info[_DRIVER] = (ref(sync_session.get_transaction()), connection, raw)
    return connection, raw


async def fetch(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows `statement` answers, each value as SQLAlchemy would give it."""
    compiled = _compile(statement, _dialect(session))
    rows = await _run(*await _connection(session), compiled, params, fetching=True)
    results = compiled.results
    if not any(results):
        return [tuple(row) for row in rows]
    return [
        tuple(
            value if process is None else process(value)
            for value, process in zip(row, results, strict=True)
        )
        for row in rows
    ]


async def execute(session: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> int:
    """Run a statement that answers no rows; how many rows it wrote."""
    compiled = _compile(statement, _dialect(session))
    status: str = await _run(*await _connection(session), compiled, params, fetching=False)
    # "INSERT 0 1", "UPDATE 3": the count comes last.
    count = status.rsplit(" ", 1)[-1]
    return int(count) if count.isdigit() else -1


class _BegunInTurn:
    """The asyncpg side of a transaction `begin_in_turn` began, as SQLAlchemy's adapter holds
    one (an asyncpg Transaction): the session ends it by `commit` or `rollback`."""

    __slots__ = ("_driver",)

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    async def commit(self) -> None:
        await self._driver.execute("COMMIT")

    async def rollback(self) -> None:
        await self._driver.execute("ROLLBACK")


async def begin_in_turn(session: AsyncSession, key: int) -> None:
    """Begin the session's transaction holding the advisory lock `key` (waited for if another
    transaction holds it) until the transaction ends: one round trip. A transaction begun
    already, or with options of its own (isolation, read only), takes the lock in it."""
    connection, raw = await _connection(session)
    adapted: Any = raw.dbapi_connection
    driver = raw.driver_connection
    assert driver is not None
    plain = adapted._transaction is None and adapted.isolation_level is None
    plain = plain and not (adapted.readonly or adapted.deferrable)
    # An int of ours: no value from outside is ever part of this SQL's text.
    sql = f"BEGIN; SELECT pg_advisory_xact_lock({int(key)})" if plain else _TURN_SQL
    try:
        async with adapted._execute_mutex:
            if plain:
                # Held before BEGIN is sent: whatever becomes of it, the session's rollback
                # ends the transaction (a ROLLBACK with none open is only a warning).
                adapted._transaction = _BegunInTurn(driver)
                await driver.execute(sql)
                return
            if adapted._transaction is None:
                await adapted._start_transaction()
            await driver.execute(sql, key)
    except Exception as error:
        await connection.run_sync(_raise_as_sqlalchemy, error, sql, () if plain else (key,))


_TURN_SQL = "SELECT pg_advisory_xact_lock($1)"


async def commit_first(session: AsyncSession) -> bool:
    """Commit the asyncpg side of the session's transaction now, if the session has nothing to
    flush, as the adapter's own commit would (its transaction then dropped): the session's
    commit finds nothing left to send, and needs no greenlet hop. False, with nothing done, for
    a session this module ran nothing on (SQLite's, say) or one with changes to flush."""
    known = session.info.get(_DRIVER)
    if known is None:
        return False
    sync_session = session.sync_session
    if known[0]() is not sync_session.get_transaction() or has_changes(session):
        return False
    connection, raw = known[1], known[2]
    adapted: Any = raw.dbapi_connection
    try:
        async with adapted._execute_mutex:
            transaction, adapted._transaction = adapted._transaction, None
            if transaction is not None:
                await transaction.commit()
    except Exception as error:
        await connection.run_sync(_raise_as_sqlalchemy, error, "COMMIT", ())
    return True


async def _run(
    connection: AsyncConnection,
    raw: Any,
    compiled: _Compiled,
    params: Mapping[str, Any],
    *,
    fetching: bool,
) -> Any:
    adapted: Any = raw.dbapi_connection  # SQLAlchemy's AsyncAdapt_asyncpg_connection
    arguments = compiled.arguments(params)
    try:
        # As the adapter runs its own statements: one at a time, the transaction begun first.
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
            driver = raw.driver_connection
            assert driver is not None
            if fetching:
                return await driver.fetch(compiled.sql, *arguments)
            return await driver.execute(compiled.sql, *arguments)
    except Exception as error:
        await connection.run_sync(_raise_as_sqlalchemy, error, compiled.sql, arguments)
        raise  # not reached: _raise_as_sqlalchemy raises


def _raise_as_sqlalchemy(
    sync_connection: Any, error: Exception, sql: str, arguments: Sequence[Any]
) -> None:
    """Raise `error` as SQLAlchemy would have from the same statement: the adapter's error
    wrapped in a DBAPIError, a connection it finds dropped invalidated with the pool's others
    (on a greenlet, where SQLAlchemy closes connections)."""
    try:
        sync_connection.connection.dbapi_connection._handle_exception(error)
    except Exception as translated:
        sync_connection._handle_dbapi_exception(translated, sql, tuple(arguments), None, None)
        raise
    raise error


def attach(session: AsyncSession, model: type[Model], values: Mapping[str, Any]) -> Model:
    """The `model` row with these values (every column's), in the session as if the ORM had
    loaded it (changed later, it is UPDATEd); the session's own object if it has that row
    already. Constructing the model instead would validate every field: many times the cost."""
    mapper, key_columns = _identity_of(model)
    key = mapper.identity_key_from_primary_key(tuple(values[name] for name in key_columns))
    sync_session = session.sync_session
    known = sync_session.identity_map.get(key)
    if known is not None:
        return known  # type: ignore[no-any-return]
    entity: Model = mapper.class_manager.new_instance()
    state = instance_state(entity)
    # As the ORM's loading does: the values in, no change recorded, the identity set. (What
    # make_transient_to_detached does besides, for a changed or partly loaded object, costs
    # as much again and has nothing to do here.)
    state.dict.update(values)
    state.key = key
    # Into the session as its loading puts a row: in the identity map, the session its own.
    # Session.add would also walk the model's cascades and fire attach events, for an object
    # that has no related objects loaded and no listener: most of a note's cost of attaching.
    sync_session.identity_map.add(state)
    state.session_id = sync_session.hash_key
    return entity


_identities: dict[type[Any], tuple[Mapper[Any], tuple[str, ...]]] = {}


def _identity_of(model: type[Any]) -> tuple[Mapper[Any], tuple[str, ...]]:
    """A model's mapper and the names of its primary key's columns."""
    found = _identities.get(model)
    if found is None:
        mapper = class_mapper(model)
        found = _identities[model] = (mapper, tuple(str(c.name) for c in mapper.primary_key))
    return found
