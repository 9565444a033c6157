"""The weekly check-in (DESIGN.md section 5): the prompt, the mood buttons, nudges, pauses."""

from __future__ import annotations

from datetime import date

from bot.config import ScheduleConfig, Settings
from bot.config_values import DateRange
from storage.models import EntryKind, Setting
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, Record, chicago, en

MOODS = [en("checkin.button.good"), en("checkin.button.mixed"), en("checkin.button.tough")]


async def at_checkin_time(school: DemoSchool) -> None:
    """Thursday 26 November, 17:00 at the school: when the check-in job fires."""
    school.clock.set(chicago(2026, 11, 26, 17))


# --- the prompt ---------------------------------------------------------------------------------


async def test_each_parent_is_asked_about_their_own_child_once_even_if_the_job_runs_twice(
    school: DemoSchool, mail: Mail
) -> None:
    await at_checkin_time(school)

    first = await mail.checkin()
    second = await mail.checkin()

    dana = await mail.letter(school.parent, "checkin")
    lee = await mail.letter(school.parent_of_maya, "checkin")
    assert dana.text == en("checkin.prompt", student="Sam Rivera")
    assert lee.text == en("checkin.prompt", student="Maya Chen")
    assert dana.labels == lee.labels == MOODS
    assert dana.not_before == school.clock.now()
    assert first.queued > 0
    assert second.queued == 0


async def test_teachers_get_no_checkin_prompt(school: DemoSchool, mail: Mail) -> None:
    await at_checkin_time(school)

    await mail.checkin()

    assert await mail.letters(school.teacher, "checkin") == []


async def test_tapping_tough_week_logs_a_home_note_with_that_mood(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await at_checkin_time(school)
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")

    tapped = await school.press(school.parent, prompt.button("Tough week"))

    assert tapped.text == en("checkin.thanks", student="Sam Rivera")
    entry = await record.entry()
    assert entry.student_id == await record.student_id("Sam")
    assert entry.author_id == await record.person_id(school.parent)
    assert (entry.kind, entry.setting, entry.mood) == (EntryKind.NOTE, Setting.HOME, "tough")
    assert entry.text == en("checkin.mood.tough")


async def test_after_one_tap_the_other_mood_buttons_do_nothing(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await at_checkin_time(school)
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")
    await school.press(school.parent, prompt.button("Tough week"))

    good = await school.press(school.parent, prompt.button("Good week"))
    mixed = await school.press(school.parent, prompt.button("Mixed"))
    again = await school.press(school.parent, prompt.button("Tough week"))

    assert good.replies == mixed.replies == again.replies == []
    assert [entry.mood for entry in await record.entries()] == ["tough"]


async def test_another_parent_cannot_press_a_checkin_button(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await at_checkin_time(school)
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")

    pressed = await school.press(school.parent_of_maya, prompt.button("Good week"))

    assert pressed.replies == []
    assert await record.entries() == []


async def test_the_parents_next_line_is_linked_to_the_checkin(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await at_checkin_time(school)
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")
    await school.press(school.parent, prompt.button("Good week"))

    added = await school.say(school.parent, "He loved the library trip")

    assert added.text == en("checkin.added", student="Sam Rivera")
    checkin, line = await record.entries()
    assert (line.kind, line.setting, line.text) == (
        EntryKind.NOTE,
        Setting.HOME,
        "He loved the library trip",
    )
    assert line.reply_to_id == checkin.id
    assert line.student_id == checkin.student_id


async def test_only_the_first_line_after_a_checkin_is_linked(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await at_checkin_time(school)
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")
    await school.press(school.parent, prompt.button("Mixed"))
    await school.say(school.parent, "Homework was a fight")

    later = await school.say(school.parent, "Slept well on Sunday")

    assert later.text.startswith(en("entry.logged_note", student="Sam Rivera"))
    *_, last = await record.entries()
    assert last.reply_to_id is None


# --- nudging teachers ---------------------------------------------------------------------------


async def test_teacher_is_nudged_only_about_students_with_no_entry_this_week(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await at_checkin_time(school)

    await mail.checkin()

    nudge = await mail.letter(school.teacher, "nudge")
    assert nudge.text == en("checkin.nudge", students="Maya Chen")


async def test_an_entry_last_week_does_not_spare_the_nudge(school: DemoSchool, mail: Mail) -> None:
    school.clock.set(chicago(2026, 11, 22, 23, 59))  # Sunday night, the week before
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.teacher, "+ Maya used her calm-down corner")
    await at_checkin_time(school)

    await mail.checkin()

    nudge = await mail.letter(school.teacher, "nudge")
    assert nudge.text == en("checkin.nudge", students="Sam Rivera, Maya Chen")


async def test_no_nudge_when_every_student_has_an_entry(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.parent_of_maya, "Maya: slept badly")
    await at_checkin_time(school)

    await mail.checkin()

    assert await mail.letters(school.teacher, "nudge") == []


# --- quiet hours ------------------------------------------------------------------------------


async def test_a_parent_in_quiet_hours_gets_the_checkin_at_seven_next_morning(
    school: DemoSchool, mail: Mail
) -> None:
    set_quiet = await school.say(school.parent, "/quiet 16:00-07:00")
    await at_checkin_time(school)

    await mail.checkin()

    assert set_quiet.text == en("settings.quiet_set", quiet="16:00-07:00")
    assert (await mail.letter(school.parent, "checkin")).not_before == chicago(2026, 11, 27, 7)
    assert (await mail.letter(school.parent_of_maya, "checkin")).not_before == school.clock.now()


async def test_a_late_checkin_waits_for_morning_unless_quiet_hours_are_off(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.parent_of_maya, "/quiet off")
    school.clock.set(chicago(2026, 11, 26, 21))

    await mail.checkin()

    assert (await mail.letter(school.parent, "checkin")).not_before == chicago(2026, 11, 27, 7)
    assert (await mail.letter(school.parent_of_maya, "checkin")).not_before == school.clock.now()


# --- skipped weeks ------------------------------------------------------------------------------


async def test_pause_skips_the_parents_checkin_this_week(school: DemoSchool, mail: Mail) -> None:
    paused = await school.say(school.parent, "/pause")
    await at_checkin_time(school)

    await mail.checkin()

    assert paused.text == en("settings.paused", date="Mon, Nov 30, 2026")
    assert await mail.letters(school.parent, "checkin") == []
    assert len(await mail.letters(school.parent_of_maya, "checkin")) == 1


async def test_pause_off_brings_the_checkin_back(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.parent, "/pause")
    await at_checkin_time(school)
    await mail.checkin()

    resumed = await school.say(school.parent, "/pause off")
    await mail.checkin()

    assert resumed.text == en("settings.pause_off")
    assert len(await mail.letters(school.parent, "checkin")) == 1


async def test_a_bare_pause_ends_with_the_week(school: DemoSchool, mail: Mail) -> None:
    await school.say(school.parent, "/pause")
    await at_checkin_time(school)
    await mail.checkin()

    school.clock.advance(days=7)
    await mail.checkin()

    assert len(await mail.letters(school.parent, "checkin")) == 1


async def test_pause_until_a_date_skips_every_checkin_before_it(
    school: DemoSchool, mail: Mail
) -> None:
    paused = await school.say(school.parent, "/pause until 2026-12-09")
    weeks = []
    for thursday in (26, 3, 10):
        school.clock.set(chicago(2026, 12 if thursday < 26 else 11, thursday, 17))
        await mail.checkin()
        weeks.append(len(await mail.letters(school.parent, "checkin")))

    assert paused.text == en("settings.paused", date="Wed, Dec 9, 2026")
    assert weeks == [0, 0, 1]


async def test_skip_dates_queue_no_checkin_at_all(school: DemoSchool, mail: Mail) -> None:
    holiday = DateRange(date(2026, 11, 23), date(2026, 11, 27))
    settings = Settings(schedule=ScheduleConfig(skip_dates=(holiday,)))
    await at_checkin_time(school)

    report = await mail.checkin(settings)

    assert report.queued == 0
    assert report.skipped == "skip_dates"
    for person in (school.parent, school.parent_of_maya, school.teacher):
        assert await mail.letters(person) == []


async def test_skip_dates_leave_other_weeks_alone(school: DemoSchool, mail: Mail) -> None:
    holiday = DateRange(date(2026, 12, 21), date(2027, 1, 1))
    settings = Settings(schedule=ScheduleConfig(skip_dates=(holiday,)))
    await at_checkin_time(school)

    await mail.checkin(settings)

    assert len(await mail.letters(school.parent, "checkin")) == 1
