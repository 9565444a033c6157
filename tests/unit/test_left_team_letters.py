"""Someone taken off a student's team hears nothing more about the student: every kind of
letter queued about them before the removal (the weekly summary and its picture, check-ins,
notes told at once, urgent notes, forwarded questions) is cancelled by the removal, in chat or
from the terminal, and the sender drops any that were missed; the rest of the team still gets
theirs. Likewise for an archived or forgotten student."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from adapters.cli import app
from bot import forget, jobs, roster, team
from bot.charts import DrawingPool
from bot.config import Settings
from bot.context import Context
from bot.demo import DEMO_SCHOOL, console_id
from bot.i18n import Translator
from bot.outbox import followed_by
from bot.sender import OutboxSender
from bot.week_charts import WeekCharts
from storage.db import Database
from storage.models import Outbox, OutboxStatus, Platform, Student, Via
from storage.stores import Store
from storage.stores.outbox import NOT_ON_TEAM
from tests.conftest import DemoSchool
from tests.outbox_fakes import FakePlatform

DANA = "Dana Rivera"  # Sam's parent, who is taken off his team
LUIS = "Luis Rivera"  # Sam's other parent, who stays
ORTIZ = "Ms. Ortiz"  # Sam's teacher (and the school's admin), who stays

Removal = Callable[[DemoSchool, pytest.MonkeyPatch], Awaitable[None]]


async def _sam(store: Store) -> Student:
    found = await store.students.school_named(DEMO_SCHOOL)
    assert found is not None
    return await roster.student_named(store, found, "Sam")


async def person_id(school: DemoSchool, name: str) -> int:
    async with school.db.session() as session:
        account = await Store(session).people.account(Platform.CONSOLE, "", console_id(name))
    assert account is not None
    return account.person_id


async def removed_in_chat(school: DemoSchool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The teacher: /team Sam, [Remove Dana Rivera], [Yes, remove]."""
    listed = await school.say(school.teacher, "/team Sam")
    asked = await school.press(school.teacher, listed.button(f"Remove {DANA}"))
    done = await school.press(school.teacher, asked.button("Yes, remove"))
    assert done.text.startswith(DANA)


async def removed_from_terminal(school: DemoSchool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The office: `tandem team remove --student Sam --person N`."""
    monkeypatch.setenv("TANDEM_DATABASE_URL", school.db.url)
    monkeypatch.setenv("TANDEM_SECRET_KEY", "a-test-secret-key-that-is-long-enough-0123456789")
    dana = await person_id(school, DANA)
    args = ["team", "remove", "--student", "Sam", "--person", str(dana), "--json"]
    # Its own event loop, as in a shell: in a thread, beside this test's loop.
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output


REMOVALS = [pytest.param(removed_in_chat, id="chat"), pytest.param(removed_from_terminal, id="cli")]


def drawing_in_threads() -> DrawingPool:
    return DrawingPool(make=ThreadPoolExecutor)


async def deliver(school: DemoSchool, settings: Settings) -> FakePlatform:
    """A day later, the sender delivers whatever is due, pictures drawn as they go out."""
    school.clock.advance(days=1)
    platform = FakePlatform(school.clock)
    charts = WeekCharts(school.db, drawing=drawing_in_threads())
    unpaced = replace(settings.sender, limits={})
    sender = OutboxSender(
        school.db, {Platform.CONSOLE: platform}, school.clock, unpaced, worker="w", composer=charts
    )
    await sender.drain()
    return platform


def about_sam(platform: FakePlatform, name: str) -> list[str]:
    return [d.text for d in platform.to(console_id(name)) if "Sam" in d.text]


async def queued_to(school: DemoSchool, name: str) -> list[str]:
    """The kinds of the pending letters about Sam to this person."""
    pid = await person_id(school, name)
    async with school.db.session() as session:
        sam = await _sam(Store(session))
        rows = await session.exec(
            select(Outbox).where(
                col(Outbox.person_id) == pid,
                col(Outbox.student_id) == sam.id,
                col(Outbox.status) == OutboxStatus.PENDING,
            )
        )
        return sorted(row.kind for row in rows.all())


def with_charts(settings: Settings) -> Settings:
    return replace(settings, summary=replace(settings.summary, charts=True))


async def school_id(school: DemoSchool) -> int:
    async with school.db.session() as session:
        sam = await _sam(Store(session))
    return sam.school_id


async def measured_week(school: DemoSchool) -> None:
    """Sam measured this week, so each summary is followed by a picture once it is sent."""
    said = await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    assert said.replies


# --- each kind of letter, each way of leaving -----------------------------------------------


@pytest.mark.parametrize("remove", REMOVALS)
async def test_a_removed_parent_gets_neither_the_summary_nor_its_picture(
    school: DemoSchool, settings: Settings, monkeypatch: pytest.MonkeyPatch, remove: Removal
) -> None:
    settings = with_charts(settings)
    await measured_week(school)
    await jobs.run_summary(school.db, settings, school.clock, await school_id(school))
    assert await queued_to(school, DANA) == ["summary"]  # its picture follows once it is sent

    await remove(school, monkeypatch)
    platform = await deliver(school, settings)

    assert about_sam(platform, DANA) == []
    for stays in (LUIS, ORTIZ):
        assert len(about_sam(platform, stays)) == 2  # the summary and the picture's words
    assert len(platform.to(console_id(LUIS))) == 2


@pytest.mark.parametrize("remove", REMOVALS)
async def test_a_removed_parent_gets_no_checkin_about_the_student(
    school: DemoSchool, settings: Settings, monkeypatch: pytest.MonkeyPatch, remove: Removal
) -> None:
    await jobs.run_checkin(school.db, settings, school.clock, await school_id(school))
    assert await queued_to(school, DANA) == ["checkin"]

    await remove(school, monkeypatch)
    platform = await deliver(school, settings)

    assert about_sam(platform, DANA) == []
    assert len(about_sam(platform, LUIS)) == 1


@pytest.mark.parametrize("remove", REMOVALS)
async def test_a_removed_parent_gets_no_note_told_at_once_nor_urgent_nor_question(
    school: DemoSchool, settings: Settings, monkeypatch: pytest.MonkeyPatch, remove: Removal
) -> None:
    for parent in (school.parent, school.spanish_parent):
        await school.say(parent, "/delivery instant")
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.teacher, "! Sam fell on the playground, nurse saw him")
    await school.say(school.spanish_parent, "? Can Sam bring headphones on the bus?")
    assert await queued_to(school, DANA) == ["question", "urgent", "win"]

    await remove(school, monkeypatch)
    platform = await deliver(school, settings)

    assert platform.to(console_id(DANA)) == []
    assert len(platform.to(console_id(LUIS))) == 2  # the win and the urgent note
    assert len(platform.to(console_id(ORTIZ))) == 1  # Luis's question


# --- the student leaves ----------------------------------------------------------------------


async def operator(
    school: DemoSchool, act: Callable[[Context, Student], Awaitable[object]]
) -> None:
    async with school.db.session() as session:
        store = Store(session)
        sam = await _sam(store)
        await act(Context(store, school.clock, Settings(), Translator("en"), via=Via.CLI), sam)


@pytest.mark.parametrize(
    "leaves",
    [
        pytest.param(lambda ctx, sam: team.set_archived(ctx, sam, True), id="archived"),
        pytest.param(lambda ctx, sam: forget.forget_student(ctx, sam), id="forgotten"),
    ],
)
async def test_nobody_gets_the_weeks_letters_of_a_student_who_left(
    school: DemoSchool,
    settings: Settings,
    leaves: Callable[[Context, Student], Awaitable[object]],
) -> None:
    settings = with_charts(settings)
    await measured_week(school)
    await jobs.run_summary(school.db, settings, school.clock, await school_id(school))
    await jobs.run_checkin(school.db, settings, school.clock, await school_id(school))
    assert await queued_to(school, LUIS) == ["checkin", "summary"]

    await operator(school, leaves)
    platform = await deliver(school, settings)

    for name in (DANA, LUIS, ORTIZ):
        assert about_sam(platform, name) == []
    assert platform.to(console_id("Lee Chen"))  # Maya's team still hears about Maya


# --- the second line of defence, at delivery ---------------------------------------------------


async def test_the_sender_drops_a_letter_to_someone_no_longer_on_the_team(
    school: DemoSchool, settings: Settings
) -> None:
    """A letter the removal did not cancel (say, queued by a job that committed just after it)
    is dropped by the sender, with the reason, and its picture is never queued; the rest of
    the team still gets theirs."""
    settings = with_charts(settings)
    await measured_week(school)
    await jobs.run_summary(school.db, settings, school.clock, await school_id(school))
    dana = await person_id(school, DANA)
    async with school.db.session() as session:
        store = Store(session)
        sam = await _sam(store)
        assert sam.id is not None
        membership = await store.students.membership(dana, sam.id)
        assert membership is not None
        await store.students.delete_membership(membership)  # the team changes, the queue not

    platform = await deliver(school, settings)

    assert about_sam(platform, DANA) == []
    assert len(about_sam(platform, LUIS)) == 2
    async with school.db.session() as session:
        rows = (await session.exec(select(Outbox).where(col(Outbox.person_id) == dana))).all()
    assert sorted((row.kind, row.status, row.last_error) for row in rows) == [
        ("summary", OutboxStatus.CANCELLED, NOT_ON_TEAM),
    ]


async def test_a_picture_drawn_after_its_reader_left_is_not_drawn_for_them(
    school: DemoSchool, settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chart letter already queued when the reader leaves: composing it finds them off the
    team and makes nothing to send."""
    settings = with_charts(settings)
    await measured_week(school)
    await jobs.run_summary(school.db, settings, school.clock, await school_id(school))
    dana, luis = await person_id(school, DANA), await person_id(school, LUIS)
    async with school.db.session() as session:
        [summary] = (
            await session.exec(
                select(Outbox).where(col(Outbox.person_id) == dana, col(Outbox.kind) == "summary")
            )
        ).all()
    charts = WeekCharts(db, drawing=drawing_in_threads())
    then = followed_by(summary, charts.follow_ups)  # queued once the summary is sent
    assert then is not None
    _, chart = then
    await removed_in_chat(school, monkeypatch)

    assert await charts.compose(chart, dana) is None
    reply = await charts.compose(chart, luis)  # the same picture, to one still on it
    assert reply is not None and reply.attachment is not None
