"""Inviting a parent or a teacher to a student's team from chat: /invite NAME parent|teacher."""

from __future__ import annotations

from bot import access, invites
from bot.access import Action
from bot.context import Context
from bot.events import IncomingMessage, Reply
from bot.handlers.records import not_found
from bot.router import Router
from storage.models import Role

_ROLES = {
    "parent": (Role.PARENT, Action.INVITE_PARENT),
    "teacher": (Role.TEACHER, Action.INVITE_TEACHER),
}


async def invite(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """A one-time code (and deep link) that puts a new person on a student's team."""
    words = args.split()
    if len(words) < 2 or words[-1].casefold() not in _ROLES:
        return [ctx.say("invite.usage")]
    role, action = _ROLES[words[-1].casefold()]
    found = await access.find_student(ctx, " ".join(words[:-1]), action)
    if found.student is None:
        return [not_found(ctx, found)]
    school = await ctx.store.students.school(found.student.school_id)
    assert school is not None
    new = await invites.create_invite(
        ctx.store, ctx.settings, ctx.clock.now(), school, found.student, role, ctx.my_id
    )
    until = ctx.t.moment(new.invite.expires_at, school.timezone)
    how = ctx.t("invite.link", link=new.link) if new.link else ctx.t("invite.how", code=new.code)
    return [
        ctx.say(
            "invite.created",
            role=ctx.t(f"role.{role}"),
            student=found.student.name,
            code=new.code,
            how=how,
            until=until,
        )
    ]


def register(router: Router) -> None:
    """/invite."""
    router.command("invite", invite)
