"""Progress benchmark (issue 15): charts, the report, notes under a burst of /progress, the
weekly summary with its pictures, and the memory of `tandem run` after its first chart.

    python bench/progress.py [--charts 40] [--measures 200] [--students 10000]
                             [--fanout-students 150] [--latency-rounds 8]
                             [--only PART ...] [--markdown]

- chart: `--charts` PNGs of a 30-point goal, of a 2,000-point goal (thinned to 300 a series)
  and of a week's picture of three goals, drawn one after another in this process: CPU time,
  p50 and p95;
- report: a demo school on a temporary SQLite file, Sam given `--measures` measures, then
  the report gathered, composed (with its chart) and laid out as a PDF: the median of 5, and
  its page count;
- latency: notes dispatched at 20 a second, alone and with 20 `/progress` at once
  (bench/progress_latency.py), `--latency-rounds` of each: p50 and p99 of each note's time to
  its reply (8 rounds are 320 notes each: the p99 is the fourth slowest, where with 3 rounds
  it was the second, which one stall of the host decides);
- summary: the summary job for `--students` students with charts off and on, `--rounds` times
  each (bench/progress_summary.py);
- fanout: the summary job for `--fanout-students` students with two parents each, then the
  sender's fan-out of its letters, charts off and on (`--rounds` each, the median shown),
  against a platform enforcing 30 a second, measured from the sender's start;
- rss: `tandem run` (Telegram, polling, against bench/botapi_fake.py) answers `/progress Sam`
  and sends a weekly summary with its picture: RSS of the process and of its drawing workers.

The whole run took 12 minutes on the shared 2-core host at load 9 (`--only PART` for less).
Charts are drawn in `bot.charts.DRAWING`, a pool of processes (forkserver): this script keeps
its work under `if __name__ == "__main__"`, as every program that draws must.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import progress_latency, progress_rss, progress_summary
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


def chart_times(count: int, points: int, panels: int = 1) -> list[float]:
    """CPU seconds per drawing (the host is shared: wall time would measure the neighbours)."""
    data = [series(points)] * panels
    times = []
    for _ in range(count):
        began = time.process_time()
        charts.draw_panels_png(data)
        times.append(time.process_time() - began)
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
            began = time.perf_counter()  # wall: the chart and the PDF are drawn in the pool
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def chart_rows(args: argparse.Namespace) -> list[list[str]]:
    rows = []
    for label, points, panels in (
        ("chart, 30 points", 30, 1),
        ("chart, 2000 points", 2000, 1),
        ("week picture, 3 goals of 5 points", 5, 3),
    ):
        times = chart_times(args.charts, points, panels)
        rows.append([label, ms(statistics.median(times)), ms(percentile(times, 0.95))])
    return rows


def report_rows(args: argparse.Namespace) -> list[list[str]]:
    report, pages = asyncio.run(report_times(args.measures))
    charts.DRAWING.close()
    label = f"report, {args.measures} measures ({pages} pages), wall"
    return [[label, ms(statistics.median(report)), ms(max(report))]]


def latency_rows(args: argparse.Namespace) -> list[list[str]]:
    found = asyncio.run(progress_latency.note_latency(rounds=args.latency_rounds))
    charts.DRAWING.close()
    rows = []
    for name, label in (("quiet", "note, alone"), ("loaded", "note, 20 /progress at once")):
        values = found[name]
        rows.append(
            [
                f"{label} ({len(values)} notes)",
                ms(percentile(values, 0.5)),
                ms(percentile(values, 0.99)),
            ]
        )
    ratio = percentile(found["loaded"], 0.99) / percentile(found["quiet"], 0.99)
    rows.append(["p99 loaded / alone (target <= 1.5)", "", f"{ratio:.2f}"])
    return rows


def summary_rows(args: argparse.Namespace) -> list[list[str]]:
    with tempfile.TemporaryDirectory() as folder:
        job = asyncio.run(
            progress_summary.summary_job(Path(folder), args.students, args.entries, args.rounds)
        )
    return [
        [
            f"summary job, {args.students} students, charts {name} ({int(f['letters'])} letters)",
            f"{f['cpu']:.2f} s CPU",
            f"{f['wall']:.2f} s wall",
        ]
        for name, f in job.items()
    ]


def fanout_rows(args: argparse.Namespace) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for on in (False, True):
            results = [
                asyncio.run(progress_summary.fan_out(Path(folder), args.fanout_students, on))
                for _ in range(args.rounds)
            ]
            rates = sorted(result.rate for result in results)
            median = statistics.median(rates)
            last = results[-1]
            rows.append(
                [
                    f"fan-out, {args.fanout_students} students x 2 parents, charts "
                    f"{'on' if on else 'off'} ({last.letters} letters, {last.drawn} drawn), "
                    f"median of {len(rates)}: " + ", ".join(f"{r / 30:.3f}" for r in rates),
                    f"{median:.1f}/s",
                    f"{median / 30:.3f} of the limit",
                ]
            )
    return rows


PARTS = {
    "chart": chart_rows,
    "report": report_rows,
    "latency": latency_rows,
    "summary": summary_rows,
    "fanout": fanout_rows,
    "rss": lambda args: progress_rss.rss_rows(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--charts", type=int, default=40)
    parser.add_argument("--measures", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-rounds", type=int, default=8)
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=10, help="entries per student")
    parser.add_argument("--fanout-students", type=int, default=150)
    parser.add_argument("--only", nargs="*", choices=list(PARTS), default=list(PARTS))
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = []
    for part in args.only:
        rows += PARTS[part](args)
    columns = ["what", "p50 / figure", "p95 / p99 / worst"]
    if args.markdown:
        print("\n".join([*header("progress"), "", markdown_table(columns, rows)]))
    else:
        print_table("progress", columns, rows, [])


if __name__ == "__main__":
    main()
