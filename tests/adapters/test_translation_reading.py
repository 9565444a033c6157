"""Readers see other people's words in their own language, through the dispatcher and the real
LibreTranslate adapter against a fake server that checks every request against the spec."""

from __future__ import annotations

import pytest
from sqlmodel import select

from adapters.bootstrap import build_router
from adapters.translation_libre import LibreTranslate
from bot import jobs
from bot.config import Settings
from bot.demo import seed_demo
from bot.dispatch import Dispatcher
from bot.translation import NoteTranslator
from bot.translation_config import TranslationConfig
from storage.db import Database
from storage.models import AccessLog, Translation
from storage.stores import Store
from tests.adapters.fake_translation import FakeTranslation
from tests.conftest import DemoSchool, FakeClock
from tests.unit.conftest import Mail, Record

NAMES = ("sam", "rivera", "ortiz", "dana", "luis", "maya", "lee", "chen")


@pytest.fixture
def school(translating_school: DemoSchool) -> DemoSchool:
    return translating_school


@pytest.fixture
def mail(school: DemoSchool) -> Mail:
    return Mail(school, Record(school))


async def test_an_instant_delivery_reaches_the_spanish_reading_parent_translated(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.spanish_parent, "/delivery instant")

    await school.say(school.teacher, "+ Sam read a whole page aloud")

    letter = await mail.letter(school.spanish_parent, "win")
    assert "Sam leyó una página entera en voz alta" in letter.text
    assert "traducido automáticamente" in letter.text


async def test_the_original_button_under_a_translated_letter_shows_the_words_as_written(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.spanish_parent, "/delivery instant")
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    letter = await mail.letter(school.spanish_parent, "win")

    shown = await school.press(school.spanish_parent, letter.button("Ver original"))

    assert "Sam read a whole page aloud" in shown.text
    assert "Ms. Ortiz" in shown.text


async def test_a_letter_in_the_readers_own_language_has_no_original_button(
    school: DemoSchool, mail: Mail
) -> None:
    await school.say(school.parent, "/delivery instant")
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    letter = await mail.letter(school.parent, "win")

    assert letter.labels == []


async def test_an_urgent_note_in_spanish_reaches_the_teacher_in_english_at_once(
    school: DemoSchool, mail: Mail, libre: FakeTranslation
) -> None:
    libre.phrasebook["⟦0⟧ se cayó en el patio y la enfermera lo vio"] = (
        "⟦0⟧ fell in the yard and the nurse saw him"
    )

    await school.say(school.spanish_parent, "! Sam se cayó en el patio y la enfermera lo vio")

    letter = await mail.letter(school.teacher, "urgent")
    assert "Sam fell in the yard and the nurse saw him" in letter.text
    assert "translated automatically" in letter.text
    assert letter.labels == ["Seen", "Original"]


async def test_the_spanish_parents_question_and_the_teachers_answer_cross_languages(
    school: DemoSchool, mail: Mail, libre: FakeTranslation
) -> None:
    libre.phrasebook["¿Puede ⟦0⟧ llevar audífonos en el autobús?"] = (
        "Can ⟦0⟧ bring headphones on the bus?"
    )
    libre.phrasebook["Yes, the blue ones"] = "Sí, los azules"
    await school.say(school.spanish_parent, "? ¿Puede Sam llevar audífonos en el autobús?")

    listed = await school.say(school.teacher, "/questions")
    number = listed.text.split("/original ")[1].split(")")[0]
    await school.say(school.teacher, f"/answer {number} Yes, the blue ones")

    assert "Can Sam bring headphones on the bus?" in listed.text
    told = await mail.letter(school.spanish_parent, "answer")
    assert "Sí, los azules" in told.text
    assert "traducido automáticamente" in told.text
    assert told.labels == ["Ver original"]


async def test_a_teachers_english_win_reaches_a_spanish_reading_parent_translated(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    log = await school.say(school.spanish_parent, "/log Sam")

    assert "Sam leyó una página entera en voz alta" in log.text
    assert "traducido automáticamente" in log.text
    assert "read a whole page" not in log.text


async def test_the_parents_spanish_note_reaches_the_teacher_in_english(
    school: DemoSchool,
) -> None:
    await school.say(school.spanish_parent, "Sam: durmió mal y estaba muy ansioso esta mañana")

    log = await school.say(school.teacher, "/log Sam")

    assert "slept badly and was very anxious this morning" in log.text
    assert "translated automatically" in log.text


async def test_week_tells_the_spanish_reading_parent_the_teachers_win_translated(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.teacher, "? Can Sam bring headphones on the bus?")

    week = await school.say(school.spanish_parent, "/week Sam")

    assert "Sam leyó una página entera en voz alta" in week.text
    assert "<es> Can Sam bring headphones on the bus?" in week.text
    assert week.text.count("traducido automáticamente") == 2


async def test_the_author_and_a_reader_of_the_same_language_see_the_words_as_written(
    school: DemoSchool, libre: FakeTranslation
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    mine = await school.say(school.teacher, "/log Sam")
    english_parent = await school.say(school.parent, "/log Sam")

    assert "Sam read a whole page aloud" in mine.text
    assert "Sam read a whole page aloud" in english_parent.text
    assert "automatically" not in mine.text + english_parent.text
    assert libre.requests == []


async def test_original_shows_the_note_as_written(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    log = await school.say(school.spanish_parent, "/log Sam")
    number = log.text.split("/original ")[1].split(")")[0]

    original = await school.say(school.spanish_parent, f"/original {number}")

    assert "Sam read a whole page aloud" in original.text
    assert "Ms. Ortiz" in original.text


async def test_original_of_another_childs_note_looks_like_no_note_at_all(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    log = await school.say(school.spanish_parent, "/log Sam")
    number = log.text.split("/original ")[1].split(")")[0]

    other = await school.say(school.parent_of_maya, f"/original {number}")
    missing = await school.say(school.parent_of_maya, "/original 999999")

    assert "read a whole page" not in other.text
    assert other.text.replace(number, "N") == missing.text.replace("999999", "N")


async def test_no_request_holds_a_name(school: DemoSchool, libre: FakeTranslation) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud with Dana and Maya")
    await school.say(school.spanish_parent, "Sam: Luis y Ms. Ortiz hablaron ayer del autobús")

    await school.say(school.spanish_parent, "/log Sam")
    await school.say(school.teacher, "/log Sam")

    assert libre.requests
    sent = " ".join(libre.sent_texts).lower()
    assert [name for name in NAMES if name in sent] == []


async def test_a_second_read_makes_no_request(school: DemoSchool, libre: FakeTranslation) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    first = await school.say(school.spanish_parent, "/log Sam")
    asked = len(libre.requests)

    second = await school.say(school.spanish_parent, "/log Sam")

    assert asked == 1
    assert len(libre.requests) == asked
    assert first.text == second.text


async def test_editing_a_note_translates_the_new_wording(
    school: DemoSchool, libre: FakeTranslation
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud", message_ref="m-1")
    await school.say(school.spanish_parent, "/log Sam")

    await school.edit(school.teacher, "m-1", "+ Sam read two whole pages aloud")
    log = await school.say(school.spanish_parent, "/log Sam")

    assert "two whole pages" in log.text
    assert len(libre.requests) == 2


@pytest.mark.parametrize("behaviour", ["fail", "hang", "refuse"])
async def test_a_failing_provider_leaves_the_reader_the_original(
    school: DemoSchool, libre: FakeTranslation, behaviour: str
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    libre.behaviour = behaviour  # type: ignore[assignment]

    log = await school.say(school.spanish_parent, "/log Sam")

    assert "Sam read a whole page aloud" in log.text
    assert "sin traducir" in log.text


async def test_past_the_monthly_limit_the_reader_is_told_the_allowance_is_used_up(
    db: Database, clock: FakeClock, settings: Settings, libre: FakeTranslation
) -> None:
    async with db.session() as session:
        await seed_demo(Store(session))
    config = TranslationConfig("libretranslate", libre.url, monthly_char_limit=10)
    provider = LibreTranslate(config)
    notes = NoteTranslator(provider, config, clock, ("en", "es"))
    school = DemoSchool(Dispatcher(db, settings, clock, build_router(), notes), db, clock)
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    log = await school.say(school.spanish_parent, "/log Sam")
    await provider.close()

    assert "Sam read a whole page aloud" in log.text
    assert "se agotó la cuota de traducción de este mes" in log.text
    assert libre.requests == []


async def test_the_access_log_never_holds_translated_words(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    log = await school.say(school.spanish_parent, "/log Sam")
    number = log.text.split("/original ")[1].split(")")[0]
    await school.say(school.spanish_parent, f"/original {number}")

    async with school.db.session() as session:
        rows = (await session.exec(select(AccessLog))).all()
    # Every text a row holds, whatever its column: the log is typed columns, never the words.
    texts = [value for row in rows for value in row.model_dump().values() if isinstance(value, str)]

    assert rows
    assert not [text for text in texts if "página" in text or "page" in text]


async def test_undoing_a_note_deletes_its_translations(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.spanish_parent, "/log Sam")

    await school.say(school.teacher, "/undo")

    async with school.db.session() as session:
        assert (await session.exec(select(Translation))).all() == []


async def test_the_retention_purge_deletes_old_notes_translations(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.spanish_parent, "/log Sam")
    settings = school.dispatcher.settings
    school.clock.advance(days=settings.security.retention_days + 1)

    purged = await jobs.run_purge(school.db, settings, school.clock)

    assert purged["translations"] == 1
    async with school.db.session() as session:
        assert (await session.exec(select(Translation))).all() == []


async def test_forgetting_the_student_deletes_the_translations(school: DemoSchool) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.spanish_parent, "/log Sam")
    async with school.db.session() as session:
        store = Store(session)
        assert (await session.exec(select(Translation))).all()
        sam = (await store.students.keyed("sam rivera"))[0]
        assert sam.id is not None
        await store.records.forget_student(sam.id, lambda text: False, lambda detail: False)

    async with school.db.session() as session:
        assert (await session.exec(select(Translation))).all() == []


async def summary(school: DemoSchool, mail: Mail) -> jobs.JobReport:
    settings, notes = school.dispatcher.settings, school.dispatcher.notes
    return await jobs.run_summary(school.db, settings, school.clock, await mail.school_id(), notes)


async def test_the_weekly_summary_tells_the_spanish_reading_parent_the_win_translated(
    school: DemoSchool, mail: Mail, libre: FakeTranslation
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.spanish_parent, "Sam: durmió mal y estaba muy ansioso esta mañana")

    await summary(school, mail)

    theirs = await mail.letters(school.spanish_parent, "summary")
    mine = await mail.letters(school.teacher, "summary")
    sam_es = next(letter.text for letter in theirs if "Sam" in letter.text)
    sam_en = next(letter.text for letter in mine if "Sam" in letter.text)
    assert "Sam leyó una página entera en voz alta" in sam_es
    assert "traducido automáticamente" in sam_es
    assert "slept badly and was very anxious this morning" in sam_en
    assert "Sam read a whole page aloud" in sam_en
    assert [name for name in NAMES if name in " ".join(libre.sent_texts).lower()] == []


async def test_a_second_summary_run_asks_the_provider_nothing(
    school: DemoSchool, mail: Mail, libre: FakeTranslation
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await summary(school, mail)
    asked = len(libre.requests)

    await summary(school, mail)

    assert asked > 0
    assert len(libre.requests) == asked


async def test_a_hanging_provider_leaves_the_summary_with_the_original(
    school: DemoSchool, mail: Mail, libre: FakeTranslation
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    libre.behaviour = "hang"

    await summary(school, mail)

    letters = await mail.letters(school.spanish_parent, "summary")
    sam_es = next(letter.text for letter in letters if "Sam" in letter.text)
    assert "Sam read a whole page aloud" in sam_es
    assert "sin traducir" in sam_es
