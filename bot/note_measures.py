"""The measure a note carries on one of the student's goals: read, checked, kept with the entry.

A number-like measure (`6/10`, `80%`, `x3`, `12 min`) must name its goal by `#tag` and fit the
goal's kind, or the whole note is refused; a prompt level alone (`verbal`) is a measure only on
a goal measured in prompt levels, since the same words are common in ordinary notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot import grammar, measures
from bot.context import Context
from bot.events import Reply
from bot.measure_words import kind_words, problem_words, reading_words
from bot.measures import MeasureKind, Problem, Reading
from storage.models import Entry, EntryKind, Goal, Measure, Student

# Questions and answers ask and tell; they do not measure.
_MEASURED_KINDS = {EntryKind.WIN, EntryKind.CONCERN, EntryKind.NOTE, EntryKind.URGENT}


@dataclass(frozen=True)
class NoteMeasure:
    """What the note measures (`goal` and `reading` both set), or why it is refused."""

    goal: Goal | None = None
    reading: Reading | None = None
    refusal: Reply | None = None

    @property
    def found(self) -> bool:
        """Whether there is a measure to keep (`keep_measure` does nothing otherwise)."""
        return self.goal is not None and self.reading is not None


NONE = NoteMeasure()


async def read_note_measure(
    ctx: Context, student: Student, kind: str, text: str, goals: Sequence[Goal] | None = None
) -> NoteMeasure:
    """The note's measure against the student's goals (read here unless given)."""
    reading = measures.parse_measure(text) if kind in _MEASURED_KINDS else None
    if reading is None:
        return NONE
    assert student.id is not None
    tags = grammar.find_tags(text)
    if goals is None:
        goals = await ctx.store.entries.goals(student.id)
    known = [goal for tag in tags for goal in goals if goal.tag == tag]
    if isinstance(reading, Problem):
        return _refused(ctx, reading, goals)
    if reading.kind == MeasureKind.RATING and reading.correct is None:
        # A prompt word alone counts only on a goal measured in prompt levels.
        rated = known and known[0].measure == MeasureKind.RATING
        return NoteMeasure(known[0], reading) if rated else NONE
    if not goals:
        return NONE  # no goals yet: a number in a note is only words
    if not known:
        if tags:
            return _refused(
                ctx, Problem("unknown_tag", {"tag": tags[0], "student": student.name}), goals
            )
        return _refused(ctx, Problem("no_tag"), goals)
    goal = known[0]
    if goal.measure is not None and goal.measure != reading.kind:
        given = reading_words(ctx.t, reading)
        kind = kind_words(ctx.t, goal.measure)
        return _refused(
            ctx, Problem("wrong_kind", {"tag": goal.tag, "kind": kind, "given": given}), goals
        )
    return NoteMeasure(goal, reading)


def _refused(ctx: Context, problem: Problem, goals: Sequence[Goal]) -> NoteMeasure:
    return NoteMeasure(refusal=Reply(problem_words(ctx.t, problem, goals)))


async def keep_measure(ctx: Context, entry: Entry, found: NoteMeasure) -> str:
    """Store the note's measure with its entry; the words the reply adds ('' if none)."""
    if found.goal is None or found.reading is None:
        return ""
    goal, reading = found.goal, found.reading
    assert goal.id is not None and entry.id is not None
    if goal.measure is None:  # the first measure on a plain goal sets its kind
        goal.measure = reading.kind
        await ctx.store.entries.save_goal(goal)
    await ctx.store.progress.add(
        Measure(
            entry_id=entry.id,
            goal_id=goal.id,
            student_id=entry.student_id,
            setting=entry.setting,
            kind=reading.kind,
            value=reading.value,
            correct=reading.correct,
            trials=reading.trials,
            prompt=reading.prompt,
            taken_at=entry.created_at,
        )
    )
    return ctx.t("entry.measured", tag=goal.tag, value=reading_words(ctx.t, reading))
