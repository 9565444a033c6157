"""Reading the record (/students /log /week /goals /goal) and who may read it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.models import AccessAction, Goal, Read
from tests.conftest import DemoSchool
from tests.unit.conftest import Record, en

# Monday 23 Nov 2026 00:00 in Chicago is 06:00 UTC; the demo clock starts that Thursday.
SUNDAY_NIGHT_CHICAGO = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
MONDAY_MORNING_CHICAGO = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


# --- /students --------------------------------------------------------------------------------


async def test_teacher_sees_both_students_with_their_role(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "/students")

    assert said.text == "\n".join(
        [en("students.title"), "• Maya Chen (teacher)", "• Sam Rivera (teacher)"]
    )


async def test_parent_sees_only_their_own_child(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/students")

    assert said.text == "\n".join([en("students.title"), "• Sam Rivera (parent)"])


# --- /log -------------------------------------------------------------------------------------


async def test_log_shows_the_newest_entries_first(school: DemoSchool) -> None:
    for text in ["+ Sam read one page", "+ Sam read two pages", "+ Sam read three pages"]:
        await school.say(school.teacher, text)
        school.clock.advance(minutes=10)

    log = await school.say(school.parent, "/log Sam")

    assert log.text.splitlines()[0] == en("log.title", student="Sam Rivera", count=3)
    order = [log.text.index(n) for n in ["three pages", "two pages", "one page"]]
    assert order == sorted(order)


async def test_log_count_limits_how_many_entries_are_shown(school: DemoSchool) -> None:
    for text in ["+ Sam read one page", "+ Sam read two pages", "+ Sam read three pages"]:
        await school.say(school.teacher, text)
        school.clock.advance(minutes=10)

    log = await school.say(school.parent, "/log Sam 2")

    assert "three pages" in log.text and "two pages" in log.text
    assert "one page" not in log.text
    assert len([line for line in log.text.splitlines() if line.startswith("• ")]) == 2


async def test_log_shows_ten_entries_by_default(school: DemoSchool) -> None:
    for n in range(12):
        await school.say(school.teacher, f"Sam: note number {n}")
        school.clock.advance(minutes=1)

    log = await school.say(school.teacher, "/log Sam")

    assert len([line for line in log.text.splitlines() if line.startswith("• ")]) == 10
    assert "note number 11" in log.text
    assert "note number 1\n" not in log.text


async def test_log_shows_only_that_students_entries(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.teacher, "- Maya left the room twice")

    log = await school.say(school.teacher, "/log Sam")

    assert "read a whole page aloud" in log.text
    assert "Maya" not in log.text


async def test_log_line_shows_when_what_and_who(school: DemoSchool) -> None:
    await school.say(school.parent, "+ Sam tried a new food")

    log = await school.say(school.teacher, "/log Sam")

    assert "• Thu, Nov 26, 10:00\u202fAM · Win · Dana Rivera:\n  │ Sam tried a new food" in log.text


async def test_log_of_a_student_with_no_entries_says_so(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "/log Maya")

    assert said.text == en("log.empty", student="Maya Chen")


async def test_log_marks_an_edited_entry(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a page", message_ref="m-1")
    await school.edit(school.teacher, "m-1", "+ Sam read two pages")

    log = await school.say(school.parent, "/log Sam")

    assert f"Ms. Ortiz {en('entry.edited_mark')}:\n  │ Sam read two pages" in log.text


async def test_parent_may_leave_the_name_out_of_log(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    log = await school.say(school.parent, "/log")

    assert "read a whole page aloud" in log.text


# --- /week ------------------------------------------------------------------------------------


async def test_week_shows_this_weeks_entries_grouped_wins_first(school: DemoSchool) -> None:
    await school.say(school.teacher, "- Sam hit a peer at recess")
    await school.say(school.parent, "+ Sam tried a new food")

    week = await school.say(school.teacher, "/week Sam")

    lines = week.text.splitlines()
    assert lines[0] == en("summary.title_so_far", student="Sam Rivera", start="November 23")
    assert lines.index(en("summary.wins", count=1)) < lines.index(en("summary.concerns", count=1))
    assert "tried a new food" in week.text and "hit a peer" in week.text


async def test_week_starts_on_monday_in_the_schools_timezone(school: DemoSchool) -> None:
    school.clock.set(SUNDAY_NIGHT_CHICAGO)
    await school.say(school.teacher, "Sam: sunday night note")
    school.clock.set(MONDAY_MORNING_CHICAGO)
    await school.say(school.teacher, "Sam: monday morning note")
    school.clock.advance(days=3)

    week = await school.say(school.teacher, "/week Sam")

    assert "monday morning note" in week.text
    assert "sunday night note" not in week.text


async def test_last_weeks_entries_are_not_in_this_week(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    school.clock.advance(days=7)

    week = await school.say(school.teacher, "/week Sam")

    assert en("summary.empty", student="Sam Rivera") in week.text
    assert "page" not in week.text


async def test_an_empty_week_says_so(school: DemoSchool) -> None:
    week = await school.say(school.parent_of_maya, "/week Maya")

    assert week.text == "\n".join(
        [
            en("summary.title_so_far", student="Maya Chen", start="November 23"),
            en("summary.empty", student="Maya Chen"),
        ]
    )


# --- /goals and /goal -------------------------------------------------------------------------


async def test_goals_lists_each_goal_with_how_often_it_came_up(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud #reading")
    await school.say(school.parent, "+ Sam read a bedtime story #reading")
    await school.say(school.teacher, "+ Sam shared a snack")

    said = await school.say(school.parent, "/goals Sam")

    assert said.text == "\n".join(
        [
            en("goals.title", student="Sam Rivera"),
            en("goals.line", tag="reading", description="Reads a page aloud to an adult", count=2),
        ]
    )


async def test_goals_of_a_student_without_goals_says_how_to_add_one(
    school: DemoSchool, record: Record
) -> None:
    await record.add_student("Ava Lopez", school.teacher)

    said = await school.say(school.teacher, "/goals Ava")

    assert said.text == en("goals.none", student="Ava Lopez")


async def test_teacher_creates_a_goal(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "/goal Sam writing: writes his name")

    assert said.text == en("goal.created", tag="writing", student="Sam Rivera")
    goal = await record.goal("Sam", "writing")
    assert goal is not None and goal.description == "writes his name"


async def test_teacher_rewords_an_existing_goal(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "/goal Sam reading: reads two pages aloud")

    assert said.text == en("goal.updated", tag="reading", student="Sam Rivera")
    goal = await record.goal("Sam", "reading")
    assert goal is not None and goal.description == "reads two pages aloud"
    assert len(await record.rows(Goal)) == 2


async def test_a_new_goal_can_be_linked_at_once(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "/goal Maya turns: waits for her turn")

    said = await school.say(school.teacher, "+ Maya waited for the slide #turns")

    assert en("entry.goal_linked", tag="turns") in said.text
    goal = await record.goal("Maya", "turns")
    assert goal is not None and (await record.entry()).goal_id == goal.id


@pytest.mark.parametrize("text", ["/goal Sam", "/goal Sam reading", "/goal reading: x"])
async def test_goal_without_a_tag_and_description_explains_the_form(
    school: DemoSchool, record: Record, text: str
) -> None:
    said = await school.say(school.teacher, text)

    assert said.text == en("goal.usage")
    assert len(await record.rows(Goal)) == 2


async def test_goal_with_a_bad_tag_is_refused(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "/goal Sam read!ng: reads aloud")

    assert said.text == en("goal.bad_tag", tag="read!ng")
    assert len(await record.rows(Goal)) == 2


async def test_parent_cannot_set_a_goal(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.parent, "/goal Sam chores: tidies his room")
    missing = await school.say(school.parent, "/goal Zed chores: tidies his room")

    assert said.text == missing.text == en("students.not_found")
    assert await record.goal("Sam", "chores") is None
    assert await record.access_log(school.parent, AccessAction.DENIED)


# --- who may read what ------------------------------------------------------------------------


async def test_parent_of_another_child_sees_nothing(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    other = await school.say(school.parent_of_maya, "/log Sam")
    missing = await school.say(school.parent_of_maya, "/log Zed")

    assert other == missing
    assert "page" not in other.text
    denied = await record.access_log(school.parent_of_maya, AccessAction.DENIED)
    assert [row.student_id for row in denied] == [await record.student_id("Sam"), None]


@pytest.mark.parametrize("command", ["/log", "/week", "/goals"])
async def test_another_childs_record_looks_like_no_record_at_all(
    school: DemoSchool, record: Record, command: str
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud #reading")

    other = await school.say(school.parent_of_maya, f"{command} Sam")
    prefix = await school.say(school.parent_of_maya, f"{command} Sa")
    missing = await school.say(school.parent_of_maya, f"{command} Zed")

    assert other == prefix == missing
    assert not await record.access_log(school.parent_of_maya, AccessAction.VIEW)


async def test_a_refusal_names_no_student_when_the_name_fits_none(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.parent_of_maya, "/log %")
    await school.say(school.parent_of_maya, "/log S_m")

    denied = await record.access_log(school.parent_of_maya, AccessAction.DENIED)
    assert [row.student_id for row in denied] == [None, None]


@pytest.mark.parametrize(
    ("command", "read", "count"),
    [
        ("/log Sam", Read.LOG, 10),
        ("/log Sam 3", Read.LOG, 3),
        ("/week Sam", Read.WEEK, None),
        ("/goals Sam", Read.GOALS, None),
    ],
)
async def test_every_read_of_a_record_is_logged_as_a_view(
    school: DemoSchool, record: Record, command: str, read: Read, count: int | None
) -> None:
    await school.say(school.parent, command)

    views = await record.access_log(school.parent, AccessAction.VIEW)
    assert [(row.student_id, row.what, row.count, row.at) for row in views] == [
        (await record.student_id("Sam"), read, count, school.clock.now())
    ]


async def test_logging_a_note_is_not_logged_as_a_view(school: DemoSchool, record: Record) -> None:
    await school.say(school.parent, "+ Sam tried a new food")

    assert not await record.access_log(school.parent, AccessAction.VIEW)


@pytest.mark.parametrize("command", ["/log Sam", "/week Sam", "/goals Sam", "/students"])
async def test_group_chat_gets_no_data_only_a_request_to_message_directly(
    school: DemoSchool, record: Record, command: str
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    said = await school.say(school.parent, command, private=False)

    assert said.text == en("group.direct_only")
    assert not await record.access_log(school.parent, AccessAction.VIEW)


async def test_a_note_sent_in_a_group_chat_is_not_logged(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ Sam read a whole page aloud", private=False)

    assert said.text == en("group.direct_only")
    assert await record.entries() == []


async def test_a_bare_log_from_a_teacher_of_two_asks_for_a_name(school: DemoSchool) -> None:
    said = await school.say(school.teacher, "/log")

    assert said.text == en("students.name_needed", names="Maya Chen, Sam Rivera")
