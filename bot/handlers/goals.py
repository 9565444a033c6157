"""A student's goals: /goals NAME to read them, /goal NAME tag: description to set one."""

from __future__ import annotations

import re

from bot import access
from bot.access import Action, Viewed
from bot.context import Context
from bot.events import IncomingMessage, Reply
from bot.handlers.records import not_found
from bot.router import Router
from storage.models import Read

_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


async def list_goals(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """A student's active goals with how many entries each has."""
    found = await access.find_student(ctx, args, Action.GOALS, Viewed(Read.GOALS))
    if found.student is None or found.student.id is None:
        return [not_found(ctx, found, args)]
    student = found.student
    goals = await ctx.store.entries.goals(found.student.id)
    if not goals:
        return [ctx.say("goals.none", student=student.name)]
    counts = await ctx.store.entries.goal_counts(found.student.id)
    lines = [
        ctx.t(
            "goals.line",
            tag=goal.tag,
            description=goal.description,
            count=counts.get(goal.id or 0, 0),
        )
        for goal in goals
    ]
    return [Reply("\n".join([ctx.t("goals.title", student=student.name), *lines]))]


async def set_goal(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """Create or reword a goal: `/goal Sam reading: reads a page aloud`."""
    head, colon, description = args.partition(":")
    words = head.split()
    if not colon or len(words) < 2 or not description.strip():
        return [ctx.say("goal.usage")]
    tag = words[-1].lstrip("#").casefold()
    if not _TAG.match(tag):
        return [ctx.say("goal.bad_tag", tag=tag[:40])]
    found = await access.find_student(ctx, " ".join(words[:-1]), Action.SET_GOAL)
    if found.student is None or found.student.id is None:
        return [not_found(ctx, found)]
    # A goal is a one-line label: it is shown inside other lines, where a line break could pose
    # as one of Tandem's own.
    label = " ".join(description.split())[:500]
    goal, created = await ctx.store.entries.set_goal(found.student.id, tag, label)
    key = "goal.created" if created else "goal.updated"
    return [ctx.say(key, tag=goal.tag, student=found.student.name)]


def register(router: Router) -> None:
    """/goals and /goal."""
    router.command("goals", list_goals)
    router.command("goal", set_goal)
