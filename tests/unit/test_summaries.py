"""The weekly summary (DESIGN.md section 5): each student's week, to each member of the team."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlmodel import col

from bot import grammar
from bot.demo import DEMO_SCHOOL
from bot.events import Sender
from storage.models import Delivery, Entry, EntryKind, Outbox, Person, Platform, Role, Setting
from storage.stores import Store
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, Queued, Record, chicago, en

FRIDAY_15 = chicago(2026, 11, 27, 15)


def bullets(summary: Queued) -> list[str]:
    """Each item of the summary's lists: its bulleted line and the quoted lines under it."""
    items: list[str] = []
    for shown in summary.text.splitlines():
        if shown.startswith("• "):
            items.append(shown.removeprefix("• "))
        elif shown.startswith("  ") and items:
            items[-1] += f"\n{shown}"
    return items


def line(day: str, author: str, where: str, text: str, marks: str = "") -> str:
    """A summary's item: who wrote when and where, then their words quoted below."""
    return en("summary.line", day=day, author=author, where=where, text=f"  │ {text}", marks=marks)


def title(student: str, start: str = "November 23") -> str:
    return en("summary.title", student=student, start=start)


async def summary_for(mail: Mail, school: DemoSchool, student: str) -> Queued:
    """The one summary the parent of `student` was sent."""
    parent = school.parent if student == "Sam Rivera" else school.parent_of_maya
    return await mail.letter(parent, "summary")


# --- what a summary holds ---------------------------------------------------------------------


async def test_a_summary_holds_exactly_that_weeks_entries_for_that_student(
    school: DemoSchool, mail: Mail
) -> None:
    school.clock.set(chicago(2026, 11, 22, 23, 59))  # Sunday night: last week
    await school.say(school.teacher, "+ Sam tied his shoes")
    school.clock.set(chicago(2026, 11, 23, 0, 0))  # Monday, the first minute of this week
    await school.say(school.teacher, "+ Sam came in smiling")
    school.clock.set(chicago(2026, 11, 26, 10))
    await school.say(school.teacher, "- Maya threw the blocks")
    await school.say(school.parent, "/note slept badly")
    school.clock.set(chicago(2026, 11, 30, 0, 0))  # next Monday: next week
    await school.say(school.teacher, "+ Sam counted to twenty")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    sam = await summary_for(mail, school, "Sam Rivera")
    assert sam.text.splitlines()[0] == title("Sam Rivera")
    assert bullets(sam) == [
        line("Mon", "Ms. Ortiz", "school", "Sam came in smiling"),
        line("Thu", "Dana Rivera", "home", "slept badly"),
    ]
    for elsewhere in ("tied his shoes", "counted to twenty", "Maya", "blocks"):
        assert elsewhere not in sam.text


async def test_the_other_family_gets_only_their_own_childs_week(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, "+ Sam came in smiling")
    await school.say(school.teacher, "- Maya threw the blocks")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    maya = await mail.letter(school.parent_of_maya, "summary")
    assert maya.text.splitlines()[0] == title("Maya Chen")
    assert bullets(maya) == [line("Thu", "Ms. Ortiz", "school", "Maya threw the blocks")]
    assert "Sam" not in maya.text


async def test_the_teacher_gets_one_summary_per_student(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.teacher, "+ Sam came in smiling")
    await school.say(school.teacher, "- Maya threw the blocks")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    summaries = await mail.letters(school.teacher, "summary")
    assert sorted(summary.text.splitlines()[0] for summary in summaries) == [
        title("Maya Chen"),
        title("Sam Rivera"),
    ]


async def test_each_member_gets_one_summary_even_if_the_job_runs_twice(
    school: DemoSchool, mail: Mail
) -> None:
    school.clock.set(FRIDAY_15)

    first = await mail.summary()
    second = await mail.summary()

    assert (first.queued, second.queued) == (5, 0)
    assert len(await mail.letters(school.parent, "summary")) == 1


async def test_running_again_after_new_families_join_queues_only_their_summaries(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    school.clock.set(FRIDAY_15)
    first = await mail.summary()

    await add_students(school, 3)  # each with a parent, and Ms. Ortiz as teacher
    second = await mail.summary()

    assert second.queued == 3 + 3
    assert len(await record.rows(Outbox, col(Outbox.kind) == "summary")) == first.queued + 6
    assert len(await mail.letters(school.parent, "summary")) == 1
    assert len(await mail.letters(school.teacher, "summary")) == 2 + 3
    newcomer = await mail.letter(Sender(Platform.CONSOLE, "", "parent-1"), "summary")
    assert newcomer.text.splitlines()[0] == title("Pupil 01")


async def test_a_summary_tells_wins_first_then_concerns_home_questions_and_goals(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, "- Sam hit a peer at recess")
    await school.say(school.teacher, "+ Sam read a whole page aloud #reading")
    await school.say(school.parent, "? Can Sam bring headphones on the bus?")
    await school.say(school.parent, "/note tired after swimming")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    sam = await summary_for(mail, school, "Sam Rivera")
    question = next(q for q in await mail.record.entries() if q.kind == EntryKind.QUESTION)
    assert sam.text == "\n".join(
        [
            title("Sam Rivera"),
            "Sam Rivera had 1 win this week, and 1 concern to work on.",
            "",
            en("summary.wins", count=1),
            "• " + line("Thu", "Ms. Ortiz", "school", "Sam read a whole page aloud"),
            "",
            en("summary.concerns", count=1),
            "• " + line("Thu", "Ms. Ortiz", "school", "Sam hit a peer at recess"),
            "",
            en("summary.from_home", count=1),
            "• " + line("Thu", "Dana Rivera", "home", "tired after swimming"),
            "",
            en("summary.questions", count=1),
            "• "
            + en(
                "summary.question_line",
                number=question.id,
                author="Dana Rivera",
                text="  │ Can Sam bring headphones on the bus?",
            ),
            "",
            en("summary.goals"),
            "• "
            + en(
                "summary.goal_line",
                tag="reading",
                description="Reads a page aloud to an adult",
                count=1,
            ),
        ]
    )


async def test_an_answered_question_is_no_longer_open_in_the_summary(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.parent, "? Can Sam bring headphones on the bus?")
    question = await record.entry()
    await school.say(school.teacher, f"/answer {question.id} Yes, of course")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    sam = await summary_for(mail, school, "Sam Rivera")
    assert en("summary.questions", count=1) not in sam.text
    assert "headphones" not in sam.text


async def test_the_checkin_mood_shows_in_the_summary(school: DemoSchool, mail: Mail) -> None:
    school.clock.set(chicago(2026, 11, 26, 17))
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")
    await school.press(school.parent, prompt.button("Tough week"))
    await school.say(school.parent, "Homework was a fight every night")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    sam = await summary_for(mail, school, "Sam Rivera")
    assert bullets(sam) == [
        line("Thu", "Dana Rivera", "home", en("checkin.mood.tough")),
        line("Thu", "Dana Rivera", "home", "Homework was a fight every night"),
    ]


async def test_each_line_is_dated_by_the_readers_own_calendar_across_a_clock_change(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    # The week of Monday 26 October 2026; Chicago's clocks go back on Sunday 1 November.
    for moment, text in (
        (chicago(2026, 10, 26, 0, 0), "Sam came in smiling"),
        (chicago(2026, 10, 31, 23, 59), "Sam slept over at his grandma's"),
        (chicago(2026, 11, 1, 23, 30), "Sam packed his own bag"),
    ):
        school.clock.set(moment)
        await school.say(school.teacher, f"+ {text}")
    async with school.db.session() as session:  # Dana reads from Madrid, an hour past UTC
        dana = await session.get(Person, await record.person_id(school.parent))
        assert dana is not None
        dana.timezone = "Europe/Madrid"
        await session.commit()
    school.clock.set(chicago(2026, 11, 1, 23, 45))

    await mail.summary()

    teacher = [
        letter
        for letter in await mail.letters(school.teacher, "summary")
        if letter.text.startswith(title("Sam Rivera", "October 26"))
    ]
    madrid = await summary_for(mail, school, "Sam Rivera")
    assert [text.split(" · ")[0] for text in bullets(teacher[0])] == ["Mon", "Sat", "Sun"]
    assert [text.split(" · ")[0] for text in bullets(madrid)] == ["Mon", "Sun", "Mon"]


async def test_an_empty_week_says_so_kindly(school: DemoSchool, mail: Mail) -> None:
    school.clock.set(FRIDAY_15)

    await mail.summary()

    sam = await summary_for(mail, school, "Sam Rivera")
    assert sam.text == f"{title('Sam Rivera')}\n{en('summary.empty', student='Sam Rivera')}"


async def test_a_summary_is_written_in_the_members_language(school: DemoSchool, mail: Mail) -> None:
    # Choosing English (the school's language) again keeps the summary in English.
    chosen = await school.say(school.parent, "/language en")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    sam = await summary_for(mail, school, "Sam Rivera")
    assert chosen.text == en("settings.language_set")
    assert sam.text == f"{title('Sam Rivera')}\n{en('summary.empty', student='Sam Rivera')}"


async def test_the_summary_is_due_after_quiet_hours(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.parent, "/quiet 14:00-08:00")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    assert (await summary_for(mail, school, "Sam Rivera")).not_before == chicago(2026, 11, 28, 8)
    assert (await summary_for(mail, school, "Maya Chen")).not_before == FRIDAY_15


# --- cost: one set of queries per school --------------------------------------------------------


async def add_students(school: DemoSchool, count: int) -> None:
    """`count` more students at the demo school, each with a parent and Ms. Ortiz."""
    async with school.db.session() as session:
        store = Store(session)
        found = await store.students.school_named(DEMO_SCHOOL)
        teacher = await store.people.account(
            school.teacher.platform, "", school.teacher.external_id
        )
        assert found is not None and teacher is not None
        for n in range(count):
            name = f"Pupil {n:02d}"
            student = await store.students.add(found, name, grammar.fold(name))
            parent = await store.people.add(f"Parent {n:02d}", "en")
            await store.people.add_account(
                parent, Platform.CONSOLE, "", f"parent-{n}", f"parent-{n}"
            )
            assert student.id is not None and parent.id is not None
            await store.students.add_membership(parent.id, student.id, Role.PARENT, Delivery.WEEKLY)
            await store.students.add_membership(
                teacher.person_id, student.id, Role.TEACHER, Delivery.WEEKLY
            )


async def log_a_win_for_everyone(school: DemoSchool, at: datetime) -> None:
    async with school.db.session() as session:
        store = Store(session)
        found = await store.students.school_named(DEMO_SCHOOL)
        teacher = await store.people.account(
            school.teacher.platform, "", school.teacher.external_id
        )
        assert found is not None and found.id is not None and teacher is not None
        for student in await store.students.in_school(found.id):
            assert student.id is not None
            await store.entries.add(
                Entry(
                    student_id=student.id,
                    author_id=teacher.person_id,
                    kind=EntryKind.WIN,
                    setting=Setting.SCHOOL,
                    text=f"{student.name} shone",
                    source_platform=Platform.CONSOLE,
                    created_at=at,
                )
            )


async def statements_during(school: DemoSchool, run: Callable[[], Awaitable[Any]]) -> int:
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    engine = school.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        await run()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count


async def test_summaries_cost_the_same_queries_for_2_students_as_for_12(
    school: DemoSchool, mail: Mail
) -> None:
    await log_a_win_for_everyone(school, chicago(2026, 11, 24, 9))
    school.clock.set(FRIDAY_15)
    two = await statements_during(school, mail.summary)

    await add_students(school, 10)
    await log_a_win_for_everyone(school, chicago(2026, 12, 1, 9))
    school.clock.set(chicago(2026, 12, 4, 15))
    twelve = await statements_during(school, mail.summary)

    assert twelve == two
    pupil = await mail.letters(Sender(Platform.CONSOLE, "", "parent-7"), "summary")
    titles = [letter.text.splitlines()[0] for letter in pupil]
    assert titles == [title("Pupil 07", start="November 30")]
    assert bullets(pupil[0]) == [line("Tue", "Ms. Ortiz", "school", "Pupil 07 shone")]
