"""A person's own settings (DESIGN.md section 4): /settings /language /delivery /quiet /pause."""

from __future__ import annotations

import pytest

from storage.models import Delivery, Membership, Person
from tests.conftest import DemoSchool
from tests.unit.conftest import Record, en


def shown(
    language: str = "English",
    delivery: Delivery = Delivery.WEEKLY,
    quiet: str = "20:00-07:00",
    paused: str | None = None,
    timezone: str = "America/Chicago",
) -> str:
    """The /settings reply for these choices."""
    return en(
        "settings.show",
        lang=language,
        languages="en|es|vi|ar|zh_Hans",
        delivery=en(f"settings.delivery.{delivery}"),
        quiet=quiet,
        timezone=timezone,
        paused=paused or en("settings.not_paused"),
    )


async def test_settings_shows_the_defaults(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/settings")

    assert said.text == shown()


async def test_settings_shows_what_the_person_chose(school: DemoSchool) -> None:
    await school.say(school.parent, "/delivery instant")
    await school.say(school.parent, "/quiet 21:00-06:30")
    await school.say(school.parent, "/pause")

    said = await school.say(school.parent, "/settings")

    assert said.text == shown(
        delivery=Delivery.INSTANT,
        quiet="21:00-06:30",
        paused=en("settings.paused_until", date="Mon, Nov 30, 2026"),
    )


async def test_timezone_sets_the_senders_zone_and_settings_shows_it(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/timezone america/new_york")

    assert said.text == en("settings.timezone_set", timezone="America/New_York")
    assert (await school.say(school.parent, "/settings")).text == shown(timezone="America/New_York")


async def test_timezone_off_goes_back_to_the_schools(school: DemoSchool) -> None:
    await school.say(school.parent, "/timezone Europe/Madrid")

    said = await school.say(school.parent, "/timezone off")

    assert said.text == en("settings.timezone_set", timezone="America/Chicago")


async def test_an_unknown_timezone_is_refused_and_nothing_changes(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/timezone Mars/Olympus")

    assert said.text == en("settings.timezone_unknown", timezone="Mars/Olympus")
    assert (await school.say(school.parent, "/settings")).text == shown()


async def test_settings_show_quiet_hours_off(school: DemoSchool) -> None:
    turned_off = await school.say(school.parent, "/quiet off")

    said = await school.say(school.parent, "/settings")

    assert turned_off.text == en("settings.quiet_set_off")
    assert said.text == shown(quiet=en("settings.quiet_off"))


async def test_a_pause_that_has_ended_shows_checkins_on(school: DemoSchool) -> None:
    await school.say(school.parent, "/pause")
    school.clock.advance(days=7)

    said = await school.say(school.parent, "/settings")

    assert said.text == shown()


# --- /quiet -------------------------------------------------------------------------------------


async def test_quiet_sets_the_hours(school: DemoSchool, record: Record) -> None:
    said = await school.say(school.parent, "/quiet 21:00 - 6:30")

    assert said.text == en("settings.quiet_set", quiet="21:00-06:30")
    (dana,) = await record.rows(Person, Person.display_name == "Dana Rivera")
    assert dana.quiet_hours == "21:00-06:30"


@pytest.mark.parametrize("args", ["", "soon", "25:00-07:00", "07:00-07:00", "20:00", "8pm-7am"])
async def test_quiet_with_bad_input_shows_how(
    school: DemoSchool, record: Record, args: str
) -> None:
    said = await school.say(school.parent, f"/quiet {args}".strip())

    assert said.text == en("settings.quiet_usage")
    (dana,) = await record.rows(Person, Person.display_name == "Dana Rivera")
    assert dana.quiet_hours is None


# --- /language ----------------------------------------------------------------------------------


async def test_language_with_an_unknown_code_lists_the_languages(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.parent, "/language xx")

    assert said.text == en(
        "settings.language_usage",
        languages="en (English), es (Español), vi (Tiếng Việt), ar (العربية), zh_Hans (简体中文)",
    )
    (dana,) = await record.rows(Person, Person.display_name == "Dana Rivera")
    assert dana.language == "en"


async def test_language_en_is_confirmed_in_english(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/language EN")

    assert said.text == en("settings.language_set")


# --- /delivery ----------------------------------------------------------------------------------


async def test_delivery_changes_every_team_the_person_is_on(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "/delivery instant")

    assert said.text == en("settings.delivery_set.instant")
    teacher = await record.person_id(school.teacher)
    memberships = await record.rows(Membership, Membership.person_id == teacher)
    assert [m.delivery for m in memberships] == [Delivery.INSTANT, Delivery.INSTANT]


async def test_delivery_weekly_is_confirmed(school: DemoSchool) -> None:
    await school.say(school.parent, "/delivery instant")

    said = await school.say(school.parent, "/delivery weekly")

    assert said.text == en("settings.delivery_set.weekly")


@pytest.mark.parametrize("args", ["", "daily", "instantly"])
async def test_delivery_with_bad_input_shows_how(school: DemoSchool, args: str) -> None:
    said = await school.say(school.parent, f"/delivery {args}".strip())

    assert said.text == en("settings.delivery_usage")


# --- /pause -------------------------------------------------------------------------------------


async def test_pause_until_a_date(school: DemoSchool) -> None:
    said = await school.say(school.parent, "/pause until 2027-01-05")

    assert said.text == en("settings.paused", date="Tue, Jan 5, 2027")


@pytest.mark.parametrize("args", ["until", "until tomorrow", "for a while", "2027-13-01"])
async def test_pause_with_bad_input_shows_how(school: DemoSchool, args: str) -> None:
    said = await school.say(school.parent, f"/pause {args}")

    assert said.text == en("settings.pause_usage")


@pytest.mark.parametrize("day", ["2026-11-01", "2026-11-26", "2028-01-01"])
async def test_pause_needs_a_date_in_the_coming_year(school: DemoSchool, day: str) -> None:
    said = await school.say(school.parent, f"/pause until {day}")

    assert said.text == en("settings.pause_range")
