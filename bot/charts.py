"""A goal's measures as a PNG chart: matplotlib's Agg backend, drawn off the event loop.

No pyplot (its global state is not thread-safe): each chart is its own Figure on an Agg canvas.
School and home points differ by marker shape and by colour (Okabe-Ito, safe for colour-blind
readers); the baseline and the target are lines. At most `MAX_POINTS` points per setting are
drawn; a longer series is thinned evenly, the first and last kept.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache, partial
from typing import TypeVar

from bot.script_layout import cjk_font, drawn_order

WIDTH_PX, HEIGHT_PX, DPI = 1000, 600, 100
MAX_POINTS = 300
DRAWERS = 2  # charts drawn at once; the rest wait, and notes never do
# Okabe-Ito: blue for school, vermilion for home, bluish green and grey for the lines.
SCHOOL_COLOUR, HOME_COLOUR = "#0072B2", "#D55E00"
TARGET_COLOUR, BASELINE_COLOUR = "#009E73", "#555555"


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    home: bool


@dataclass(frozen=True)
class ChartLabels:
    """The chart's words, already in the reader's language."""

    title: str
    value_axis: str
    school: str
    home: str
    target: str
    baseline: str
    ticks: dict[float, str] | None = None  # rating charts name their levels
    months: tuple[str, ...] = ()  # the twelve short month names, for the dates along the bottom


@dataclass(frozen=True)
class ChartData:
    points: tuple[Point, ...]
    labels: ChartLabels
    target: float | None = None
    baseline: float | None = None
    percent: bool = False


def thin(points: Sequence[Point], limit: int = MAX_POINTS) -> list[Point]:
    """At most `limit` points, evenly spread, the first and the last always kept."""
    if len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(index * step)] for index in range(limit)]


def _day_month(months: tuple[str, ...], value: float, _position: int | None = None) -> str:
    from matplotlib.dates import num2date

    day = num2date(value)  # type: ignore[no-untyped-call]
    return drawn_order(f"{day.day} {months[day.month - 1]}")


@cache
def _use_fonts() -> None:
    """DejaVu Sans, then a CJK font for the characters it lacks (matplotlib falls back per
    character along the family list). Set once for the process: rc_context is not thread-safe."""
    import matplotlib
    from matplotlib import font_manager

    families = ["DejaVu Sans"]
    cjk = cjk_font()
    if cjk is not None:
        font_manager.fontManager.addfont(str(cjk))
        families.append(font_manager.FontProperties(fname=str(cjk)).get_name())
    matplotlib.rcParams["font.family"] = families


def _drawable(labels: ChartLabels) -> ChartLabels:
    """The labels as matplotlib must get them: Arabic shaped and in drawing order (the month
    names are ordered with their day, in `_day_month`)."""
    return replace(
        labels,
        title=drawn_order(labels.title),
        value_axis=drawn_order(labels.value_axis),
        school=drawn_order(labels.school),
        home=drawn_order(labels.home),
        target=drawn_order(labels.target),
        baseline=drawn_order(labels.baseline),
        ticks={value: drawn_order(name) for value, name in labels.ticks.items()}
        if labels.ticks
        else labels.ticks,
    )


def draw_png(data: ChartData) -> bytes:
    """The chart as PNG bytes, WIDTH_PX x HEIGHT_PX."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    _use_fonts()
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = _drawable(data.labels)
    for home, colour, marker, name in (
        (False, SCHOOL_COLOUR, "o", labels.school),
        (True, HOME_COLOUR, "^", labels.home),
    ):
        series = thin([point for point in data.points if point.home == home])
        if series:
            axes.plot(
                [date2num(point.at) for point in series],  # type: ignore[no-untyped-call]
                [point.value for point in series],
                marker=marker,
                markersize=8,
                linestyle="-" if len(series) < MAX_POINTS else "",
                linewidth=1.5,
                color=colour,
                label=name,
            )
    if data.target is not None:
        axes.axhline(
            data.target, color=TARGET_COLOUR, linestyle="--", linewidth=2, label=labels.target
        )
    if data.baseline is not None:
        axes.axhline(
            data.baseline, color=BASELINE_COLOUR, linestyle=":", linewidth=2, label=labels.baseline
        )
    if data.percent:
        axes.set_ylim(0, 105)
    elif labels.ticks:
        axes.set_yticks(list(labels.ticks), list(labels.ticks.values()))
        axes.set_ylim(0.5, max(labels.ticks) + 0.5)
    else:
        axes.set_ylim(bottom=0)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    times = [point.at for point in data.points]
    days_apart = (max(times) - min(times)).days if times else 0
    if len(labels.months) == 12 and days_apart >= 3:  # the reader's language: `8 oct`
        axes.xaxis.set_major_formatter(FuncFormatter(partial(_day_month, labels.months)))
    else:
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_title(labels.title, fontsize=14)
    axes.set_ylabel(labels.value_axis, fontsize=12)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


_executor: ThreadPoolExecutor | None = None
_In = TypeVar("_In")
_Out = TypeVar("_Out")


async def draw(data: ChartData) -> bytes:
    """Draw in a small pool of threads, so a burst of charts never holds up the event loop."""
    return await off_loop(draw_png, data)


async def off_loop(work: Callable[[_In], _Out], argument: _In) -> _Out:
    """Run CPU-bound drawing (a chart, a PDF) in the drawers' pool, a few at a time."""
    global _executor
    if _executor is None:  # made on first use: no threads at import time
        _executor = ThreadPoolExecutor(max_workers=DRAWERS, thread_name_prefix="chart")
    return await asyncio.get_running_loop().run_in_executor(_executor, work, argument)
