"""A note cannot pose as Tandem (issue 13, hole 5): wherever someone's words are shown, the
author is named first and every line of theirs stands behind a bar, and runs of blank lines
collapse to one."""

from __future__ import annotations

from sqlmodel import select

from storage.models import Entry, EntryKind
from tests.conftest import DemoSchool
from tests.unit.conftest import Mail, Record, chicago, en

FAKE_LINE = "Tandem: your account needs re-verification. Send /link CODE"
# Blank lines, a rule, then a line dressed as one of Tandem's own.
SPOOF = f"Sam can he bring headphones?\n\n\n\n———\n{FAKE_LINE}"
KEPT = f"Sam can he bring headphones?\n\n———\n{FAKE_LINE}"
QUOTED = f"│ Sam can he bring headphones?\n│\n│ ———\n│ {FAKE_LINE}"


def lines_posing_as_tandem(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("Tandem")]


async def test_a_question_dressed_as_a_system_line_reaches_the_team_quoted_under_its_author(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.parent, f"? {SPOOF}")

    question = await record.entry()
    letter = await mail.letter(school.teacher, EntryKind.QUESTION)
    assert letter.text == en(
        "notify.question",
        author="Dana Rivera",
        student="Sam Rivera",
        number=question.id,
        text=QUOTED,
    )
    assert lines_posing_as_tandem(letter.text) == []


async def test_runs_of_blank_lines_in_a_note_are_kept_as_one(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.parent, f"? {SPOOF}")

    assert (await record.entry()).text == KEPT


async def test_an_urgent_note_and_an_instant_letter_quote_every_line(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.parent, "/delivery instant")
    await school.say(school.teacher, f"! {SPOOF}")
    await school.say(school.teacher, f"- {SPOOF}")

    urgent = await mail.letter(school.parent, EntryKind.URGENT)
    concern = await mail.letter(school.parent, EntryKind.CONCERN)
    assert urgent.text == en("notify.urgent", author="Ms. Ortiz", student="Sam Rivera", text=QUOTED)
    assert concern.text == en(
        "notify.entry",
        author="Ms. Ortiz",
        student="Sam Rivera",
        kind=en("kind.concern"),
        text=QUOTED,
    )


async def test_an_answer_quotes_the_question_and_the_answer(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.parent, "? Can Sam bring headphones on the bus?")
    question = await record.entry()

    await school.say(school.teacher, f"/answer {question.id} Yes.\n{FAKE_LINE}")

    told = await mail.letter(school.parent, EntryKind.ANSWER)
    assert told.text == en(
        "notify.answer",
        author="Ms. Ortiz",
        student="Sam Rivera",
        question="│ Can Sam bring headphones on the bus?",
        text=f"│ Yes.\n│ {FAKE_LINE}",
    )


async def test_the_weekly_summary_quotes_each_line_under_its_bullet(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, f"+ {SPOOF}")
    school.clock.set(chicago(2026, 11, 27, 15))

    await mail.summary()

    summary = await mail.letter(school.parent, "summary")
    assert (
        "• Thu · Ms. Ortiz (school):\n"
        f"  │ Sam can he bring headphones?\n  │\n  │ ———\n  │ {FAKE_LINE}"
    ) in summary.text
    assert lines_posing_as_tandem(summary.text) == []


async def test_log_week_and_record_quote_each_line_of_a_note(school: DemoSchool) -> None:
    await school.say(school.teacher, f"+ {SPOOF}")

    for command in ("/log Sam", "/week Sam", "/record Sam"):
        shown = await school.say(school.parent, command)
        assert f"  │ Sam can he bring headphones?\n  │\n  │ ———\n  │ {FAKE_LINE}" in shown.text
        assert lines_posing_as_tandem(shown.text) == [], command


async def test_a_check_in_follow_up_is_quoted_in_the_record(school: DemoSchool, mail: Mail) -> None:
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")
    await school.press(school.parent, prompt.button("Tough week"))
    await school.say(school.parent, f"he missed his dog\n{FAKE_LINE}")

    shown = await school.say(school.teacher, "/record Sam")

    assert f"added:\n     │ he missed his dog\n     │ {FAKE_LINE}" in shown.text
    assert lines_posing_as_tandem(shown.text) == []


async def test_a_note_kept_with_many_blank_lines_is_shown_with_one(
    school: DemoSchool, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page")
    async with school.db.session() as session:  # as an older version stored it
        entry = (await session.exec(select(Entry))).one()
        entry.text = "Sam read a page\n\n\n\n\nthen another"
        session.add(entry)

    shown = await school.say(school.parent, "/log Sam")

    assert shown.text.endswith("Ms. Ortiz:\n  │ Sam read a page\n  │\n  │ then another")


async def test_a_goal_is_kept_on_one_line(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, f"/goal Sam calm: breathes\n\n{FAKE_LINE}")

    goal = await record.goal("Sam Rivera", "calm")

    assert goal is not None and goal.description == f"breathes {FAKE_LINE}"
