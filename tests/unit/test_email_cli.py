"""`tandem invite --email` and `tandem team rekey`, as an office would run them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters import email_identity
from storage.db import Database
from storage.stores import Store
from tests.adapters.smtp_sink import SmtpSink, start_sink, text_of
from tests.unit.test_cli import SECRET_KEY, db_url, oak, tandem  # noqa: F401  (fixtures)


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    server, controller, port = start_sink()
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "FROM_ADDRESS": "Tandem at Oak <tandem@oak.example>",
        "REPLY_DOMAIN": "oak.example",
    }.items():
        monkeypatch.setenv(f"TANDEM_EMAIL_{key}", value)
    try:
        yield server
    finally:
        controller.stop()


def test_an_invite_by_email_is_sent_and_shows_no_code(oak: str, sink: SmtpSink) -> None:  # noqa: F811
    result = tandem(
        "invite", "--student", "Sam", "--role", "parent", "--email", "Dana@Example.org", "--json"
    ).json

    assert result["emailed"] == "dana@example.org"
    assert "code" not in result
    (letter,) = sink.to("dana@example.org")
    assert str(letter["Reply-To"]).startswith("tandem+")
    assert str(letter["Reply-To"]).endswith("@oak.example")
    assert "Sam" in text_of(letter)


def test_an_invite_to_a_bad_address_is_a_clear_error(oak: str, sink: SmtpSink) -> None:  # noqa: F811
    run = tandem("invite", "--student", "Sam", "--role", "parent", "--email", "dana at home")

    assert "--email" in run.error
    assert not sink.letters


def test_an_invite_the_mail_server_refuses_is_not_kept(oak: str, sink: SmtpSink) -> None:  # noqa: F811
    sink.refused.add("dana@example.org")

    run = tandem("invite", "--student", "Sam", "--role", "parent", "--email", "dana@example.org")

    assert "did not take the invite" in run.error
    invites = tandem("invite", "list", "--student", "Sam", "--json").json["invites"]
    assert not [each for each in invites if each["role"] == "parent"]


def test_rekey_refuses_a_person_not_reached_by_email(oak: str) -> None:  # noqa: F811
    run = tandem("team", "rekey", "--person", "1")

    assert "not reached by email" in run.error


def test_status_lists_an_address_the_mail_server_refused(oak: str) -> None:  # noqa: F811
    async def refuse() -> None:
        db = Database(oak)
        try:
            async with db.session() as session:
                store = Store(session)
                await email_identity.enrol(store, SECRET_KEY, "dana@example.org", datetime.now(UTC))
                await store.email.mark_unreachable(["dana@example.org"], datetime.now(UTC))
        finally:
            await db.dispose()

    asyncio.run(refuse())

    status = tandem("status", "--json").json
    assert [e["address"] for e in status["email_unreachable"]] == ["dana@example.org"]
    assert "email address refused for good: dana@example.org" in tandem("status").stdout


def test_a_roster_with_an_email_column_emails_those_invites(
    oak: str,  # noqa: F811
    sink: SmtpSink,
    tmp_path: Path,
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student,adult,role,contact,email\n"
        "Sam,Dana Rivera,parent,,dana@example.org\n"
        "Maya,Lee Chen,parent,phone 555-0100,\n",
        encoding="utf-8",
    )

    result = tandem("roster", "import", str(roster), "--json").json

    assert (result["invites"], result["emailed"]) == (2, 1)
    (letter,) = sink.letters
    assert str(letter["To"]) == "dana@example.org"
    assert "Sam" in text_of(letter)


def test_a_roster_with_a_bad_email_imports_nothing(
    oak: str,  # noqa: F811
    sink: SmtpSink,
    tmp_path: Path,
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student,adult,role,email\nSam,Dana,parent,dana at home\n", encoding="utf-8")

    run = tandem("roster", "import", str(roster))

    assert "not an email address" in run.error
    assert not sink.letters
