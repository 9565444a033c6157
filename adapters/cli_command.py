"""How every `tandem` command runs: the shared options, Tandem wired over the database, one
transaction, the --json line, and failures as one CommandError."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import DBAPIError

from adapters import platforms
from adapters.bootstrap import Tandem, bootstrap
from adapters.telegram_config import TelegramConfig
from adapters.telegram_profile import ProfileUnavailable, fetch_bot_username
from bot.config import Settings, check_secret_key
from bot.context import Context, SystemClock
from bot.errors import CommandError, Said, said
from bot.i18n import Translator
from storage.db import Database
from storage.models import Platform, School, Via
from storage.stores import Store

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Config file (default ./tandem.toml, else built-in defaults)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on the last line.")]
SchoolOption = Annotated[str | None, typer.Option("--school")]

Work = Callable[[Store, Settings], Awaitable[dict[str, Any]]]
Show = Callable[[dict[str, Any]], str]
T = TypeVar("T")
THE_DATABASE = said("operator.the_database")
THE_DATABASE_OR_PLATFORM = said("operator.the_database_or_platform")


def load_settings(config: Path | None, *, makes_codes: bool = False) -> Settings:
    """The settings from --config (ConfigError, a CommandError, names a bad key); a command
    that makes or checks codes (`makes_codes`) also needs a strong security.secret_key."""
    settings = platforms.load_settings(config)
    if makes_codes:
        check_secret_key(settings.security)
    return settings


def run_async(main: Callable[[], Coroutine[Any, Any, T]], what: str | Said = THE_DATABASE) -> T:
    """Run a command's coroutine; a database (or platform) out of reach is a CommandError."""
    try:
        return asyncio.run(main())
    except OSError as err:
        raise CommandError(
            said("operator.cannot_reach", what=what, why=err.strerror or err)
        ) from None
    except DBAPIError as err:
        # The driver's own words, never the URL: it may hold a password.
        raise CommandError(said("operator.cannot_use", what=what, why=err.orig)) from None


def words(key: str, /, **values: object) -> str:
    """A success or progress line in the operator's language: the school's once the settings
    are loaded, else LANG (`words("operator.sent", count=3)`)."""
    return said(key, **values).in_language(platforms.operator_language())


def print_result(result: dict[str, Any], as_json: bool, show: Show) -> None:
    """The result for a person to read, or as one JSON object on the last line."""
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else show(result))


def run_admin(
    settings: Settings,
    as_json: bool,
    work: Work,
    show: Show,
    *,
    upgrade: bool = False,
    invites: bool = False,
    after: Callable[[Database, dict[str, Any]], Awaitable[None]] | None = None,
) -> None:
    """Wire Tandem over the database, run `work` in one transaction, print its result.

    A command that makes `invites` first learns the bot's Telegram name, if nothing has yet,
    so that they carry a link. `after` runs once the transaction is committed and may add to
    the result (forget compacts the database with it).
    """

    async def main() -> dict[str, Any]:
        async with bootstrap(settings, upgrade=upgrade) as tandem:
            if invites:
                await learn_bot_username(tandem)
            async with tandem.db.session() as session:
                result = await work(Store(session), settings)
            if after is not None:
                await after(tandem.db, result)
            return result

    print_result(run_async(main), as_json, show)


def run_in_store(settings: Settings, work: Work) -> dict[str, Any]:
    """Run `work` in one transaction and return its result, printing nothing (a command that
    asks before it changes anything reads first with this)."""

    async def main() -> dict[str, Any]:
        async with bootstrap(settings) as tandem, tandem.db.session() as session:
            return await work(Store(session), settings)

    return run_async(main)


async def learn_bot_username(tandem: Tandem) -> None:
    """Before the first `tandem run`, ask Telegram (getMe) the bot's name for invite links;
    without it the code still works, and one line on stderr says why there is no link."""
    telegram = tandem.settings.platform(TelegramConfig)
    if not telegram.enabled or telegram.bot_username:
        return
    async with tandem.db.session() as session:
        if await Store(session).bot_profile.username(Platform.TELEGRAM):
            return
    try:
        username = await fetch_bot_username(telegram)
    except ProfileUnavailable as why:
        typer.echo(f"tandem: {words('operator.no_invite_link', why=why)}", err=True)
        return
    async with tandem.db.session() as session:
        await Store(session).bot_profile.set_username(
            Platform.TELEGRAM, username, tandem.clock.now()
        )


def operator(store: Store, settings: Settings, school: School | None) -> Context:
    """The CLI operator as the core sees them: no person in chat, the school's admin to
    access.py (`access.school_admin`); their access-log rows have no actor and say "cli"."""
    language = school.language if school is not None else settings.school.language
    return Context(
        store=store,
        clock=SystemClock(),
        settings=settings,
        t=Translator(language),
        via=Via.CLI,
    )
