"""What /metrics costs: the core's metric calls per note, and one scrape of a big outbox.

    python bench/metrics.py [--calls 200000] [--sent 1000000] [--pending 20000] [--markdown]

1. The calls a note makes (`event_handled` with its latency, and `letter_sent` for a letter
   it queues), on the Prometheus adapter and on the no-op default: CPU microseconds per note.
2. A scrape of `/metrics` on PostgreSQL (database `tandem_bench_metrics`) whose outbox holds
   `--sent` sent letters and `--pending` pending ones: CPU of this process and wall time per
   scrape (median of 20), next to the grouped count written as `status <> 'sent'`, which the
   planner answers by reading the whole table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

from adapters.metrics_prometheus import PrometheusMetrics
from bot.context import SystemClock
from bot.metrics import NO_METRICS, EventOutcome, Metrics
from storage.db import Database
from storage.models import Account, Person, School

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_postgres, markdown_table, pg_url, print_table

PG_DATABASE = "tandem_bench_metrics"
SCRAPES = 20


def per_note_us(metrics: Metrics, calls: int) -> float:
    """CPU microseconds for the metric calls of one note."""
    started = time.process_time()
    for _ in range(calls):
        metrics.event_handled("message", EventOutcome.REPLIED, 0.003)
        metrics.letter_sent("telegram")
    return (time.process_time() - started) / calls * 1e6


async def fill(db: Database, sent: int, pending: int) -> None:
    """One school, person and account; `sent` sent letters and `pending` due ones."""
    async with db.session() as session:
        school = School(name="Oak", timezone="UTC", language="en")
        person = Person(display_name="P")
        session.add_all([school, person])
        await session.flush()
        session.add(
            Account(person_id=person.id or 0, platform="telegram", external_id="1", dm_chat_id="1")
        )
    letters = text(
        "INSERT INTO outbox (dedupe_key, person_id, account_id, school_id, kind, payload, "
        "not_before, status, attempts) SELECT 'k' || n, p.id, a.id, s.id, 'summary', '{}', "
        "now() - interval '1 day', CASE WHEN n <= :sent THEN 'sent' ELSE 'pending' END, 0 "
        "FROM generate_series(1, :total) AS n, person p, account a, school s"
    )
    async with db.engine.begin() as connection:
        await connection.execute(letters, {"sent": sent, "total": sent + pending})
        await connection.execute(text("ANALYZE outbox"))


async def time_scrapes(db: Database, metrics: PrometheusMetrics) -> tuple[float, float]:
    """Median CPU ms and wall ms of one scrape."""
    cpu, wall = [], []
    clock = SystemClock()
    for _ in range(SCRAPES):
        c, w = time.process_time(), time.perf_counter()
        body = await metrics.scrape(db, clock)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
        assert b"tandem_outbox_letters" in body
    return statistics.median(cpu), statistics.median(wall)


async def time_not_sent(db: Database) -> float:
    """Median wall ms of the same count written as `status <> 'sent'`."""
    wall = []
    query = text("SELECT status, count(*) FROM outbox WHERE status <> 'sent' GROUP BY status")
    for _ in range(SCRAPES):
        started = time.perf_counter()
        async with db.engine.connect() as connection:
            await connection.execute(query)
        wall.append((time.perf_counter() - started) * 1000)
    return statistics.median(wall)


async def scrape_figures(sent: int, pending: int) -> list[list[object]]:
    url = pg_url(PG_DATABASE)
    await fresh_postgres(url)
    db = Database(url)
    try:
        await db.upgrade()
        await fill(db, sent, pending)
        metrics = PrometheusMetrics()
        await metrics.scrape(db, SystemClock())  # warm the pool and the plan
        cpu, wall = await time_scrapes(db, metrics)
        seq = await time_not_sent(db)
    finally:
        await db.dispose()
    outbox = f"{sent:,} sent + {pending:,} pending"
    return [
        [
            "one /metrics scrape (status IN pending, failed, dead)",
            outbox,
            f"{cpu:.2f}",
            f"{wall:.2f}",
        ],
        ["the count as status <> 'sent' (not used)", outbox, "", f"{seq:.2f}"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--sent", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=20_000)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    calls = [
        [
            "metric calls per note, Prometheus",
            f"{args.calls:,} notes",
            f"{per_note_us(PrometheusMetrics(), args.calls):.2f} µs",
            "",
        ],
        [
            "metric calls per note, no-op default",
            f"{args.calls:,} notes",
            f"{per_note_us(NO_METRICS, args.calls):.2f} µs",
            "",
        ],
    ]
    scrapes = asyncio.run(scrape_figures(args.sent, args.pending))
    columns = ["what", "size", "CPU", "wall ms"]
    rows = calls + [
        [what, size, f"{cpu} ms" if cpu else "", wall] for what, size, cpu, wall in scrapes
    ]
    print_table("Metrics: the core's calls and a scrape", columns, rows)
    if args.markdown:
        print(markdown_table(columns, rows))


if __name__ == "__main__":
    main()
