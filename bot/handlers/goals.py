"""A student's goals: /goals NAME to read them, /goal NAME tag: description to set one."""

from __future__ import annotations

import re

from bot import access, measures
from bot.access import Action, Viewed
from bot.context import Context
from bot.events import IncomingMessage, Reply
from bot.handlers.records import not_found
from bot.measure_words import goal_terms_words, kind_words, measure_words, problem_words
from bot.router import Router
from storage.models import Goal, Read

_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


async def list_goals(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """A student's active goals: how many notes each has, its terms and how it is measured."""
    found = await access.find_student(ctx, args, Action.GOALS, Viewed(Read.GOALS))
    if found.student is None or found.student.id is None:
        return [not_found(ctx, found, args)]
    student = found.student
    goals = await ctx.store.entries.goals(found.student.id)
    if not goals:
        return [ctx.say("goals.none", student=student.name)]
    counts = await ctx.store.entries.goal_counts(found.student.id)
    standings = await ctx.store.progress.standings(found.student.id)
    lines = [ctx.t("goals.title", student=student.name)]
    for goal in goals:
        lines.append(
            ctx.t(
                "goals.line",
                tag=goal.tag,
                description=goal.description,
                count=counts.get(goal.id or 0, 0),
            )
        )
        terms = goal_terms_words(ctx.t, goal)
        if terms:
            lines.append(f"   {terms}")
        standing = standings.get(goal.id or 0)
        if standing is not None and standing.latest is not None:
            lines.append(
                "   "
                + ctx.t(
                    "goals.measured",
                    count=standing.school + standing.home,
                    latest=measure_words(ctx.t, standing.latest),
                    school=standing.school,
                    home=standing.home,
                )
            )
    return [Reply("\n".join(lines))]


async def set_goal(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """Create or reword a goal: `/goal Sam reading: reads a page aloud | target 80%`."""
    main, *parts = args.split("|")
    head, colon, description = main.partition(":")
    words = head.split()
    if not colon or len(words) < 2 or not description.strip():
        return [ctx.say("goal.usage")]
    tag = words[-1].lstrip("#").casefold()
    if not _TAG.match(tag):
        return [ctx.say("goal.bad_tag", tag=tag[:40])]
    terms = measures.parse_goal_terms(parts) if parts else None
    if isinstance(terms, measures.Problem):
        return [Reply(problem_words(ctx.t, terms))]
    found = await access.find_student(ctx, " ".join(words[:-1]), Action.SET_GOAL)
    if found.student is None or found.student.id is None:
        return [not_found(ctx, found)]
    # A goal is a one-line label: it is shown inside other lines, where a line break could pose
    # as one of Tandem's own.
    label = " ".join(description.split())[:500]
    if terms is not None:
        refused = await _kind_in_use(ctx, found.student.id, tag, terms)
        if refused is not None:
            return [refused]
    goal, created = await ctx.store.entries.set_goal(found.student.id, tag, label)
    if terms is not None:
        await _set_terms(ctx, goal, terms)
    key = "goal.created" if created else "goal.updated"
    line = ctx.t(key, tag=goal.tag, student=found.student.name)
    described = goal_terms_words(ctx.t, goal)
    return [Reply(f"{line} {described}." if described else line)]


async def _kind_in_use(
    ctx: Context, student_id: int, tag: str, terms: measures.GoalTerms
) -> Reply | None:
    """A goal already measured in one kind keeps it: its chart would mix two scales."""
    goal = next(
        (goal for goal in await ctx.store.entries.goals(student_id) if goal.tag == tag), None
    )
    if goal is None or goal.id is None or terms.measure in (None, goal.measure):
        return None
    if goal.measure is None or not await ctx.store.progress.count_on_goal(goal.id):
        return None
    kind = kind_words(ctx.t, goal.measure)
    return ctx.say("measure.kind_in_use", tag=tag, kind=kind)


async def _set_terms(ctx: Context, goal: Goal, terms: measures.GoalTerms) -> None:
    """Give the goal the measure, target, baseline and date `terms` name; the rest is kept."""
    if terms.measure is not None:
        goal.measure = terms.measure
    if terms.target is not None:
        goal.target = terms.target
    if terms.baseline is not None:
        goal.baseline = terms.baseline
    if terms.due is not None:
        goal.due_on = terms.due
    await ctx.store.entries.save_goal(goal)


def register(router: Router) -> None:
    """/goals and /goal."""
    router.command("goals", list_goals)
    router.command("goal", set_goal)
