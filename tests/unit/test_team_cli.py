"""Taking access away from the terminal, as a school's office does it: `tandem team`, `tandem
invite list|revoke`, `tandem student archive`, `tandem admin`, `tandem people merge`, and whom
`tandem status` says the bot cannot reach."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from adapters.cli import app
from bot.events import Sender
from storage.db import Database
from storage.models import (
    AccessAction,
    AccessLog,
    Account,
    Outbox,
    PendingAction,
    Platform,
    Role,
    Student,
    TeamChange,
    Via,
)
from storage.stores import Store
from tests.unit.test_cli import (  # noqa: F401  (db_url: the autouse fixture, a fresh file)
    AUNT,
    KEYED,
    TEACHER,
    UNCLE,
    Bot,
    Run,
    db_url,
    near,
    t,
    tandem,
)

DANA = Sender(Platform.CONSOLE, "", "dana", "Dana")


def join(url: str, sender: Sender, role: str, student: str = "Sam") -> int:
    """The sender joins the student's team with an invite from the office; their person id."""
    code = tandem("invite", "--student", student, "--role", role, "--json").json["code"]
    Bot(url, KEYED).say(sender, f"/start {code}")
    members = tandem("team", "list", "--student", student, "--json").json["members"]
    return next(m["person_id"] for m in members if m["name"] == sender.display_name)


@pytest.fixture
def oak(db_url: str) -> str:  # noqa: F811
    """Oak School: Sam, with Mr. Park teaching him and Aunt Jo his parent; Maya, no team."""
    tandem("init", "--school", "Oak School", "--timezone", "America/New_York", "--json")
    tandem("student", "add", "Sam", "--json")
    tandem("student", "add", "Maya", "--json")
    join(db_url, TEACHER, "teacher")
    join(db_url, AUNT, "parent")
    return db_url


def rows(url: str, model: type[Any], *where: Any) -> list[Any]:
    async def read() -> list[Any]:
        db = Database(url)
        try:
            async with db.session() as session:
                return list((await session.exec(select(model).where(*where))).all())
        finally:
            await db.dispose()

    return asyncio.run(read())


def person_of(url: str, sender: Sender) -> int:
    [account] = rows(url, Account, Account.external_id == sender.external_id)
    return int(account.person_id)


# --- tandem team list -----------------------------------------------------------------------------


def test_team_list_names_each_member_with_role_platforms_and_when_they_joined(oak: str) -> None:
    listed = tandem("team", "list", "--student", "Sam", "--json").json

    assert listed == {
        "student": "Sam",
        "members": [
            {
                "person_id": person_of(oak, TEACHER),
                "name": "Mr. Park",
                "role": "teacher",
                "platforms": ["console"],
                "joined_at": listed["members"][0]["joined_at"],
            },
            {
                "person_id": person_of(oak, AUNT),
                "name": "Aunt Jo",
                "role": "parent",
                "platforms": ["console"],
                "joined_at": listed["members"][1]["joined_at"],
            },
        ],
    }
    assert all(near(m["joined_at"], datetime.now(UTC)) for m in listed["members"])


def test_team_list_of_a_student_with_no_team_is_empty(oak: str) -> None:
    listed = tandem("team", "list", "--student", "Maya", "--json").json

    assert listed == {"student": "Maya", "members": []}
    assert tandem("team", "list", "--student", "Maya").stdout.strip() == "Nobody yet."


def test_team_list_of_an_unknown_student_is_a_one_line_error(oak: str) -> None:
    assert "Zed" in tandem("team", "list", "--student", "Zed", "--json").error


# --- tandem team remove ---------------------------------------------------------------------------


def test_team_remove_prints_who_left_in_which_role(oak: str) -> None:
    aunt = person_of(oak, AUNT)

    removed = tandem("team", "remove", "--student", "Sam", "--person", str(aunt), "--json")

    assert removed.json == {"removed": {"person_id": aunt, "role": "parent"}}
    members = tandem("team", "list", "--student", "Sam", "--json").json["members"]
    assert [m["name"] for m in members] == ["Mr. Park"]


def test_a_removed_parent_reads_nothing_more(oak: str) -> None:
    Bot(oak, KEYED).say(TEACHER, "+ Sam read a whole page aloud")
    assert "whole page" in Bot(oak, KEYED).say(AUNT, "/log Sam")

    tandem("team", "remove", "--student", "Sam", "--person", str(person_of(oak, AUNT)))

    said = Bot(oak, KEYED).say(AUNT, "/log Sam")
    assert "whole page" not in said and said == t("students.not_found")


def test_team_remove_cancels_their_queued_letters_and_buttons_about_the_student(
    oak: str,
) -> None:
    tandem("jobs", "checkin", "--json")
    aunt = person_of(oak, AUNT)
    assert rows(oak, Outbox, Outbox.person_id == aunt)
    assert rows(oak, PendingAction, PendingAction.person_id == aunt)

    tandem("team", "remove", "--student", "Sam", "--person", str(aunt))

    assert rows(oak, Outbox, Outbox.person_id == aunt) == []
    assert rows(oak, PendingAction, PendingAction.person_id == aunt) == []


def test_team_remove_of_someone_not_on_the_team_changes_nothing(oak: str) -> None:
    run = tandem("team", "remove", "--student", "Maya", "--person", str(person_of(oak, AUNT)))

    assert "not on Maya's team" in run.error


# --- tandem invite list | revoke ------------------------------------------------------------------


def test_invite_list_shows_unused_invites_and_never_their_codes(oak: str) -> None:
    code = tandem("invite", "--student", "Sam", "--role", "parent", "--json").json["code"]

    listed = tandem("invite", "list", "--student", "Sam", "--json")

    [invite] = listed.json["invites"]
    assert invite == {
        "id": invite["id"],
        "student": "Sam",
        "label": None,
        "role": "parent",
        "expires_at": invite["expires_at"],
    }
    assert near(invite["expires_at"], datetime.now(UTC) + timedelta(hours=168))
    assert code not in listed.stdout and "hash" not in listed.stdout


def test_invite_list_of_the_school_includes_the_admin_invite(oak: str) -> None:
    tandem("invite", "--student", "Maya", "--role", "teacher")

    invites = tandem("invite", "list", "--json").json["invites"]

    # init's admin invite was never used; Sam's were, and are not listed.
    assert [(i["student"], i["role"]) for i in invites] == [(None, "admin"), ("Maya", "teacher")]


def test_a_revoked_invite_no_longer_works(oak: str) -> None:
    code = tandem("invite", "--student", "Sam", "--role", "parent", "--json").json["code"]

    revoked = tandem("invite", "revoke", code, "--json")

    assert revoked.json == {"revoked": True}
    assert Bot(oak, KEYED).say(UNCLE, f"/start {code}") == t("onboarding.code_unknown")
    assert tandem("invite", "list", "--student", "Sam", "--json").json == {"invites": []}


def test_an_invite_may_be_revoked_by_its_listed_id(oak: str) -> None:
    code = tandem("invite", "--student", "Sam", "--role", "parent", "--json").json["code"]
    [invite] = tandem("invite", "list", "--student", "Sam", "--json").json["invites"]

    assert tandem("invite", "revoke", "--id", str(invite["id"]), "--json").json == {"revoked": True}
    assert Bot(oak, KEYED).say(UNCLE, f"/start {code}") == t("onboarding.code_unknown")


def test_revoking_an_unknown_code_is_a_one_line_error(oak: str) -> None:
    assert "no invite with that code" in tandem("invite", "revoke", "not-a-code").error


def test_a_used_invite_cannot_be_revoked_the_person_is_removed_instead(oak: str) -> None:
    code = tandem("invite", "--student", "Sam", "--role", "parent", "--json").json["code"]
    Bot(oak, KEYED).say(UNCLE, f"/start {code}")

    assert "tandem team remove" in tandem("invite", "revoke", code).error


def test_invite_still_makes_codes_without_a_subcommand(oak: str) -> None:
    made = tandem("invite", "--student", "Sam", "--role", "teacher", "--json").json

    assert set(made) == {"code", "link", "expires_at"}


# --- tandem student archive | unarchive -----------------------------------------------------------


def test_archive_and_unarchive_print_the_student(oak: str) -> None:
    archived = tandem("student", "archive", "Sam", "--json").json
    back = tandem("student", "unarchive", "Sam", "--json").json

    assert archived == {"id": archived["id"], "name": "Sam", "archived": True}
    assert back == {"id": archived["id"], "name": "Sam", "archived": False}


def test_an_archived_student_takes_no_notes_but_stays_readable_and_exportable(oak: str) -> None:
    Bot(oak, KEYED).say(TEACHER, "+ Sam read a whole page aloud")
    tandem("student", "archive", "Sam")

    note = Bot(oak, KEYED).say(TEACHER, "+ Sam counted to ten")
    log = Bot(oak, KEYED).say(AUNT, "/log Sam")
    exported = tandem("export", "--student", "Sam", "--format", "json", "--json").json

    assert note == t("student.archived", student="Sam")
    assert "whole page" in log and "counted" not in log
    assert exported["entries"] == 1


def test_an_archived_student_gets_no_checkins_or_summaries(oak: str) -> None:
    tandem("student", "archive", "Sam")

    queued = tandem("jobs", "checkin", "--json").json["queued"]
    summaries = tandem("jobs", "summary", "--json").json["queued"]

    assert queued == {"Oak School": 0} and summaries == {"Oak School": 0}


def test_archiving_cancels_the_queued_checkins(oak: str) -> None:
    tandem("jobs", "checkin")

    tandem("student", "archive", "Sam")

    assert [row.kind for row in rows(oak, Outbox)] == []


def test_a_student_is_not_added_again_under_the_name_of_an_archived_one(oak: str) -> None:
    tandem("student", "archive", "Sam")

    assert "tandem student unarchive" in tandem("student", "add", "Sam").error


# --- tandem admin add | remove --------------------------------------------------------------------


def test_admin_add_gives_the_school_and_admin_remove_takes_it_back(oak: str) -> None:
    park = person_of(oak, TEACHER)
    tandem("admin", "add", "--person", str(park))
    aunt = person_of(oak, AUNT)

    added = tandem("admin", "add", "--person", str(aunt), "--json").json
    maya = Bot(oak, KEYED).say(AUNT, "/log Maya")
    removed = tandem("admin", "remove", "--person", str(aunt), "--json").json

    assert added == {"person_id": aunt, "admin": True}
    assert maya == t("log.empty", student="Maya")
    assert removed == {"person_id": aunt, "admin": False}
    assert Bot(oak, KEYED).say(AUNT, "/log Maya") == t("students.not_found")


def test_the_last_admin_of_a_school_cannot_be_removed(oak: str) -> None:
    park = person_of(oak, TEACHER)
    tandem("admin", "add", "--person", str(park))

    run = tandem("admin", "remove", "--person", str(park), "--json")

    assert run.error == (
        "tandem: Mr. Park is the last admin of Oak School: make someone else an admin first "
        "(tandem admin add --person ID)"
    )


def test_admin_for_an_unknown_person_is_a_one_line_error(oak: str) -> None:
    assert "--person: no person with id 999" in tandem("admin", "add", "--person", "999").error


# --- tandem people merge --------------------------------------------------------------------------


def test_people_merge_shows_both_sides_and_merges_once_confirmed(oak: str) -> None:
    join(oak, DANA, "parent", "Maya")
    keep, drop = person_of(oak, AUNT), person_of(oak, DANA)

    run = tandem("people", "merge", "--keep", str(keep), "--drop", str(drop), "--yes", "--json")

    assert run.json == {"kept": keep, "dropped": drop, "students": 1, "entries": 0}
    assert f"Keep: #{keep} Aunt Jo · console · Sam (parent)" in run.stderr
    assert f"Drop: #{drop} Dana · console · Maya (parent)" in run.stderr
    assert person_of(oak, DANA) == keep
    assert Bot(oak, KEYED).say(DANA, "/log Sam") == t("log.empty", student="Sam")


def test_people_merge_without_yes_asks_and_a_no_changes_nothing(oak: str) -> None:
    join(oak, DANA, "parent", "Maya")
    keep, drop = person_of(oak, AUNT), person_of(oak, DANA)

    run = merge_answering("n\n", keep, drop)

    assert run.exit_code == 2 and "nothing changed" in run.stderr
    assert person_of(oak, DANA) == drop


def merge_answering(answer: str, keep: int, drop: int) -> Run:
    result = CliRunner().invoke(
        app, ["people", "merge", "--keep", str(keep), "--drop", str(drop)], input=answer
    )
    return Run(result.exit_code, result.stdout, result.stderr)


def test_people_on_one_team_in_different_roles_are_not_merged(oak: str) -> None:
    join(oak, DANA, "teacher")

    keep, drop = person_of(oak, AUNT), person_of(oak, DANA)

    run = tandem("people", "merge", "--keep", str(keep), "--drop", str(drop), "--yes")

    assert "different roles" in run.error


# --- tandem status: whom the bot cannot reach -----------------------------------------------------


def test_status_lists_who_blocked_the_bot_and_who_never_joined(
    oak: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deactivate(oak, AUNT)
    monkeypatch.setenv("TANDEM_SECURITY_INVITE_TTL_HOURS", "1")
    tandem("invite", "--student", "Maya", "--role", "parent")

    unreachable = tandem("status", "--json").json["unreachable"]["Oak School"]

    assert unreachable["blocked"] == [
        {"person_id": person_of(oak, AUNT), "name": "Aunt Jo", "students": ["Sam"]}
    ]
    assert [(i["student"], i["role"], i["expired"]) for i in unreachable["never_joined"]] == [
        ("Maya", "parent", False),
        (None, "admin", False),
    ]


def deactivate(url: str, sender: Sender) -> None:
    """The person blocked the bot: the sender marked their account inactive."""

    async def write() -> None:
        db = Database(url)
        try:
            async with db.session() as session:
                account = await Store(session).people.account(
                    sender.platform, sender.workspace, sender.external_id
                )
                assert account is not None and account.id is not None
                await Store(session).people.deactivate_account(account.id)
        finally:
            await db.dispose()

    asyncio.run(write())


def test_status_says_in_words_whom_to_call(oak: str) -> None:
    deactivate(oak, AUNT)

    shown = tandem("status").stdout

    assert "Oak School, unreachable:" in shown
    assert f"#{person_of(oak, AUNT)} Aunt Jo blocked the bot (Sam)" in shown
    assert "someone invited as admin for the school never joined (open until" in shown


def test_the_secret_key_is_not_needed_to_list_invites(
    oak: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TANDEM_SECRET_KEY")

    assert "invites" in tandem("invite", "list", "--json").json


def test_archiving_withdraws_the_students_unused_invites(oak: str) -> None:
    code = tandem("invite", "--student", "Sam", "--role", "parent", "--json").json["code"]

    tandem("student", "archive", "Sam")

    assert Bot(oak, KEYED).say(UNCLE, f"/start {code}") == t("onboarding.code_unknown")
    assert "archived" in tandem("invite", "--student", "Sam", "--role", "parent").error


# --- what the office changed is in the access log ---------------------------------------------


def team_log(url: str) -> list[tuple[str, int | None, int | None, str | None, str]]:
    found = rows(url, AccessLog, AccessLog.action == AccessAction.TEAM)
    return [(row.what, row.student_id, row.subject_id, row.role, row.via) for row in found]


def test_each_change_the_office_makes_is_logged_by_the_school_office(oak: str) -> None:
    sam_id = tandem("student", "archive", "Sam", "--json").json["id"]
    tandem("student", "unarchive", "Sam")
    code = tandem("invite", "--student", "Sam", "--role", "parent", "--json").json["code"]
    tandem("invite", "revoke", code)
    park = person_of(oak, TEACHER)
    tandem("admin", "add", "--person", str(park))
    aunt = person_of(oak, AUNT)
    tandem("team", "remove", "--student", "Sam", "--person", str(aunt))

    logged = team_log(oak)

    assert logged[-6:] == [
        (TeamChange.ARCHIVED, sam_id, None, None, Via.CLI),
        (TeamChange.UNARCHIVED, sam_id, None, None, Via.CLI),
        (TeamChange.INVITED, sam_id, None, Role.PARENT, Via.CLI),
        (TeamChange.REVOKED, sam_id, None, Role.PARENT, Via.CLI),
        (TeamChange.ADMIN_ADDED, None, park, Role.ADMIN, Via.CLI),
        (TeamChange.REMOVED, sam_id, aunt, Role.PARENT, Via.CLI),
    ]


def test_a_merge_is_logged_on_every_student_either_person_could_see(oak: str) -> None:
    join(oak, DANA, "parent", "Maya")
    keep, drop = person_of(oak, AUNT), person_of(oak, DANA)

    tandem("people", "merge", "--keep", str(keep), "--drop", str(drop), "--yes")

    merged = [row for row in team_log(oak) if row[0] == TeamChange.MERGED]
    sam, maya = (student_id(oak, name) for name in ("Sam", "Maya"))
    assert sorted(merged) == sorted(
        [
            (TeamChange.MERGED, sam, keep, None, Via.CLI),
            (TeamChange.MERGED, maya, keep, None, Via.CLI),
        ]
    )


def student_id(url: str, name: str) -> int:
    [student] = rows(url, Student, Student.name == name)
    return int(student.id)
