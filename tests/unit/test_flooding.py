"""Flooding (issue 13, hole 3): one person's burst of messages is cut short with one "slow down",
and a run of urgent notes stops paging the whole team after `security.urgent_per_hour`."""

from __future__ import annotations

from bot.config import SecurityConfig
from storage.models import EntryKind
from tests.conftest import DemoSchool, Said
from tests.unit.conftest import Mail, Record, en

LIMIT = SecurityConfig().messages_per_minute
URGENT_LIMIT = SecurityConfig().urgent_per_hour


async def notes(school: DemoSchool, count: int, word: str = "note") -> list[Said]:
    """`count` wins from the teacher, all in the same instant (the clock does not move)."""
    return [await school.say(school.teacher, f"+ Sam {word} {n}") for n in range(count)]


async def test_notes_past_the_minutes_limit_get_one_slow_down_and_are_not_kept(
    school: DemoSchool, record: Record
) -> None:
    await notes(school, LIMIT)

    over = await notes(school, 5, "extra")

    assert over[0].text == en("input.slow_down", count=LIMIT)
    assert [said.replies for said in over[1:]] == [[], [], [], []]
    assert len(await record.entries()) == LIMIT
    assert all("extra" not in entry.text for entry in await record.entries())


async def test_a_minute_later_notes_are_kept_again_and_a_new_burst_is_told_again(
    school: DemoSchool, record: Record
) -> None:
    await notes(school, LIMIT + 2)
    school.clock.advance(seconds=61)

    again = await school.say(school.teacher, "+ Sam read a whole page aloud")
    burst = await notes(school, LIMIT, "more")

    assert again.text.startswith(en("entry.logged_win", student="Sam Rivera"))
    assert burst[-2].text.startswith(en("entry.logged_win", student="Sam Rivera"))
    assert burst[-1].text == en("input.slow_down", count=LIMIT)
    assert len(await record.entries()) == 2 * LIMIT


async def test_one_persons_flood_does_not_hold_back_anyone_else(
    school: DemoSchool, record: Record
) -> None:
    await notes(school, LIMIT + 3)

    parent = await school.say(school.parent, "+ Sam tied his shoes alone")

    assert parent.text.startswith(en("entry.logged_win", student="Sam Rivera"))


async def test_a_strangers_flood_gets_the_onboarding_line_and_then_silence(
    school: DemoSchool,
) -> None:
    stranger = school.stranger("Flooder")
    said = [await school.say(stranger, f"hello {n}") for n in range(LIMIT + 3)]

    assert {s.text for s in said[:LIMIT]} == {en("onboarding.stranger")}
    assert [s.replies for s in said[LIMIT:]] == [[], [], []]


async def test_urgent_notes_past_the_hours_limit_are_kept_as_concerns_without_paging(
    school: DemoSchool, record: Record, mail: Mail
) -> None:
    for n in range(URGENT_LIMIT):
        await school.say(school.teacher, f"! Sam urgent {n}")
        school.clock.advance(minutes=5)

    later = await school.say(school.teacher, "! Sam fell again, nurse saw him")

    assert later.text.startswith(en("entry.logged_concern", student="Sam Rivera"))
    assert en("entry.urgent_used_up", count=URGENT_LIMIT) in later.text
    assert (await record.entries())[-1].kind == EntryKind.CONCERN
    paged = await mail.letters(school.parent, EntryKind.URGENT)
    assert len(paged) == URGENT_LIMIT
    assert all("fell again" not in letter.text for letter in paged)


async def test_an_hour_after_the_first_urgent_note_the_next_one_pages_again(
    school: DemoSchool, mail: Mail
) -> None:
    for n in range(URGENT_LIMIT):
        await school.say(school.teacher, f"! Sam urgent {n}")
    school.clock.advance(minutes=61)

    later = await school.say(school.teacher, "! Sam fell again, nurse saw him")

    assert later.text.startswith(en("entry.logged_urgent", student="Sam Rivera"))
    assert len(await mail.letters(school.parent, EntryKind.URGENT)) == URGENT_LIMIT + 1
