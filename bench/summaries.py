"""Summaries benchmark: every weekly summary of a big school, composed and queued in one job.

    python bench/summaries.py [--students 10000] [--entries 50] [--db sqlite|postgres|both]
                              [--also 1000] [--weeks 1] [--profile DIR] [--markdown]

Seeds a school of `--students` students with `--entries` entries each (10,000 × 50 = 500,000
rows), all in the week being summarised unless `--weeks` spreads them over more weeks. Each
student has one parent; teachers have 25 students each (400 teachers for 10,000 students), so
the job writes two letters per student. Entries: 40 % wins, 20 % concerns, 30 % notes (half
from home), 5 % open questions, 5 % urgent; a fifth linked to the student's goal.

For each database, a fresh process seeds it (executemany on SQLite, COPY on PostgreSQL,
database `tandem_bench_summaries`, emptied), then another fresh process runs
`bot.jobs.run_summary` once and reports:

- compose: from the job's start to its first statement about accounts (reading the week and
  writing every text); enqueue: from there to the end (addresses and outbox INSERTs, commit);
- SQL statements the job ran (a `before_cursor_execute` listener, plus the COPYs that go to
  asyncpg directly, past SQLAlchemy's events), reads and writes apart;
  `--also` runs a smaller school too, to show whether the count grows with the students;
- the CPU time the job cost the measuring process (threads included), which a busy machine
  moves less than the wall time;
- peak RSS of the measuring process (`ru_maxrss`), and its RSS before the job started.

Targets (10,000 students on SQLite, this 2-core machine): under 10 s, statements not growing
with the number of students, peak RSS under 300 MB. The default run takes 2 to 4 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.engine import Connection

from bot import grammar, jobs
from bot.config import Settings
from storage.db import Database, is_sqlite
from storage.models import (
    Account,
    Delivery,
    Entry,
    Goal,
    Membership,
    Person,
    Role,
    School,
    Student,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, markdown_table, pg_url, print_table, reset_postgres, usage

PG_DATABASE = "tandem_bench_summaries"
TIMEZONE = "America/Chicago"
# Friday 2026-11-27 15:00 in Chicago: the summary job's usual time; the week began Monday 23.
NOW = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
WEEK_START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
STUDENTS_PER_TEACHER = 25
TARGET_SECONDS = 10.0
TARGET_RSS_MB = 300.0
KINDS = (
    ("win", "school", 0.40),
    ("concern", "school", 0.20),
    ("note", "home", 0.15),
    ("note", "school", 0.15),
    ("question", "home", 0.05),
    ("urgent", "school", 0.05),
)
TEXTS = (
    "read a whole page aloud",
    "asked for help with words",
    "hit a peer at recess",
    "slept badly, anxious this morning",
    "tired after lunch",
    "loved the library visit",
    "Can he bring headphones on the bus?",
    "fell on the playground, nurse saw him",
)


class FixedClock:
    def now(self) -> datetime:
        return NOW


# --- seeding (its own process) -----------------------------------------------------------------


async def seed(url: str, students: int, entries: int, weeks: int) -> dict[str, Any]:
    """The school, its people, and `students × entries` entries, inserted in bulk."""
    started = time.perf_counter()
    db = Database(url)
    try:
        await db.upgrade()
        async with db.session() as session:
            school = School(name="Bench High", timezone=TIMEZONE, language="en")
            session.add(school)
            await session.flush()
            assert school.id is not None
            school_id = school.id
        teachers = -(-students // STUDENTS_PER_TEACHER)
        async with db.engine.begin() as connection:
            await connection.execute(
                insert(Person),
                [
                    {"id": i + 1, "display_name": f"Teacher {i:04d}", "language": "en"}
                    for i in range(teachers)
                ]
                + [
                    {"id": teachers + i + 1, "display_name": f"Parent {i:05d}", "language": "en"}
                    for i in range(students)
                ],
            )
            await connection.execute(
                insert(Account),
                [
                    {
                        "person_id": i + 1,
                        "platform": "telegram",
                        "workspace": "",
                        "external_id": str(900_000 + i),
                        "dm_chat_id": str(900_000 + i),
                        "active": True,
                    }
                    for i in range(teachers + students)
                ],
            )
            names = [f"Student{i:05d} Bench" for i in range(students)]
            await connection.execute(
                insert(Student),
                [
                    {
                        "id": i + 1,
                        "school_id": school_id,
                        "name": name,
                        "name_key": grammar.fold(name),
                        "archived": False,
                    }
                    for i, name in enumerate(names)
                ],
            )
            await connection.execute(
                insert(Membership),
                [
                    row
                    for i in range(students)
                    for row in (
                        {
                            "person_id": i // STUDENTS_PER_TEACHER + 1,
                            "student_id": i + 1,
                            "role": Role.TEACHER,
                            "delivery": Delivery.WEEKLY,
                        },
                        {
                            "person_id": teachers + i + 1,
                            "student_id": i + 1,
                            "role": Role.PARENT,
                            "delivery": Delivery.WEEKLY,
                        },
                    )
                ],
            )
            await connection.execute(
                insert(Goal),
                [
                    {
                        "id": i + 1,
                        "student_id": i + 1,
                        "tag": "reading",
                        "description": "Reads a page aloud to an adult",
                        "active": True,
                    }
                    for i in range(students)
                ],
            )
        await _insert_entries(db, students, entries, weeks, teachers)
    finally:
        await db.dispose()
    return {"seconds": time.perf_counter() - started, "rows": students * entries}


def _entry_rows(students: int, entries: int, weeks: int, teachers: int) -> list[tuple[Any, ...]]:
    rng = random.Random(1)
    kinds = [(kind, setting) for kind, setting, _ in KINDS]
    weights = [share for _, _, share in KINDS]
    span = timedelta(days=7 * weeks - 3).total_seconds()  # up to Friday of the last week
    rows = []
    for student in range(1, students + 1):
        parent = teachers + student
        teacher = (student - 1) // STUDENTS_PER_TEACHER + 1
        for _ in range(entries):
            kind, setting = rng.choices(kinds, weights)[0]
            at = NOW - timedelta(seconds=rng.random() * span) - timedelta(minutes=1)
            at = max(at, WEEK_START - timedelta(days=7 * (weeks - 1)))
            rows.append(
                (
                    student,
                    parent if setting == "home" else teacher,
                    kind,
                    setting,
                    rng.choice(TEXTS),
                    student if rng.random() < 0.2 else None,
                    "telegram",
                    "",
                    at,
                )
            )
    return rows


ENTRY_COLUMNS = (
    "student_id",
    "author_id",
    "kind",
    "setting",
    "text",
    "goal_id",
    "source_platform",
    "source_ref",
    "created_at",
)


async def _insert_entries(
    db: Database, students: int, entries: int, weeks: int, teachers: int
) -> None:
    rows = _entry_rows(students, entries, weeks, teachers)
    if is_sqlite(db.url):
        async with db.engine.begin() as connection:
            for start in range(0, len(rows), 50_000):
                await connection.execute(
                    insert(Entry),
                    [
                        dict(zip(ENTRY_COLUMNS, row, strict=True))
                        for row in rows[start : start + 50_000]
                    ],
                )
        return
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "entry", records=rows, columns=list(ENTRY_COLUMNS)
        )
        await raw.driver_connection.execute("ANALYZE")  # type: ignore[union-attr]


# --- measuring (its own process) ---------------------------------------------------------------


@dataclass
class Measured:
    database: str
    students: int
    entries: int
    letters: int
    seconds: float
    cpu_seconds: float  # CPU time of the measuring process during the job, its threads included
    compose_seconds: float
    enqueue_seconds: float
    statements: int
    reads: int
    writes: int
    rss_before_mb: float
    peak_rss_mb: float


async def measure(url: str, students: int, entries: int) -> Measured:
    db = Database(url)
    statements: list[tuple[float, str]] = []

    def count(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        statements.append((time.perf_counter(), statement.lstrip()[:200]))

    try:
        async with db.session() as session:  # connect first: not the job's cost
            await session.connection()
        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        gc.freeze()  # as `tandem run` does once started (adapters/runtime.py)
        rss_before = usage(os.getpid()).rss_mb
        cpu_before = _cpu_seconds()
        # asyncpg is imported only for PostgreSQL: SQLite's RSS stays what the job alone costs.
        with nullcontext() if is_sqlite(url) else counting_copies(statements):
            started = time.perf_counter()
            report = await jobs.run_summary(db, Settings(), FixedClock(), 1)
            ended = time.perf_counter()
        cpu = _cpu_seconds() - cpu_before
    finally:
        await db.dispose()
    split = next(
        (at for at, sql in statements if sql.startswith("SELECT") and "FROM account" in sql), ended
    )
    writes = sum(1 for _, sql in statements if sql.startswith(WRITES))
    return Measured(
        database="SQLite" if is_sqlite(url) else "PostgreSQL",
        students=students,
        entries=students * entries,
        letters=report.queued,
        seconds=ended - started,
        cpu_seconds=cpu,
        compose_seconds=split - started,
        enqueue_seconds=ended - split,
        statements=len(statements),
        reads=len(statements) - writes,
        writes=writes,
        rss_before_mb=rss_before,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "COPY")


@contextmanager
def counting_copies(statements: list[tuple[float, str]]) -> Iterator[None]:
    """Count asyncpg's COPYs with the SQL statements: Store sends them to the driver itself, so
    SQLAlchemy's events never see them."""
    import asyncpg  # type: ignore[import-untyped]

    original = asyncpg.Connection.copy_records_to_table

    async def counted(self: asyncpg.Connection, table_name: str, **options: Any) -> Any:
        statements.append((time.perf_counter(), f"COPY {table_name}"))
        return await original(self, table_name, **options)

    asyncpg.Connection.copy_records_to_table = counted
    try:
        yield
    finally:
        asyncpg.Connection.copy_records_to_table = original


def _cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


async def profiled(url: str, students: int, entries: int) -> tuple[Measured, str]:
    """`measure` under pyinstrument; the result and the profile as text."""
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled")
    with profiler:
        result = await measure(url, students, entries)
    return result, profiler.output_text(unicode=True, show_all=False)


# --- the run -----------------------------------------------------------------------------------


def child(*args: str) -> dict[str, Any]:
    """Run this script in a fresh process (`--child ...`); its JSON answer."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_database(
    name: str, url: str, students: int, args: argparse.Namespace
) -> tuple[dict[str, Any], Measured]:
    if not is_sqlite(url):
        reset_postgres(url)
    seeded = child("seed", url, str(students), str(args.entries), str(args.weeks))
    extra = []
    if args.profile:
        extra = [str(args.profile / f"summaries-{name}-{students}.txt")]
    measured = Measured(**child("measure", url, str(students), str(args.entries), *extra))
    return seeded, measured


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=50, help="entries per student")
    parser.add_argument(
        "--also",
        type=int,
        default=1_000,
        help="a smaller school to compare statement counts with (0: none)",
    )
    parser.add_argument(
        "--weeks",
        type=int,
        default=1,
        help="weeks the entries are spread over (1: all in the summarised week)",
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--pg-url",
        default=pg_url(PG_DATABASE),
        help=f"PostgreSQL database to empty and use (default {PG_DATABASE})",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="profile each job with pyinstrument, reports in DIR",
    )
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, url, students, entries, *rest = args.child
        if what == "seed":
            print(json.dumps(asyncio.run(seed(url, int(students), int(entries), int(rest[0])))))
        elif rest:
            result, profile = asyncio.run(profiled(url, int(students), int(entries)))
            Path(rest[0]).parent.mkdir(parents=True, exist_ok=True)
            Path(rest[0]).write_text(profile, encoding="utf-8")
            print(json.dumps(asdict(result)))
        else:
            print(json.dumps(asdict(asyncio.run(measure(url, int(students), int(entries))))))
        return

    load_before = load()
    sizes = [size for size in (args.also, args.students) if size]
    databases = (
        [("sqlite", None)]
        if args.db == "sqlite"
        else [("postgres", args.pg_url)]
        if args.db == "postgres"
        else [("sqlite", None), ("postgres", args.pg_url)]
    )
    results: list[tuple[dict[str, Any], Measured]] = []
    with tempfile.TemporaryDirectory(prefix="tandem-summaries-") as tmp:
        for name, url in databases:
            for size in sizes:
                target = url or f"sqlite+aiosqlite:///{Path(tmp) / f'summaries-{size}.db'}"
                results.append(run_database(name, target, size, args))
    columns = [
        "database",
        "students",
        "entries",
        "letters",
        "seed s",
        "compose s",
        "enqueue s",
        "total s",
        "CPU s",
        "statements (reads + writes)",
        "RSS before MB",
        "peak RSS MB",
    ]
    rows = [
        [
            m.database,
            f"{m.students:,}",
            f"{m.entries:,}",
            f"{m.letters:,}",
            f"{seeded['seconds']:.1f}",
            f"{m.compose_seconds:.2f}",
            f"{m.enqueue_seconds:.2f}",
            f"{m.seconds:.2f}",
            f"{m.cpu_seconds:.2f}",
            f"{m.statements} ({m.reads} + {m.writes})",
            f"{m.rss_before_mb:.0f}",
            f"{m.peak_rss_mb:.0f}",
        ]
        for seeded, m in results
    ]
    notes = [
        f"  entries in {args.weeks} week(s); load average before: {load_before}, after: {load()}"
    ]
    for _, m in results:
        if m.students != args.students:
            continue
        notes.append(
            f"  {m.database}, {m.students:,} students: time {m.seconds:.1f} s "
            f"(CPU {m.cpu_seconds:.1f} s) "
            f"{'(target < 10 s: met)' if m.seconds < TARGET_SECONDS else '(target < 10 s)'}"
            f"; peak RSS {m.peak_rss_mb:.0f} MB "
            f"({'met' if m.peak_rss_mb < TARGET_RSS_MB else 'MISSED'}: target < 300 MB)"
        )
        small = next((s for _, s in results if s.database == m.database and s is not m), None)
        if small is not None:
            same = small.statements == m.statements
            notes.append(
                f"  {m.database}: {small.statements} statements at {small.students:,} "
                f"students, {m.statements} at {m.students:,} "
                f"({'constant' if same else 'GROWS'})"
            )
    print_table("Summaries: run_summary for a whole school", columns, rows, notes)
    if args.markdown:
        print(markdown_table(columns, rows))


if __name__ == "__main__":
    main()
