"""A goal's measures as a PNG chart: matplotlib's Agg backend, drawn off the event loop.

No pyplot (its global state is not thread-safe): each chart is its own Figure on an Agg canvas.
School and home points differ by marker shape and by colour (Okabe-Ito, safe for colour-blind
readers); the baseline and the target are lines. At most `MAX_POINTS` points per setting are
drawn; a longer series is thinned evenly, the first and last kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache, partial
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, TypeVar

from bot.script_layout import cjk_font, drawn_order

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)


WIDTH_PX, HEIGHT_PX, DPI = 1000, 600, 100
MAX_POINTS = 300
# A week's picture stacks one chart per goal measured: each this tall, at most this many.
PANEL_HEIGHT_PX, MAX_PANELS = 400, 6
DRAWERS = 2  # processes drawing at once; the rest wait, and notes never do
# Of those, at most this many draw for commands (/progress, /report) at once: on a small machine
# one core stays with the event loop, so the notes beside a burst of /progress keep their pace
# (on two cores, two drawing commands put a note's p99 at 1.5-2.3 times its pace alone, one at
# 1.0-1.2: docs/benchmarks.md). The weekly pictures still use every drawer.
COMMAND_DRAWERS = max(1, min(DRAWERS, (os.cpu_count() or 1) - 1))
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
    return draw_panels_png((data,))


WORKER_NICENESS = 10  # drawing yields the CPU to the event loop: notes first, pictures after


def warm_up() -> None:
    """A pool worker's start: lower its priority, so a burst of drawings takes only the CPU
    the bot leaves free; and draw a first chart, unless the fork server it was forked from
    did (`bot/chart_preload.py`)."""
    with contextlib.suppress(OSError, AttributeError):  # no nice() on some systems
        os.nice(WORKER_NICENESS)
    draw_first_chart()


@cache
def draw_first_chart() -> None:
    """Draw a small chart, once in a process, so that its first real one does not pay for
    loading the fonts and matplotlib's first layouts (several times a chart's time). Never
    raises: it is only a head start, and the real drawing reports its own failure."""
    try:
        draw_panels_png((_WARM_UP_CHART,))
    except Exception as error:
        log.warning("drawing warm-up failed: %s", type(error).__name__)


_WARM_UP_CHART = ChartData(
    (Point(datetime(2026, 1, 5, 12), 1.0, False), Point(datetime(2026, 1, 9, 12), 2.0, True)),
    ChartLabels("", "", "school", "home", "target", "baseline", months=("Jan",) * 12),
    target=2.0,
    baseline=1.0,
)


def panels_size(count: int) -> tuple[int, int]:
    """A picture of `count` charts one above the other: its width and height in pixels."""
    shown = max(1, min(count, MAX_PANELS))
    return WIDTH_PX, max(HEIGHT_PX, PANEL_HEIGHT_PX * shown)


def draw_panels_png(panels: Sequence[ChartData]) -> bytes:
    """Charts one above the other in one PNG (a student's week: each goal measured); at most
    MAX_PANELS. A top-level function of plain data: a process pool can run it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _use_fonts()
    shown = list(panels)[:MAX_PANELS]
    width, height = panels_size(len(shown))
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    for number, data in enumerate(shown, start=1):
        _draw_axes(figure.add_subplot(len(shown), 1, number), data)
    # Fixed margins rather than tight_layout, which lays every text out once more: a third of
    # the drawing's time, and pictures are drawn by the thousand on summary day.
    # Room on the left for the longest named level (`partial physical prompt`), if any.
    longest = max(
        (len(name) for data in shown for name in (data.labels.ticks or {}).values()), default=0
    )
    figure.subplots_adjust(
        left=min(0.35, max(0.08, (70 + 7.5 * longest) / width)),
        right=0.98,
        top=1 - 45 / height,
        bottom=45 / height,
        hspace=110 / PANEL_HEIGHT_PX,
    )
    buffer = io.BytesIO()
    # Fast deflate: a little larger (~40 KB), noticeably quicker to write.
    figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _draw_axes(axes: Axes, data: ChartData) -> None:
    """One goal's points, baseline and target on `axes`."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.ticker import FuncFormatter

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
    # A fixed place (y given): matplotlib skips placing it above the axes' decorations, which
    # it would do on every drawing (~15 % of a chart); nothing is drawn above the axes here.
    axes.set_title(labels.title, fontsize=14, y=1.0)
    axes.set_ylabel(labels.value_axis, fontsize=12)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize=11)


_In = TypeVar("_In")
_Out = TypeVar("_Out")
# Imported once by the pool's fork server, so each worker starts with matplotlib loaded and a
# first chart drawn (`bot/chart_preload.py`, last: it draws).
PRELOAD = [
    "bot.charts",
    "bot.report_pdf",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "bot.chart_preload",
]


def pool_context() -> BaseContext:
    """How the pool's workers start. Never by fork: this process runs threads (the event
    loop's helpers, the database driver's), and a forked child inherits their locks mid-use."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def process_pool(workers: int) -> Executor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=warm_up)


class DrawingPool:
    """A few processes that draw charts and lay out PDFs, so drawing never holds up the event
    loop (matplotlib in a thread would hold the GIL, and every note with it). Made with the
    first drawing; `close` ends its processes (the runtime's exit), and a later drawing makes
    a new pool."""

    def __init__(
        self, workers: int = DRAWERS, make: Callable[[int], Executor] = process_pool
    ) -> None:
        self.workers = workers
        self._make = make
        self._executor: Executor | None = None
        self._starting: asyncio.Future[Executor] | None = None  # `warm`, in a thread

    def warm(self) -> None:
        """Start the processes now, in a thread, so that the first drawing does not wait for
        them: the fork server's start and matplotlib's import take a second or two, and would
        block the event loop (processes are started by the call that needs them)."""
        if self._executor is None and self._starting is None:
            self._starting = asyncio.get_running_loop().run_in_executor(None, self._started)

    def _started(self) -> Executor:
        # The processes start with the first submissions (in this thread: that blocks); the
        # drawings then queue behind these in the pool, not in the event loop.
        executor = self._make(self.workers)
        for _ in range(self.workers):
            executor.submit(_nothing)
        return executor

    async def _ready(self) -> Executor:
        if self._executor is None and self._starting is None:
            self.warm()  # never on the event loop: every note would wait for the fork server
        starting = self._starting
        if starting is not None:
            started: Executor | None = None
            try:
                started = await asyncio.shield(starting)
            except Exception as error:  # the drawing starts the pool itself
                log.warning("drawing pool failed to start: %s", type(error).__name__)
            if self._starting is starting:  # the first to see it (`close` ends it otherwise)
                self._starting, self._executor = None, started
        if self._executor is None:
            self._executor = self._make(self.workers)
        return self._executor

    async def run(self, work: Callable[[_In], _Out], argument: _In) -> _Out:
        """`work(argument)` in the pool; the callers wait, the event loop does not."""
        executor = await self._ready()
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, work, argument)
        except BrokenProcessPool:
            # A worker died (out of memory, killed): the next drawing gets a fresh pool.
            log.warning("drawing pool broke; a new one starts with the next drawing")
            if self._executor is executor:
                self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        """End the pool's processes: drawings under way finish, queued ones are dropped."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        starting, self._starting = self._starting, None
        if starting is not None:  # still starting: ended once started
            starting.add_done_callback(_shut_down_started)


def _nothing() -> None:
    """A pool worker's first task when the pool is warmed: it only has to start."""


def _shut_down_started(starting: asyncio.Future[Executor]) -> None:
    if not starting.cancelled() and starting.exception() is None:
        starting.result().shutdown(wait=False)


DRAWING = DrawingPool()  # the process's pool: /progress, /report and the summary's pictures


async def draw(data: ChartData) -> bytes:
    """Draw in the drawing pool, so a burst of charts never holds up the event loop."""
    return await off_loop(draw_png, data)


async def off_loop(work: Callable[[_In], _Out], argument: _In) -> _Out:
    """Run CPU-bound drawing (a chart, a PDF) in the drawing pool, a few at a time. `work` and
    `argument` cross to another process: a top-level function and picklable data."""
    return await DRAWING.run(work, argument)
