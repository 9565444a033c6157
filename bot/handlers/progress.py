"""/progress NAME [tag]: a chart per measured goal, with its numbers in words.

The event's transaction only checks who asks and logs the access; the goals and their measures
are read after it, in a read transaction of its own (`Context.reading_after`), and drawn then:
a burst of /progress holds the writers' turn no longer than as many notes would.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot import access, charts, grammar
from bot.access import Action, Viewed
from bot.context import Context
from bot.events import Attachment, IncomingMessage, Reply
from bot.handlers.records import not_found
from bot.measure_words import chart_data, goal_series_words
from bot.router import Router
from storage.models import Goal, Measure, Read


async def show_progress(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """Each measured goal of the student (or the one tagged) as a chart and a line of words."""
    name, tag = await _name_and_tag(ctx, args)
    found = await access.find_student(ctx, name, Action.GOALS, Viewed(Read.PROGRESS))
    if found.student is None or found.student.id is None:
        return [not_found(ctx, found, name)]
    student, student_id = found.student.name, found.student.id

    async def charted() -> list[Reply]:  # after the transaction: see Reply.finish
        async with ctx.reading_after() as store:
            goals = await store.entries.goals(student_id)
            chosen = [goal for goal in goals if tag is None or goal.tag == tag]
            if not chosen:
                listed = ", ".join(f"#{goal.tag}" for goal in goals) or ctx.t("goals.none_short")
                return [ctx.say("progress.unknown_goal", tag=tag, student=student, goals=listed)]
            read = [(goal, await store.progress.series(goal.id or 0)) for goal in chosen]
        series = [(goal, measures) for goal, measures in read if measures]
        if not series:
            return [
                ctx.say("progress.nothing", what=f"#{tag}" if tag else student, student=student)
            ]
        return [await _chart_reply(ctx, goal, measures) for goal, measures in series]

    return [Reply("", finish=charted)]


async def _name_and_tag(ctx: Context, args: str) -> tuple[str, str | None]:
    """`Sam reading` -> ("Sam", "reading"); a last word that is part of a student's name (or
    the only word) is not a tag."""
    words = args.split()
    if len(words) < 2:
        return args, None
    last = words[-1]
    links = await access.my_students(ctx, Action.GOALS)
    in_a_name = any(grammar.fold(last) in grammar.fold(link.student.name).split() for link in links)
    if last.startswith("#") or not in_a_name:
        return " ".join(words[:-1]), last.lstrip("#").casefold()
    return args, None


def goal_in_words(ctx: Context, goal: Goal, series: Sequence[Measure]) -> str:
    """`#reading — Reads aloud: 60 %, 80 %, 90 % (home) · target 80 % · baseline 40 %`."""
    return goal_series_words(ctx.t, goal, series)


async def _chart_reply(ctx: Context, goal: Goal, series: Sequence[Measure]) -> Reply:
    words = goal_in_words(ctx, goal, series)
    png = await charts.draw(chart_data(ctx.t, goal, series))
    return Reply(words, attachment=Attachment(png, f"{goal.tag}.png", words))


def register(router: Router) -> None:
    """/progress."""
    router.command("progress", show_progress, draws=True)
