"""Families in their own language: each person reads Tandem in theirs; entries stay as written."""

from __future__ import annotations

import re

import pytest

from bot.events import Sender
from bot.i18n import languages, messages, translate
from storage.models import Person, Platform
from tests.conftest import DemoSchool, Said, welcome
from tests.unit.conftest import Mail, Record, chicago, en, invite_code

FRIDAY_15 = chicago(2026, 11, 27, 15)
THURSDAY_17 = chicago(2026, 11, 26, 17)


def es(key: str, **values: object) -> str:
    """A message exactly as a Spanish reader sees it."""
    return translate("es", key, **values)


def newcomer(name: str, language_hint: str | None) -> Sender:
    return Sender(Platform.CONSOLE, "", name.casefold().replace(" ", "-"), name, language_hint)


async def join(
    school: DemoSchool, person: Sender, student: str = "Sam", role: str = "parent"
) -> Said:
    invite = await school.say(school.teacher, f"/invite {student} {role}")
    return await school.say(person, f"/start {invite_code(invite)}")


# --- choosing a language ------------------------------------------------------------------------


async def test_a_newcomer_whose_app_is_in_spanish_is_welcomed_in_spanish(
    school: DemoSchool, record: Record
) -> None:
    rosa = newcomer("Rosa Rivera", "es-MX")

    joined = await join(school, rosa)

    assert joined.text == welcome(
        "onboarding.welcome_parent", "es", name="Rosa Rivera", student="Sam Rivera"
    )
    [person] = await record.rows(Person, Person.display_name == "Rosa Rivera")
    assert person.language == "es"


async def test_a_language_tandem_does_not_write_falls_back_to_the_schools(
    school: DemoSchool, record: Record
) -> None:
    joined = await join(school, newcomer("Grandpa Joe", "fr-FR"))

    assert joined.text == welcome(
        "onboarding.welcome_parent", name="Grandpa Joe", student="Sam Rivera"
    )
    [person] = await record.rows(Person, Person.display_name == "Grandpa Joe")
    assert person.language == "en"


async def test_the_welcome_has_a_button_per_language_named_in_that_language(
    school: DemoSchool,
) -> None:
    joined = await join(school, newcomer("Grandma", None))

    assert [button.label for button in joined.buttons] == [
        "English",
        "Español",
        "Tiếng Việt",
        "العربية",
        "简体中文",
    ]


async def test_tapping_espanol_under_the_welcome_shows_it_again_in_spanish(
    school: DemoSchool, record: Record
) -> None:
    grandma = newcomer("Grandma", None)
    joined = await join(school, grandma)

    chosen = await school.press(grandma, joined.button("Español"))
    helped = await school.say(grandma, "/help")

    [reply] = chosen.replies
    assert reply.replaces
    assert reply.text == "\n\n".join(
        [
            es("onboarding.welcome_parent", name="Grandma", student="Sam Rivera"),
            es("settings.language_set"),
        ]
    )
    assert helped.text == es("help.text")
    [person] = await record.rows(Person, Person.display_name == "Grandma")
    assert person.language == "es"


async def test_the_other_language_button_does_nothing_after_a_choice(school: DemoSchool) -> None:
    grandma = newcomer("Grandma", None)
    joined = await join(school, grandma)
    await school.press(grandma, joined.button("Español"))

    again = await school.press(grandma, joined.button("English"))

    assert again.replies == []


async def test_slash_language_switches_every_later_reply(school: DemoSchool) -> None:
    chosen = await school.say(school.parent, "/language es")
    logged = await school.say(school.parent, "+ Sam tried a new food")

    assert chosen.text == es("settings.language_set")
    assert logged.text.startswith(es("entry.logged_win", student="Sam Rivera"))
    assert [button.label for button in logged.buttons] == [es("button.undo")]


async def test_settings_name_the_language_in_its_own_words(school: DemoSchool) -> None:
    await school.say(school.parent, "/language es")

    said = await school.say(school.parent, "/settings")

    assert said.text.splitlines()[1] == "Idioma: Español (/language en|es|vi|ar|zh_Hans)"


# --- the weekly cycle, each in their own language -----------------------------------------------


async def test_a_spanish_speaking_parent_and_an_english_speaking_teacher_each_get_their_own(
    school: DemoSchool, mail: Mail
) -> None:
    luis = school.spanish_parent
    school.clock.set(chicago(2026, 11, 24, 11))  # Tuesday
    await school.say(school.teacher, "+ Sam read a whole page aloud #reading")
    school.clock.set(THURSDAY_17)

    await mail.checkin()
    checkin = await mail.letter(luis, "checkin")
    await school.press(luis, checkin.button("Buena semana"))
    await school.say(luis, "Comió bien y durmió toda la noche")
    school.clock.set(FRIDAY_15)
    await mail.summary()

    assert checkin.text == "¿Cómo estuvo la semana de Sam Rivera en casa?"
    assert checkin.labels == ["Buena semana", "Regular", "Semana difícil"]
    dana = await mail.letter(school.parent, "checkin")
    assert dana.text == "How was Sam Rivera's week at home?"
    his = (await mail.letter(luis, "summary")).text
    teachers = (await mail.letters(school.teacher, "summary"))[0].text
    assert his.splitlines()[:2] == [
        "Sam Rivera — la semana del 23 de noviembre",
        "Esta semana Sam Rivera tuvo un logro.",
    ]
    assert "• mar · Ms. Ortiz (escuela):\n  │ Sam read a whole page aloud" in his  # as written
    assert "• jue · Luis Rivera (casa):\n  │ una buena semana en casa" in his
    assert teachers.splitlines()[:2] == [
        "Sam Rivera — the week of November 23",
        "Sam Rivera had 1 win this week.",
    ]
    assert "• Tue · Ms. Ortiz (school):\n  │ Sam read a whole page aloud" in teachers
    # His own words reach the teacher as written; the mood he tapped, in the teacher's words.
    assert "• Thu · Luis Rivera (home):\n  │ a good week at home" in teachers
    assert "• Thu · Luis Rivera (home):\n  │ Comió bien y durmió toda la noche" in teachers


async def test_a_teacher_nudge_and_a_parent_prompt_go_out_in_each_ones_language(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.parent_of_maya, "/language es")
    school.clock.set(THURSDAY_17)

    await mail.checkin()

    lee = await mail.letter(school.parent_of_maya, "checkin")
    nudge = await mail.letter(school.teacher, "nudge")
    assert lee.text == es("checkin.prompt", student="Maya Chen")
    assert nudge.text == en("checkin.nudge", students="Sam Rivera, Maya Chen")


async def test_the_summary_explains_special_education_words_in_the_readers_language(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.parent, "/language es")
    await school.say(school.teacher, "+ Sam used his AAC device to ask for a break, per his IEP")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    dana = (await mail.letter(school.parent, "summary")).text.split("\n\n")[-1].splitlines()
    teacher = (await mail.letters(school.teacher, "summary"))[0].text.split("\n\n")[-1]
    assert dana == [es("summary.glossary"), f"• {es('glossary.iep')}", f"• {es('glossary.aac')}"]
    assert teacher.splitlines() == [
        en("summary.glossary"),
        f"• {en('glossary.iep')}",
        f"• {en('glossary.aac')}",
    ]


async def test_a_summary_without_special_education_words_has_no_glossary(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.teacher, "+ Sam put his coat on by himself")
    school.clock.set(FRIDAY_15)

    await mail.summary()

    assert en("summary.glossary") not in (await mail.letter(school.parent, "summary")).text


async def test_a_spanish_week_so_far_dates_its_lines_in_spanish(school: DemoSchool) -> None:
    await school.say(school.parent, "/language es")
    await school.say(school.teacher, "- Sam hit a peer at recess")

    week = await school.say(school.parent, "/week Sam")
    log = await school.say(school.parent, "/log Sam")

    assert week.text.splitlines()[:2] == [
        "Sam Rivera — la semana del 23 de noviembre, hasta ahora",
        "Esta semana hay una preocupación para trabajar con Sam Rivera. Todo el equipo trabaja "
        "en esto, juntos.",
    ]
    assert "• jue · Ms. Ortiz (escuela):\n  │ Sam hit a peer at recess" in week.text
    concern = "• jue, 26 nov, 10:00 · Preocupación · Ms. Ortiz:\n  │ Sam hit a peer at recess"
    assert concern in log.text


# --- nothing English reaches a Spanish reader -------------------------------------------------

# Everything a parent does in a week, from joining to reading the whole record.
PARENT_SCRIPT = [
    "/help",
    "/students",
    "+ Sam tried a new food",
    "Sam: slept badly",
    "? Can Sam bring a toy?",
    "/log Sam",
    "/week Sam",
    "/goals Sam",
    "/questions",
    "/settings",
    "/delivery instant",
    "/quiet 21:00-06:30",
    "/pause",
    "/pause off",
    "/undo",
    "/record Sam",
    "/log Zed",
    "/nope",
    "/amend 1 Sam read two pages",
    "/language xx",
]


def _forms(language: str) -> list[str]:
    texts = messages(language).texts.values()
    return [form for text in texts for form in ((text,) if isinstance(text, str) else text)]


def english_phrases(language: str) -> set[str]:
    """The fixed words of the English messages (two words or more) that `language` never uses."""
    theirs = "\n".join(_forms(language))
    phrases = {
        part.strip()
        for form in _forms("en")
        for part in re.split(r"\{[^}]*\}|\n", form)
        if " " in part.strip()
    }
    return {phrase for phrase in phrases if len(phrase) >= 8 and phrase not in theirs}


@pytest.mark.parametrize("language", [lang for lang in languages() if lang != "en"])
async def test_a_parent_reading_in_another_language_never_sees_english(
    school: DemoSchool, mail: Mail, language: str
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud #reading")
    await school.say(school.parent, f"/language {language}")
    seen = [(await school.say(school.parent, line)).text for line in PARENT_SCRIPT]
    school.clock.set(THURSDAY_17)
    await mail.checkin()
    school.clock.set(FRIDAY_15)
    await mail.summary()
    seen += [letter.text for letter in await mail.letters(school.parent)]

    shown = "\n".join(seen)
    leaked = sorted(phrase for phrase in english_phrases(language) if phrase in shown)

    assert leaked == []
