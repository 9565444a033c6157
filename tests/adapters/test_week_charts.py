"""The weekly summary's pictures (issue 15 item 4): one per student measured that week, for each
member of the team, drawn when the letter is delivered, through the real adapters."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, delete, select

from adapters.console import ConsoleChat
from bot import jobs
from bot.charts import DrawingPool, draw_panels_png, panels_size
from bot.config import Settings, SummaryConfig
from bot.i18n import translate
from bot.measure_words import chart_data
from bot.outbox import followed_by
from bot.sender import OutboxSender
from bot.week_charts import FOLLOW_UPS, WeekCharts, week_payload
from bot.weekly import iso_week, iso_week_bounds, week_bounds
from storage.db import Database
from storage.models import Goal, Measure, Outbox, Platform, Role
from storage.stores import Store
from tests.adapters import test_slack, test_telegram
from tests.adapters.fake_slack import SlackWorld
from tests.adapters.fake_telegram_files import png_size
from tests.adapters.test_telegram import PARENT, TEACHER, Telegram
from tests.conftest import DemoSchool, FakeClock

# The Telegram and Slack stories' fixtures: the real adapters against the spec-checking fakes.
telegram = test_telegram.telegram
slack = test_slack.slack

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

WEEK = "2026-W48"  # the week of tests.conftest.START
GOAL = "/goal Sam reading: Reads aloud | target 80% | baseline 40%"


def in_threads() -> DrawingPool:
    """The drawings in threads: these stories are about the letters, not the processes."""
    return DrawingPool(make=ThreadPoolExecutor)


def t(key: str, language: str = "en", **values: object) -> str:
    return translate(language, key, **values)


async def school_id(db: Database) -> int:
    async with db.session() as session:
        [school] = await Store(session).students.schools()
    assert school.id is not None
    return school.id


async def summary_then_drain(
    db: Database,
    clock: FakeClock,
    settings: Settings,
    transports: dict[str, Any],
    charts: WeekCharts,
    before_delivery: Callable[[], Any] | None = None,
) -> jobs.JobReport:
    """The weekly summary job, then the sender delivers what it queued."""
    report = await jobs.run_summary(db, settings, clock, await school_id(db))
    if before_delivery is not None:
        await before_delivery()

    # Unpaced, on real time: the drawings take real time, which a fake clock would outrun.
    unpaced = replace(settings.sender, limits={})
    sender = OutboxSender(db, transports, clock, unpaced, worker="charts", composer=charts)
    await sender.drain()
    return report


async def measured_on_telegram(telegram: Telegram) -> dict[str, Any]:
    """Sam measured at school and at home this week; Maya only written about."""
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    await telegram.join(TEACHER, "Maya Chen", Role.TEACHER)
    await telegram.join(PARENT, "Sam Rivera", Role.PARENT)
    await telegram.say(TEACHER, GOAL)
    note = telegram.fake.message(TEACHER, "+ Sam read 6/10 words #reading")
    await telegram.deliver(note)
    await telegram.say(PARENT, "+ Sam read 9/10 at bedtime #reading")
    await telegram.say(TEACHER, "+ Maya smiled at circle time")
    return note


def photos_to(telegram: Telegram, user_id: int, since: int = 0) -> list[tuple[int, int]]:
    """The size of each picture sent to one chat, as Telegram keeps it."""
    sizes = []
    for call in telegram.fake.calls_of("sendPhoto", since):
        if call.status == 200 and call.result["chat"]["id"] == user_id:
            [photo] = telegram.fake.messages[(user_id, call.result["message_id"])]["photo"]
            sizes.append((photo["width"], photo["height"]))
    return sizes


async def test_each_member_gets_one_picture_of_each_measured_student_after_the_summary(
    telegram: Telegram,
) -> None:
    await measured_on_telegram(telegram)
    charts = WeekCharts(telegram.db, drawing=in_threads())
    mark = len(telegram.fake.calls)

    report = await summary_then_drain(
        telegram.db, telegram.clock, telegram.settings, {"telegram": telegram.adapter}, charts
    )

    words = "\n".join(
        [
            t("summary.chart_words", student="Sam Rivera"),
            "#reading — Reads aloud: 60 % (6/10), 90 % (9/10) (home) · target 80 % · baseline 40 %",
        ]
    )
    for user in (TEACHER, PARENT):
        # One picture, Sam's (Maya had no measure), of the promised size.
        assert photos_to(telegram, user.id, mark) == [panels_size(1)] == [(1000, 600)]
        texts = [message["text"] for message in telegram.fake.sent(user.id, since=mark)]
        # The picture's words right after Sam's summary; Maya's summary for her teacher.
        assert texts.count(words) == 1
        assert texts[texts.index(words) - 1].startswith("Sam Rivera — the week of")
        assert len(texts) == (3 if user is TEACHER else 2)
    assert charts.drawn == 1  # one drawing for the whole team
    assert report.queued == 3  # three summaries: the sender queued the pictures after two
    again = await jobs.run_summary(
        telegram.db, telegram.settings, telegram.clock, await school_id(telegram.db)
    )
    assert again.queued == 0  # the summaries keep their dedupe keys
    async with telegram.db.session() as session:
        kinds = (await session.exec(select(Outbox.kind).order_by(col(Outbox.id)))).all()
    assert sorted(kinds[-5:]) == ["chart", "chart", "summary", "summary", "summary"]


async def test_a_note_edited_before_delivery_is_drawn_as_it_now_reads(telegram: Telegram) -> None:
    note = await measured_on_telegram(telegram)
    charts = WeekCharts(telegram.db, drawing=in_threads())
    mark = len(telegram.fake.calls)

    async def edit() -> None:
        await telegram.deliver(telegram.fake.edited(note, "+ Sam read 8/10 words #reading"))

    await summary_then_drain(
        telegram.db,
        telegram.clock,
        telegram.settings,
        {"telegram": telegram.adapter},
        charts,
        before_delivery=edit,
    )

    said = [message["text"] for message in telegram.fake.sent(TEACHER.id, since=mark)]
    [words] = [
        text for text in said if text.startswith(t("summary.chart_words", student="Sam Rivera"))
    ]
    assert "80 % (8/10)" in words and "90 % (9/10) (home)" in words
    assert "60 % (6/10)" not in words


async def test_with_charts_off_the_summary_comes_without_pictures(telegram: Telegram) -> None:
    await measured_on_telegram(telegram)
    settings = replace(telegram.settings, summary=SummaryConfig(charts=False))
    charts = WeekCharts(telegram.db, drawing=in_threads())
    mark = len(telegram.fake.calls)

    report = await summary_then_drain(
        telegram.db, telegram.clock, settings, {"telegram": telegram.adapter}, charts
    )

    assert report.queued == 3
    assert telegram.fake.calls_of("sendPhoto", mark) == []
    assert len(telegram.fake.sent(PARENT.id, since=mark)) == 1  # the summary itself
    assert charts.drawn == 0


async def test_a_week_whose_measures_were_all_undone_sends_no_picture(telegram: Telegram) -> None:
    await telegram.join(TEACHER, "Sam Rivera", Role.TEACHER)
    await telegram.say(TEACHER, GOAL)
    await telegram.say(TEACHER, "+ Sam read 6/10 words #reading")
    charts = WeekCharts(telegram.db, drawing=in_threads())
    mark = len(telegram.fake.calls)

    async def undo() -> None:
        await telegram.say(TEACHER, "/undo")

    await summary_then_drain(
        telegram.db,
        telegram.clock,
        telegram.settings,
        {"telegram": telegram.adapter},
        charts,
        before_delivery=undo,
    )

    assert telegram.fake.calls_of("sendPhoto", mark) == []
    async with telegram.db.session() as session:
        letters = (await session.exec(select(Outbox).where(Outbox.kind == "chart"))).all()
    assert [letter.status for letter in letters] == ["sent"]  # settled, nothing to show


async def test_slack_members_get_the_picture_by_the_two_step_upload(slack: SlackWorld) -> None:
    teacher = test_slack.TEACHER
    await slack.join(teacher, "Sam", "teacher")
    await slack.send(teacher, GOAL)
    await slack.send(teacher, "+ Sam read 6/10 words #reading")
    school = slack.school
    charts = WeekCharts(school.db, drawing=in_threads())

    await summary_then_drain(
        school.db, school.clock, Settings(), {Platform.SLACK: slack.adapter}, charts
    )

    [picture] = slack.fake.files.values()
    assert picture["channel"] == teacher.dm
    assert picture["filename"] == f"progress-{WEEK}.png"
    assert png_size(picture["data"]) == panels_size(1)
    words = slack.fake.in_channel(teacher.dm)[-1].text
    assert words.endswith("#reading — Reads aloud: 60 % (6/10) · target 80 % · baseline 40 %")
    assert picture["alt_txt"] == words
    methods = [call.method for call in slack.fake.calls if call.method.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_the_console_writes_each_members_picture_drawn_once_per_language(
    school: DemoSchool, tmp_path: Path
) -> None:
    await school.say(school.teacher, GOAL)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    await school.say(school.teacher, "/goal Maya calm: breathes | measure count")
    await school.say(school.teacher, "- Maya left the room x2 #calm")
    out = io.StringIO()
    charts = WeekCharts(school.db, drawing=in_threads())
    chat = ConsoleChat(
        school.dispatcher, school.db, out, "Ms. Ortiz", files=tmp_path / "files", composer=charts
    )

    await chat.handle_line("/tick summary")

    printed = out.getvalue()
    saved = sorted((tmp_path / "files").iterdir())
    # Ms. Ortiz: Sam and Maya; Dana: Sam; Lee: Maya; Luis: Sam, in Spanish.
    assert len(saved) == 5
    assert all(str(path) in printed for path in saved)
    assert all(png_size(path.read_bytes()) == panels_size(1) for path in saved)
    assert t("summary.chart_words", "es", student="Sam Rivera") in printed
    assert "#calm — breathes: 2 times" in printed
    assert charts.drawn == 3  # Sam in English and in Spanish, Maya in English


# --- the pool ---------------------------------------------------------------------------------


async def sam_panels(db: Database, count: int) -> list[Any]:
    """`count` different one-goal pictures' data (Sam's goal, with 1..count points)."""
    from bot.i18n import Translator

    goal = Goal(id=1, student_id=1, tag="reading", description="Reads aloud", measure="percent")
    at = datetime(2026, 11, 23, 15, tzinfo=UTC)
    return [
        (
            chart_data(
                Translator("en"),
                goal,
                [
                    Measure(
                        entry_id=n,
                        goal_id=1,
                        student_id=1,
                        setting="school",
                        kind="percent",
                        value=10.0 * n,
                        taken_at=at + timedelta(hours=n),
                    )
                    for n in range(1, points + 1)
                ],
            ),
        )
        for points in range(1, count + 1)
    ]


class CountingPool(ThreadPoolExecutor):
    """Threads that count how many drawings are in flight at once."""

    def __init__(self, workers: int) -> None:
        super().__init__(8)  # more threads than drawings allowed: the bound must be WeekCharts'
        self.in_flight = self.most = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if fn is not draw_panels_png:  # the pool's start (`DrawingPool.warm`), no drawing
            return super().submit(fn, *args, **kwargs)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _: setattr(self, "in_flight", self.in_flight - 1))
        return future


async def test_no_more_than_a_few_drawings_are_ever_in_flight(db: Database) -> None:
    pools: list[CountingPool] = []

    def pool(workers: int) -> CountingPool:
        pools.append(CountingPool(workers))
        return pools[-1]

    charts = WeekCharts(db, drawing=DrawingPool(workers=8, make=pool), in_flight=2)
    panels = await sam_panels(db, 6)

    pictures = await asyncio.gather(
        *(charts.picture(student, WEEK, data) for student, data in enumerate(panels))
    )

    assert len(set(pictures)) == 6 and charts.drawn == 6
    assert len(pools) == 1 and pools[0].most == 2  # the other four waited in the sender


async def test_members_asking_at_once_share_one_drawing_and_later_ones_the_cache(
    db: Database,
) -> None:
    charts = WeekCharts(db, drawing=in_threads())
    [data, other] = await sam_panels(db, 2)

    first = await asyncio.gather(*(charts.picture(7, WEEK, data) for _ in range(3)))
    later = await charts.picture(7, WEEK, data)
    changed = await charts.picture(7, WEEK, other)  # a note edited: drawn again

    assert len(set(first)) == 1 and later == first[0] and changed != later
    assert charts.drawn == 2


async def test_the_process_pool_draws_in_its_own_processes_and_ends_with_close(
    db: Database,
) -> None:
    drawing = DrawingPool(workers=1)  # the real pool: forkserver (or spawn), never fork
    charts = WeekCharts(db, drawing=drawing)
    [data, other] = await sam_panels(db, 2)

    others = set(multiprocessing.active_children())  # e.g. the process's own drawing pool

    png = await charts.picture(1, WEEK, data)
    workers = set(multiprocessing.active_children()) - others
    drawing.close()  # as the runtime does on its way out
    after_close = set(multiprocessing.active_children()) - others
    again = await charts.picture(1, WEEK, other)  # a later drawing starts a new pool
    drawing.close()

    assert png_size(png) == png_size(again) == panels_size(1)
    assert len(workers) == 1 and all(worker.pid != os.getpid() for worker in workers)
    assert after_close == set() and set(multiprocessing.active_children()) - others == set()


async def test_only_the_summaries_of_students_with_measures_are_followed_by_a_picture(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, GOAL)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")

    await jobs.run_summary(school.db, Settings(), school.clock, await school_id(school.db))

    async with school.db.session() as session:
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    followed = {row.dedupe_key: followed_by(row, FOLLOW_UPS) for row in rows}
    # Sam's three readers (Ms. Ortiz, Dana, Luis); none for Maya (Ms. Ortiz, Lee).
    assert {row.kind for row in rows} == {"summary"} and len(rows) == 5
    pictures = [then for key, then in followed.items() if then is not None]
    assert len(pictures) == 3 and {kind for kind, _ in pictures} == {"chart"}
    sam = rows[0].student_id
    assert all(key.startswith(f"summary:{sam}:") for key, then in followed.items() if then)
    assert sorted(then["chart"]["language"] for _, then in pictures) == ["en", "en", "es"]
    assert {then["chart"]["week"] for _, then in pictures} == {WEEK}
    # A summary carries only its picture's language: the rest is its own row's.
    assert sorted(str(row.payload.get("then")) for row in rows) == sorted(
        ["{'chart': 'en'}", "{'chart': 'en'}", "{'chart': 'es'}", "None", "None"]
    )


async def test_with_charts_on_the_job_queues_as_many_letters_as_with_charts_off(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, GOAL)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    charts_off = replace(Settings(), summary=SummaryConfig(charts=False))
    charts_on = replace(Settings(), summary=SummaryConfig(charts=True))

    off = await jobs.run_summary(school.db, charts_off, school.clock, await school_id(school.db))
    async with school.db.session() as session:
        written_off = len((await session.exec(select(Outbox))).all())
        await session.exec(delete(Outbox))
    on = await jobs.run_summary(school.db, charts_on, school.clock, await school_id(school.db))
    async with school.db.session() as session:
        written_on = (await session.exec(select(Outbox))).all()

    assert off.queued == on.queued == written_off == len(written_on) == 5
    assert {row.kind for row in written_on} == {"summary"}


def old_chart_letter(student_id: int, language: str, start: datetime, end: datetime) -> Any:
    """A chart letter as versions before the short `then` wrote it: with its week's bounds."""
    facts = {"student": student_id, "week": WEEK, "language": language}
    bounds = {"from": start.isoformat(), "to": end.isoformat()}
    return {"text": "", "buttons": [], "chart": {**facts, **bounds}}


async def test_letters_queued_by_an_earlier_version_are_still_followed_and_drawn(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, GOAL)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    await jobs.run_summary(school.db, Settings(), school.clock, await school_id(school.db))
    async with school.db.session() as session:
        [place] = await Store(session).students.schools()
        start, end = week_bounds(school.clock.now(), place.timezone)
        followed = [
            row for row in (await session.exec(select(Outbox))).all() if "then" in row.payload
        ]
        for row in followed:  # each summary as it was queued before: its picture written whole
            assert row.student_id is not None
            old = old_chart_letter(row.student_id, row.payload["then"]["chart"], start, end)
            row.payload = {**row.payload, "then": {"kind": "chart", "payload": old}}
            session.add(row)
    console = Console()
    charts = WeekCharts(school.db, drawing=in_threads())
    settings = replace(Settings().sender, limits={})
    sender = OutboxSender(
        school.db, {Platform.CONSOLE: console}, school.clock, settings, worker="w", composer=charts
    )

    report = await sender.drain()

    assert report.sent == 5 + 3 and len(followed) == 3
    for reader, language in (("ms-ortiz", "en"), ("dana-rivera", "en"), ("luis-rivera", "es")):
        got = [reply for who, reply in console.sent if who == reader]
        [at] = [n for n, reply in enumerate(got) if reply.attachment is not None]
        assert got[at - 1].text.startswith("Sam Rivera")  # right after his summary
        assert got[at].text.startswith(t("summary.chart_words", language, student="Sam Rivera"))
        assert "(6/10)" in got[at].text  # the week's measure, read within the old bounds
    async with school.db.session() as session:
        letters = (await session.exec(select(Outbox).where(Outbox.kind == "chart"))).all()
    assert all("from" in letter.payload["chart"] for letter in letters)  # drawn as they were


async def test_the_picture_shows_the_schools_week_sunday_night_in_and_monday_out(
    school: DemoSchool,
) -> None:
    chicago = ZoneInfo("America/Chicago")  # the demo school's: its Sunday night is UTC Monday
    await school.say(school.teacher, GOAL)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")  # Thursday
    school.clock.set(datetime(2026, 11, 29, 23, 30, tzinfo=chicago))
    await school.say(school.teacher, "+ Sam read 7/10 words #reading")
    school.clock.set(datetime(2026, 11, 30, 0, 30, tzinfo=chicago))  # the next week
    await school.say(school.teacher, "+ Sam read 9/10 words #reading")
    async with school.db.session() as session:
        store = Store(session)
        [sam] = [
            s
            for s in await store.students.in_school(await school_id(school.db))
            if s.name == "Sam Rivera"
        ]
        account = await store.people.account(Platform.CONSOLE, "", school.teacher.external_id)
    assert sam.id is not None and account is not None
    charts = WeekCharts(school.db, drawing=in_threads())

    reply = await charts.compose(week_payload(sam.id, WEEK, "en"), account.person_id)

    assert reply is not None and reply.attachment is not None
    assert "60 % (6/10), 70 % (7/10) ·" in reply.text and "9/10" not in reply.text


@pytest.mark.parametrize("timezone", ["America/Chicago", "Europe/Madrid", "Asia/Kolkata", "UTC"])
def test_a_week_read_from_its_name_has_the_bounds_the_job_gave_it(timezone: str) -> None:
    # Every hour of two years, clock changes and 53-week years included.
    at = datetime(2026, 1, 1, tzinfo=UTC)
    while at < datetime(2028, 1, 2, tzinfo=UTC):
        assert iso_week_bounds(iso_week(at, timezone), timezone) == week_bounds(at, timezone)
        at += timedelta(hours=1)


class CountingDrawings(ThreadPoolExecutor):
    """Drawings in threads, counted; `started` is set by the first."""

    def __init__(self, workers: int, started: asyncio.Event) -> None:
        super().__init__(workers)
        self.calls = 0  # drawings
        self.other = 0  # the rest: the pool's start (`DrawingPool.warm`), other work
        self.started = started

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if fn is not draw_panels_png:
            self.other += 1
            return super().submit(fn, *args, **kwargs)
        self.calls += 1
        self.started.set()
        return super().submit(fn, *args, **kwargs)


class Console:
    """The outbox's console transport, keeping what each person was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def deliver(self, account: Any, reply: Any) -> str:
        self.sent.append((account.external_id, reply))
        return f"letter:{len(self.sent)}"


class SummaryWaitsForADrawing(Console):
    """The console transport, except that Sam's summary goes out only once a picture is being
    drawn: without drawing ahead, the picture would wait for the summary, and this for it."""

    def __init__(self, drawing: asyncio.Event) -> None:
        super().__init__()
        self.drawing = drawing

    async def deliver(self, account: Any, reply: Any) -> str:
        if reply.attachment is None and reply.text.startswith("Sam Rivera"):
            async with asyncio.timeout(10):
                await self.drawing.wait()
        return await super().deliver(account, reply)


async def test_a_picture_is_drawn_ahead_once_per_student_and_follows_its_summary(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, GOAL)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    pools: list[CountingDrawings] = []
    drawing = asyncio.Event()

    def counting(workers: int) -> CountingDrawings:
        pools.append(CountingDrawings(workers, drawing))
        return pools[-1]

    charts = WeekCharts(school.db, drawing=DrawingPool(make=counting))
    console = SummaryWaitsForADrawing(drawing)
    await jobs.run_summary(school.db, Settings(), school.clock, await school_id(school.db))
    settings = replace(Settings().sender, limits={})
    sender = OutboxSender(
        school.db, {Platform.CONSOLE: console}, school.clock, settings, worker="w", composer=charts
    )

    report = await sender.drain()

    assert report.sent == 5 + 3  # every summary, and Sam's picture after each of his three
    # Drawn before any summary of Sam went out; once in English, once in Spanish (Luis).
    assert len(pools) == 1 and pools[0].calls == charts.drawn == 2
    for reader in ("ms-ortiz", "dana-rivera", "luis-rivera"):
        got = [reply for who, reply in console.sent if who == reader]
        [at] = [n for n, reply in enumerate(got) if reply.attachment is not None]
        assert got[at - 1].text.startswith("Sam Rivera")  # right after his summary


class Broken(ThreadPoolExecutor):
    """A pool that fails every drawing while `broken`, as a worker killed mid-drawing would."""

    broken = True

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if Broken.broken:
            raise RuntimeError("the drawing pool broke")
        return super().submit(fn, *args, **kwargs)


async def test_a_failed_drawing_is_retried_later_and_the_picture_sent_once(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, GOAL)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    Broken.broken = True
    charts = WeekCharts(school.db, drawing=DrawingPool(make=Broken))
    console = Console()
    await jobs.run_summary(school.db, Settings(), school.clock, await school_id(school.db))
    settings = replace(Settings().sender, limits={})
    sender = OutboxSender(
        school.db, {Platform.CONSOLE: console}, school.clock, settings, worker="w", composer=charts
    )

    first = await sender.drain()  # drawn ahead, then at each picture's turn: failed
    Broken.broken = False
    school.clock.advance(minutes=1)  # past the first retry's backoff (15 s at most)
    second = await sender.drain()

    assert first.retried == 3 and second.sent == 3
    pictures = [(who, reply) for who, reply in console.sent if reply.attachment is not None]
    # Sam's three readers each got the picture once: the failed letters came back, none twice.
    assert sorted(who for who, _ in pictures) == sorted(["ms-ortiz", "dana-rivera", "luis-rivera"])
    async with school.db.session() as session:
        letters = (await session.exec(select(Outbox).where(Outbox.kind == "chart"))).all()
    assert sorted((letter.status, letter.attempts) for letter in letters) == [("sent", 1)] * 3


async def test_the_job_starts_the_drawing_pool_only_when_it_queued_pictures(
    school: DemoSchool,
) -> None:
    started: list[CountingDrawings] = []

    def counting(workers: int) -> CountingDrawings:
        started.append(CountingDrawings(workers, asyncio.Event()))
        return started[-1]

    drawing = DrawingPool(workers=2, make=counting)
    await school.say(school.teacher, GOAL)  # a goal, nothing measured yet
    await jobs.run_summary(
        school.db, Settings(), school.clock, await school_id(school.db), drawing=drawing
    )
    assert started == []  # no picture to draw: no processes
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    async with school.db.session() as session:
        await session.exec(delete(Outbox))

    await jobs.run_summary(
        school.db, Settings(), school.clock, await school_id(school.db), drawing=drawing
    )
    answer = await drawing.run(len, "ab")  # a drawing waits for the pool being started
    drawing.close()

    assert answer == 2
    # One pool, each of its workers started with a first task before the work.
    assert len(started) == 1 and started[0].other == 2 + 1
