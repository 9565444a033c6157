"""Outbox dedupe keys: each kind of letter's key is built and read back here, and nowhere else.

A key names what a letter is about, so that queueing it twice (a job fired twice, a button
pressed twice) queues it once. The texts are what existing databases dedupe against: each
builder's output must stay byte for byte what it is.
"""

from __future__ import annotations

from typing import NamedTuple

ENTRY = "entry"
SHARE = "share"
ANSWER = "answer"
SEEN = "seen"
AMEND = "amend"
AMENDED = "amended"
BLOCKED = "blocked"
CHECKIN = "checkin"
NUDGE = "nudge"
SUMMARY = "summary"
CHART = "chart"

# The kinds whose first field is an entry's id: the letters about that entry.
ABOUT_AN_ENTRY = (ENTRY, SHARE, ANSWER, SEEN)


def _fields(kind: str, key: str, count: int) -> list[str] | None:
    """The fields of `key` after its kind, if it is a key of `kind` with `count` of them."""
    head, *fields = key.split(":")
    return fields if head == kind and len(fields) == count else None


def entry_letter_prefixes(entry_id: int) -> list[str]:
    """What the keys of every letter about one entry start with (to find them with LIKE)."""
    return [f"{kind}:{entry_id}:" for kind in ABOUT_AN_ENTRY]


class EntryKey(NamedTuple):
    entry_id: int
    person_id: int


def entry_key(entry_id: int, person_id: int) -> str:
    """A new entry, told at once to one member of the student's team."""
    return f"{ENTRY}:{entry_id}:{person_id}"


def parse_entry_key(key: str) -> EntryKey | None:
    found = _fields(ENTRY, key, 2)
    return EntryKey(int(found[0]), int(found[1])) if found else None


class ShareKey(NamedTuple):
    entry_id: int
    person_id: int


def share_key(entry_id: int, person_id: int) -> str:
    """A teacher's entry shared now with one parent on the weekly digest."""
    return f"{SHARE}:{entry_id}:{person_id}"


def parse_share_key(key: str) -> ShareKey | None:
    found = _fields(SHARE, key, 2)
    return ShareKey(int(found[0]), int(found[1])) if found else None


class AnswerKey(NamedTuple):
    entry_id: int  # the answer
    person_id: int  # who asked


def answer_key(entry_id: int, person_id: int) -> str:
    """An answer, sent to whoever asked the question."""
    return f"{ANSWER}:{entry_id}:{person_id}"


def parse_answer_key(key: str) -> AnswerKey | None:
    found = _fields(ANSWER, key, 2)
    return AnswerKey(int(found[0]), int(found[1])) if found else None


class SeenKey(NamedTuple):
    entry_id: int  # the urgent entry
    person_id: int  # who saw it


def seen_key(entry_id: int, person_id: int) -> str:
    """A teammate has seen an urgent entry: its author is told, once per teammate."""
    return f"{SEEN}:{entry_id}:{person_id}"


def parse_seen_key(key: str) -> SeenKey | None:
    found = _fields(SEEN, key, 2)
    return SeenKey(int(found[0]), int(found[1])) if found else None


class AmendKey(NamedTuple):
    amendment_id: int
    person_id: int


def amend_key(amendment_id: int, person_id: int) -> str:
    """A parent's correction request, put to one who may decide it."""
    return f"{AMEND}:{amendment_id}:{person_id}"


def parse_amend_key(key: str) -> AmendKey | None:
    found = _fields(AMEND, key, 2)
    return AmendKey(int(found[0]), int(found[1])) if found else None


class AmendedKey(NamedTuple):
    amendment_id: int


def amended_key(amendment_id: int) -> str:
    """The decision on a correction request, told to the parent who asked."""
    return f"{AMENDED}:{amendment_id}"


def parse_amended_key(key: str) -> AmendedKey | None:
    found = _fields(AMENDED, key, 1)
    return AmendedKey(int(found[0])) if found else None


class BlockedKey(NamedTuple):
    account_id: int
    admin_id: int


def blocked_key(account_id: int, admin_id: int) -> str:
    """An account blocked the bot: each admin is told once, however many letters failed."""
    return f"{BLOCKED}:{account_id}:{admin_id}"


def parse_blocked_key(key: str) -> BlockedKey | None:
    found = _fields(BLOCKED, key, 2)
    return BlockedKey(int(found[0]), int(found[1])) if found else None


class CheckinKey(NamedTuple):
    student_id: int
    person_id: int
    week: str  # ISO week, `2026-W48`


def checkin_key(student_id: int, person_id: int, week: str) -> str:
    """A parent's weekly check-in prompt about one student."""
    return f"{CHECKIN}:{student_id}:{person_id}:{week}"


def parse_checkin_key(key: str) -> CheckinKey | None:
    found = _fields(CHECKIN, key, 3)
    return CheckinKey(int(found[0]), int(found[1]), found[2]) if found else None


class NudgeKey(NamedTuple):
    person_id: int
    week: str


def nudge_key(person_id: int, week: str) -> str:
    """A teacher's weekly nudge about their students with no entry yet."""
    return f"{NUDGE}:{person_id}:{week}"


def parse_nudge_key(key: str) -> NudgeKey | None:
    found = _fields(NUDGE, key, 2)
    return NudgeKey(int(found[0]), found[1]) if found else None


class SummaryKey(NamedTuple):
    student_id: int
    person_id: int
    week: str


def summary_key(student_id: int, person_id: int, week: str) -> str:
    """A member's weekly summary about one student."""
    return f"{SUMMARY}:{student_id}:{person_id}:{week}"


def parse_summary_key(key: str) -> SummaryKey | None:
    found = _fields(SUMMARY, key, 3)
    return SummaryKey(int(found[0]), int(found[1]), found[2]) if found else None


FOLLOW_UP = "then"


def follow_up_key(key: str) -> str:
    """The letter the sender queues once the letter keyed `key` is sent (a summary's picture):
    one per letter, however often that letter is delivered."""
    return f"{key}:{FOLLOW_UP}"
