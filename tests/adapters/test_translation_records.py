"""Machine translations in the record: `/record` shows the reader's beside the original, and
`tandem export` (JSON, CSV, Markdown) every kept one, each marked as machine-made with its
service and language; `tandem forget` deletes them; the access log never holds their words."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlmodel import select

from storage.models import AccessLog, Translation
from tests.adapters.fake_translation import FakeTranslation
from tests.conftest import DemoSchool
from tests.unit.conftest import Cli, cli_for

SPANISH = "Sam leyó una página entera en voz alta"


@pytest.fixture
def school(translating_school: DemoSchool) -> DemoSchool:
    return translating_school


@pytest.fixture
def cli(school: DemoSchool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(school.db.url, tmp_path, monkeypatch)


async def test_the_spanish_reading_father_sees_the_translation_beside_the_original(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")

    record = await school.say(school.spanish_parent, "/record Sam")

    assert "Sam read a whole page aloud" in record.text
    assert "traducción automática (LibreTranslate, español):" in record.text
    assert SPANISH in record.text
    assert record.text.index("Sam read a whole page aloud") < record.text.index(SPANISH)


async def test_the_teacher_reading_her_own_note_gets_no_translation_in_her_record(
    school: DemoSchool,
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.spanish_parent, "/record Sam")

    record = await school.say(school.teacher, "/record Sam")

    assert "Sam read a whole page aloud" in record.text
    assert "machine translation" not in record.text
    assert SPANISH not in record.text


async def test_after_an_edit_the_record_shows_the_new_wordings_translation_only(
    school: DemoSchool, libre: FakeTranslation
) -> None:
    libre.phrasebook["⟦0⟧ read two whole pages aloud"] = "⟦0⟧ leyó dos páginas enteras"
    await school.say(school.teacher, "+ Sam read a whole page aloud", message_ref="m-1")
    await school.say(school.spanish_parent, "/record Sam")
    await school.edit(school.teacher, "m-1", "+ Sam read two whole pages aloud")

    record = await school.say(school.spanish_parent, "/record Sam")

    assert "Sam leyó dos páginas enteras" in record.text
    assert SPANISH not in record.text


async def test_the_json_export_keeps_every_translation_marked_as_machine_made(
    school: DemoSchool, cli: Cli, libre: FakeTranslation
) -> None:
    libre.phrasebook["⟦0⟧ read two whole pages aloud"] = "⟦0⟧ leyó dos páginas enteras"
    await school.say(school.teacher, "+ Sam read a whole page aloud", message_ref="m-1")
    await school.say(school.spanish_parent, "/log Sam")
    await school.edit(school.teacher, "m-1", "+ Sam read two whole pages aloud")
    await school.say(school.spanish_parent, "/log Sam")

    run = await cli("export", "--student", "Sam", "--format", "json")

    [entry] = json.loads(run.stdout)["entries"]
    assert entry["text"] == "Sam read two whole pages aloud"
    made = [{k: v for k, v in row.items() if k != "made_at"} for row in entry["translations"]]
    assert made == [
        {
            "machine_translation": True,
            "provider": "libretranslate",
            "language": "es",
            "source_language": "en",
            "of_current_wording": False,
            "text": SPANISH,
        },
        {
            "machine_translation": True,
            "provider": "libretranslate",
            "language": "es",
            "source_language": "en",
            "of_current_wording": True,
            "text": "Sam leyó dos páginas enteras",
        },
    ]


async def test_the_csv_and_markdown_exports_mark_the_translation(
    school: DemoSchool, cli: Cli
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.spanish_parent, "/log Sam")

    table = await cli("export", "--student", "Sam", "--format", "csv")
    markdown = await cli("export", "--student", "Sam", "--format", "md")

    rows = [row for row in csv.DictReader(io.StringIO(table.stdout))]
    [made] = [row for row in rows if row["record"] == "translation"]
    [entry] = [row for row in rows if row["record"] == "entry"]
    assert (made["id"], made["kind"], made["text"]) == (entry["id"], "es", SPANISH)
    assert made["status"] == "current_wording"
    assert made["detail"] == "machine translation by LibreTranslate, en → es"
    assert "machine translation (LibreTranslate, Spanish):" in markdown.stdout
    assert "Sam leyó una página entera en voz alta" in markdown.stdout.replace("\\", "")


async def test_forget_deletes_the_translations_and_says_how_many(
    school: DemoSchool, cli: Cli
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.spanish_parent, "/log Sam")

    run = await cli("forget", "--student", "Sam Rivera", "--yes", "--json")

    assert json.loads(run.stdout)["deleted"]["translations"] == 1
    async with school.db.session() as session:
        assert (await session.exec(select(Translation))).all() == []


async def test_reading_and_exporting_translated_notes_leaves_no_translated_word_in_the_log(
    school: DemoSchool, cli: Cli
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await school.say(school.spanish_parent, "/record Sam")
    for form in ("json", "csv", "md"):
        await cli("export", "--student", "Sam", "--format", form)

    async with school.db.session() as session:
        rows = (await session.exec(select(AccessLog))).all()
    texts = [value for row in rows for value in row.model_dump().values() if isinstance(value, str)]

    assert len([row for row in rows if row.action == "export"]) == 3
    assert not [text for text in texts if "página" in text or "leyó" in text]
