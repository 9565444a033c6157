"""Progress benchmark: chart drawing and the progress report, in this process.

    python bench/progress.py [--charts 40] [--measures 200] [--markdown]

- chart: `--charts` PNGs of a 30-point goal and of a 2,000-point goal (thinned to 300 a
  series), drawn one after another with matplotlib's Agg backend: p50 and p95;
- report: a demo school on a temporary SQLite file, Sam given `--measures` measures, then
  the report gathered, composed (with its chart) and laid out as a PDF: the median of 5, and
  its page count;
- RSS of this process after the first chart (matplotlib's import and fonts included).

Not measured here yet (issue 15): inbound note latency while 20 /progress run at once, and
the weekly summary with charts.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import header, markdown_table, print_table
from bot import charts, progress_report
from bot.charts import ChartData, ChartLabels, Point
from bot.demo import DEMO_SCHOOL, seed_demo
from bot.i18n import Translator
from bot.report_pdf import render_pdf
from storage.db import Database
from storage.models import Entry, EntryKind, Measure, Setting
from storage.stores import Store

LABELS = ChartLabels(
    "#reading — Reads aloud", "Percent correct", "School", "Home", "Target", "Baseline"
)


def series(count: int) -> ChartData:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    points = tuple(
        Point(start + timedelta(hours=6 * n), float(n * 7 % 101), n % 3 == 0) for n in range(count)
    )
    return ChartData(points, LABELS, target=80, baseline=40, percent=True)


def chart_times(count: int, points: int) -> list[float]:
    data = series(points)
    times = []
    for _ in range(count):
        began = time.perf_counter()
        charts.draw_png(data)
        times.append(time.perf_counter() - began)
    return times


async def report_times(measures: int, repeat: int = 5) -> tuple[list[float], int]:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await db.upgrade()
        async with db.session() as session:
            store = Store(session)
            await seed_demo(store)
            school = await store.students.school_named(DEMO_SCHOOL)
            assert school is not None and school.id is not None
            sam = next(
                s for s in await store.students.in_school(school.id) if s.name.startswith("Sam")
            )
            assert sam.id is not None
            goal, _ = await store.entries.set_goal(sam.id, "reading", "Reads a short passage aloud")
            goal.measure, goal.target, goal.baseline = "percent", 80, 40
            start = datetime.now(UTC) - timedelta(days=200)
            for n in range(measures):
                at = start + timedelta(hours=20 * n)
                setting = Setting.HOME if n % 4 == 0 else Setting.SCHOOL
                entry = Entry(
                    student_id=sam.id,
                    kind=EntryKind.WIN,
                    setting=setting,
                    text=f"read {n % 11}/10",
                    goal_id=goal.id,
                    source_platform="console",
                    created_at=at,
                )
                session.add(entry)
                await session.flush()
                assert entry.id is not None and goal.id is not None
                session.add(
                    Measure(
                        entry_id=entry.id,
                        goal_id=goal.id,
                        student_id=sam.id,
                        setting=setting,
                        kind="percent",
                        value=n % 11 * 10.0,
                        correct=n % 11,
                        trials=10,
                        taken_at=at,
                    )
                )
        times, pages = [], 0
        for _ in range(repeat):
            began = time.perf_counter()
            async with db.session() as session:
                store = Store(session)
                made = await progress_report.gather(
                    store,
                    school,
                    sam,
                    start.date(),
                    datetime.now(UTC).date(),
                    datetime.now(UTC).date(),
                )
            t = Translator("en")
            blocks = await progress_report.compose(made, t)
            pdf = render_pdf(blocks, blocks[0].heading, "en")
            times.append(time.perf_counter() - began)
            pages = pdf.pages
        await db.dispose()
        return times, pages


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--charts", type=int, default=40)
    parser.add_argument("--measures", type=int, default=200)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    charts.draw_png(series(30))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    for points in (30, 2000):
        times = sorted(chart_times(args.charts, points))
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        rows.append([f"chart, {points} points", ms(statistics.median(times)), ms(p95)])
    report, pages = asyncio.run(report_times(args.measures))
    rows.append(
        [
            f"report, {args.measures} measures ({pages} pages)",
            ms(statistics.median(report)),
            ms(max(report)),
        ]
    )
    columns = ["what", "p50", "p95 / worst"]
    notes = [f"max RSS after the first chart: {rss_mib:.0f} MiB"]
    if args.markdown:
        print("\n".join([*header("progress"), *notes, "", markdown_table(columns, rows)]))
    else:
        print_table("progress", columns, rows, notes)


if __name__ == "__main__":
    main()
