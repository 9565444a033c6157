"""A measure or a goal's terms as a reader sees them: `60 % (6/10)`, `3 times`, `verbal`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from babel.dates import get_month_names

from bot import charts
from bot.i18n import Translator
from bot.measures import (
    PROMPT_LEVELS,
    MeasureKind,
    Problem,
    Reading,
    format_number,
    level_of_rank,
    prompt_rank,
)
from storage.models import Goal, Measure, Setting


def value_words(
    t: Translator,
    kind: str,
    value: float,
    correct: int | None = None,
    trials: int | None = None,
    prompt: str | None = None,
) -> str:
    """One value in the reader's language, with its trials and prompt level when it has them."""
    if kind == MeasureKind.RATING:
        level = prompt or level_of_rank(value) or format_number(value)
        return t(PROMPT_KEYS[level]) if level in PROMPT_KEYS else level
    if kind == MeasureKind.COUNT:
        words = t("measure.count", count=int(value))
    elif kind == MeasureKind.MINUTES:
        words = t("measure.minutes", value=format_number(value))
    elif correct is not None and trials is not None:
        words = t("measure.trials", value=format_number(value), correct=correct, trials=trials)
    else:
        words = t("measure.percent", value=format_number(value))
    if prompt:
        level = t(PROMPT_KEYS[prompt]) if prompt in PROMPT_KEYS else prompt
        words = t("measure.with_prompt", value=words, level=level)
    return words


# Catalog keys spelled out, so the catalog check sees each one.
PROMPT_KEYS = {
    "independent": "prompt.independent",
    "gestural": "prompt.gestural",
    "verbal": "prompt.verbal",
    "model": "prompt.model",
    "partial physical": "prompt.partial_physical",
    "full physical": "prompt.full_physical",
}
KIND_KEYS = {
    MeasureKind.PERCENT: "measure_kind.percent",
    MeasureKind.COUNT: "measure_kind.count",
    MeasureKind.MINUTES: "measure_kind.minutes",
    MeasureKind.RATING: "measure_kind.rating",
}
PROBLEM_KEYS = {
    "bad_trials": "measure.bad_trials",
    "trials_over": "measure.trials_over",
    "negative": "measure.negative",
    "percent_over": "measure.percent_over",
    "bad_count": "measure.bad_count",
    "minutes_over": "measure.minutes_over",
    "unknown_prompt": "measure.unknown_prompt",
    "two_measures": "measure.two_measures",
    "no_tag": "measure.no_tag",
    "unknown_tag": "measure.unknown_tag",
    "wrong_kind": "measure.wrong_kind",
    "goal_term": "measure.goal_term",
    "goal_measure": "measure.goal_measure",
    "goal_date": "measure.goal_date",
    "goal_unit": "measure.goal_unit",
    "goal_kinds": "measure.goal_kinds",
}


def kind_words(t: Translator, kind: str) -> str:
    """`a percentage`, `a count`...: what a goal is measured in."""
    return t(KIND_KEYS[MeasureKind(kind)])


def reading_words(t: Translator, reading: Reading) -> str:
    return value_words(
        t, reading.kind, reading.value, reading.correct, reading.trials, reading.prompt
    )


class MeasureFacts(Protocol):
    """What words need of a measure: a stored `Measure`, or a lighter row."""

    @property
    def goal_id(self) -> int: ...
    @property
    def setting(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def correct(self) -> int | None: ...
    @property
    def trials(self) -> int | None: ...
    @property
    def prompt(self) -> str | None: ...


def measure_words(t: Translator, measure: MeasureFacts) -> str:
    """A stored measure, marked `(home)` when it is home evidence."""
    words = value_words(
        t, measure.kind, measure.value, measure.correct, measure.trials, measure.prompt
    )
    return t("measure.home", value=words) if measure.setting == Setting.HOME else words


def goal_terms_words(t: Translator, goal: Goal) -> str:
    """`target 80 % · baseline 40 % · by Mon, Mar 1, 2027`, or '' for a goal without terms."""
    parts: list[str] = []
    kind = goal.measure or MeasureKind.PERCENT
    if goal.target is not None:
        parts.append(t("goal.target", value=value_words(t, kind, goal.target)))
    if goal.baseline is not None:
        parts.append(t("goal.baseline", value=value_words(t, kind, goal.baseline)))
    if goal.due_on is not None:
        parts.append(t("goal.due", date=t.day(goal.due_on)))
    return " · ".join(parts)


SHOWN_IN_WORDS = 20  # the newest values a caption lists; older ones are counted


def goal_series_words(t: Translator, goal: Goal, series: Sequence[MeasureFacts]) -> str:
    """`#reading — Reads aloud: 60 %, 80 %, 90 % (home) · target 80 % · baseline 40 %`: a
    chart's numbers in words, for its caption and a screen reader."""
    shown = [measure_words(t, measure) for measure in series[-SHOWN_IN_WORDS:]]
    earlier = len(series) - len(shown)
    values = ", ".join(shown)
    if earlier:
        values = f"{t('progress.earlier', count=earlier)} {values}"
    line = t("progress.words", tag=goal.tag, description=goal.description, values=values)
    terms = goal_terms_words(t, goal)
    return f"{line} · {terms}" if terms else line


def problem_words(t: Translator, problem: Problem, goals: Sequence[Goal] = ()) -> str:
    """Why a measure or a goal's terms were refused, with how to write it instead."""
    listed = ", ".join(f"#{goal.tag}" for goal in goals) or t("goals.none_short")
    values = {key: str(value) for key, value in problem.values.items()}
    return t(PROBLEM_KEYS[problem.reason], goals=listed, **values)


def chart_data(t: Translator, goal: Goal, series: Sequence[Measure]) -> charts.ChartData:
    """The goal's measures and its lines, labelled in the reader's language."""
    kind = goal.measure or series[-1].kind
    ticks = None
    if kind == MeasureKind.RATING:
        ticks = {float(prompt_rank(level)): t(PROMPT_KEYS[level]) for level in PROMPT_LEVELS}
    labels = charts.ChartLabels(
        title=f"#{goal.tag} — {goal.description}"[:90],
        value_axis=t(AXIS_KEYS[MeasureKind(kind)]),
        school=t("progress.school"),
        home=t("progress.home"),
        target=t("progress.target"),
        baseline=t("progress.baseline"),
        ticks=ticks,
        months=tuple(get_month_names("abbreviated", locale=t.language).values()),
    )
    points = tuple(
        charts.Point(measure.taken_at, measure.value, measure.setting == Setting.HOME)
        for measure in series
    )
    return charts.ChartData(
        points, labels, goal.target, goal.baseline, percent=kind == MeasureKind.PERCENT
    )


AXIS_KEYS = {
    MeasureKind.PERCENT: "progress.axis_percent",
    MeasureKind.COUNT: "progress.axis_count",
    MeasureKind.MINUTES: "progress.axis_minutes",
    MeasureKind.RATING: "progress.axis_rating",
}
