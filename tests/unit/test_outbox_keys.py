"""Outbox dedupe keys: the texts existing databases dedupe against, and reading them back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from storage import outbox_keys as keys

# Each kind: its builder's arguments, the text databases already hold, and its parser.
KINDS: list[tuple[Callable[..., str], tuple[Any, ...], str, Callable[[str], Any]]] = [
    (keys.entry_key, (12, 7), "entry:12:7", keys.parse_entry_key),
    (keys.share_key, (12, 7), "share:12:7", keys.parse_share_key),
    (keys.answer_key, (12, 7), "answer:12:7", keys.parse_answer_key),
    (keys.seen_key, (12, 7), "seen:12:7", keys.parse_seen_key),
    (keys.amend_key, (3, 7), "amend:3:7", keys.parse_amend_key),
    (keys.amended_key, (3,), "amended:3", keys.parse_amended_key),
    (keys.blocked_key, (40, 2), "blocked:40:2", keys.parse_blocked_key),
    (keys.checkin_key, (5, 7, "2026-W48"), "checkin:5:7:2026-W48", keys.parse_checkin_key),
    (keys.nudge_key, (7, "2026-W48"), "nudge:7:2026-W48", keys.parse_nudge_key),
    (keys.summary_key, (5, 7, "2026-W48"), "summary:5:7:2026-W48", keys.parse_summary_key),
]


@pytest.mark.parametrize(("build", "values", "text", "parse"), KINDS)
def test_each_kind_of_key_is_written_as_databases_already_hold_it_and_reads_back(
    build: Callable[..., str], values: tuple[Any, ...], text: str, parse: Callable[[str], Any]
) -> None:
    assert build(*values) == text
    assert tuple(parse(text)) == values


@pytest.mark.parametrize(("build", "values", "text", "parse"), KINDS)
def test_a_key_of_another_kind_is_not_read_as_this_one(
    build: Callable[..., str], values: tuple[Any, ...], text: str, parse: Callable[[str], Any]
) -> None:
    others = [other for _, _, other, _ in KINDS if other != text]
    assert [parse(other) for other in others] == [None] * len(others)


def test_the_letters_about_an_entry_are_found_by_prefix_and_no_other_entrys() -> None:
    prefixes = keys.entry_letter_prefixes(5)
    about_5 = [
        keys.entry_key(5, 7),
        keys.share_key(5, 7),
        keys.answer_key(5, 7),
        keys.seen_key(5, 7),
    ]
    about_51 = [keys.entry_key(51, 7), keys.share_key(51, 7)]

    assert all(any(key.startswith(prefix) for prefix in prefixes) for key in about_5)
    assert not any(key.startswith(prefix) for prefix in prefixes for key in about_51)


def test_a_follow_up_is_keyed_by_the_letter_it_follows_and_is_not_read_as_that_letter() -> None:
    summary = keys.summary_key(5, 7, "2026-W48")

    follow_up = keys.follow_up_key(summary)

    assert follow_up == "summary:5:7:2026-W48:then"
    assert keys.parse_summary_key(follow_up) is None
