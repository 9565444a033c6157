"""`tandem roster import FILE.csv`: students and invites from a school's roster, all or nothing,
and the same again changes nothing."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pytest

from bot.events import Sender
from storage.models import Platform
from tests.conftest import welcome
from tests.unit.test_cli import KEYED, SECRET_KEY, Bot, t, tandem, tandem_process

ROSTER = """student,adult,role,contact
Sam Rivera,Dana Rivera,parent,mom - Telegram
Sam Rivera,Mr. Park,teacher,room 12
Maya Chen,Lee Chen,Parent,
Noah Bell,,,
"""


@pytest.fixture(autouse=True)
def oak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Oak School, set up with `tandem init`, in a fresh folder and database."""
    for name in list(os.environ):
        if name.startswith("TANDEM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'tandem.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_SECRET_KEY", SECRET_KEY)
    tandem("init", "--school", "Oak School", "--timezone", "America/New_York")
    return url


def roster(tmp_path: Path, text: str = ROSTER, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def issued(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_import_adds_students_and_writes_the_invites_beside_the_roster(tmp_path: Path) -> None:
    run = tandem("roster", "import", str(roster(tmp_path)), "--json")

    assert run.json == {
        "students": 3,
        "invites": 3,
        "already_invited": 0,
        "out": str(tmp_path / "roster-invites.csv"),
    }
    out = tmp_path / "roster-invites.csv"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = issued(out)
    assert [(r["line"], r["student"], r["adult"], r["role"], r["contact"]) for r in rows] == [
        ("2", "Sam Rivera", "Dana Rivera", "parent", "mom - Telegram"),
        ("3", "Sam Rivera", "Mr. Park", "teacher", "room 12"),
        ("4", "Maya Chen", "Lee Chen", "parent", ""),
    ]
    assert all(len(row["code"]) >= 22 and row["expires_at"] for row in rows)
    assert tandem("status", "--json").json["students"] == 3


def test_a_name_written_as_a_formula_reaches_the_codes_file_as_plain_text(
    tmp_path: Path,
) -> None:
    hostile = (
        "student,adult,role,contact\n"
        '"=HYPERLINK(""http://x.invalid"",""Sam"")",@SUM(A1),parent,+1 555 0100\n'
    )

    tandem("roster", "import", str(roster(tmp_path, hostile)))

    [row] = issued(tmp_path / "roster-invites.csv")
    # A spreadsheet shows a cell that starts with an apostrophe as text: nothing runs.
    assert row["student"] == '\'=HYPERLINK("http://x.invalid","Sam")'
    assert (row["adult"], row["contact"]) == ("'@SUM(A1)", "'+1 555 0100")
    assert not row["code"].startswith("'")


def test_the_codes_go_only_to_the_file(tmp_path: Path) -> None:
    run = tandem("roster", "import", str(roster(tmp_path)), "--json")

    codes = [row["code"] for row in issued(tmp_path / "roster-invites.csv")]
    assert all(code not in run.stdout + run.stderr for code in codes)


def test_an_imported_code_puts_its_adult_on_the_right_team(oak: str, tmp_path: Path) -> None:
    tandem("roster", "import", str(roster(tmp_path)))
    lee = next(r for r in issued(tmp_path / "roster-invites.csv") if r["adult"] == "Lee Chen")
    bot = Bot(oak, KEYED)
    parent = Sender(Platform.CONSOLE, "", "lee", "Lee Chen")

    joined = bot.say(parent, f"/start {lee['code']}")

    assert joined == welcome("onboarding.welcome_parent", name="Lee Chen", student="Maya Chen")
    assert bot.say(parent, "/log Sam") == t("students.not_found")


def test_importing_the_same_roster_again_adds_nothing(tmp_path: Path) -> None:
    path = roster(tmp_path)
    tandem("roster", "import", str(path))

    again = tandem("roster", "import", str(path), "--json")

    assert again.json == {"students": 0, "invites": 0, "already_invited": 3, "out": None}
    assert tandem("status", "--json").json["students"] == 3
    assert not (tmp_path / "roster-invites-2.csv").exists()


def test_a_grown_roster_adds_only_the_new_rows_in_a_new_file(tmp_path: Path) -> None:
    tandem("roster", "import", str(roster(tmp_path)))
    grown = roster(tmp_path, ROSTER + "Noah Bell,Ada Bell,parent,\n")

    run = tandem("roster", "import", str(grown), "--json")

    assert run.json["students"] == 0 and run.json["invites"] == 1
    assert run.json["out"] == str(tmp_path / "roster-invites-2.csv")
    assert [row["adult"] for row in issued(tmp_path / "roster-invites-2.csv")] == ["Ada Bell"]


def test_students_already_on_the_roster_are_reused(tmp_path: Path) -> None:
    tandem("student", "add", "Sam Rivera")

    run = tandem("roster", "import", str(roster(tmp_path)), "--json")

    assert run.json["students"] == 2
    assert tandem("status", "--json").json["students"] == 3


def test_broken_rows_are_named_by_line_and_nothing_is_written(tmp_path: Path) -> None:
    broken = roster(
        tmp_path,
        "student,adult,role,contact\n"
        "Sam Rivera,Dana Rivera,parent,\n"
        ",Lee Chen,parent,\n"
        "Maya Chen,Lee Chen,boss,\n"
        "+Zed,,,\n"
        "Noah Bell,Ada Bell,parent,x,extra\n"
        "Ivy Lu,,parent,\n",
    )

    run = tandem("roster", "import", str(broken), "--json")

    assert run.error == (
        "tandem: roster.csv: 5 bad row(s), nothing imported: line 3: no student name; "
        "line 4: role must be parent or teacher, not 'boss'; "
        "line 5: a student's name can't start with '+'; "
        "line 6: expected at most 4 columns, found 5; "
        "line 7: a role or contact without an adult's name"
    )
    assert tandem("status", "--json").json["students"] == 0
    assert not (tmp_path / "roster-invites.csv").exists()


def test_an_unclosed_quote_is_named_by_the_line_it_starts_on(tmp_path: Path) -> None:
    broken = roster(tmp_path, 'student\nSam Rivera\n"Maya Chen\nNoah Bell\n')

    run = tandem("roster", "import", str(broken))

    assert run.error.startswith("tandem: roster.csv: 1 bad row(s), nothing imported: line 3:")
    assert tandem("status", "--json").json["students"] == 0


def test_the_same_adult_twice_with_two_roles_is_a_bad_row(tmp_path: Path) -> None:
    both = roster(tmp_path, "Sam Rivera,Dana Rivera,parent\nSam Rivera,dana rivera,teacher\n")

    run = tandem("roster", "import", str(both))

    assert "line 2: dana rivera is already listed for Sam Rivera as parent (line 1)" in run.error


def test_a_roster_without_a_header_is_read_in_column_order(tmp_path: Path) -> None:
    run = tandem(
        "roster", "import", str(roster(tmp_path, "Sam Rivera,Dana Rivera,parent\n")), "--json"
    )

    assert (run.json["students"], run.json["invites"]) == (1, 1)


def test_an_unknown_header_column_is_refused(tmp_path: Path) -> None:
    run = tandem("roster", "import", str(roster(tmp_path, "student,phone\nSam,555\n")))

    assert "line 1: unknown column 'phone'" in run.error


def test_markup_and_invisible_characters_in_names_are_cleaned_not_run(tmp_path: Path) -> None:
    text = "student,adult,role\nSam\u202e Rivera,<b>Dana</b>\u200b,parent\n"

    tandem("roster", "import", str(roster(tmp_path, text)))

    [row] = issued(tmp_path / "roster-invites.csv")
    assert (row["student"], row["adult"]) == ("Sam Rivera", "<b>Dana</b>")


def test_an_existing_out_file_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    out.write_text("keep me", encoding="utf-8")

    run = tandem("roster", "import", str(roster(tmp_path)), "--out", str(out))

    assert "exists" in run.error
    assert out.read_text(encoding="utf-8") == "keep me"
    assert tandem("status", "--json").json["students"] == 0


def test_invite_codes_are_never_written_through_a_symbolic_link(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "shared.csv"
    link = tmp_path / "roster-invites.csv"
    link.symlink_to(elsewhere)

    run = tandem("roster", "import", str(roster(tmp_path)))

    assert run.exit_code == 2
    assert not elsewhere.exists()
    assert tandem("status", "--json").json["students"] == 0


def test_a_roster_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes("student\nJos\xe9\n".encode("latin-1"))

    run = tandem("roster", "import", str(path))

    assert "not UTF-8" in run.error


def test_an_empty_roster_is_refused(tmp_path: Path) -> None:
    run = tandem("roster", "import", str(roster(tmp_path, "student,adult,role,contact\n\n")))

    assert "no rows to import" in run.error


def test_a_spreadsheets_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(("\ufeff" + ROSTER).encode("utf-8"))

    run = tandem("roster", "import", str(path), "--json")

    assert run.json["students"] == 3


def test_the_installed_command_prints_json_last_and_no_progress_bar(tmp_path: Path) -> None:
    run = tandem_process("roster", "import", str(roster(tmp_path)), "--json", cwd=tmp_path)

    assert run.json["invites"] == 3
    assert run.stderr == ""
