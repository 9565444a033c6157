"""Reading a measure out of a one-line note, and a goal's `| target ... | baseline ...` terms.

Pure functions, no I/O: `6/10` (trials, 60 %), `80%`, `x3` or `3 times` (a count), `12 min`
(minutes) and a prompt level (`independent` ... `full physical`, or `p:verbal`). A note carries
at most one value and at most one prompt level; a prompt level alone is a rating.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class MeasureKind(StrEnum):
    PERCENT = "percent"
    COUNT = "count"
    MINUTES = "minutes"
    RATING = "rating"


# The prompt hierarchy, least help first; a rating is the level's rank (independent = 6).
PROMPT_LEVELS: tuple[str, ...] = (
    "independent",
    "gestural",
    "verbal",
    "model",
    "partial physical",
    "full physical",
)
MAX_MINUTES = 24 * 60
MAX_COUNT = 10_000


def prompt_rank(level: str) -> int:
    """A prompt level as a rating: 6 for independent down to 1 for full physical."""
    return len(PROMPT_LEVELS) - PROMPT_LEVELS.index(level)


def level_of_rank(rank: float) -> str | None:
    index = len(PROMPT_LEVELS) - round(rank)
    return PROMPT_LEVELS[index] if 0 <= index < len(PROMPT_LEVELS) else None


@dataclass(frozen=True)
class Reading:
    """One value read from a note: `value` is a percentage, a count, minutes or a rating."""

    kind: MeasureKind
    value: float
    correct: int | None = None  # trials: 6 of 10
    trials: int | None = None
    prompt: str | None = None


@dataclass(frozen=True)
class Problem:
    """Why the text cannot be a measure: a catalog key under `measure.` and its values."""

    reason: str
    values: dict[str, object] = field(default_factory=dict)


_NUMBER = r"(?<![\w.,/-])(-?\d+(?:[.,]\d+)?)"
_TRIALS = re.compile(r"(?<![\w./-])(-?\d+)\s*/\s*(-?\d+)(?![\w/]|[.,]\d)")
_PERCENT = re.compile(_NUMBER + r"\s*%")
_COUNT_X = re.compile(r"(?<![\w.,/-])[x×]\s?(-?\d+)(?![\w.,])", re.IGNORECASE)
_COUNT_TIMES = re.compile(_NUMBER + r"\s*(?:times|veces)\b", re.IGNORECASE)
_MINUTES = re.compile(_NUMBER + r"\s*(?:min|mins|minutes|minutos)\b", re.IGNORECASE)
_PROMPT = re.compile(
    r"(?<![\w-])(?:p:\s*)?(" + "|".join(re.escape(level) for level in PROMPT_LEVELS) + r")\b"
    r"|(?<![\w-])p:\s*(\w+(?:\s+physical)?)",
    re.IGNORECASE,
)


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _values(text: str) -> list[Reading | Problem]:
    """Every value in the text, in the order found, each read or refused."""
    found: list[tuple[int, Reading | Problem]] = []
    for match in _TRIALS.finditer(text):
        correct, trials = int(match.group(1)), int(match.group(2))
        found.append((match.start(), _trials(correct, trials)))
    for match in _PERCENT.finditer(text):
        found.append((match.start(), _bounded(MeasureKind.PERCENT, _number(match.group(1)))))
    for pattern in (_COUNT_X, _COUNT_TIMES):
        for match in pattern.finditer(text):
            found.append((match.start(), _bounded(MeasureKind.COUNT, _number(match.group(1)))))
    for match in _MINUTES.finditer(text):
        found.append((match.start(), _bounded(MeasureKind.MINUTES, _number(match.group(1)))))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def _trials(correct: int, trials: int) -> Reading | Problem:
    if trials <= 0 or correct < 0:
        return Problem("bad_trials", {"correct": correct, "trials": trials})
    if correct > trials:
        return Problem("trials_over", {"correct": correct, "trials": trials})
    value = round(100 * correct / trials, 1)
    return Reading(MeasureKind.PERCENT, value, correct=correct, trials=trials)


def _bounded(kind: MeasureKind, value: float) -> Reading | Problem:
    if value < 0:
        return Problem("negative", {"value": _plain(value)})
    if kind == MeasureKind.PERCENT and value > 100:
        return Problem("percent_over", {"value": _plain(value)})
    if kind == MeasureKind.COUNT and (value != int(value) or value > MAX_COUNT):
        return Problem("bad_count", {"value": _plain(value)})
    if kind == MeasureKind.MINUTES and value > MAX_MINUTES:
        return Problem("minutes_over", {"value": _plain(value), "limit": MAX_MINUTES})
    return Reading(kind, value)


def _prompts(text: str) -> list[str | Problem]:
    """The prompt levels the text names, each once ("model 3/5, model again" is one)."""
    levels: list[str | Problem] = []
    for match in _PROMPT.finditer(text):
        level = " ".join((match.group(1) or match.group(2)).casefold().split())
        named = level if level in PROMPT_LEVELS else Problem("unknown_prompt", {"level": level})
        if named not in levels:
            levels.append(named)
    return levels


def parse_measure(text: str) -> Reading | Problem | None:
    """The one measure a note carries, why it cannot be one, or None when it has none."""
    values = _values(text)
    prompts = _prompts(text)
    problems = [item for item in (*values, *prompts) if isinstance(item, Problem)]
    if problems:
        return problems[0]
    if len(values) > 1 or len(prompts) > 1:
        return Problem("two_measures")
    prompt = prompts[0] if prompts else None
    assert prompt is None or isinstance(prompt, str)
    if values:
        value = values[0]
        assert isinstance(value, Reading)
        return Reading(value.kind, value.value, value.correct, value.trials, prompt)
    if prompt is not None:
        return Reading(MeasureKind.RATING, float(prompt_rank(prompt)), prompt=prompt)
    return None


def format_number(value: float) -> str:
    """60.0 -> "60", 62.5 -> "62.5": what a person would write."""
    return _plain(value)


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}".rstrip("0").rstrip(".")


# --- a goal's terms: `| target 80% | baseline 40% | by 2027-03-01 | measure count` -------------


@dataclass(frozen=True)
class GoalTerms:
    """What a goal is measured in and against; every part optional."""

    measure: MeasureKind | None = None
    target: float | None = None
    baseline: float | None = None
    due: date | None = None


_TERM = re.compile(r"^(target|baseline|by|measure)\s*:?\s*(.*)$", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")


def parse_goal_terms(parts: list[str]) -> GoalTerms | Problem:
    """The `|`-separated parts after a goal's description, checked against one another."""
    terms: dict[str, str] = {}
    for part in (" ".join(part.split()) for part in parts):
        match = _TERM.match(part)
        if match is None or not match.group(2):
            return Problem("goal_term", {"term": part[:40]})
        terms[match.group(1).casefold()] = match.group(2)
    measure: MeasureKind | None = None
    if "measure" in terms:
        try:
            measure = MeasureKind(terms["measure"].casefold())
        except ValueError:
            return Problem("goal_measure", {"measure": terms["measure"][:20]})
    due: date | None = None
    if "by" in terms:
        try:
            due = date.fromisoformat(terms["by"])
        except ValueError:
            return Problem("goal_date", {"date": terms["by"][:20]})
    values: dict[str, Reading] = {}
    for name in ("target", "baseline"):
        if name in terms:
            read = _goal_value(terms[name], measure)
            if isinstance(read, Problem):
                return read
            values[name] = read
    kinds = {read.kind for read in values.values()} | ({measure} if measure else set())
    if len(kinds) > 1:
        return Problem("goal_kinds")
    kind = kinds.pop() if kinds else None
    target, baseline = values.get("target"), values.get("baseline")
    return GoalTerms(
        kind, target.value if target else None, baseline.value if baseline else None, due
    )


def _goal_value(text: str, measure: MeasureKind | None) -> Reading | Problem:
    """A target or baseline: a measure as a note would write it, or a bare number in the
    goal's declared measure."""
    if _BARE_NUMBER.match(text):
        if measure is None:
            return Problem("goal_unit", {"value": text})
        if measure == MeasureKind.RATING:
            return Problem("goal_unit", {"value": text})
        return _bounded(measure, _number(text))
    read = parse_measure(text)
    if read is None:
        return Problem("goal_unit", {"value": text[:20]})
    if isinstance(read, Reading) and read.kind != MeasureKind.RATING and read.prompt:
        return Problem("two_measures")
    return read
