"""What Arabic shaping and the Chinese font cost the PDF report and the charts, per language.

    python bench/languages.py [--rounds 5] [--lines 80] [--markdown]

Each round lays out, in every catalog language in turn (interleaved, so a noisy neighbour
slows all alike): a report of `--lines` lines of catalog text under goal headings, as a PDF
(`bot/report_pdf.py`: HarfBuzz shaping right to left for Arabic, Noto Sans SC behind DejaVu for
Chinese), and one 30-point chart (`bot/charts.py`). CPU time of this process, median of rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import header, markdown_table, print_table
from bot.charts import ChartData, ChartLabels, Point, draw_png
from bot.i18n import Translator, languages
from bot.progress_report import Block
from bot.report_pdf import render_pdf


def report(language: str, lines: int) -> list[Block]:
    t = Translator(language)
    day = t.day(date(2026, 12, 3))
    line = t("report.measure", day=day, value="80 %", who="Ms. Ortiz", where=t("report.home"))
    note = t("report.note", day=day, who="Dana Rivera", where=t("report.home"), text="Sam 6/10")
    body = [line if n % 2 else note for n in range(lines)]
    title = t("report.title", student="Sam Rivera")
    return [Block(title, [t("report.school", school="Maple")]), Block(t("report.wins"), body)]


def chart(language: str) -> ChartData:
    t = Translator(language)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    labels = ChartLabels(
        t("report.goal", tag="reading"),
        t("progress.axis_percent"),
        t("progress.school"),
        t("progress.home"),
        t("progress.target"),
        t("progress.baseline"),
    )
    points = tuple(Point(start + timedelta(days=n), 40.0 + n, n % 3 == 0) for n in range(30))
    return ChartData(points, labels, target=80, percent=True)


def cpu_ms(work: Callable[[], object]) -> float:
    began = time.process_time()
    work()
    return (time.process_time() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, default=80)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    pdf: dict[str, list[float]] = {language: [] for language in languages()}
    png: dict[str, list[float]] = {language: [] for language in languages()}
    pages: dict[str, int] = {}
    for language in languages():  # warm up: imports, fonts and caches once, not measured
        render_pdf(report(language, 2), "t", language)
        draw_png(chart(language))
    for _ in range(args.rounds):
        for language in languages():
            blocks = report(language, args.lines)
            pdf[language].append(cpu_ms(lambda: render_pdf(blocks, "t", language)))  # noqa: B023
            pages[language] = render_pdf(blocks, "t", language).pages
            data = chart(language)
            png[language].append(cpu_ms(lambda: draw_png(data)))  # noqa: B023
    rows = [
        [
            language,
            f"{statistics.median(pdf[language]):.0f} ms ({pages[language]} pages)",
            f"{statistics.median(png[language]):.0f} ms",
        ]
        for language in languages()
    ]
    columns = ["language", f"PDF, {args.lines} lines: CPU", "chart, 30 points: CPU"]
    title = f"languages: {args.rounds} rounds, interleaved"
    if args.markdown:
        print("\n".join(header(title)))
        print(markdown_table(columns, rows))
    else:
        print_table(title, columns, rows)


if __name__ == "__main__":
    main()
