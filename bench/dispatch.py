"""The dispatcher alone: the inbound benchmark's notes, handled without Telegram.

    python bench/dispatch.py [--n 2000] [--db sqlite|postgres|both] [--concurrency 16]
                             [--teachers 200] [--markdown]

Seeds the same school as bench/inbound.py (teachers with 5 students each, one parent per
student, every family on the weekly digest), turns the same mix of updates into core events
with the Telegram adapter's `to_core`, and hands them to `Dispatcher.dispatch` from
`--concurrency` tasks at once, as the adapter would. A warm-up of 200 goes first.

Reported per database: the CPU time of this process per note (its threads included: on
SQLite each statement runs on aiosqlite's thread), user and system apart, and the SQL
statements per note (a `before_cursor_execute` listener; executemany counts once; on PostgreSQL
it does not see those a note runs straight on asyncpg, storage/pg_driver.py: all of them). This is
the part of `bench/inbound.py`'s "bot CPU ms/update" that Tandem adds to what PTB spends on
an update, measured without PTB and without the fake Bot API sharing the CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from telegram import Bot, Update

from adapters.bootstrap import build_router
from adapters.telegram import CONCURRENT_UPDATES, to_core
from bot.config import SecurityConfig, Settings
from bot.context import SystemClock
from bot.dispatch import Dispatcher
from bot.events import Event
from storage.db import Database

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_postgres, load, markdown_table, pg_url, print_table
from inbound import PG_DATABASE, TOKEN, make_updates, seed

WARM_UP = 200


@dataclass
class Result:
    database: str
    n: int
    cpu_ms: float
    user_ms: float
    system_ms: float
    wall_ms: float
    statements: float


def events(updates: list[dict[str, Any]]) -> list[Event]:
    bot = Bot(TOKEN)
    made = [to_core(Update.de_json(update, bot)) for update in updates]
    return [event for event in made if event is not None]


async def handle(dispatcher: Dispatcher, queue: list[Event], concurrency: int) -> None:
    """Every event in `queue`, `concurrency` at a time, in order."""
    queue.reverse()

    async def worker() -> None:
        while queue:
            await dispatcher.dispatch(queue.pop())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(name: str, url: str, args: argparse.Namespace) -> Result:
    await seed(url, args.teachers)
    db = Database(url)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    try:
        # The notes come far faster than a person types: the per-person limit must let them
        # all through (it is still checked on each).
        unlimited = Settings(security=SecurityConfig(messages_per_minute=1_000_000))
        dispatcher = Dispatcher(db, unlimited, SystemClock(), build_router())
        await handle(
            dispatcher, events(make_updates(WARM_UP, args.teachers, 7, 1)), args.concurrency
        )
        measured = events(make_updates(args.n, args.teachers, args.seed, WARM_UP + 1))
        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        before, started = os.times(), time.perf_counter()
        await handle(dispatcher, measured, args.concurrency)
        after, ended = os.times(), time.perf_counter()
    finally:
        await db.dispose()
    user, system = after.user - before.user, after.system - before.system
    return Result(
        name,
        args.n,
        (user + system) * 1000 / args.n,
        user * 1000 / args.n,
        system * 1000 / args.n,
        (ended - started) * 1000 / args.n,
        statements / args.n,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000, help="notes to handle (default 2000)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--pg-url",
        default=pg_url(PG_DATABASE),
        help=f"PostgreSQL database to empty and use (default {PG_DATABASE})",
    )
    parser.add_argument("--concurrency", type=int, default=CONCURRENT_UPDATES)
    parser.add_argument("--teachers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args()

    load_before = load()
    results = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="tandem-dispatch-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            results.append(asyncio.run(measure("SQLite", url, args)))
    if args.db in ("postgres", "both"):
        asyncio.run(fresh_postgres(args.pg_url))
        results.append(asyncio.run(measure("PostgreSQL", args.pg_url, args)))
    columns = [
        "database",
        "notes",
        "CPU ms/note",
        "user ms",
        "system ms",
        "wall ms/note",
        "statements/note",
    ]
    rows = [
        [
            r.database,
            r.n,
            f"{r.cpu_ms:.2f}",
            f"{r.user_ms:.2f}",
            f"{r.system_ms:.2f}",
            f"{r.wall_ms:.2f}",
            f"{r.statements:.2f}",
        ]
        for r in results
    ]
    notes = [
        f"  {args.n} notes, {args.concurrency} at a time; load average before: "
        f"{load_before}, after: {load()}"
    ]
    print_table("Dispatcher alone: the inbound benchmark's notes", columns, rows, notes)
    if args.markdown:
        print(markdown_table(columns, rows))


if __name__ == "__main__":
    main()
