"""Fakes for the outbox sender's tests: a platform in-process, virtual time, a queue of letters."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.platforms import defaults
from bot import roster
from bot.config import SenderConfig
from bot.events import RecipientBlocked, Reply
from bot.outbox import Letter, Transport, enqueue
from bot.sender import OutboxSender
from storage.db import Database
from storage.models import Account, Outbox, Person, Platform
from storage.stores import Store
from tests.conftest import FakeClock

# The platforms' documented limits (Telegram 30/s and 1/s a chat, Slack 1/s a channel).
LIMITS = defaults().sender.limits
FAST = SenderConfig(claim_seconds=60, concurrency=16, limits=LIMITS)


class Crash(BaseException):
    """The process dies here: like SIGKILL, nothing after it runs, no claim is handed back."""


class VirtualTime:
    """`asyncio.sleep` on a FakeClock. Time jumps to the earliest sleeper's wake-up only after
    every task that can run has run, so concurrent sleeps overlap instead of adding up."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.busy = 0  # database transactions under way: time stands still during them
        self._activity = 0
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def watch(self, db: Database) -> None:
        """Count this database's transactions as work, so a round trip takes no virtual time."""
        opened = db.session

        @asynccontextmanager
        async def session() -> AsyncIterator[AsyncSession]:
            self.busy += 1
            self._activity += 1
            try:
                async with opened() as inner:
                    yield inner
            finally:
                self.busy -= 1
                self._activity += 1

        db.session = session  # type: ignore[method-assign]

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        # Whole microseconds, rounded up, as the clock keeps them: never wake early.
        at = self.clock.now() + timedelta(microseconds=math.ceil(max(0.0, seconds) * 1e6))
        heapq.heappush(self._sleepers, (at, next(self._order), wake))
        self._activity += 1
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await wake

    async def _drive(self) -> None:
        while self._sleepers:
            # Let everything runnable run first, database round trips included: time moves
            # only after a real millisecond in which no transaction ran and nobody new slept.
            seen = -1
            while seen != self._activity or self.busy:
                seen = self._activity
                for _ in range(3):
                    await asyncio.sleep(0)
                await asyncio.sleep(0.001)
            # A cancelled sleep (a nap cut short by a poke) must not move the clock.
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                break
            at = self._sleepers[0][0]
            if at > self.clock.now():
                self.clock.set(at)
            while self._sleepers and self._sleepers[0][0] <= self.clock.now():
                _, _, wake = heapq.heappop(self._sleepers)
                if not wake.done():
                    wake.set_result(None)


@dataclass(frozen=True)
class Delivery:
    chat: str
    text: str
    at: datetime


@dataclass
class FakePlatform:
    """A platform in this process: records what it delivered, fails on a schedule.

    `failures[chat]` are raised, in order, by the next deliveries to that chat; `always[chat]`
    is raised by every one. With `crash_at`, the process "dies" at the delivery with that
    number: before the platform gets it, or just after (`crash_after_delivery`), which is the
    at-least-once window. `latency` is how long the platform takes, in virtual seconds.
    """

    clock: FakeClock
    time: VirtualTime | None = None
    latency: float = 0.0
    crash_at: int | None = None
    crash_after_delivery: bool = False
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    always: dict[str, Exception] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    started: int = 0

    async def deliver(self, account: Account, reply: Reply) -> str:
        chat = account.dm_chat_id
        self.attempts[chat] += 1
        self.started += 1
        crashing = self.crash_at is not None and self.started >= self.crash_at
        if crashing and not self.crash_after_delivery:
            raise Crash()
        if self.latency and self.time is not None:
            await self.time.sleep(self.latency)
        queued = self.failures.get(chat)
        if queued:
            raise queued.pop(0)
        if chat in self.always:
            raise self.always[chat]
        self.deliveries.append(Delivery(chat, reply.text, self.clock.now()))
        if crashing:
            raise Crash()
        return f"{chat}:{len(self.deliveries)}"

    def texts(self) -> list[str]:
        return [delivery.text for delivery in self.deliveries]

    def to(self, chat: str) -> list[Delivery]:
        return [delivery for delivery in self.deliveries if delivery.chat == chat]

    def duplicates(self) -> int:
        return sum(n - 1 for n in Counter(self.texts()).values() if n > 1)

    def busiest_second(self) -> int:
        """The most deliveries in any one-second window [t, t + 1s)."""
        times = sorted(delivery.at for delivery in self.deliveries)
        most = 0
        for start, at in enumerate(times):
            end = start
            while end < len(times) and times[end] < at + timedelta(seconds=1):
                end += 1
            most = max(most, end - start)
        return most


def blocked(chat: str) -> RecipientBlocked:
    return RecipientBlocked(chat)


@dataclass
class Household:
    """People to write to, each with one account whose direct chat is named after them."""

    db: Database
    clock: FakeClock
    school_id: int = 0
    student_id: int = 0
    school_name: str = "Oak Hill"

    async def setup(self) -> Household:
        async with self.db.session() as session:
            store = Store(session)
            school = await store.students.add_school(self.school_name, "America/Chicago", "en")
            student = await roster.add_student(store, school, "Sam Rivera")
            assert school.id is not None and student.id is not None
            self.school_id, self.student_id = school.id, student.id
        return self

    async def people(
        self,
        chats: Sequence[str],
        platform: str = Platform.TELEGRAM,
        *,
        role: str = "parent",
        admin: bool = False,
    ) -> list[int]:
        """One person per chat, on Sam's team (or an admin of the school)."""
        ids = []
        async with self.db.session() as session:
            people = [Person(display_name=f"Person {chat}") for chat in chats]
            session.add_all(people)
            await session.flush()
            session.add_all(
                [
                    Account(
                        person_id=person.id or 0,
                        platform=platform,
                        external_id=chat,
                        dm_chat_id=chat,
                        workspace="T1" if platform == Platform.SLACK else "",
                    )
                    for person, chat in zip(people, chats, strict=True)
                ]
            )
            store = Store(session)
            for person in people:
                assert person.id is not None
                ids.append(person.id)
                if admin:
                    await store.students.add_admin(person.id, self.school_id)
                else:
                    await store.students.add_membership(person.id, self.student_id, role, "weekly")
        return ids

    async def letters(
        self,
        person_ids: Sequence[int],
        *,
        prefix: str = "letter",
        not_before: datetime | None = None,
        kind: str = "checkin",
    ) -> int:
        """One letter to each person, due at `not_before` (now); its text is its dedupe key."""
        due = not_before or self.clock.now()
        queued = 0
        async with self.db.session() as session:
            store = Store(session)
            for n, person_id in enumerate(person_ids):
                key = f"{prefix}:{n}:{person_id}"
                queued += await enqueue(
                    store,
                    Letter(
                        key=key,
                        person_id=person_id,
                        kind=kind,
                        reply=Reply(key),
                        not_before=due,
                        student_id=self.student_id,
                    ),
                )
        return queued

    async def outbox(self) -> list[Outbox]:
        async with self.db.session() as session:
            rows = await session.exec(select(Outbox).order_by(col(Outbox.id)))
            return list(rows.all())

    async def account(self, person_id: int) -> Account:
        async with self.db.session() as session:
            statement = select(Account).where(Account.person_id == person_id)
            accounts = (await session.exec(statement.order_by(col(Account.id)))).all()
            return accounts[0]


def sender(
    db: Database,
    platform: Transport,
    clock: FakeClock,
    time: VirtualTime,
    settings: SenderConfig = FAST,
    *,
    worker: str = "worker-1",
    jitter: float = 1.0,
    transports: dict[str, Transport] | None = None,
) -> OutboxSender:
    """A sender on virtual time, with a fixed jitter so backoff delays are exact."""
    return OutboxSender(
        db,
        transports or {Platform.TELEGRAM: platform},
        clock,
        settings,
        worker=worker,
        sleep=time.sleep,
        jitter=lambda: jitter,
    )
