"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.db import Database


def differences(connection: Connection) -> list[Any]:
    """What autogenerate would put in a new migration: nothing, if the two agree."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_upgraded_schema_matches_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        diff = await connection.run_sync(differences)

    assert diff == []


async def test_the_schema_is_at_the_newest_migration(db: Database) -> None:
    assert await db.is_current()


async def test_every_model_table_exists_after_upgrade(db: Database) -> None:
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))

    assert set(SQLModel.metadata.tables) <= tables
