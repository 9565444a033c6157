"""The backup docs/deploy.md prescribes restores: a Tandem PostgreSQL database dumped with
`pg_dump --format=custom` and restored with `pg_restore` into a fresh database holds the same
school, the same notes and a current schema, and `tandem status` reads it.

The dump is of the test database the `pg` fixture prepares; the restore goes into a database
of this test's own (`<that name>_restore`), dropped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlmodel import select
from typer.testing import CliRunner

from adapters.bootstrap import build_router
from adapters.cli import app
from bot.config import Settings
from bot.demo import DEMO_SCHOOL, seed_demo
from bot.dispatch import Dispatcher
from storage.db import Database
from storage.models import Entry
from storage.stores import Store
from tests.conftest import DemoSchool, FakeClock

pytestmark = pytest.mark.postgres


def libpq(url: URL) -> str:
    """The URL as pg_dump and pg_restore take it."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def run(*command: str) -> None:
    tool = shutil.which(command[0])
    assert tool, f"{command[0]} is not installed (the PostgreSQL client: postgresql-client)"
    done = subprocess.run([tool, *command[1:]], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


async def admin(url: URL, statement: str) -> None:
    """CREATE or DROP DATABASE, which run outside a transaction, from the `postgres` database."""
    server = Database(url.set(database="postgres").render_as_string(hide_password=False))
    try:
        async with server.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(statement))
    finally:
        await server.dispose()


@pytest.fixture
async def restored_url(pg: str) -> AsyncIterator[URL]:
    """An empty database of this test's own, beside the test database; dropped afterwards."""
    url = make_url(pg)
    target = url.set(database=f"{url.database}_restore")
    await admin(url, f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    await admin(url, f'CREATE DATABASE "{target.database}"')
    yield target
    await admin(url, f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


async def test_a_nightly_dump_restores_into_a_fresh_database_with_every_note(
    pg: str,
    restored_url: URL,
    clock: FakeClock,
    settings: Settings,
    tmp_path: Path,
) -> None:
    live = Database(pg)
    async with live.session() as session:
        await seed_demo(Store(session))
    school = DemoSchool(Dispatcher(live, settings, clock, build_router()), live, clock)
    await school.say(school.teacher, "+ Sam read a whole page aloud to the class")
    await live.dispose()
    dump = tmp_path / "tandem-20261126-021500.dump"

    run("pg_dump", f"--dbname={libpq(make_url(pg))}", "--format=custom", f"--file={dump}")
    run("pg_restore", "--no-owner", f"--dbname={libpq(restored_url)}", str(dump))

    restored = Database(restored_url.render_as_string(hide_password=False))
    try:
        assert await restored.is_current()
        async with restored.session() as session:
            store = Store(session)
            schools = [s.name for s in await store.students.schools()]
            notes = (await session.exec(select(Entry.text))).all()
    finally:
        await restored.dispose()
    assert schools == [DEMO_SCHOOL]
    assert any("read a whole page aloud" in note for note in notes)
    # What the operator runs next: the CLI (its own event loop, so in a thread) reads it.
    environment = {"TANDEM_DATABASE_URL": restored_url.render_as_string(hide_password=False)}
    status = await asyncio.to_thread(CliRunner().invoke, app, ["status", "--json"], env=environment)
    assert status.exit_code == 0, status.output
    counts = json.loads(status.stdout.splitlines()[-1])
    assert counts["schools"] == 1
    assert counts["students"] >= 1 and counts["people"] >= 1
