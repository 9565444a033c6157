"""The `tandem` admin commands as a school IT person runs them: JSON last, one-line errors.

Most commands run in-process through Typer's CliRunner; the must-haves also run the
installed `tandem` script in a child process, exactly as a shell would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.bootstrap import build_router
from adapters.cli import app
from adapters.cli_run import demo_settings
from bot.config import SecurityConfig, Settings
from bot.context import Clock, SystemClock
from bot.dispatch import Dispatcher
from bot.events import Chat, IncomingMessage, Sender
from bot.i18n import translate
from storage.db import Database
from storage.models import Outbox, OutboxStatus, Platform
from storage.stores import Store
from tests.conftest import FakeClock, welcome

TANDEM = shutil.which("tandem", path=str(Path(sys.executable).parent)) or shutil.which("tandem")
SECRET = "cli-and-bot-share-this-key-long-enough-to-use"
# The key every test's `tandem` runs with: commands that make codes refuse to run without one.
SECRET_KEY = "tests-only-secret-key-never-used-in-production"
KEYED = Settings(security=SecurityConfig(secret_key=SECRET_KEY))

AUNT = Sender(Platform.CONSOLE, "", "aunt-jo", "Aunt Jo")
UNCLE = Sender(Platform.CONSOLE, "", "uncle-bo", "Uncle Bo")
TEACHER = Sender(Platform.CONSOLE, "", "mr-park", "Mr. Park")


def t(key: str, **values: object) -> str:
    return translate("en", key, **values)


@dataclass
class Run:
    """What one `tandem ...` printed, and how it exited."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        assert self.exit_code == 0, self
        result: dict[str, Any] = json.loads(self.stdout.splitlines()[-1])
        return result

    @property
    def error(self) -> str:
        """The one line an admin sees when a command refuses."""
        assert self.exit_code == 2, self
        assert self.stdout == "", self
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("tandem: "), self.stderr
        return lines[0]


def tandem(*args: str) -> Run:
    """`tandem ARGS` in this process, with this process's environment and working directory."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code in (0, 2), f"{result.exception!r}\n{result.output}"
    return Run(result.exit_code, result.stdout, result.stderr)


def tandem_process(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """`tandem ARGS` as its own process: the installed console script, as a shell runs it."""
    assert TANDEM, "the `tandem` script is not installed: pip install -e ."
    done = subprocess.run(
        [TANDEM, *args],
        cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


class Bot:
    """The chat core on the database the CLI wrote, driven the way an adapter drives it."""

    _ids = itertools.count(1)

    def __init__(self, url: str, settings: Settings, clock: Clock | None = None) -> None:
        self.url = url
        self.settings = settings
        self.clock = clock or SystemClock()

    def say(self, sender: Sender, text: str) -> str:
        async def send() -> str:
            db = Database(self.url)
            try:
                dispatcher = Dispatcher(db, self.settings, self.clock, build_router())
                message = IncomingMessage(
                    sender, Chat(sender.external_id), text, f"cli-test:{next(self._ids)}"
                )
                return "\n".join(reply.text for reply in await dispatcher.dispatch(message))
            finally:
                await db.dispose()

        return asyncio.run(send())


@pytest.fixture(autouse=True)
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite file for each test; no stray TANDEM_* settings or ./tandem.toml."""
    for name in list(os.environ):
        if name.startswith("TANDEM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'tandem.db'}"
    monkeypatch.setenv("TANDEM_DATABASE_URL", url)
    monkeypatch.setenv("TANDEM_SECRET_KEY", SECRET_KEY)
    return url


@pytest.fixture
def oak(db_url: str) -> str:
    """Oak School with one student, Sam, set up the way an admin would."""
    tandem("init", "--school", "Oak School", "--timezone", "America/New_York", "--json")
    tandem("student", "add", "Sam", "--json")
    return db_url


def near(when: str, expected: datetime) -> bool:
    return abs(datetime.fromisoformat(when) - expected) < timedelta(minutes=1)


# --- tandem init -----------------------------------------------------------------------------


def test_init_creates_the_schema_and_prints_an_admin_invite_link(tmp_path: Path) -> None:
    run = tandem_process(
        "init",
        "--school",
        "Oak School",
        "--timezone",
        "America/New_York",
        "--json",
        cwd=tmp_path,
        env={"TANDEM_TELEGRAM_BOT_USERNAME": "TandemBot"},
    )

    invite = run.json
    assert invite["link"] == f"https://t.me/TandemBot?start={invite['code']}"
    assert near(invite["expires_at"], datetime.now(UTC) + timedelta(hours=168))
    assert tandem("status", "--json").json["schools"] == 1


def test_init_without_a_bot_username_prints_a_null_link() -> None:
    invite = tandem(
        "init", "--school", "Oak School", "--timezone", "America/New_York", "--json"
    ).json

    assert invite["link"] is None
    assert len(invite["code"]) >= 22  # 128 random bits, base64url
    assert "expires_at" in invite


def test_init_refuses_an_unknown_timezone() -> None:
    run = tandem("init", "--school", "Oak School", "--timezone", "Mars/Base", "--json")

    assert "--timezone" in run.error


def test_init_code_makes_its_user_an_admin(db_url: str) -> None:
    code = tandem(
        "init", "--school", "Oak School", "--timezone", "America/New_York", "--json"
    ).json["code"]

    joined = Bot(db_url, KEYED).say(TEACHER, f"/start {code}")

    assert joined == welcome("onboarding.welcome_admin", name="Mr. Park", school="Oak School")


# --- tandem student add ----------------------------------------------------------------------


def test_student_add_prints_id_and_name() -> None:
    tandem("init", "--school", "Oak School", "--timezone", "America/New_York")

    student = tandem("student", "add", "Sam", "--json").json

    assert student == {"id": student["id"], "name": "Sam"}
    assert isinstance(student["id"], int)


def test_student_add_refuses_a_name_already_on_the_roster(oak: str) -> None:
    run = tandem("student", "add", "sam", "--json")

    assert "already a student" in run.error


def test_student_add_before_init_says_to_run_db_upgrade(tmp_path: Path) -> None:
    run = tandem_process("student", "add", "Sam", "--json", cwd=tmp_path)

    assert "tandem db upgrade" in run.error


# --- tandem invite ---------------------------------------------------------------------------


def test_invite_prints_code_link_and_expiry(oak: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_SECURITY_INVITE_TTL_HOURS", "24")

    invite = tandem("invite", "--student", "Sam", "--role", "parent", "--json").json

    assert set(invite) == {"code", "link", "expires_at"}
    assert invite["link"] is None
    assert near(invite["expires_at"], datetime.now(UTC) + timedelta(hours=24))


def test_invite_for_an_unknown_student_fails(oak: str) -> None:
    run = tandem("invite", "--student", "Zed", "--role", "parent", "--json")

    assert "Zed" in run.error


def test_invite_with_an_unknown_role_fails(oak: str) -> None:
    run = tandem("invite", "--student", "Sam", "--role", "boss", "--json")

    assert "--role" in run.error


def test_invite_for_a_parent_needs_a_student(oak: str) -> None:
    run = tandem("invite", "--role", "parent", "--json")

    assert "--student" in run.error


def test_admin_invite_needs_no_student(oak: str) -> None:
    code = tandem("invite", "--role", "admin", "--json").json["code"]

    joined = Bot(oak, KEYED).say(TEACHER, f"/start {code}")

    assert joined == welcome("onboarding.welcome_admin", name="Mr. Park", school="Oak School")


def test_invite_code_from_the_cli_works_exactly_once(
    oak: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANDEM_SECRET_KEY", SECRET)
    invite = tandem_process(
        "invite", "--student", "Sam", "--role", "parent", "--json", cwd=tmp_path
    )
    code = invite.json["code"]
    bot = Bot(oak, Settings(security=SecurityConfig(secret_key=SECRET)))

    joined = bot.say(AUNT, f"/start {code}")
    again = bot.say(UNCLE, f"/start {code}")

    assert joined == welcome("onboarding.welcome_parent", name="Aunt Jo", student="Sam")
    assert again == t("onboarding.code_used")
    assert "already been used" in again
    assert bot.say(AUNT, "/log Sam") == t("log.empty", student="Sam")
    assert bot.say(UNCLE, "/log Sam") == t("onboarding.stranger")


def test_invite_code_stops_working_at_the_printed_expiry(oak: str) -> None:
    invite = tandem("invite", "--student", "Sam", "--role", "parent", "--json").json
    expiry = datetime.fromisoformat(invite["expires_at"])

    late = Bot(oak, KEYED, FakeClock(expiry)).say(AUNT, f"/start {invite['code']}")

    assert late == t("onboarding.code_expired")


# --- tandem status ---------------------------------------------------------------------------


def test_status_counts_people_students_entries_this_week_and_outbox(oak: str) -> None:
    tandem("student", "add", "Maya")
    code = tandem("invite", "--student", "Sam", "--role", "teacher", "--json").json["code"]
    Bot(oak, KEYED).say(TEACHER, f"/start {code}")
    Bot(oak, KEYED).say(TEACHER, "+ Sam read a whole page aloud")
    last_month = FakeClock(datetime.now(UTC) - timedelta(days=30))
    Bot(oak, KEYED, last_month).say(TEACHER, "- Sam hit a peer at recess")
    queue(oak, TEACHER, pending=2, sent=1)

    status = tandem("status", "--json").json

    assert status == {
        "schools": 1,
        "people": 1,
        "students": 2,
        "entries_this_week": 1,
        "outbox": {"pending": 2, "sent": 1},
        "unreachable": status["unreachable"],  # tests/unit/test_team_cli.py
        "email_unreachable": [],
    }


def queue(url: str, sender: Sender, **by_status: int) -> None:
    """Outbox rows for one person (the weekly jobs write these; no scheduler needed here)."""

    async def write() -> None:
        db = Database(url)
        try:
            async with db.session() as session:
                account = await Store(session).people.account(
                    sender.platform, sender.workspace, sender.external_id
                )
                assert account is not None and account.id is not None
                for status, count in by_status.items():
                    for n in range(count):
                        session.add(
                            Outbox(
                                dedupe_key=f"test:{status}:{n}",
                                person_id=account.person_id,
                                account_id=account.id,
                                kind="summary",
                                not_before=datetime.now(UTC),
                                status=OutboxStatus(status),
                            )
                        )
        finally:
            await db.dispose()

    asyncio.run(write())


def test_status_of_an_empty_school_is_all_zero(oak: str) -> None:
    status = tandem("status", "--json").json

    assert status == {
        "schools": 1,
        "people": 0,
        "students": 1,
        "entries_this_week": 0,
        "outbox": {},
        "unreachable": {"Oak School": {"blocked": [], "never_joined": [status_admin_invite()]}},
        "email_unreachable": [],
    }


def status_admin_invite() -> dict[str, object]:
    """The admin invite `init` made, as `status` lists it until someone uses it."""
    [invite] = tandem("status", "--json").json["unreachable"]["Oak School"]["never_joined"]
    assert near(invite["expires_at"], datetime.now(UTC) + timedelta(hours=168))
    assert invite["expired"] is False
    return {**invite, "label": None, "student": None, "role": "admin"}


# --- tandem db upgrade -----------------------------------------------------------------------


def test_db_upgrade_twice_is_fine() -> None:
    first = tandem("db", "upgrade")
    second = tandem("db", "upgrade")

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert tandem("status", "--json").json["schools"] == 0


# --- security.secret_key ----------------------------------------------------------------------

MAKES_OR_CHECKS_CODES = [
    ["init", "--school", "Oak School", "--timezone", "America/New_York"],
    ["invite", "--role", "admin"],
    ["roster", "import", "roster.csv"],
    ["run"],
]


@pytest.mark.parametrize("key", ["", "x" * 31], ids=["empty", "31 characters"])
@pytest.mark.parametrize("command", MAKES_OR_CHECKS_CODES, ids=lambda c: c[0])
def test_commands_that_make_or_check_codes_refuse_a_missing_or_short_secret_key(
    command: list[str], key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANDEM_SECRET_KEY", key)
    # So that `run` has something to run, and gets as far as the key.
    monkeypatch.setenv("TANDEM_TELEGRAM_ENABLED", "true")
    monkeypatch.setenv("TANDEM_TELEGRAM_TOKEN", "123456:not-a-real-token")
    (tmp_path / "roster.csv").write_text("student,adult,role\nSam,Dana,parent\n", encoding="utf-8")

    run = tandem(*command)

    assert run.error.startswith("tandem: security.secret_key: ")
    assert 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"' in run.error
    assert not (tmp_path / "tandem.db").exists()
    assert not (tmp_path / "roster-invites.csv").exists()


def test_commands_that_make_no_code_run_without_a_secret_key(
    oak: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TANDEM_SECRET_KEY")

    assert tandem("student", "add", "Maya", "--json").json["name"] == "Maya"
    assert tandem("status", "--json").json["students"] == 2


def test_the_demo_makes_a_secret_key_of_its_own_when_none_is_set(tmp_path: Path) -> None:
    made = demo_settings(Settings(), tmp_path / "demo.db")
    kept = demo_settings(KEYED, tmp_path / "demo.db")

    assert len(made.security.secret_key) >= 32
    assert kept.security.secret_key == SECRET_KEY


# --- config and database errors --------------------------------------------------------------

EVERY_COMMAND = [
    ["demo", "--db", "demo.db"],
    ["init", "--school", "Oak School", "--timezone", "America/New_York"],
    ["db", "upgrade"],
    ["student", "add", "Sam"],
    ["invite", "--role", "admin"],
    ["status"],
]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: " ".join(c[:2]))
def test_a_missing_config_file_stops_every_command(command: list[str]) -> None:
    run = tandem(*command, "--config", "nowhere.toml")

    assert run.error == "tandem: config: file not found: nowhere.toml"


def test_a_bad_config_value_names_its_key(tmp_path: Path) -> None:
    config = tmp_path / "oak.toml"
    config.write_text('[school]\ntimezone = "Mars/Base"\n', encoding="utf-8")

    run = tandem("status", "--config", str(config))

    assert run.error.startswith("tandem: school.timezone: ")


def test_tandem_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "tandem.toml").write_text("[security]\ninvite_ttl_hours = 0\n", encoding="utf-8")

    run = tandem("db", "upgrade")

    assert run.error.startswith("tandem: security.invite_ttl_hours: ")


def test_the_environment_beats_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "tandem.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "other.db"}"\n', encoding="utf-8"
    )

    tandem("db", "upgrade")

    assert (tmp_path / "tandem.db").exists()
    assert not (tmp_path / "other.db").exists()


# aiosqlite's worker thread may answer a failed connect after the loop closed (upstream race,
# omnilib/aiosqlite PR #389); the process itself still prints one line and exits 2.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("command", [["db", "upgrade"], ["status", "--json"]])
def test_an_unopenable_database_is_a_one_line_error(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-folder" / "tandem.db"
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")

    run = tandem(*command)

    assert "cannot use the database" in run.error


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_demo_on_an_unopenable_file_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "demo.db"

    run = tandem("demo", "--db", str(missing))

    assert run.error.startswith(f"tandem: cannot use {missing}")
