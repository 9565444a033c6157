"""`tandem report`: the IEP progress report as a PDF (text a reader can search) or Markdown."""

from __future__ import annotations

import asyncio
import io
import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import select

from storage.models import Entry, Measure, Read
from storage.stores.records import RecordStore
from tests.conftest import DemoSchool
from tests.unit.conftest import Cli, HeldReads, Record, en

READING = "/goal Sam reading: Reads a short passage aloud | target 80% | baseline 40%"


async def measured_term(school: DemoSchool) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    school.clock.advance(days=3)
    await school.say(school.teacher, "+ Sam read 80% of the page with a verbal prompt #reading")
    school.clock.advance(days=3)
    await school.say(school.parent, "+ Sam read 9/10 words at bedtime #reading")
    await school.say(school.parent, "? Should we practise the IEP words at home?")


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


async def test_the_pdf_report_holds_every_goal_measure_and_home_marker(
    school: DemoSchool, cli: Cli, tmp_path: Path
) -> None:
    await measured_term(school)

    run = await cli("report", "--student", "Sam", "--out", "sam.pdf", "--json")

    assert run.json == {"out": "sam.pdf", "pages": run.json["pages"], "goals": 1}
    assert run.json["pages"] >= 1
    path = tmp_path / "sam.pdf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = await asyncio.to_thread(pdf_text, path)
    for seen in (
        "Progress report: Sam Rivera",
        "Maple Elementary",
        "Goal #reading",
        "Reads a short passage aloud",
        "target 80 %",
        "baseline 40 %",
        "60 % (6/10)",
        "80 %, verbal prompt",
        "90 % (9/10) (home)",
        "at home",
        "#reading rose from 40 % to 90 %.",
        "For the next meeting",
        "IEP",
    ):
        assert seen in text, seen


async def test_the_report_in_spanish_is_in_spanish(
    school: DemoSchool, cli: Cli, tmp_path: Path
) -> None:
    await measured_term(school)

    await cli("report", "--student", "Sam", "--language", "es", "--out", "sam.pdf")

    text = await asyncio.to_thread(pdf_text, tmp_path / "sam.pdf")
    assert "Informe de progreso: Sam Rivera" in text
    assert "objetivo 80 %" in text and "punto de partida 40 %" in text
    assert "90 % (9/10) (casa)" in text
    assert "Para la próxima reunión" in text


async def test_the_markdown_report_has_the_same_numbers(
    school: DemoSchool, cli: Cli, tmp_path: Path
) -> None:
    await measured_term(school)

    run = await cli("report", "--student", "Sam", "--format", "md", "--json")

    text = (tmp_path / run.json["out"]).read_text(encoding="utf-8")
    assert text.startswith("# Progress report: Sam Rivera")
    assert "- 60 % (6/10)" not in text and "60 % (6/10) — Ms. Ortiz, at school" in text


async def test_a_report_whose_from_is_after_its_to_is_refused(cli: Cli) -> None:
    run = await cli("report", "--student", "Sam", "--from", "2026-10-02", "--to", "2026-10-01")

    assert "--from is after --to" in run.error
    assert run.exit_code == 2


async def test_a_report_ending_in_the_future_is_refused(cli: Cli) -> None:
    run = await cli("report", "--student", "Sam", "--to", "2099-01-01")

    assert "in the future" in run.error


# --- /report in chat ---------------------------------------------------------------------------


async def test_report_in_chat_sends_the_pdf_to_whoever_asked(school: DemoSchool) -> None:
    await measured_term(school)

    said = await school.say(school.parent, "/report Sam")

    [reply] = said.replies
    assert reply.attachment is not None and reply.attachment.mime == "application/pdf"
    reader = PdfReader(io.BytesIO(reply.attachment.data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "90 % (9/10) (home)" in text and "Goal #reading" in text
    assert reply.text.startswith("Sam Rivera's progress report")


async def test_report_in_chat_is_in_the_readers_language(school: DemoSchool) -> None:
    await measured_term(school)

    said = await school.say(school.spanish_parent, "/report Sam")

    assert said.replies[0].attachment is not None
    text = PdfReader(io.BytesIO(said.replies[0].attachment.data)).pages[0].extract_text()
    assert "Informe de progreso: Sam Rivera" in text


async def test_an_outsider_asking_for_a_report_hears_what_an_unknown_name_gets(
    school: DemoSchool, record: Record
) -> None:
    await measured_term(school)

    other = await school.say(school.parent_of_maya, "/report Sam")
    missing = await school.say(school.parent_of_maya, "/report Zed")

    assert other.text == missing.text == en("students.not_found")
    assert other.replies[0].attachment is None
    assert await record.access_log(actor=school.parent_of_maya, action="denied")


async def test_a_report_asked_with_its_days_the_wrong_way_round_is_refused(
    school: DemoSchool,
) -> None:
    said = await school.say(school.teacher, "/report Sam 2026-11-20 2026-09-01")

    assert said.text.startswith("The first day must come before the last")
    assert said.replies[0].attachment is None


async def test_a_report_is_access_logged(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "/report Sam 2026-09-01 2026-11-20")

    [row] = await record.access_log(actor=school.teacher, action="view")
    assert row.what == Read.REPORT


async def test_a_goal_with_2000_measures_keeps_the_report_under_20_pages(
    school: DemoSchool, cli: Cli, tmp_path: Path
) -> None:
    await school.say(school.teacher, READING)
    await school.say(school.teacher, "+ Sam read 6/10 words #reading")
    async with school.db.session() as session:
        [first] = (await session.exec(select(Entry))).all()
        [measure] = (await session.exec(select(Measure))).all()
        for number in range(1999):
            at = first.created_at - timedelta(hours=number + 1)
            entry = Entry(**first.model_dump(exclude={"id", "created_at"}), created_at=at)
            session.add(entry)
            await session.flush()
            fields = measure.model_dump(exclude={"id", "entry_id", "taken_at", "value"})
            session.add(Measure(**fields, entry_id=entry.id, taken_at=at, value=number % 101))

    run = await cli("report", "--student", "Sam", "--out", "sam.pdf", "--json")

    assert run.json["pages"] < 20
    text = await asyncio.to_thread(pdf_text, tmp_path / "sam.pdf")
    assert "(1940 earlier notes are in the record: tandem export)" in text
    # Every measure is still there, several to a line (a line may break inside "60 %").
    assert len(re.findall(r"\d\s+%", text)) >= 2000


async def test_the_record_tells_the_family_who_made_a_report(school: DemoSchool) -> None:
    await school.say(school.teacher, "/report Sam")
    await school.say(school.teacher, "/progress Sam")

    record = await school.say(school.parent, "/record Sam")

    assert "made a progress report" in record.text
    assert "looked at the progress charts" in record.text


async def test_notes_go_past_a_report_being_gathered(
    school: DemoSchool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await measured_term(school)
    held = HeldReads(RecordStore.entries)
    monkeypatch.setattr(RecordStore, "entries", held.method)

    # A year of notes is read after the event's transaction: the writers go on.
    note, asked = await held.note_while_held(school, "/report Sam")
    [report] = asked.replies

    assert note.text == en("entry.logged_win", student="Sam Rivera")
    assert report.attachment is not None and report.attachment.data.startswith(b"%PDF")
