"""`tandem demo`: the README walk-through, typed into the real command through standard input.

The scripted sessions run the installed `tandem` script as its own process; the `/as`
details run ConsoleChat in-process on the demo school.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from adapters.cli import app
from adapters.console import ConsoleChat, run_console
from bot.demo import seed_email_parent
from bot.i18n import translate
from storage.models import Entry, EntryKind, Setting
from storage.stores import Store
from tests.conftest import DemoSchool

TANDEM = shutil.which("tandem", path=str(Path(sys.executable).parent)) or shutil.which("tandem")

WALKTHROUGH = [
    "+ Sam read a whole page aloud",
    "/as Dana",
    "/log Sam",
    "/as Lee",
    "/log Sam",
    "/log Zed",
    "/as Ortiz",
    "Sam: slept badly",
    "1",
    "/log Sam",
    "/as Grandma",
    "/log Sam",
    "/quit",
]


# A week in the demo with Sam's Spanish-speaking father: check-in, his answer, the summary.
SPANISH_WEEK = [
    "+ Sam read a whole page aloud",
    "/tick checkin",
    "/as Luis",
    "1",
    "Comió bien y durmió toda la noche",
    "/as Ortiz",
    "/tick summary",
    "/quit",
]


def t(key: str, **values: object) -> str:
    return translate("en", key, **values)


@dataclass
class Exchange:
    who: str  # whose prompt the line was typed at
    typed: str
    shown: list[str]  # what the demo printed in answer


@dataclass
class Transcript:
    """A demo session read back as who typed what, and what came back."""

    intro: str
    exchanges: list[Exchange]

    def answer(self, who: str, typed: str) -> list[str]:
        """What `who` saw after typing `typed` (the first time they did)."""
        for exchange in self.exchanges:
            if (exchange.who, exchange.typed) == (who, typed):
                return exchange.shown
        raise AssertionError(f"{who} never typed {typed!r}: {self.exchanges}")


def run_demo(db: Path, script: list[str]) -> Transcript:
    """`tandem demo --db DB` with the script piped in, as a shell would run it."""
    assert TANDEM, "the `tandem` script is not installed: pip install -e ."
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    done = subprocess.run(
        [TANDEM, "demo", "--db", str(db)],
        input="".join(f"{line}\n" for line in script),
        cwd=db.parent,
        env={**env, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return read_transcript(done.stdout, script)


def read_transcript(stdout: str, script: list[str]) -> Transcript:
    """Split the output at the echoed `NAME> line` of each typed line, in order."""
    lines = stdout.splitlines()
    echoes: list[int] = []
    for typed in script:
        start = echoes[-1] + 1 if echoes else 1
        at = next((n for n in range(start, len(lines)) if lines[n].endswith(f"> {typed}")), None)
        if at is None:
            break  # the demo stopped reading (after /quit)
        echoes.append(at)
    ends = [*echoes[1:], len(lines)]
    return Transcript(
        lines[0],
        [
            Exchange(lines[at].removesuffix(f"> {typed}"), typed, lines[at + 1 : end])
            for at, end, typed in zip(echoes, ends, script, strict=False)
        ],
    )


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Transcript:
    """The README's demo session, run once for the tests that read it."""
    return run_demo(tmp_path_factory.mktemp("demo") / "demo.db", WALKTHROUGH)


# --- the README walk-through, through the real `tandem demo` ---------------------------------


def test_demo_starts_as_the_teacher(walkthrough: Transcript) -> None:
    assert "You are Ms. Ortiz" in walkthrough.intro
    assert walkthrough.exchanges[0].who == "Ms. Ortiz"


def test_teacher_logs_a_win_in_one_line(walkthrough: Transcript) -> None:
    shown = walkthrough.answer("Ms. Ortiz", "+ Sam read a whole page aloud")

    assert shown[0] == "Logged a win for Sam Rivera."


def test_the_prompt_shows_who_you_are_after_as(walkthrough: Transcript) -> None:
    assert walkthrough.answer("Ms. Ortiz", "/as Dana") == ["You are now Dana Rivera."]
    assert walkthrough.answer("Dana Rivera", "/log Sam")


def test_parent_reads_the_teachers_win_in_the_log(walkthrough: Transcript) -> None:
    log = "\n".join(walkthrough.answer("Dana Rivera", "/log Sam"))

    assert "Sam read a whole page aloud" in log


def test_another_childs_parent_cannot_tell_sam_exists(walkthrough: Transcript) -> None:
    about_sam = walkthrough.answer("Lee Chen", "/log Sam")
    about_nobody = walkthrough.answer("Lee Chen", "/log Zed")

    assert about_sam == about_nobody
    assert "page" not in "\n".join(about_sam)


def test_typing_a_number_presses_that_button(walkthrough: Transcript) -> None:
    asked = walkthrough.answer("Ms. Ortiz", "Sam: slept badly")
    pressed = walkthrough.answer("Ms. Ortiz", "1")
    log = walkthrough.answer("Ms. Ortiz", "/log Sam")

    assert "[1] Win" in asked[-1]
    assert pressed[0] == "Logged a win for Sam Rivera."
    assert "· Win · Ms. Ortiz:\n  │ slept badly" in "\n".join(log), log


def test_a_new_person_gets_only_the_onboarding_line(walkthrough: Transcript) -> None:
    assert walkthrough.answer("Ms. Ortiz", "/as Grandma") == [
        t("console.new_person", name="Grandma")
    ]

    assert walkthrough.answer("Grandma", "/log Sam") == [t("onboarding.stranger")]


def test_quit_says_bye(walkthrough: Transcript) -> None:
    assert walkthrough.answer("Grandma", "/quit") == [t("console.bye")]


def test_running_the_demo_twice_seeds_once_and_keeps_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "demo.db"
    run_demo(db, ["+ Sam read a whole page aloud"])

    again = run_demo(db, ["/as", "/log Sam"])

    assert again.answer("Ms. Ortiz", "/as") == [
        t("console.people", names="Ms. Ortiz, Dana Rivera, Lee Chen, Luis Rivera, Rosa Chen")
    ]
    assert any(
        "Sam read a whole page aloud" in line for line in again.answer("Ms. Ortiz", "/log Sam")
    )
    assert status_of(db, monkeypatch) == {
        "schools": 1,
        "people": 5,  # Rosa Chen, Maya's mother, reads Tandem by email
        "students": 2,
        "entries_this_week": 1,
        "outbox": {},
        "unreachable": {"Maple Elementary (demo)": {"blocked": [], "never_joined": []}},
        "email_unreachable": [],
    }


def status_of(db: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`tandem status --json` on the demo's file, as an admin would check it."""
    for name in list(os.environ):
        if name.startswith("TANDEM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(db.parent)
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    status: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return status


# --- /as and friends, in-process -------------------------------------------------------------


def console(school: DemoSchool) -> tuple[ConsoleChat, io.StringIO]:
    out = io.StringIO()
    return ConsoleChat(school.dispatcher, school.db, out, "Ms. Ortiz"), out


async def test_as_alone_lists_the_demo_people(school: DemoSchool) -> None:
    chat, out = console(school)

    await chat.handle_line("/as")

    people = "Ms. Ortiz, Dana Rivera, Lee Chen, Luis Rivera"
    assert out.getvalue() == t("console.people", names=people) + "\n"
    assert chat.prompt() == "Ms. Ortiz> "


async def test_as_takes_a_first_name_in_any_case(school: DemoSchool) -> None:
    chat, out = console(school)

    await chat.handle_line("/as dana")

    assert out.getvalue() == "You are now Dana Rivera.\n"
    assert chat.prompt() == "Dana Rivera> "


async def test_as_takes_a_later_word_of_the_name(school: DemoSchool) -> None:
    chat, out = console(school)
    await chat.handle_line("/as Lee")

    await chat.handle_line("/as ortiz")

    assert out.getvalue().splitlines()[-1] == "You are now Ms. Ortiz."
    assert chat.prompt() == "Ms. Ortiz> "


async def test_as_an_unknown_name_becomes_a_new_person(school: DemoSchool) -> None:
    chat, out = console(school)

    await chat.handle_line("/as  Grandma   Jo ")

    assert out.getvalue() == t("console.new_person", name="Grandma Jo") + "\n"
    assert chat.prompt() == "Grandma Jo> "


async def test_as_a_full_name_typed_without_its_dot_is_that_person(school: DemoSchool) -> None:
    chat, out = console(school)
    await chat.handle_line("/as Dana")

    await chat.handle_line("/as ms ortiz")

    assert out.getvalue().splitlines()[-1] == "You are now Ms. Ortiz."


async def test_as_a_name_two_people_share_says_who_and_stays_put(school: DemoSchool) -> None:
    chat, out = console(school)
    await chat.handle_line("/invite Sam parent")
    code = re.search(r"/start (\S+)", out.getvalue())
    assert code, out.getvalue()
    await chat.handle_line("/as Dana Smith")
    await chat.handle_line(f"/start {code.group(1)}")

    await chat.handle_line("/as dana")

    assert out.getvalue().splitlines()[-1] == t("console.people", names="Dana Rivera, Dana Smith")
    assert chat.prompt() == "Dana Smith> "


async def test_switching_person_leaves_the_last_buttons_behind(school: DemoSchool) -> None:
    chat, out = console(school)
    await chat.handle_line("Sam: slept badly")
    await chat.handle_line("/as Grandma")
    before = len(out.getvalue().splitlines())

    await chat.handle_line("1")

    assert out.getvalue().splitlines()[before:] == [t("onboarding.stranger")]


async def test_piped_lines_are_echoed_after_the_prompt_until_quit(school: DemoSchool) -> None:
    chat, out = console(school)

    await run_console(chat, io.StringIO("/as Dana\n/quit\n/log Sam\n"))

    assert out.getvalue().splitlines() == [
        "Ms. Ortiz> /as Dana",
        "You are now Dana Rivera.",
        "Dana Rivera> /quit",
        "Bye!",
    ]


def test_the_demo_week_reaches_a_spanish_speaking_father_in_spanish(tmp_path: Path) -> None:
    week = run_demo(tmp_path / "demo.db", SPANISH_WEEK)

    checkins = week.answer("Ms. Ortiz", "/tick checkin")
    waiting = week.answer("Ms. Ortiz", "/as Luis")
    tapped = week.answer("Luis Rivera", "1")
    summaries = "\n".join(week.answer("Ms. Ortiz", "/tick summary"))

    assert (
        checkins[checkins.index(t("console.letter", name="Luis Rivera")) + 1]
        == "¿Cómo estuvo la semana de Sam Rivera en casa?"
    )
    assert (
        checkins[checkins.index(t("console.letter", name="Dana Rivera")) + 1]
        == "How was Sam Rivera's week at home?"
    )
    assert waiting[0] == translate("es", "console.now", name="Luis Rivera")
    assert "[1] Buena semana  [2] Regular  [3] Semana difícil" in waiting[-1]
    assert tapped == [translate("es", "checkin.thanks", student="Sam Rivera")]
    his = summaries.split(t("console.letter", name="Luis Rivera"))[1].split("→")[0]
    hers = summaries.split(t("console.letter", name="Ms. Ortiz"))[1].split("→")[0]
    assert "Sam Rivera — la semana del " in his
    assert "Esta semana Sam Rivera tuvo un logro." in his
    assert "Ms. Ortiz (escuela):\n  │ Sam read a whole page aloud" in his
    assert "Luis Rivera (casa):\n  │ Comió bien y durmió toda la noche" in his
    assert "Sam Rivera had 1 win this week." in hers
    assert "Luis Rivera (home):\n  │ a good week at home" in hers
    assert "Luis Rivera (home):\n  │ Comió bien y durmió toda la noche" in hers


# --- the demo's email parent ----------------------------------------------------------------


async def test_the_email_parent_reads_her_check_in_letter_and_answers_by_reply(
    school: DemoSchool,
) -> None:
    async with school.db.session() as session:
        await seed_email_parent(Store(session))
    chat, out = console(school)
    await chat.handle_line("/tick checkin")
    out.truncate(0)
    out.seek(0)

    await chat.handle_line("/as Rosa")

    shown = out.getvalue()
    assert t("console.now", name="Rosa Chen") in shown
    assert t("console.mail_hint") in shown
    assert (
        t(
            "console.mail",
            address="rosa.chen@example.org",
            subject="How was Maya Chen's week at home?",
        )
        in shown
    )
    assert "Reply with one word: GOOD, MIXED or TOUGH." in shown
    assert "Maple Elementary (demo) added this address" in shown and "(your role: parent)" in shown

    out.truncate(0)
    out.seek(0)
    await chat.handle_line("Tough - she missed her sister all week")

    answer = out.getvalue()
    assert t("checkin.added", student="Maya Chen") in answer
    async with school.db.session() as session:
        entries = (await session.exec(select(Entry).order_by(col(Entry.id)))).all()
    assert [(e.mood, e.text) for e in entries[-2:]] == [
        ("tough", t("checkin.mood.tough")),
        (None, "she missed her sister all week"),
    ]


async def test_the_email_parents_reply_without_a_mood_word_is_her_check_ins_note(
    school: DemoSchool,
) -> None:
    async with school.db.session() as session:
        await seed_email_parent(Store(session))
    chat, out = console(school)
    await chat.handle_line("/tick checkin")
    await chat.handle_line("/as Rosa")

    await chat.handle_line("She loved the library trip")

    assert "Added to Maya Chen's check-in" in out.getvalue()
    async with school.db.session() as session:
        last = (await session.exec(select(Entry).order_by(col(Entry.id).desc()))).first()
    assert last is not None and last.text == "She loved the library trip"
    assert last.kind == EntryKind.NOTE and last.setting == Setting.HOME


async def test_a_signed_note_in_reply_to_the_check_in_is_the_note_it_says(
    school: DemoSchool,
) -> None:
    async with school.db.session() as session:
        await seed_email_parent(Store(session))
    chat, _ = console(school)
    await chat.handle_line("/tick checkin")
    await chat.handle_line("/as Rosa")

    await chat.handle_line("+ Maya tied her shoes by herself")

    async with school.db.session() as session:
        last = (await session.exec(select(Entry).order_by(col(Entry.id).desc()))).first()
    assert last is not None and last.kind == EntryKind.WIN
    assert last.text == "Maya tied her shoes by herself"
