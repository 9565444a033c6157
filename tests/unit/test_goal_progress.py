"""Goals with a measure (`/goal ... | target 80%`) and measures in one-line notes (issue 15)."""

from __future__ import annotations

from storage.models import Goal, Measure, Setting
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, Record, chicago, en

READING = "/goal Sam reading: Reads a short passage aloud | target 80% | baseline 40%"


async def measures(record: Record) -> list[Measure]:
    return sorted(await record.rows(Measure), key=lambda measure: measure.id or 0)


async def test_a_goal_gets_its_target_and_baseline(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, READING)

    assert said.text == (
        en("goal.updated", tag="reading", student="Sam Rivera") + " target 80 % · baseline 40 %."
    )
    goal = await record.goal("Sam", "reading")
    assert goal is not None
    assert (goal.measure, goal.target, goal.baseline) == ("percent", 80, 40)


async def test_a_goal_without_terms_keeps_working(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "/goal Sam calm: takes a breath before answering")

    assert said.text == en("goal.created", tag="calm", student="Sam Rivera")
    goal = await record.goal("Sam", "calm")
    assert goal is not None and goal.measure is None


async def test_a_target_over_100_percent_is_refused_with_the_reason(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "/goal Sam calm: breathes | target 180%")

    assert said.text == en("measure.percent_over", value="180")
    assert await record.goal("Sam", "calm") is None


async def test_a_count_goal_takes_a_date_and_a_bare_number(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(
        school.teacher,
        "/goal Sam breaks: asks for a break | measure count | target 3 | by 2027-03-01",
    )

    assert "target 3 times · by Mon, Mar 1, 2027" in said.text
    goal = await record.goal("Sam", "breaks")
    assert goal is not None and (goal.measure, goal.target) == ("count", 3)


async def test_a_note_with_trials_stores_a_percentage_on_the_goal(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, READING)

    said = await school.say(school.teacher, "+ Sam read 6/10 words correctly #reading")

    assert said.text.startswith(en("entry.logged_win", student="Sam Rivera"))
    assert "#reading: 60 % (6/10)." in said.text
    [measure] = await measures(record)
    entry = await record.entry()
    assert (measure.entry_id, measure.value, measure.correct, measure.trials) == (
        entry.id,
        60,
        6,
        10,
    )
    assert measure.setting == Setting.SCHOOL


async def test_a_parents_measure_is_home_evidence(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, READING)

    await school.say(school.parent, "+ Sam read 9/10 words at bedtime #reading")
    listed = await school.say(school.parent, "/goals Sam")

    [measure] = await measures(record)
    assert measure.setting == Setting.HOME
    assert "latest 90 % (9/10) (home) (school 0, home 1)" in listed.text
    assert "target 80 % · baseline 40 %" in listed.text


async def test_goals_show_school_and_home_counts_apart(school: DemoSchool) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    school.clock.advance(minutes=5)
    await school.say(school.teacher, "+ Sam read 80% of the page #reading")
    school.clock.advance(minutes=5)
    await school.say(school.parent, "+ Sam read 7/10 at home #reading")

    listed = await school.say(school.teacher, "/goals Sam")

    assert "measured 3 times, latest 70 % (7/10) (home) (school 2, home 1)" in listed.text


async def test_a_measure_that_cannot_be_stores_nothing(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, READING)

    for text, key, values in [
        ("+ Sam read 11/10 #reading", "measure.trials_over", {"correct": "11", "trials": "10"}),
        ("+ Sam read 0/0 #reading", "measure.bad_trials", {"correct": "0", "trials": "0"}),
        ("+ Sam read 140 % #reading", "measure.percent_over", {"value": "140"}),
        ("- Sam left -3 times #reading", "measure.negative", {"value": "-3"}),
        ("+ Sam read 6/10 then 80% #reading", "measure.two_measures", {}),
    ]:
        said = await school.say(school.teacher, text)
        assert said.text == en(key, **values), text

    assert await record.entries() == []
    assert await measures(record) == []


async def test_a_measure_without_a_tag_asks_for_the_goal(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ Sam read 6/10 words")

    assert said.text == en("measure.no_tag", goals="#reading")
    assert await record.entries() == []


async def test_a_measure_on_an_unknown_tag_is_refused(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.teacher, "+ Sam did 6/10 sums #math")

    assert said.text == en(
        "measure.unknown_tag", tag="math", student="Sam Rivera", goals="#reading"
    )
    assert await record.entries() == []


async def test_a_count_on_a_percentage_goal_is_refused(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, READING)

    said = await school.say(school.teacher, "+ Sam read aloud x3 #reading")

    assert said.text == en(
        "measure.wrong_kind", tag="reading", kind="a percentage", given="3 times"
    )
    assert await record.entries() == []


async def test_editing_the_note_reads_the_measure_again(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading", message_ref="m1")

    said = await school.edit(school.teacher, "m1", "+ Sam read 8/10 words #reading")

    assert "#reading: 80 % (8/10)." in said.text
    [measure] = await measures(record)
    assert (measure.value, measure.correct) == (80, 8)


async def test_an_edit_with_a_bad_measure_changes_nothing(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading", message_ref="m1")

    said = await school.edit(school.teacher, "m1", "+ Sam read 12/10 words #reading")

    assert said.text == en("measure.trials_over", correct="12", trials="10")
    [measure] = await measures(record)
    assert measure.value == 60
    assert "6/10" in (await record.entry()).text


async def test_undo_removes_the_measure(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")

    await school.say(school.teacher, "/undo")

    assert await measures(record) == []


async def test_a_goal_measured_in_one_kind_keeps_it(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")

    said = await school.say(school.teacher, "/goal Sam reading: reads | measure count")

    assert said.text == en("measure.kind_in_use", tag="reading", kind="a percentage")
    goal = await record.goal("Sam", "reading")
    assert goal is not None and goal.measure == "percent"


async def test_a_prompt_word_in_an_ordinary_note_is_only_words(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "- Sam had a verbal outburst #reading")

    assert said.text.startswith(en("entry.logged_concern", student="Sam Rivera"))
    assert await measures(record) == []


async def test_a_prompt_level_measures_a_goal_rated_in_prompt_levels(
    school: DemoSchool, record: Record
) -> None:
    await school.say(
        school.teacher, "/goal Sam shoes: ties shoes | measure rating | target independent"
    )

    said = await school.say(school.teacher, "+ Sam tied his shoes p:gestural #shoes")

    assert "#shoes: gestural prompt." in said.text
    [measure] = await measures(record)
    assert (measure.kind, measure.prompt) == ("rating", "gestural")
    assert isinstance(await record.goal("Sam", "shoes"), Goal)


# --- the weekly summary carries the numbers -----------------------------------------------------


async def test_the_weekly_summary_gives_each_measured_goal_its_values_against_the_target(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    await school.say(school.parent, "+ Sam read 9/10 words at bedtime #reading")
    school.clock.set(chicago(2026, 11, 27, 15))

    await mail.summary()

    summary = await mail.letter(school.parent, "summary")
    assert (
        "• #reading — Reads a short passage aloud: 2 notes · 60 % (6/10), 90 % (9/10) (home)"
        " · target 80 % — at target this week"
    ) in summary.text


async def test_a_week_below_target_says_so(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 5/10 words #reading")
    school.clock.set(chicago(2026, 11, 27, 15))

    await mail.summary()

    summary = await mail.letter(school.parent, "summary")
    assert "60 %" not in summary.text
    assert "50 % (5/10) · target 80 % — not at target yet" in summary.text


# --- early warning in the teacher's nudge --------------------------------------------------------


async def test_a_goal_left_unmeasured_for_three_weeks_is_named_in_the_teachers_nudge(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    school.clock.advance(days=22)

    await mail.checkin()

    [nudge] = await mail.letters(school.teacher, "nudge")
    assert en("progress.stale", student="Sam Rivera", tags="#reading", count=3) in nudge.text
    assert "#reading" not in (await mail.letter(school.parent, "checkin")).text


async def test_a_goal_measured_lately_raises_no_warning(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    school.clock.advance(days=8)

    await mail.checkin()

    assert all(
        "#reading" not in nudge.text for nudge in await mail.letters(school.teacher, "nudge")
    )


async def test_three_measures_moving_away_from_the_target_warn_the_teacher(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, READING)
    for value in ("7/10", "6/10", "5/10"):
        await school.say(school.teacher, f"+ Sam read {value} words #reading")
        school.clock.advance(hours=2)

    await mail.checkin()

    [nudge] = await mail.letters(school.teacher, "nudge")
    assert en("progress.drifting", student="Sam Rivera", tag="reading") in nudge.text


async def test_concerns_outnumbering_wins_three_to_one_reach_only_the_teacher(
    school: DemoSchool, mail: Mail
) -> None:
    for text in ("- Sam hit a peer", "- Sam threw a chair", "- Sam left the room", "+ Sam read"):
        await school.say(school.teacher, text)

    await mail.checkin()

    [nudge] = await mail.letters(school.teacher, "nudge")
    assert en("progress.balance", student="Sam Rivera", concerns=3, count=1) in nudge.text
    assert "concerns" not in (await mail.letter(school.parent, "checkin")).text
