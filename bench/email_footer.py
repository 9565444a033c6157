"""The cost the "why you get this" line adds to each letter: `store.email.teams_of` (one query
for the person's schools and roles) next to the letter's other work, on SQLite.

    python bench/email_footer.py --letters 2000

Prints CPU seconds per 1000 letters for: the addressee query alone (what every letter did
before), the addressee query plus teams_of (now), and composing the MIME letter.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from adapters.email_letters import Draft, Envelope, compose
from bot.demo import DEMO_SCHOOL, seed_demo
from storage.db import Database
from storage.models import EmailIdentity
from storage.stores import Store

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


async def seeded(path: Path) -> tuple[Database, int]:
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.upgrade()
    async with db.session() as session:
        store = Store(session)
        await seed_demo(store, email=True)
        identity = await store.email.add_identity(
            EmailIdentity(
                address="rosa.chen@example.org",
                key_salt="0" * 32,
                key_hash="h" * 64,
                created_at=NOW,
            )
        )
        account = await store.people.account("email", "", "rosa-chen")
        assert account is not None and identity.id is not None
        account.external_id = str(identity.id)
        await store.people.save(account)
        return db, identity.id


async def timed(db: Database, identity_id: int, letters: int, with_teams: bool) -> float:
    start = time.process_time()
    for _ in range(letters):
        async with db.session() as session:
            store = Store(session)
            await store.email.addressee(identity_id)
            if with_teams:
                await store.email.teams_of(identity_id)
    return (time.process_time() - start) / letters * 1000


def compose_cost(letters: int) -> float:
    envelope = Envelope(
        "rosa.chen@example.org",
        "Tandem <t@maple.example>",
        "tandem+k@maple.example",
        DEMO_SCHOOL,
        "en",
        ("parent",),
    )
    start = time.process_time()
    for _ in range(letters):
        compose(Draft("How was Maya Chen's week at home?"), envelope, "tandem.maple.example", NOW)
    return (time.process_time() - start) / letters * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    letters = parser.parse_args().letters
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        db, identity_id = await seeded(Path(folder) / "bench.db")
        before, after = [], []
        for _ in range(rounds):  # interleaved: the host's noise falls on both alike
            before.append(await timed(db, identity_id, letters, with_teams=False))
            after.append(await timed(db, identity_id, letters, with_teams=True))
        await db.dispose()
    print(f"addressee only:       {min(before):.3f} CPU s per 1000 letters (min of {rounds})")
    print(f"addressee + teams_of: {min(after):.3f} CPU s per 1000 letters (min of {rounds})")
    print(f"composing the letter: {compose_cost(letters):.3f} CPU s per 1000 letters")


if __name__ == "__main__":
    asyncio.run(main())
