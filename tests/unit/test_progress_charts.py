"""/progress: a chart per measured goal, with its numbers in words (issue 15 item 3)."""

from __future__ import annotations

import asyncio
import io
import stat
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adapters.console import ConsoleChat
from bot import charts
from bot.charts import COMMAND_DRAWERS, ChartData
from bot.events import Reply
from storage.stores.entries import EntryStore
from storage.stores.progress import ProgressStore
from tests.conftest import DemoSchool
from tests.unit.conftest import HeldReads, Record, en

READING = "/goal Sam reading: Reads a short passage aloud | target 80% | baseline 40%"


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height, from its header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def measured(school: DemoSchool) -> None:
    await school.say(school.teacher, READING)
    for text in ("6/10", "80%"):
        await school.say(school.teacher, f"+ Sam read {text} #reading")
        school.clock.advance(days=2)
    await school.say(school.parent, "+ Sam read 9/10 at bedtime #reading")


async def test_progress_sends_a_phone_sized_chart_with_its_numbers_in_words(
    school: DemoSchool,
) -> None:
    await measured(school)

    said = await school.say(school.parent, "/progress Sam")

    [reply] = said.replies
    assert reply.text == (
        "#reading — Reads a short passage aloud: 60 % (6/10), 80 %, 90 % (9/10) (home)"
        " · target 80 % · baseline 40 %"
    )
    assert reply.attachment is not None
    assert reply.attachment.alt == reply.text
    assert reply.attachment.filename == "reading.png"
    width, height = png_size(reply.attachment.data)
    assert width >= 800 and height >= 500


async def test_progress_for_one_goal_names_it(school: DemoSchool) -> None:
    await measured(school)
    await school.say(school.teacher, "/goal Sam calm: breathes | measure count")
    await school.say(school.teacher, "- Sam left the room x2 #calm")

    said = await school.say(school.teacher, "/progress Sam calm")

    [reply] = said.replies
    assert reply.text.startswith("#calm — breathes: 2 times")


async def test_a_goal_with_no_measures_says_nothing_is_measured_yet(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "/progress Sam reading")

    assert said.text == en("progress.nothing", what="#reading", student="Sam Rivera")
    assert said.replies[0].attachment is None


async def test_a_goal_not_measured_yet_beside_a_measured_one_says_so(school: DemoSchool) -> None:
    await measured(school)
    await school.say(school.teacher, "/goal Sam calm: breathes | measure count")

    said = await school.say(school.teacher, "/progress Sam calm")

    assert said.text == en("progress.nothing", what="#calm", student="Sam Rivera")
    assert said.replies[0].attachment is None


async def test_an_unknown_goal_lists_the_students_goals(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "/progress Sam #math")

    assert said.text == en(
        "progress.unknown_goal", tag="math", student="Sam Rivera", goals="#reading"
    )


async def test_an_outsider_asking_for_progress_hears_what_an_unknown_name_gets(
    school: DemoSchool, record: Record
) -> None:
    await measured(school)

    other = await school.say(school.parent_of_maya, "/progress Sam")
    missing = await school.say(school.parent_of_maya, "/progress Zed")

    assert other.text == missing.text == en("students.not_found")
    assert all(isinstance(reply, Reply) and reply.attachment is None for reply in other.replies)
    assert await record.access_log(actor=school.parent_of_maya, action="denied")


async def test_a_long_series_is_thinned_and_its_words_count_the_earlier_values(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, READING)
    for number in range(25):
        await school.say(school.teacher, f"+ Sam read {number % 11}/10 #reading")
        school.clock.advance(hours=1)

    said = await school.say(school.teacher, "/progress Sam")

    assert "(5 earlier values)" in said.text
    assert said.replies[0].attachment is not None


async def test_the_console_writes_the_chart_and_prints_its_path_and_words(
    school: DemoSchool, tmp_path: Path
) -> None:
    await measured(school)
    out = io.StringIO()
    chat = ConsoleChat(school.dispatcher, school.db, out, "Ms. Ortiz", files=tmp_path)

    await chat.handle_line("/progress Sam")

    [chart] = [path for path in tmp_path.iterdir() if path.suffix == ".png"]  # noqa: ASYNC240
    assert png_size(chart.read_bytes())[0] >= 800
    assert stat.S_IMODE(chart.stat().st_mode) == 0o600
    printed = out.getvalue().splitlines()
    assert printed[0] == en("console.file_saved", path=str(chart))
    assert printed[1].startswith("#reading — Reads a short passage aloud: 60 % (6/10)")


async def test_a_goal_rated_in_prompt_levels_is_charted_with_the_levels_in_words(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, "/goal Sam shoes: ties his shoes | measure rating")
    await school.say(school.teacher, "+ Sam tied his shoes p:verbal #shoes")
    await school.say(school.parent, "+ Sam tied his shoes independent #shoes")

    said = await school.say(school.teacher, "/progress Sam shoes")

    [reply] = said.replies
    assert reply.text == "#shoes — ties his shoes: verbal prompt, independent (home)"
    assert reply.attachment is not None and png_size(reply.attachment.data)[0] >= 800


class HeldDrawings:
    """charts.draw, held until released: counts the drawings under way at once."""

    def __init__(self, slots: int) -> None:
        self.release = asyncio.Event()
        self.slots_taken = asyncio.Event()
        self.slots = slots
        self.under_way = 0
        self.most_at_once = 0

    async def draw(self, data: ChartData) -> bytes:
        self.under_way += 1
        self.most_at_once = max(self.most_at_once, self.under_way)
        if self.under_way == self.slots:
            self.slots_taken.set()
        await self.release.wait()
        self.under_way -= 1
        return b"\x89PNG\r\n\x1a\n"


async def test_a_burst_of_progress_draws_a_few_at_a_time_and_notes_go_past_it(
    school: DemoSchool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await measured(school)
    drawings = HeldDrawings(COMMAND_DRAWERS)
    monkeypatch.setattr(charts, "draw", drawings.draw)

    burst = [asyncio.create_task(school.say(school.parent, "/progress Sam")) for _ in range(6)]
    await asyncio.wait_for(drawings.slots_taken.wait(), timeout=10)
    note = await asyncio.wait_for(school.say(school.teacher, "+ Sam read aloud"), timeout=10)
    drawings.release.set()
    answered = await asyncio.gather(*burst)

    assert note.text == en("entry.logged_win", student="Sam Rivera")
    assert drawings.most_at_once == COMMAND_DRAWERS  # the rest waited, before their transaction
    assert all(said.replies[0].attachment is not None for said in answered)


async def test_notes_go_past_a_progress_whose_measures_are_being_read(
    school: DemoSchool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await measured(school)
    held = HeldReads(ProgressStore.series)
    monkeypatch.setattr(ProgressStore, "series", held.method)

    # The chart's measures are read after the event's transaction: the writers go on.
    note, asked = await held.note_while_held(school, "/progress Sam")
    [chart] = asked.replies

    assert note.text == en("entry.logged_win", student="Sam Rivera")
    assert chart.attachment is not None and chart.text.startswith("#reading")


async def test_a_progress_whose_notes_were_undone_meanwhile_says_nothing_is_measured(
    school: DemoSchool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 #reading")
    held = HeldReads(EntryStore.goals)
    monkeypatch.setattr(EntryStore, "goals", held.method)

    asked = asyncio.create_task(school.say(school.teacher, "/progress Sam"))
    await asyncio.wait_for(held.reading.wait(), timeout=10)
    await asyncio.wait_for(school.say(school.teacher, "/undo"), timeout=10)
    held.release.set()
    said = await asyncio.wait_for(asked, timeout=10)

    assert said.text == en("progress.nothing", what="Sam Rivera", student="Sam Rivera")
    assert said.replies[0].attachment is None


async def test_the_first_drawing_starts_the_pool_off_the_event_loop() -> None:
    # Starting the processes takes the fork server's start and matplotlib's import: a second or
    # two in which no note would be answered, were it on the loop's thread.
    started_in: list[int] = []

    def make(workers: int) -> ThreadPoolExecutor:
        started_in.append(threading.get_ident())
        return ThreadPoolExecutor(workers)

    pool = charts.DrawingPool(make=make)
    answer = await pool.run(len, "abc")
    pool.close()

    assert answer == 3
    assert started_in and threading.get_ident() not in started_in
