"""Tandem at work: `tandem run`, `tandem jobs`, `tandem status`, and `tandem demo` in a
terminal."""

from __future__ import annotations

import logging
import secrets
from contextlib import suppress
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.bootstrap import bootstrap
from adapters.cli_command import (
    THE_DATABASE_OR_PLATFORM,
    ConfigOption,
    JsonOption,
    load_settings,
    print_result,
    run_admin,
    run_async,
    words,
)
from adapters.console import run_demo
from adapters.platforms import PLATFORMS
from adapters.runtime import drain_outbox, serve
from bot import jobs, roster, team
from bot.config import ConfigError, DatabaseConfig, Settings, check_secret_key
from bot.context import SystemClock
from bot.errors import CommandError, said
from bot.weekly import week_bounds
from storage.stores import Store


def run(config: ConfigOption = None) -> None:
    """Run the enabled adapters, the weekly scheduler and the sender until SIGINT or SIGTERM."""
    settings = load_settings(config)
    if not settings.enabled_platforms:
        switches = " or ".join(f"{name}.enabled" for name in PLATFORMS)
        raise CommandError(said("operator.nothing_to_run", switches=switches))
    check_secret_key(settings.security)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def main() -> None:
        async with bootstrap(settings) as tandem:
            await serve(tandem)

    run_async(main, THE_DATABASE_OR_PLATFORM)


class JobName(StrEnum):
    CHECKIN = "checkin"
    SUMMARY = "summary"
    PURGE = "purge"
    DRAIN = "drain"


def run_job(
    job: Annotated[
        JobName,
        typer.Argument(
            help="checkin, summary, purge (enqueue or delete "
            "now) or drain (send what is due, then exit)"
        ),
    ],
    school: Annotated[str | None, typer.Option("--school", help="Only this school.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a weekly job now. Jobs only enqueue, so running one twice queues nothing new."""
    settings = load_settings(config)

    async def main() -> dict[str, Any]:
        async with bootstrap(settings) as tandem:
            db, clock = tandem.db, tandem.clock
            if job is JobName.PURGE:
                return {"purged": await jobs.run_purge(db, settings, clock)}
            if job is JobName.DRAIN:
                return {"sent": await drain_outbox(tandem)}
            async with db.session() as session:
                store = Store(session)
                targets = (
                    [await roster.pick_school(store, settings, school)]
                    if school
                    else list(await store.students.schools())
                )
            reports = [
                await jobs.run_checkin(db, settings, clock, target.id or 0)
                if job is JobName.CHECKIN
                else await jobs.run_summary(db, settings, clock, target.id or 0, tandem.notes)
                for target in targets
            ]
            return {
                "queued": {r.school: r.queued for r in reports},
                "skipped": {r.school: r.skipped for r in reports if r.skipped},
            }

    print_result(run_async(main, THE_DATABASE_OR_PLATFORM), as_json, _describe_job)


def _describe_job(result: dict[str, Any]) -> str:
    if "purged" in result:
        counts = ", ".join(f"{k} {v}" for k, v in result["purged"].items())
        return words("operator.purged", counts=counts)
    if "sent" in result:
        return words("operator.sent", count=result["sent"])
    lines = [
        words("operator.job_queued", school=name, count=count)
        for name, count in result["queued"].items()
    ]
    lines += [
        words("operator.job_skipped", school=name, why=why)
        for name, why in result["skipped"].items()
    ]
    return "\n".join(lines) or words("operator.no_schools")


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Counts: schools, people, students, entries this week, outbox; and whom the bot can't reach.

    Per school: people who blocked the bot, and people invited who never joined.
    """

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        now = SystemClock().now()
        start, _ = week_bounds(now, settings.school.timezone)
        counts = await store.status.counts(start)
        emails = [
            {
                "address": i.address,
                "since": i.unreachable_at.isoformat() if i.unreachable_at else "",
            }
            for i in await store.email.unreachable()
        ]
        return {
            **counts,
            "unreachable": await team.unreachable(store, now),
            "email_unreachable": emails,
        }

    def show(r: dict[str, Any]) -> str:
        outbox = ", ".join(f"{k} {v}" for k, v in sorted(r["outbox"].items())) or "empty"
        lines = [
            f"schools {r['schools']} · people {r['people']} · students {r['students']} · "
            f"entries this week {r['entries_this_week']}",
            f"outbox: {outbox}",
        ]
        for school, whom in r["unreachable"].items():
            lines += [f"{school}, unreachable:"] if whom["blocked"] or whom["never_joined"] else []
            lines += [
                f"  #{p['person_id']} {p['name']} blocked the bot ({', '.join(p['students'])})"
                for p in whom["blocked"]
            ]
            lines += [
                f"  {i['label'] or 'someone'} invited as {i['role']} for "
                f"{i['student'] or 'the school'} never joined "
                f"({'expired' if i['expired'] else 'open until'} {i['expires_at'][:10]})"
                for i in whom["never_joined"]
            ]
        lines += [
            f"email address refused for good: {e['address']} (since {e['since'][:10]})"
            for e in r["email_unreachable"]
        ]
        return "\n".join(lines)

    run_admin(load_settings(config), as_json, work, show)


def demo(
    db_path: Annotated[Path, typer.Option("--db", help="SQLite file for the demo school.")] = Path(
        "tandem-demo.db"
    ),
    config: ConfigOption = None,
) -> None:
    """Chat with a seeded demo school in the terminal (scriptable through standard input)."""
    settings = demo_settings(load_settings(config), db_path)

    async def main() -> None:
        async with bootstrap(settings, upgrade=True) as tandem:
            await run_demo(tandem)

    with suppress(KeyboardInterrupt):
        run_async(main, str(db_path))


def demo_settings(settings: Settings, db_path: Path) -> Settings:
    """The demo's own SQLite file, and a secret key of its own if the config has no strong one
    (its codes need one, and nothing outside the demo ever checks them)."""
    security = settings.security
    try:
        check_secret_key(security)
    except ConfigError:
        security = replace(security, secret_key=secrets.token_urlsafe(48))
    return replace(
        settings,
        database=DatabaseConfig(f"sqlite+aiosqlite:///{db_path}"),
        security=security,
    )
