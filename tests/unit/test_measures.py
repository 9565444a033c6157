"""Reading a measure out of a one-line note, and a goal's terms (bot/measures.py)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.measures import (
    PROMPT_LEVELS,
    GoalTerms,
    MeasureKind,
    Problem,
    Reading,
    parse_goal_terms,
    parse_measure,
)

WORDS = st.text(alphabet="abcdefghij klmnop", max_size=30)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("read 6/10 words correctly", MeasureKind.PERCENT, 60),
        ("got 80% of the sounds", MeasureKind.PERCENT, 80),
        ("asked for a break x3", MeasureKind.COUNT, 3),
        ("asked for a break 3 times", MeasureKind.COUNT, 3),
        ("stayed on task 12 min", MeasureKind.MINUTES, 12),
        ("tied shoes p:verbal", MeasureKind.RATING, 4),
        ("tied shoes with a full physical prompt", MeasureKind.RATING, 1),
    ],
)
def test_each_way_of_writing_a_measure_is_read(text: str, kind: MeasureKind, value: float) -> None:
    read = parse_measure(text)

    assert isinstance(read, Reading)
    assert (read.kind, read.value) == (kind, value)


def test_trials_keep_their_count_and_a_prompt_level_rides_along() -> None:
    assert parse_measure("read 6/10 words with verbal prompts") == Reading(
        MeasureKind.PERCENT, 60, correct=6, trials=10, prompt="verbal"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("11/10", "trials_over"),
        ("0/0", "bad_trials"),
        ("-3 times", "negative"),
        ("140 %", "percent_over"),
        ("6/10 and then 80%", "two_measures"),
        ("x3 and 12 min", "two_measures"),
        ("verbal at first, then 3/5 on model", "two_measures"),
        ("p:shouting", "unknown_prompt"),
        ("2.5 times", "bad_count"),
    ],
)
def test_a_measure_that_cannot_be_is_refused_with_its_reason(text: str, reason: str) -> None:
    read = parse_measure(text)

    assert isinstance(read, Problem)
    assert read.reason == reason


def test_a_prompt_level_named_twice_is_one_prompt() -> None:
    assert parse_measure("model 3/5, model again") == Reading(
        MeasureKind.PERCENT, 60, correct=3, trials=5, prompt="model"
    )


@given(st.integers(0, 500), st.integers(1, 500), WORDS, WORDS)
@example(0, 1, "model", "model")  # a prompt level on both sides: still one measure
def test_trials_are_a_percentage_or_refused_never_over_100(
    correct: int, trials: int, before: str, after: str
) -> None:
    read = parse_measure(f"{before} {correct}/{trials} {after}")

    if correct <= trials:
        assert isinstance(read, Reading)
        assert 0 <= read.value <= 100
        assert (read.correct, read.trials) == (correct, trials)
    else:
        assert isinstance(read, Problem)


@given(st.integers(-1000, 1000))
def test_a_percentage_is_kept_only_from_0_to_100(value: int) -> None:
    read = parse_measure(f"scored {value}%")

    assert isinstance(read, Reading) == (0 <= value <= 100)


@given(WORDS)
def test_words_without_numbers_or_prompt_levels_carry_no_measure(text: str) -> None:
    if not any(level in text for level in PROMPT_LEVELS):
        assert parse_measure(text) is None


@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_without_an_error(text: str) -> None:
    assert parse_measure(text) is None or isinstance(parse_measure(text), Reading | Problem)


def test_goal_terms_read_target_baseline_and_date() -> None:
    terms = parse_goal_terms([" target 80% ", " baseline 40%", " by 2027-03-01"])

    assert terms == GoalTerms(MeasureKind.PERCENT, 80, 40, date(2027, 3, 1))


def test_a_bare_number_needs_the_goals_measure() -> None:
    assert parse_goal_terms(["measure count", "target 5"]) == GoalTerms(MeasureKind.COUNT, 5)
    problem = parse_goal_terms(["target 5"])
    assert isinstance(problem, Problem) and problem.reason == "goal_unit"


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (["target 180%"], "percent_over"),
        (["target 80%", "measure count"], "goal_kinds"),
        (["by next spring"], "goal_date"),
        (["measure smiles"], "goal_measure"),
        (["colour blue"], "goal_term"),
    ],
)
def test_goal_terms_that_cannot_be_are_refused(parts: list[str], reason: str) -> None:
    problem = parse_goal_terms(parts)

    assert isinstance(problem, Problem) and problem.reason == reason
