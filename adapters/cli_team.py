"""Who is on a student's team, and taking access away: `tandem invite` (make, list, revoke),
`tandem team list|remove`, `tandem admin add|remove`, `tandem people merge`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from adapters import email_invites
from adapters.cli_command import (
    ConfigOption,
    JsonOption,
    SchoolOption,
    load_settings,
    operator,
    run_admin,
    run_in_store,
    words,
)
from bot import access, invites, roster, team
from bot.access import Action
from bot.config import Settings
from bot.context import SystemClock
from bot.errors import CommandError, said
from storage.models import Person, Role, School, Student
from storage.stores import Store

StudentOption = Annotated[str, typer.Option("--student", help="The student's name.")]
PersonOption = Annotated[
    int, typer.Option("--person", help="The person's id (`tandem team list` shows it).")
]


async def _student(store: Store, settings: Settings, school: str | None, name: str) -> Student:
    """The named student (archived ones too), after the matrix has let the operator, as the
    school's admin, change the team."""
    found = await roster.pick_school(store, settings, school)
    pupil = await roster.student_named(store, found, name)
    ctx = operator(store, settings, found)
    if not await access.authorize(ctx, access.school_admin(pupil), Action.TEAM):
        raise CommandError(
            said("operator.not_allowed")
        )  # the operator is the school's admin: not reached
    return pupil


async def _person(store: Store, person_id: int, option: str = "--person") -> Person:
    person = await store.people.get(person_id)
    if person is None:
        raise CommandError(said("operator.no_person", option=option, id=person_id))
    return person


# --- tandem invite ------------------------------------------------------------------------------


def invite(
    context: typer.Context,
    role: Annotated[str | None, typer.Option("--role", help="parent, teacher or admin")] = None,
    student: Annotated[
        str | None, typer.Option("--student", help="Required for parent and teacher.")
    ] = None,
    school: SchoolOption = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Send the invite to this address: a reply joins.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a one-time invite code (and Telegram link) for a student's team or a school admin.

    `tandem invite list` and `tandem invite revoke` see to the unused ones.
    """
    if context.invoked_subcommand is not None:
        return
    if role not in (Role.PARENT, Role.TEACHER, Role.ADMIN):
        raise CommandError(said("operator.role_option", role=repr(role)))
    if role != Role.ADMIN and not student:
        raise CommandError(said("operator.student_needed"))
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
            raise CommandError(said("operator.archived_no_invites", student=pupil.name))
        now = SystemClock().now()
        new = await invites.create_invite(store, settings, now, found, pupil, Role(role), None)
        if email is not None:
            sent_to = await email_invites.send_from_cli(store, settings, new, email, pupil, now)
            return {"emailed": sent_to, "expires_at": new.invite.expires_at.isoformat()}
        return {"code": new.code, "link": new.link, "expires_at": new.invite.expires_at.isoformat()}

    run_admin(
        settings,
        as_json,
        work,
        _show_invite,
        invites=True,
    )


def _show_invite(r: dict[str, Any]) -> str:
    if "emailed" in r:
        return words("operator.invite_emailed", email=r["emailed"], expires_at=r["expires_at"])
    code = words("operator.invite_code", expires_at=r["expires_at"], code=r["code"])
    if r["link"]:
        return code + "\n" + words("operator.invite_link", link=r["link"])
    return code + "\n" + words("operator.they_send_start", code=r["code"])


def invite_list(
    student: Annotated[str | None, typer.Option("--student", help="Only this student's.")] = None,
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The unused invites that still work: for whom, which role, until when (never the codes)."""

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = await roster.pick_school(store, settings, school)
        pupil = await _student(store, settings, school, student) if student else None
        unused = await team.open_invites(store, found, pupil, SystemClock().now())
        return {"invites": [each.as_json() for each in unused]}

    def show(r: dict[str, Any]) -> str:
        lines = [
            words(
                "operator.invite_line",
                id=i["id"],
                role=i["role"],
                student=i["student"] or words("operator.the_school"),
                label=f" ({i['label']})" if i["label"] else "",
                expires=i["expires_at"],
            )
            for i in r["invites"]
        ]
        return "\n".join(lines) or words("operator.no_invites")

    run_admin(load_settings(config), as_json, work, show)


def invite_revoke(
    code: Annotated[str | None, typer.Argument(help="The invite code, as handed out.")] = None,
    invite_id: Annotated[
        int | None, typer.Option("--id", help="Or the invite's id, from `tandem invite list`.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an unused invite stop working (a code sent to the wrong address)."""
    if (code is None) == (invite_id is None):
        raise CommandError(said("operator.code_or_id"))
    settings = load_settings(config, makes_codes=code is not None)

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found = (
            await store.invites.by_hash(invites.hash_code(code, settings.security.secret_key))
            if code is not None
            else await store.invites.get(invite_id or 0)
        )
        if found is None:
            raise CommandError(said("operator.no_invite"))
        school = await store.students.school(found.school_id)
        assert school is not None
        await team.revoke_invite(operator(store, settings, school), found)
        return {"revoked": True}

    run_admin(settings, as_json, work, lambda r: words("operator.revoked"))


# --- tandem team --------------------------------------------------------------------------------


def team_list(
    student: StudentOption,
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who is on a student's team: each person's id, name, role, platforms, when they joined."""

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        pupil = await _student(store, settings, school, student)
        found = await team.members(store, pupil)
        return {"student": pupil.name, "members": [member.as_json() for member in found]}

    def show(r: dict[str, Any]) -> str:
        lines = [
            f"#{m['person_id']} {m['name']} · {m['role']} · "
            + (", ".join(m["platforms"]) or words("operator.no_account"))
            + (" · " + words("operator.joined", date=m["joined_at"][:10]) if m["joined_at"] else "")
            for m in r["members"]
        ]
        heading = words("operator.team_of", student=r["student"])
        return "\n".join([heading, *lines] if lines else [words("operator.nobody_yet")])

    run_admin(load_settings(config), as_json, work, show)


def team_remove(
    student: StudentOption,
    person: PersonOption,
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take a person off a student's team; their buttons and unsent letters about them go too."""
    said: dict[str, str] = {}

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        pupil = await _student(store, settings, school, student)
        school_row = await store.students.school(pupil.school_id)
        assert school_row is not None
        removed = await team.remove_member(operator(store, settings, school_row), pupil, person)
        said.update(name=removed.name, student=pupil.name)
        return {"removed": {"person_id": removed.person_id, "role": removed.role}}

    def show(r: dict[str, Any]) -> str:
        role = r["removed"]["role"]
        return words(
            "operator.removed_member", name=said["name"], role=role, student=said["student"]
        )

    run_admin(load_settings(config), as_json, work, show)


# --- tandem admin -------------------------------------------------------------------------------


def _admin_change(add: bool, person: int, school: str | None, config: Any, as_json: bool) -> None:
    said: dict[str, str] = {}

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        found: School = await roster.pick_school(store, settings, school)
        who = await _person(store, person)
        ctx = operator(store, settings, found)
        await (team.add_admin if add else team.remove_admin)(ctx, found, who)
        said.update(name=who.display_name, school=found.name)
        return {"person_id": person, "admin": add}

    def show(r: dict[str, Any]) -> str:
        if r["admin"]:
            return f"{said['name']} is an admin of {said['school']}."
        return f"{said['name']} is no longer an admin of {said['school']}."

    run_admin(load_settings(config), as_json, work, show)


def admin_add(
    person: PersonOption,
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a person an admin of the school: they may read and act on every student's record."""
    _admin_change(True, person, school, config, as_json)


def admin_remove(
    person: PersonOption,
    school: SchoolOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take a school's admin rights from a person (never from its last admin)."""
    _admin_change(False, person, school, config, as_json)


# --- tandem people merge ------------------------------------------------------------------------


def people_merge(
    keep: Annotated[int, typer.Option("--keep", help="The person who stays (their id).")],
    drop: Annotated[int, typer.Option("--drop", help="The person joined into them (their id).")],
    yes: Annotated[bool, typer.Option("--yes", help="Merge without asking.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Join two people who are one human: DROP's accounts, teams, rights and notes go to KEEP.

    Both sides are shown first, and the merge waits for a yes (or --yes).
    """
    if keep == drop:
        raise CommandError(said("operator.same_person"))
    settings = load_settings(config)

    async def sides(store: Store, settings: Settings) -> dict[str, Any]:
        kept, dropped = await _person(store, keep, "--keep"), await _person(store, drop, "--drop")
        await team.refuse_conflicts(store, kept, dropped)
        return {
            "keep": (await team.side_of(store, kept)).as_json(),
            "drop": (await team.side_of(store, dropped)).as_json(),
        }

    both = run_in_store(settings, sides)
    typer.echo(_describe_side(words("operator.keep"), both["keep"]), err=True)
    typer.echo(_describe_side(words("operator.drop"), both["drop"]), err=True)
    if not yes and not _confirmed(both):
        raise CommandError(said("operator.not_confirmed"))

    async def work(store: Store, settings: Settings) -> dict[str, Any]:
        kept, dropped = await _person(store, keep, "--keep"), await _person(store, drop, "--drop")
        merged = await team.merge_people(operator(store, settings, None), kept, dropped)
        return {
            "kept": keep,
            "dropped": drop,
            "students": merged.students,
            "entries": merged.entries,
        }

    run_admin(
        settings,
        as_json,
        work,
        lambda r: words(
            "operator.merged",
            dropped=r["dropped"],
            kept=r["kept"],
            teams=words("operator.count_more_teams", count=r["students"]),
            notes=words("operator.count_notes", count=r["entries"]),
        ),
    )


def _describe_side(which: str, side: dict[str, Any]) -> str:
    teams = ", ".join(f"{t['student']} ({t['role']})" for t in side["teams"])
    schools = ", ".join(side["admin_of"])
    admin = words("operator.admin_of", schools=schools) if schools else ""
    platforms = ", ".join(side["platforms"]) or words("operator.no_account")
    notes = words("operator.count_notes", count=side["entries"])
    return (
        f"{which}: #{side['person_id']} {side['name']} · {platforms} · "
        f"{teams or words('operator.no_team')}{admin} · {notes}"
    )


def _confirmed(both: dict[str, Any]) -> bool:
    question = words(
        "operator.join_question",
        drop=both["drop"]["name"],
        drop_id=both["drop"]["person_id"],
        keep=both["keep"]["name"],
        keep_id=both["keep"]["person_id"],
    )
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:  # no answer (standard input closed)
        return False
