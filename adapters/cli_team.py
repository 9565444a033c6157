"""Who is on a student's team: `tandem invite`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from adapters.cli_command import (
    ConfigOption,
    JsonOption,
    SchoolOption,
    load_settings,
    operator,
    run_admin,
)
from bot import access, invites, roster
from bot.access import Action
from bot.config import Settings
from bot.context import SystemClock
from bot.errors import CommandError
from storage.models import Role
from storage.stores import Store


def invite(
    role: Annotated[str, typer.Option("--role", help="parent, teacher or admin")],
    student: Annotated[
        str | None, typer.Option("--student", help="Required for parent and teacher.")
    ] = None,
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a one-time invite code (and Telegram link) for a student's team or a school admin."""
    if role not in (Role.PARENT, Role.TEACHER, Role.ADMIN):
        raise CommandError(f"--role: must be parent, teacher or admin, not {role!r}")
    if role != Role.ADMIN and not student:
        raise CommandError("--student: required for a parent or teacher invite")
    settings = load_settings(config, makes_codes=True)

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(store, settings, school)
        pupil = (
            await roster.student_named(store, found, student)
            if role != Role.ADMIN and student
            else None
        )
        # The same matrix as /invite in chat, with the operator as the school's admin.
        action = Action.INVITE_PARENT if role == Role.PARENT else Action.INVITE_TEACHER
        if pupil is not None and not await access.authorize(
            operator(store, settings, found), access.school_admin(pupil), action
        ):
            raise CommandError("not allowed")  # the operator is the school's admin: not reached
        new = await invites.create_invite(
            store, settings, SystemClock().now(), found, pupil, Role(role), None
        )
        return {"code": new.code, "link": new.link, "expires_at": new.invite.expires_at.isoformat()}

    run_admin(
        settings,
        as_json,
        work,
        lambda r: (
            f"Invite code (works once, until {r['expires_at']}): {r['code']}\n"
            + (f"Link: {r['link']}" if r["link"] else f"They send /start {r['code']} to the bot.")
        ),
        invites=True,
    )
