"""Invite links before the first `tandem run`: the CLI asks Telegram's getMe for the bot's name
itself (here the fake Bot API, which checks every call against the spec); when Telegram does
not answer, the code is printed all the same and one line on stderr says why there is no link."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.fake_telegram import BOT_USERNAME, BotApiSpec, FakeTelegram
from tests.unit.test_cli import SECRET_KEY, Run, tandem


@pytest.fixture
async def fake(specs_dir: Path) -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    assert not fake.violations, fake.violations


@pytest.fixture(autouse=True)
def telegram_enabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh database in a fresh folder; Telegram on; no bot username configured."""
    for name in list(os.environ):
        if name.startswith("TANDEM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'tandem.db'}")
    monkeypatch.setenv("TANDEM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("TANDEM_TELEGRAM_ENABLED", "true")


def telegram_at(monkeypatch: pytest.MonkeyPatch, base_url: str, token: str) -> None:
    monkeypatch.setenv("TANDEM_TELEGRAM_BASE_URL", base_url)
    monkeypatch.setenv("TANDEM_TELEGRAM_TOKEN", token)


async def cli(*args: str) -> Run:
    """`tandem ARGS`, off the event loop the fake Bot API answers on."""
    return await asyncio.to_thread(tandem, *args)


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


INIT = ("init", "--school", "Oak School", "--timezone", "America/New_York", "--json")


async def test_init_before_the_first_run_prints_the_admin_invite_as_a_telegram_link(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    telegram_at(monkeypatch, fake.base_url, fake.token)

    run = await cli(*INIT)

    invite = run.json
    assert invite["link"] == f"https://t.me/{BOT_USERNAME}?start={invite['code']}"
    assert run.stderr == ""
    assert [call.method for call in fake.calls] == ["getMe"]


async def test_later_invites_carry_the_link_without_asking_telegram_again(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    telegram_at(monkeypatch, fake.base_url, fake.token)
    await cli(*INIT)
    await cli("student", "add", "Sam")

    invite = (await cli("invite", "--student", "Sam", "--role", "parent", "--json")).json

    assert invite["link"] == f"https://t.me/{BOT_USERNAME}?start={invite['code']}"
    assert len(fake.calls_of("getMe")) == 1


async def test_an_unreachable_telegram_still_prints_the_code_and_says_why_there_is_no_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    telegram_at(monkeypatch, f"http://127.0.0.1:{closed_port()}/bot", "123456:secret-token")

    run = await cli(*INIT)

    invite = run.json
    assert invite["link"] is None and len(invite["code"]) >= 22
    assert run.stderr.splitlines() == [
        "tandem: no invite link until `tandem run` has started: "
        "Telegram cannot be reached at telegram.base_url"
    ]


async def test_a_refused_token_is_named_without_printing_it(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "999999:not-the-bots-token"
    telegram_at(monkeypatch, fake.base_url, wrong)
    await cli(*INIT)
    await cli("student", "add", "Sam")

    run = await cli("invite", "--student", "Sam", "--role", "parent", "--json")

    assert run.json["link"] is None
    assert run.stderr.splitlines() == [
        "tandem: no invite link until `tandem run` has started: Telegram refused telegram.token"
    ]
    assert wrong not in run.stdout + run.stderr
