"""What the sender's team check costs: claiming due letters with and without it.

    python bench/claim_check.py [--letters 2000] [--team 4] [--rounds 5] [--db sqlite|postgres]

Seeds one school whose students each have a team of `--team` members and one due summary
letter to each member (all about a student, so all checked), then claims every letter in
batches of 64, as the sender does, `--rounds` times per variant, the variants interleaved:
`before` (the claim without the check) and `after` (with `OutboxStore._drop_unwelcome`, one
UPDATE per batch). Reports CPU time of this process per letter (SQLite runs its queries in
this process; PostgreSQL's server time is not in it, so its wall time is shown too) as the
median of the rounds. PostgreSQL uses the database `tandem_bench_claim` (emptied).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fresh_postgres, markdown_table, pg_url
from sqlalchemy import update

from storage.db import Database
from storage.models import (
    Account,
    Delivery,
    Membership,
    Outbox,
    OutboxStatus,
    Person,
    Role,
    School,
    Student,
)
from storage.stores import Store
from storage.stores.outbox import OutboxStore

BATCH = 64
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def seed(db: Database, letters: int, team: int) -> None:
    await db.upgrade()
    async with db.session() as session:
        school = School(name="Bench Claims", timezone="UTC", language="en")
        session.add(school)
        await session.flush()
        students = [
            Student(school_id=school.id or 0, name=f"Kid {n}", name_key=f"kid {n}")
            for n in range(letters // team)
        ]
        people = [Person(display_name=f"Member {n}") for n in range(len(students) * team)]
        session.add_all([*students, *people])
        await session.flush()
        accounts = [
            Account(person_id=p.id or 0, platform="telegram", external_id=str(n), dm_chat_id=str(n))
            for n, p in enumerate(people)
        ]
        session.add_all(accounts)
        await session.flush()
        for n, account in enumerate(accounts):
            student = students[n // team]
            session.add(
                Membership(
                    person_id=account.person_id,
                    student_id=student.id or 0,
                    role=Role.PARENT,
                    delivery=Delivery.WEEKLY,
                )
            )
            session.add(
                Outbox(
                    dedupe_key=f"summary:{student.id}:{account.person_id}:2026-W48",
                    person_id=account.person_id,
                    account_id=account.id or 0,
                    student_id=student.id,
                    school_id=school.id,
                    kind="summary",
                    payload={"text": "week", "buttons": []},
                    not_before=NOW,
                )
            )


async def claim_all(db: Database) -> tuple[float, float, int]:
    """CPU and wall seconds to claim every due letter in batches; how many were claimed."""
    async with db.session() as session:
        await session.exec(
            update(Outbox).values(status=OutboxStatus.PENDING, claimed_by=None, claimed_until=None)
        )
    claimed = 0
    cpu, wall = time.process_time(), time.perf_counter()
    until = NOW + timedelta(minutes=5)
    while True:
        async with db.session() as session:
            rows = await Store(session).outbox.claim("bench", NOW, until, BATCH, ["telegram"])
        if not rows:
            break
        claimed += len(rows)
    return time.process_time() - cpu, time.perf_counter() - wall, claimed


async def bench(args: argparse.Namespace) -> list[list[str]]:
    if args.db == "postgres":
        url = pg_url("tandem_bench_claim")
        await fresh_postgres(url)
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/claims.db"
    db = Database(url)
    checked = OutboxStore._drop_unwelcome

    async def unchecked(self: OutboxStore, ids: list[int]) -> list[int]:
        return ids

    figures: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    try:
        await seed(db, args.letters, args.team)
        for _ in range(args.rounds):
            for variant in ("before", "after"):
                OutboxStore._drop_unwelcome = checked if variant == "after" else unchecked  # type: ignore[method-assign]
                cpu, wall, claimed = await claim_all(db)
                assert claimed == args.letters // args.team * args.team, claimed
                figures[variant].append((cpu / claimed, wall / claimed))
    finally:
        OutboxStore._drop_unwelcome = checked  # type: ignore[method-assign]
        await db.dispose()
    return [
        [
            variant,
            args.db,
            str(args.letters),
            f"{statistics.median(c for c, _ in runs) * 1e6:.1f}",
            f"{statistics.median(w for _, w in runs) * 1e6:.1f}",
        ]
        for variant, runs in figures.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description="The sender's team check, claimed with and without."
    )
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--team", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    rows = asyncio.run(bench(parser.parse_args()))
    print(markdown_table(["claim", "db", "letters", "CPU µs/letter", "wall µs/letter"], rows))


if __name__ == "__main__":
    main()
