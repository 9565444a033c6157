"""Shared fixtures: a migrated database (SQLite file, or PostgreSQL when configured), a clock."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from adapters.bootstrap import build_router
from adapters.platforms import defaults
from bot.config import Settings
from bot.demo import console_id, seed_demo
from bot.dispatch import Dispatcher
from bot.events import Button, ButtonPress, Chat, IncomingMessage, MessageEdited, Reply, Sender
from bot.i18n import translate
from storage.db import Database
from storage.models import Platform
from storage.stores import Store
from tests.email_servers import (
    DovecotServer,
    SmtpServer,
    TestCertificates,
    make_certificates,
    start_dovecot,
    start_smtp_server,
)

PG_URL = os.environ.get("TANDEM_TEST_DATABASE_URL", "")
# Thursday 2026-11-26 10:00 in Chicago.
START = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)


def run_apart(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion in its own thread and loop (fixtures may be inside one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(make())).result()


def welcome(key: str, language: str = "en", **values: object) -> str:
    """A newcomer's welcome as shown: the message, then the offer of another language."""
    hint = translate(language, "onboarding.language_hint")
    return f"{translate(language, key, **values)}\n\n{hint}"


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def set(self, now: datetime) -> None:
        self._now = now


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating each time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite+aiosqlite:///{path}")

    async def build() -> None:
        await db.upgrade()
        await db.dispose()

    run_apart(build)
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> str:
    if not PG_URL:
        pytest.skip(
            "PostgreSQL tests need TANDEM_TEST_DATABASE_URL "
            "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)"
        )
    db = Database(PG_URL)

    async def rebuild() -> None:
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await db.upgrade()
        await db.dispose()

    run_apart(rebuild)
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: a fresh SQLite file, or a truncated PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "tandem.db"
        shutil.copy(template, path)
        database = Database(f"sqlite+aiosqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("postgres_ready"))
        await empty_every_table(database)
    yield database
    await database.dispose()


async def empty_every_table(database: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with database.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def pg(postgres_ready: str) -> AsyncIterator[str]:
    """The URL of an empty, migrated PostgreSQL database (the `postgres_ready` schema)."""
    database = Database(postgres_ready)
    await empty_every_table(database)
    await database.dispose()
    yield postgres_ready


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings() -> Settings:
    return defaults()


@dataclass
class Said:
    """What one person saw after sending one thing."""

    replies: list[Reply]

    @property
    def text(self) -> str:
        return "\n".join(reply.text for reply in self.replies)

    @property
    def buttons(self) -> list[Button]:
        return [button for reply in self.replies for button in reply.buttons]

    def button(self, label: str) -> Button:
        matches = [b for b in self.buttons if b.label == label]
        assert matches, f"no [{label}] button in {[b.label for b in self.buttons]}"
        return matches[0]


@dataclass
class DemoSchool:
    """The seeded demo school, driven through dispatch the way an adapter would."""

    dispatcher: Dispatcher
    db: Database
    clock: FakeClock
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    teacher = Sender(Platform.CONSOLE, "", console_id("Ms. Ortiz"), "Ms. Ortiz")
    parent = Sender(Platform.CONSOLE, "", console_id("Dana Rivera"), "Dana Rivera")
    parent_of_maya = Sender(Platform.CONSOLE, "", console_id("Lee Chen"), "Lee Chen")
    # Sam's father, who reads Tandem in Spanish.
    spanish_parent = Sender(Platform.CONSOLE, "", console_id("Luis Rivera"), "Luis Rivera")

    @staticmethod
    def stranger(name: str = "Grandma") -> Sender:
        return Sender(Platform.CONSOLE, "", console_id(name), name)

    def _event_id(self) -> str:
        return f"ev-{next(self._ids)}"

    async def say(
        self,
        sender: Sender,
        text: str,
        *,
        private: bool = True,
        message_ref: str | None = None,
        attachment_ref: str | None = None,
    ) -> Said:
        event_id = self._event_id()
        message = IncomingMessage(
            sender,
            Chat(sender.external_id, private),
            text,
            event_id,
            message_ref=message_ref or event_id,
            attachment_ref=attachment_ref,
        )
        return Said(await self.dispatcher.dispatch(message))

    async def press(self, sender: Sender, button: Button) -> Said:
        press = ButtonPress(sender, Chat(sender.external_id), button.token, self._event_id())
        return Said(await self.dispatcher.dispatch(press))

    async def edit(self, sender: Sender, message_ref: str, text: str) -> Said:
        edit = MessageEdited(sender, Chat(sender.external_id), text, self._event_id(), message_ref)
        return Said(await self.dispatcher.dispatch(edit))

    async def store(self) -> AsyncIterator[Store]:
        async with self.db.session() as session:
            yield Store(session)


@pytest.fixture
async def school(db: Database, clock: FakeClock, settings: Settings) -> DemoSchool:
    async with db.session() as session:
        await seed_demo(Store(session))
    return DemoSchool(Dispatcher(db, settings, clock, build_router()), db, clock)


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    yield "asyncio"


@pytest.fixture(scope="session")
def mail_certificates(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    """A throwaway CA and server certificate for the test mail servers' TLS and STARTTLS."""
    return make_certificates(tmp_path_factory.mktemp("mail-tls"))


@pytest.fixture(scope="session")
def dovecot_server(mail_certificates: TestCertificates) -> Iterator[DovecotServer]:
    server = start_dovecot(mail_certificates)
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> DovecotServer:
    """Our own Dovecot IMAP server, shared by the session and running for each test.

    Plain IMAP (STARTTLS offered) on `dovecot.port`, IMAPS on `dovecot.tls_port`, both on
    127.0.0.1 with a certificate from `mail_certificates` (trust it through
    `dovecot.certificates.client_context()`). `dovecot.mailbox` is the school's account;
    `dovecot.add_user()` gives a fresh, empty mailbox so tests do not see each other's mail.
    `dovecot.deliver(raw, mailbox)` puts a message into INBOX (IMAP APPEND) and returns its UID;
    `uids()`, `seen_uids()` and `subjects()` read the folder back; `restart()` restarts the
    server mid-test (mail kept).
    """
    if not dovecot_server.running:  # a test that stopped it must not break the next one
        dovecot_server.start()
    return dovecot_server


@pytest.fixture
def smtp_server(mail_certificates: TestCertificates) -> Iterator[SmtpServer]:
    """A local SMTP server (aiosmtpd) on a free port that keeps every message it accepts.

    `smtp_server.messages` lists what arrived (envelope sender, recipients, bytes).
    `refuse_all()` answers 451 to every recipient (optionally for `times` recipients) until
    `accept_all()`; `refuse_recipient(address)` answers 550 to that address. STARTTLS is
    offered with the test certificate (`client_context()` trusts it) and AUTH after it with
    `smtp_server.username` / `smtp_server.password` (not required). For TLS from the first
    byte or required AUTH, call `tests.email_servers.start_smtp_server` yourself.
    """
    server = start_smtp_server(mail_certificates)
    yield server
    server.stop()
