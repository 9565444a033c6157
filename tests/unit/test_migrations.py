"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel, col, select

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.db import MIGRATIONS, Database
from storage.models import AccessLog


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


# --- 0006: the access log's English details become columns --------------------------------------

OLD_ROWS = [
    ("view", "log 10", 1),
    ("view", "week", 1),
    ("export", "cli md", 1),
    ("denied", "read: Sam had a seizure at 10am", 1),
    ("denied", "export: cli json", 1),
    ("share", "entry 5 to 2 parent(s)", 1),
    ("amend", "correction #3 of entry #5 requested", 1),
    ("amend", "correction #3 of entry #5 declined", 1),
    ("delete", "student #9 forgotten by cli", None),
    ("view", "a sentence written by hand", 1),
]


def _upgrade_to(connection: Connection, url: str, revision: str) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_0006_parses_the_old_details_into_columns_and_keeps_no_typed_text(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    async with db.engine.begin() as connection:
        await connection.run_sync(_upgrade_to, db.url, "0005")
        await connection.execute(
            text("INSERT INTO school (id, name, timezone, language) VALUES (4, 'M', 'UTC', 'en')")
        )
        await connection.execute(
            text(
                "INSERT INTO student (id, school_id, name, name_key, archived) "
                "VALUES (1, 4, 'Sam', 'sam', false)"
            )
        )
        for action, detail, student in OLD_ROWS:
            await connection.execute(
                text(
                    "INSERT INTO accesslog (at, student_id, action, detail) "
                    "VALUES ('2026-11-26 10:00:00', :student, :action, :detail)"
                ),
                {"student": student, "action": action, "detail": detail},
            )
    await db.upgrade()

    async with db.session() as session:
        rows = (await session.exec(select(AccessLog).order_by(col(AccessLog.id)))).all()
    await db.dispose()
    columns = [
        (r.what, r.count, r.entry_id, r.amendment_id, r.forgotten_id, r.via, r.legacy_detail)
        for r in rows
    ]
    assert columns == [
        ("log", 10, None, None, None, "chat", ""),
        ("week", None, None, None, None, "chat", ""),
        ("md", None, None, None, None, "cli", ""),
        ("read", None, None, None, None, "chat", ""),
        ("export", None, None, None, None, "cli", ""),
        ("", 2, 5, None, None, "chat", ""),
        ("pending", None, 5, 3, None, "chat", ""),
        ("declined", None, 5, 3, None, "chat", ""),
        ("", None, None, None, 9, "cli", ""),
        ("", None, None, None, None, "chat", "a sentence written by hand"),
    ]
    assert [r.school_id for r in rows] == [4] * 8 + [None, 4]
    assert all("seizure" not in str(row.model_dump()) for row in rows)
