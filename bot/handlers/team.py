"""/team NAME: who is on a student's team, for its teachers and the school's admins, with
[Remove NAME] under each other member; a second press ([Yes, remove]) takes them off."""

from __future__ import annotations

from datetime import timedelta

from bot import access, team
from bot.access import Action
from bot.blocked_notice import PLATFORM_NAMES
from bot.buttons import Checked, ConfirmRemoval, KeepMember, RemoveMember, offer_many, withdraw
from bot.context import Context
from bot.errors import CommandError
from bot.events import Button, ButtonPress, IncomingMessage, Reply
from bot.handlers.records import not_found
from bot.i18n import dates
from bot.router import Router
from storage.models import Person, Student
from storage.stores.students import StudentLink

BUTTON_TTL = timedelta(days=2)


async def show_team(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """The team of one of the sender's students, with a [Remove] button per other member."""
    found = await access.find_student(ctx, args, Action.TEAM)
    if found.student is None:
        return [not_found(ctx, found, args)]
    student = found.student
    members = await team.members(ctx.store, student)
    if not members:
        return [ctx.say("team.empty", student=student.name)]
    school = await ctx.store.students.school(student.school_id)
    timezone = ctx.me.timezone or (school.timezone if school else "UTC")
    lines = [
        ctx.t("team.title", student=student.name),
        *(_line(ctx, member, timezone) for member in members),
    ]
    others = [member for member in members if member.person_id != ctx.my_id]
    tokens = await offer_many(
        ctx, [RemoveMember(_id(student), member.person_id) for member in others], BUTTON_TTL
    )
    buttons = [
        Button(ctx.t("button.remove", name=member.name), token)
        for member, token in zip(others, tokens, strict=True)
    ]
    return [Reply("\n".join(lines)).with_buttons(*buttons)]


def _line(ctx: Context, member: team.Member, timezone: str) -> str:
    role = member.role
    platforms = ", ".join(
        ctx.t(PLATFORM_NAMES.get(p, "platform.console")) for p in member.platforms
    )
    if member.joined_at is None:
        return ctx.t("team.line", name=member.name, role=ctx.t(f"role.{role}"), platforms=platforms)
    return ctx.t(
        "team.line_joined",
        name=member.name,
        role=ctx.t(f"role.{role}"),
        platforms=platforms,
        date=ctx.t.day(dates.local(member.joined_at, timezone).date()),
    )


def _id(student: Student) -> int:
    assert student.id is not None
    return student.id


async def ask_to_remove(
    press: ButtonPress, ctx: Context, button: Checked[RemoveMember]
) -> list[Reply]:
    """[Remove NAME]: ask once more before anyone is taken off the team."""
    person_id = button.payload.person_id
    found = await _member(ctx, button.link, person_id)
    if found is None:
        return [ctx.say("team.gone").replacing()]
    student, person = found
    choice = (ConfirmRemoval(_id(student), person_id), KeepMember(_id(student), person_id))
    yes, no = await offer_many(ctx, choice, BUTTON_TTL)
    question = ctx.say("team.confirm_remove", name=person.display_name, student=student.name)
    return [
        question.with_buttons(
            Button(ctx.t("button.yes_remove"), yes), Button(ctx.t("button.cancel"), no)
        )
    ]


async def remove(press: ButtonPress, ctx: Context, button: Checked[ConfirmRemoval]) -> list[Reply]:
    """[Yes, remove]: the person leaves the team (the same removal as `tandem team remove`)."""
    person_id = button.payload.person_id
    await withdraw(ctx, RemoveMember, ConfirmRemoval, KeepMember, person_id=person_id)
    found = await _member(ctx, button.link, person_id)
    if found is None:
        return [ctx.say("team.gone").replacing()]
    student, person = found
    try:
        await team.remove_member(ctx, student, person_id)
    except CommandError:  # taken off in the meantime
        return [ctx.say("team.gone").replacing()]
    return [ctx.say("team.removed", name=person.display_name, student=student.name).replacing()]


async def keep(press: ButtonPress, ctx: Context, button: Checked[KeepMember]) -> list[Reply]:
    """[Cancel]: nobody is removed."""
    person_id = button.payload.person_id
    await withdraw(ctx, ConfirmRemoval, KeepMember, person_id=person_id)
    found = await _member(ctx, button.link, person_id)
    if found is None:
        return [ctx.say("team.gone").replacing()]
    student, person = found
    return [ctx.say("team.kept", name=person.display_name, student=student.name).replacing()]


async def _member(
    ctx: Context, link: StudentLink | None, person_id: int
) -> tuple[Student, Person] | None:
    """The student (the presser may still change its team) and the person, if still on it."""
    if link is None or await ctx.store.students.membership(person_id, _id(link.student)) is None:
        return None
    person = await ctx.store.people.get(person_id)
    return (link.student, person) if person is not None else None


def register(router: Router) -> None:
    """/team, and its [Remove NAME], [Yes, remove] and [Cancel]."""
    router.command("team", show_team)
    router.button(RemoveMember, ask_to_remove)
    router.button(ConfirmRemoval, remove)
    router.button(KeepMember, keep)
