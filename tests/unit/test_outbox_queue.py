"""Queuing many letters at once, as the weekly jobs do (`store.outbox.add_many`).

PostgreSQL copies them into temporary tables and inserts from there; SQLite runs one prepared
INSERT for each. Either way: each dedupe key once, each letter its own reply, the count true.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.events import Button, Reply
from bot.outbox import from_payload, to_payload
from storage.db import Database
from storage.stores import Store
from storage.stores.outbox import outbox_values
from tests.conftest import FakeClock
from tests.outbox_fakes import Household


@pytest.fixture
async def home(db: Database, clock: FakeClock) -> Household:
    return await Household(db, clock).setup()


def letter(
    key: str, person_id: int, account_id: int, payload: dict[str, Any], due: datetime
) -> dict[str, Any]:
    return outbox_values(
        dedupe_key=key,
        person_id=person_id,
        account_id=account_id,
        student_id=None,
        kind="summary",
        payload=payload,
        not_before=due,
    )


async def queue(db: Database, *batches: list[dict[str, Any]]) -> list[int]:
    """Each batch queued in turn, all in one transaction; how many each one added."""
    async with db.session() as session:
        store = Store(session)
        return [await store.outbox.add_many(batch) for batch in batches]


async def test_letters_sharing_a_reply_each_carry_it_in_the_order_queued(
    db: Database, home: Household, clock: FakeClock
) -> None:
    people = await home.people(["a", "b", "c", "d", "e", "f"])
    accounts = [(await home.account(person)).id or 0 for person in people]
    sam = to_payload(Reply("Sam's week • 3 wins"))
    maya = to_payload(Reply("Maya's week", (Button("Seen", "tok-1"),)))
    leo = to_payload(Reply("Leo's week: «quiet»"))
    replies = [sam, maya, sam, leo, maya, sam]  # one object per summary, shared by its readers
    rows = [
        letter(f"summary:{n}", person, account, reply, clock.now())
        for n, (person, account, reply) in enumerate(zip(people, accounts, replies, strict=True))
    ]

    assert await queue(db, rows) == [6]

    queued = await home.outbox()
    assert [row.dedupe_key for row in queued] == [f"summary:{n}" for n in range(6)]
    assert [from_payload(row.payload) for row in queued] == [from_payload(r) for r in replies]
    assert [row.person_id for row in queued] == people
    assert [row.account_id for row in queued] == accounts
    assert {row.not_before for row in queued} == {clock.now()}


async def test_queuing_again_in_the_same_transaction_counts_only_the_new_letters(
    db: Database, home: Household, clock: FakeClock
) -> None:
    people = await home.people([f"p{n}" for n in range(8)])
    accounts = [(await home.account(person)).id or 0 for person in people]
    reply = to_payload(Reply("How was Sam's week at home?"))
    rows = [
        letter(f"checkin:{person}", person, account, reply, clock.now())
        for person, account in zip(people, accounts, strict=True)
    ]

    assert await queue(db, rows[:5], rows[3:]) == [5, 3]
    assert await queue(db, rows) == [0]

    assert sorted(row.dedupe_key for row in await home.outbox()) == sorted(
        row["dedupe_key"] for row in rows
    )


async def test_a_due_time_without_a_timezone_is_refused_and_nothing_is_queued(
    db: Database, home: Household, clock: FakeClock
) -> None:
    people = await home.people(["a", "b"])
    accounts = [(await home.account(person)).id or 0 for person in people]
    reply = to_payload(Reply("Sam's week"))
    on_time = letter("summary:a", people[0], accounts[0], reply, clock.now())
    naive = letter(
        "summary:b",
        people[1],
        accounts[1],
        reply,
        clock.now().replace(tzinfo=None) + timedelta(hours=1),
    )

    with pytest.raises(Exception, match="naive datetime"):
        await queue(db, [on_time, naive])

    assert await home.outbox() == []
    assert await queue(db, [on_time]) == [1]  # the connection is fine afterwards
