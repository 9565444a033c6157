"""Migration 0009 gives letters queued before it the school of their student."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.events import Reply
from bot.outbox import Letter, enqueue
from storage.db import MIGRATIONS, Database
from storage.stores import Store
from tests.conftest import FakeClock
from tests.outbox_fakes import Household


def _migrate(connection: Connection, url: str, down: bool) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["connection"] = connection
    before = ScriptDirectory(str(MIGRATIONS)).get_revision("0009").down_revision
    if down:
        command.downgrade(config, str(before))
    else:
        command.upgrade(config, "head")


async def test_letters_queued_before_the_upgrade_get_their_students_school(
    db: Database, clock: FakeClock
) -> None:
    home = await Household(db, clock).setup()
    [dana] = await home.people(["dana"])
    [ortiz] = await home.people(["ortiz"], role="teacher")
    await home.letters([dana])
    async with db.session() as session:
        await enqueue(Store(session), Letter("nudge", ortiz, "nudge", Reply("hi"), clock.now()))
    async with db.engine.begin() as connection:
        await connection.run_sync(_migrate, db.url, True)

    async with db.engine.begin() as connection:
        await connection.run_sync(_migrate, db.url, False)
        rows = (
            await connection.execute(text("SELECT kind, school_id FROM outbox ORDER BY id"))
        ).all()

    assert [tuple(row) for row in rows] == [("checkin", home.school_id), ("nudge", None)]
