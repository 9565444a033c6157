"""`tandem export` and `tandem forget` on a school that has been talking: the whole record out,
then every trace of a student gone, down to the bytes of the SQLite file and a pg_dump."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from storage.db import sqlite_path
from storage.models import (
    AccessAction,
    AccessLog,
    Acknowledgement,
    Amendment,
    Entry,
    EntryRevision,
    ExportFormat,
    Goal,
    Invite,
    Membership,
    Outbox,
    PendingAction,
    Person,
    Student,
    Via,
)
from tests.conftest import DemoSchool
from tests.unit.conftest import Cli, Mail, Record, en, invite_code
from tests.unit.test_cli import tandem_process


async def busy_week(school: DemoSchool, mail: Mail) -> None:
    """A week of Sam's record: notes, an edit, a check-in, a correction, an urgent note."""
    await school.say(school.teacher, "+ Sam read a page aloud #reading", message_ref="m-1")
    await school.edit(school.teacher, "m-1", "+ Sam read two pages aloud")
    await school.say(school.teacher, '- Sam wrote =HYPERLINK("http://x.invalid") on the wall')
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")
    await school.press(school.parent, prompt.button("Good week"))
    await school.say(school.parent, "he read to his sister")
    await school.say(school.parent, "/amend 1 Sam read three pages aloud")
    await school.press(
        school.teacher, (await mail.letter(school.teacher, "amend")).button("Decline")
    )
    await school.say(school.parent, "/record Sam")
    await school.say(school.teacher, "+ Maya used her calm-down corner")


# --- export -----------------------------------------------------------------------------------


async def test_the_json_export_holds_the_whole_record_with_exact_texts(
    school: DemoSchool, mail: Mail, cli: Cli
) -> None:
    await busy_week(school, mail)

    run = await cli("export", "--student", "Sam", "--format", "json")

    data = json.loads(run.stdout)
    assert data["student"]["name"] == "Sam Rivera"
    texts = [entry["text"] for entry in data["entries"]]
    assert texts == [
        "Sam read two pages aloud",
        'Sam wrote =HYPERLINK("http://x.invalid") on the wall',
        "a good week at home",
        "he read to his sister",
    ]
    assert data["entries"][0]["revisions"] == [
        {"text": "Sam read a page aloud", "replaced_at": data["entries"][0]["edited_at"]}
    ]
    assert data["entries"][0]["goal"] == "reading"
    [checkin] = data["checkins"]
    assert checkin["mood"] == "good" and checkin["added"] == [data["entries"][3]["id"]]
    [amendment] = data["amendments"]
    assert (amendment["status"], amendment["decided_by"]) == ("declined", "Ms. Ortiz")
    assert {
        "tag": "reading",
        "description": "Reads a page aloud to an adult",
        "active": True,
        "entries": 1,
    } in data["goals"]
    actions = [row["action"] for row in data["access_log"]]
    assert actions[-1] == "export" and {"view", "amend"} <= set(actions)
    assert data["team"] == [
        {"name": "Ms. Ortiz", "role": "teacher"},
        {"name": "Dana Rivera", "role": "parent"},
        {"name": "Luis Rivera", "role": "parent"},
    ]
    assert "Maya" not in run.stdout


async def test_the_markdown_export_reads_like_the_record(
    school: DemoSchool, mail: Mail, cli: Cli
) -> None:
    await busy_week(school, mail)

    run = await cli("export", "--student", "Sam", "--format", "md")

    text = run.stdout
    assert text.startswith("# Sam Rivera — the whole record (Maple Elementary \\(demo\\))")
    assert "## Notes (4)" in text and "## Check\\-ins" not in text
    assert "## Check-ins (1)" in text
    assert "Sam read two pages aloud" in text
    assert "earlier wording" in text and "Sam read a page aloud" in text
    # Markup written by a person is escaped, so it shows as typed.
    assert 'Sam wrote =HYPERLINK\\("http://x\\.invalid"\\) on the wall' in text
    assert "declined by Ms\\. Ortiz" in text
    assert "the school office · exported the record as Markdown" in text


async def test_the_csv_export_has_one_row_per_item_and_no_formulas(
    school: DemoSchool, mail: Mail, cli: Cli
) -> None:
    await busy_week(school, mail)

    run = await cli("export", "--student", "Sam", "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    kinds = [row["record"] for row in rows]
    assert kinds.count("entry") == 4 and kinds.count("revision") == 1
    assert {"team", "goal", "amendment", "access"} <= set(kinds)
    [wall] = [row for row in rows if "HYPERLINK" in row["text"]]
    assert wall["text"].startswith("Sam wrote")
    [mood] = [row for row in rows if row["mood"]]
    assert mood["mood"] == "good"
    formula = await school.say(school.teacher, "+ Sam =1+1")
    assert formula.text
    again = list(
        csv.DictReader(
            io.StringIO((await cli("export", "--student", "Sam", "--format", "csv")).stdout)
        )
    )
    assert [row["text"] for row in again if row["text"].endswith("=1+1")] == ["Sam =1+1"]


async def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe(
    school: DemoSchool, cli: Cli
) -> None:
    await school.say(school.parent, "=2+5 from home")

    run = await cli("export", "--student", "Sam", "--format", "csv")

    [entry] = [row for row in csv.DictReader(io.StringIO(run.stdout)) if row["record"] == "entry"]
    assert entry["text"] == "'=2+5 from home"


async def test_export_to_a_file_is_owner_only_and_logged_as_an_export(
    school: DemoSchool, mail: Mail, cli: Cli, record: Record
) -> None:
    await busy_week(school, mail)
    out = cli.folder / "sam.md"

    run = await cli("export", "--student", "Sam", "--format", "md", "--out", str(out), "--json")

    summary = run.json
    assert summary["out"] == str(out) and summary["entries"] == 4
    assert summary["revisions"] == 1 and summary["checkins"] == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "Sam read two pages aloud" in out.read_text(encoding="utf-8")
    [logged] = await record.rows(AccessLog, AccessLog.action == AccessAction.EXPORT)
    assert (logged.actor_id, logged.via, logged.what) == (None, Via.CLI, ExportFormat.MD)
    assert logged.student_id == await record.student_id("Sam")


async def test_export_over_an_existing_file_leaves_it_owner_only(
    school: DemoSchool, mail: Mail, cli: Cli
) -> None:
    await busy_week(school, mail)
    out = cli.folder / "sam.md"
    out.write_text("last year's export", encoding="utf-8")
    out.chmod(0o644)

    await cli("export", "--student", "Sam", "--format", "md", "--out", str(out), "--json")

    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "Sam read two pages aloud" in out.read_text(encoding="utf-8")
    assert [path.name for path in cli.folder.iterdir() if "sam" in path.name] == ["sam.md"]


async def test_export_refuses_to_write_through_a_symbolic_link(
    school: DemoSchool,
    mail: Mail,
    cli: Cli,
    record: Record,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    await busy_week(school, mail)
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "notes.txt"
    elsewhere.write_text("someone else's file", encoding="utf-8")
    link = cli.folder / "sam.md"
    link.symlink_to(elsewhere)

    run = await cli("export", "--student", "Sam", "--format", "md", "--out", str(link))

    assert run.error == f"tandem: {link} is a symbolic link: give the path of a plain file instead"
    assert elsewhere.read_text(encoding="utf-8") == "someone else's file"
    assert await record.rows(AccessLog, AccessLog.action == AccessAction.EXPORT) == []


async def test_a_parent_sees_the_export_in_the_records_access_log(
    school: DemoSchool, cli: Cli
) -> None:
    await cli("export", "--student", "Sam", "--format", "json", "--out", "sam.json")

    said = await school.say(school.parent, "/record Sam")

    assert "the school office · exported the record as JSON" in said.text


async def test_exporting_an_unknown_student_is_one_line_and_logs_nothing(
    cli: Cli, record: Record
) -> None:
    run = await cli("export", "--student", "Zed", "--format", "md")

    assert "no student named 'Zed'" in run.error
    assert await record.rows(AccessLog) == []


async def test_an_unknown_format_is_refused(cli: Cli) -> None:
    result = await asyncio.to_thread(
        tandem_process, "export", "--student", "Sam", "--format", "xml", cwd=cli.folder
    )

    assert result.exit_code == 2
    assert "xml" in result.stderr


# --- forget -----------------------------------------------------------------------------------


async def counts_about(record: Record, student_id: int) -> dict[str, int]:
    """Rows anywhere that still point at the student."""
    async with record.school.db.session() as session:
        entries = select(Entry.id).where(Entry.student_id == student_id)

        async def count(model: type, *where: object) -> int:
            statement = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
            return int((await session.exec(statement)).one())

        entry_ids = set((await session.exec(entries)).all())
        amendments = select(Amendment.id).where(Amendment.student_id == student_id)
        amendment_ids = set((await session.exec(amendments)).all())
        # Buttons point at the student, one of their entries or a correction request.
        pending = [
            row
            for row in (await session.exec(select(PendingAction))).all()
            if row.payload.get("student_id") == student_id
            or row.payload.get("entry_id") in entry_ids
            or row.payload.get("amendment_id") in amendment_ids
        ]
        return {
            "students": await count(Student, col(Student.id) == student_id),
            "entries": await count(Entry, col(Entry.student_id) == student_id),
            "revisions": await count(EntryRevision, col(EntryRevision.entry_id).in_(entries)),
            "acks": await count(Acknowledgement, col(Acknowledgement.entry_id).in_(entries)),
            "goals": await count(Goal, col(Goal.student_id) == student_id),
            "memberships": await count(Membership, col(Membership.student_id) == student_id),
            "invites": await count(Invite, col(Invite.student_id) == student_id),
            "outbox": await count(Outbox, col(Outbox.student_id) == student_id),
            "amendments": await count(Amendment, col(Amendment.student_id) == student_id),
            "access_log": await count(AccessLog, col(AccessLog.student_id) == student_id),
            "pending": len(pending),
        }


async def test_forget_without_yes_refuses_and_deletes_nothing(
    school: DemoSchool, cli: Cli, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page")

    run = await cli("forget", "--student", "Sam Rivera")

    assert "--yes" in run.error
    assert len(await record.entries("Sam")) == 1


async def test_forget_wants_the_full_name_not_a_prefix(
    school: DemoSchool, cli: Cli, record: Record
) -> None:
    run = await cli("forget", "--student", "Sa", "--yes")

    assert "full name" in run.error
    assert await record.student_id("Sam Rivera")


async def test_forget_removes_the_student_from_every_table(
    school: DemoSchool, mail: Mail, cli: Cli, record: Record
) -> None:
    await busy_week(school, mail)
    await school.say(school.teacher, "! Sam fell on the playground")
    await school.press(school.parent, (await mail.letter(school.parent, "urgent")).button("Seen"))
    await school.say(school.teacher, "/invite Sam parent")
    await mail.summary()
    sam, maya = await record.student_id("Sam"), await record.student_id("Maya")
    before = await counts_about(record, sam)
    assert all(
        before[name]
        for name in (
            "entries",
            "revisions",
            "acks",
            "goals",
            "outbox",
            "amendments",
            "access_log",
            "invites",
            "pending",
        )
    )

    run = await cli("forget", "--student", "Sam Rivera", "--yes", "--json")

    deleted = run.json["deleted"]
    assert deleted["students"] == 1 and deleted["entries"] == before["entries"]
    assert set((await counts_about(record, sam)).values()) == {0}
    assert len(await record.entries("Maya")) == 1
    assert await counts_about(record, maya) != dict.fromkeys(before, 0)
    [audit] = await record.rows(AccessLog, AccessLog.action == AccessAction.DELETE)
    assert (audit.student_id, audit.actor_id) == (None, None)
    assert (audit.forgotten_id, audit.via) == (sam, Via.CLI)
    assert await record.people() == ["Dana Rivera", "Lee Chen", "Luis Rivera", "Ms. Ortiz"]


async def test_forget_drops_the_nudge_naming_the_student(
    school: DemoSchool, mail: Mail, cli: Cli, record: Record
) -> None:
    await mail.checkin()
    [nudge] = await mail.letters(school.teacher, "nudge")
    assert "Sam Rivera" in nudge.text and nudge.row.student_id is None

    await cli("forget", "--student", "Sam Rivera", "--yes")

    assert await mail.letters(school.teacher, "nudge") == []


async def test_forget_drops_a_refusal_logged_before_the_student_existed(
    school: DemoSchool, cli: Cli, record: Record
) -> None:
    await school.say(school.parent_of_maya, "/log Zara")
    await record.add_student("Zara Quill", school.teacher)
    await school.say(school.parent_of_maya, "/log Zara")

    await cli("forget", "--student", "Zara Quill", "--yes")

    rows = await record.rows(AccessLog)
    # The first refusal named nobody there was: it is kept, about no student, without the name.
    assert [(row.action, row.student_id) for row in rows] == [
        (AccessAction.DENIED, None),
        (AccessAction.DELETE, None),
    ]
    assert all("Zara" not in str(row.model_dump()) for row in rows)


async def test_what_an_outsider_typed_into_a_refusal_is_never_kept_not_even_until_forget(
    school: DemoSchool, cli: Cli, record: Record
) -> None:
    await school.say(school.parent_of_maya, "/log Sam had a seizure at 10am")
    await school.say(DemoSchool.stranger("Mallory"), "/log Sam had a seizure at 10am")

    refused = await record.rows(AccessLog)
    await cli("forget", "--student", "Sam Rivera", "--yes")

    assert [(row.action, row.what) for row in refused] == [(AccessAction.DENIED, "read")]
    assert all("seizure" not in str(row.model_dump()) for row in refused)
    assert all("seizure" not in str(row.model_dump()) for row in await record.rows(AccessLog))


async def test_forget_people_also_removes_those_with_no_other_team(
    school: DemoSchool, cli: Cli, record: Record
) -> None:
    run = await cli("forget", "--student", "Sam Rivera", "--yes", "--people", "--json")

    # Dana and Luis were only on Sam's team; Ms. Ortiz teaches Maya and runs the school.
    assert run.json["deleted"]["people"] == 2
    assert await record.people() == ["Lee Chen", "Ms. Ortiz"]
    assert await record.accounts() == 2


async def test_forget_reports_notes_about_other_students_that_name_them(
    school: DemoSchool, cli: Cli
) -> None:
    await school.say(school.teacher, "+ Maya played catch with Sam at recess")

    run = await cli("forget", "--student", "Sam Rivera", "--yes", "--json")

    assert run.json["mentions_elsewhere"] == 1


async def test_a_forgotten_student_is_simply_not_found_in_chat(
    school: DemoSchool, cli: Cli
) -> None:
    await school.say(school.teacher, "+ Sam read a page")

    await cli("forget", "--student", "Sam Rivera", "--yes")

    assert (await school.say(school.parent, "/record Sam")).text == en("students.not_found")
    assert (await school.say(school.teacher, "/log Sam")).text == en("students.not_found")


# --- forget, then look at the raw database ------------------------------------------------------

NAME = "Zephyrine Quokkawell"
PARENT_NAME = "Ottoline Brisbane"
TEXTS = [
    "xylophone practice with the metronome",
    "tangerine meltdown at lunch",
    "asked about the planetarium trip",
    "mentioned the heron drawing",
]


async def zephyrine(school: DemoSchool, record: Record, mail: Mail) -> None:
    """A student with a parent of her own, notes of every kind, and a queued summary."""
    await record.add_student(NAME, school.teacher)
    from bot.events import Sender
    from storage.models import Platform

    parent = Sender(Platform.CONSOLE, "", "ottoline", PARENT_NAME)
    code = invite_code(await school.say(school.teacher, "/invite Zephyrine parent"))
    await school.say(parent, f"/start {code}")
    await school.say(school.teacher, f"+ Zephyrine {TEXTS[0]}", message_ref="z-1")
    await school.edit(school.teacher, "z-1", f"+ Zephyrine {TEXTS[0]}, twice")
    await school.say(school.teacher, f"! Zephyrine {TEXTS[1]}")
    await school.say(parent, f"? {TEXTS[2]}")
    await school.say(parent, f"/amend 1 {TEXTS[3]}")
    await school.say(parent, "/record")
    await mail.checkin()
    await mail.summary()


def traces(dump: bytes) -> list[str]:
    """The name, its parts, the parent's name and the note texts found in a dump."""
    low = dump.lower()
    words = [NAME, *NAME.split(), PARENT_NAME, *TEXTS]
    return [word for word in words if word.lower().encode() in low]


async def sqlite_bytes(url: str) -> bytes:
    path = sqlite_path(url)
    assert path is not None
    return b"".join(part.read_bytes() for part in (path, Path(f"{path}-wal")) if part.exists())


def pg_dump(url: str) -> bytes:
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    done = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", plain],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return done.stdout


async def test_after_forget_no_trace_is_left_in_the_database_file_or_dump(
    school: DemoSchool, record: Record, mail: Mail, cli: Cli
) -> None:
    await zephyrine(school, record, mail)
    url = school.db.url
    await school.db.dispose()  # our connections closed: the file is what the forget process sees
    sqlite = url.startswith("sqlite")
    before = await sqlite_bytes(url) if sqlite else await asyncio.to_thread(pg_dump, url)
    assert set(traces(before)) >= {NAME, PARENT_NAME, *TEXTS}

    run = await cli.process("forget", "--student", NAME, "--yes", "--people", "--json")

    assert run.json["deleted"]["students"] == 1
    after = await sqlite_bytes(url) if sqlite else await asyncio.to_thread(pg_dump, url)
    assert traces(after) == []
    if sqlite:
        path = sqlite_path(url)
        assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    [audit] = await record.rows(AccessLog, AccessLog.action == AccessAction.DELETE)
    assert audit.forgotten_id is not None and audit.student_id is None
    assert await record.people() == ["Dana Rivera", "Lee Chen", "Luis Rivera", "Ms. Ortiz"]
    assert (await school.say(school.teacher, "/log Zephyrine")).text == en("students.not_found")
    assert await record.rows(Person, Person.display_name == PARENT_NAME) == []
