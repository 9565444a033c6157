"""Parsing one-line notes: cleaning, prefixes, #tags and student names."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.grammar import (
    PREFIXES,
    clean_text,
    find_tags,
    match_name,
    match_student,
    split_prefix,
    strip_trailing_tags,
)
from storage.models import EntryKind

BIDI = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
CONTROLS = ["\x00", "\x07", "\x08", "\x1b", "\x7f", "\x85", "\r"]

STUDENTS = [(1, "Sam Rivera"), (2, "Maya Chen")]
WITH_SAMIR = [*STUDENTS, (3, "Samir Khan")]

# Arbitrary text, weighted towards what the grammar cares about: signs, tags, names, invisibles.
SIGNS = ["+", "-", "?", "!", "#", ":", ",", "'s", " ", "\n", "\t", "e\u0301", "\u0301"]
TRICKY = st.sampled_from(
    [*SIGNS, "Sam", "sám", "Maya", "#reading", "10:30", *BIDI, *ZERO_WIDTH, *CONTROLS]
)
ANY_TEXT = st.text(
    st.one_of(st.characters(), st.characters(categories=["Cc", "Cf", "Cs", "Mn", "Zs"]))
) | st.lists(st.one_of(TRICKY, st.text(max_size=3))).map("".join)
LETTERS = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)
ANY_STUDENTS = st.lists(
    st.tuples(st.integers(1, 50), LETTERS.map(str.strip).filter(bool)), max_size=5
)

# A tag as the grammar sees one: `#` and a word, not glued to a word or another `#`.
TAG = re.compile(r"(?<![\w#])#[^\W_][\w-]{0,31}")


def without_tags(text: str) -> list[str]:
    return TAG.sub(" ", text).split()


# --- clean_text -----------------------------------------------------------------------------


def test_clean_text_composes_letters_and_accents_into_nfc() -> None:
    assert clean_text("Sa\u0301m") == "S\u00e1m"


@pytest.mark.parametrize("char", BIDI, ids=lambda c: f"U+{ord(c):04X}")
def test_clean_text_strips_bidi_overrides_and_isolates(char: str) -> None:
    assert clean_text(f"Sam {char}read{char} a page") == "Sam read a page"


@pytest.mark.parametrize("char", ZERO_WIDTH, ids=lambda c: f"U+{ord(c):04X}")
def test_clean_text_strips_zero_width_characters(char: str) -> None:
    assert clean_text(f"Sa{char}m read") == "Sam read"


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_clean_text_strips_control_characters(char: str) -> None:
    assert clean_text(f"Sam{char} read") == "Sam read"


def test_clean_text_keeps_newlines_and_tabs_inside_the_text() -> None:
    assert clean_text("  line one\nline two\tend \n") == "line one\nline two\tend"


def test_clean_text_joins_an_accent_split_off_by_an_invisible_character() -> None:
    assert clean_text("Jose\u200b\u0301") == "Jos\u00e9"


@given(ANY_TEXT)
@example("Jose\u200b\u0301")
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@given(ANY_TEXT)
def test_clean_text_leaves_nfc_without_invisible_or_control_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert not set(cleaned) & set(BIDI + ZERO_WIDTH)
    assert all(ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs") for ch in cleaned)


@given(st.lists(LETTERS, min_size=1, max_size=6))
def test_clean_text_keeps_every_line_of_plain_text(lines: list[str]) -> None:
    text = "\n".join(unicodedata.normalize("NFC", line) for line in lines)
    assert clean_text(text) == text.strip()


# --- split_prefix ---------------------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "kind"), PREFIXES.items())
def test_split_prefix_reads_each_sign(prefix: str, kind: EntryKind) -> None:
    assert split_prefix(f"{prefix} Sam read a page") == (kind, "Sam read a page")


def test_split_prefix_leaves_text_without_a_sign_unchanged() -> None:
    assert split_prefix("Sam: slept badly") == (None, "Sam: slept badly")


@given(st.sampled_from(sorted(PREFIXES)), ANY_TEXT)
def test_split_prefix_round_trips_every_sign_and_body(prefix: str, body: str) -> None:
    assert split_prefix(prefix + body) == (PREFIXES[prefix], body.strip())


@given(ANY_TEXT.filter(lambda text: text[:1] not in PREFIXES))
def test_split_prefix_returns_unsigned_text_as_it_came(text: str) -> None:
    assert split_prefix(text) == (None, text)


# --- find_tags ------------------------------------------------------------------------------


def test_find_tags_lowercases_and_drops_repeats_in_order() -> None:
    assert find_tags("read #Reading, then #calm and #reading again") == ("reading", "calm")


@pytest.mark.parametrize("text", ["issue#42", "C# is fine", "##reading", "#_x", "# reading"])
def test_find_tags_ignores_what_is_not_a_tag(text: str) -> None:
    assert find_tags(text) == ()


def test_find_tags_accepts_dashes_and_accented_letters() -> None:
    assert find_tags("#self-care and #café") == ("self-care", "café")


@given(ANY_TEXT)
def test_find_tags_returns_unique_folded_tags_that_are_in_the_text(text: str) -> None:
    tags = find_tags(text)
    assert len(set(tags)) == len(tags)
    for tag in tags:
        assert tag == tag.casefold()
        assert f"#{tag}" in text.casefold()


@given(st.lists(LETTERS, min_size=1, max_size=4), st.lists(LETTERS, max_size=4))
def test_find_tags_finds_every_tag_written_after_a_space(words: list[str], tags: list[str]) -> None:
    text = " ".join(words + [f"#{tag}" for tag in tags])
    expected = [tag.casefold() for tag in tags if len(tag) <= 32]
    assert set(expected) <= set(find_tags(text))


# --- strip_trailing_tags --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ("read a page #reading", "read a page"),
        ("read a page #reading #calm ", "read a page"),
        ("read #reading with me", "read #reading with me"),
        ("#reading", "#reading"),
        ("see issue#42", "see issue#42"),
        ("see x##reading", "see x##reading"),
    ],
)
def test_strip_trailing_tags_removes_only_tags_at_the_end(text: str, stripped: str) -> None:
    assert strip_trailing_tags(text) == stripped


@given(ANY_TEXT)
@example("see x##reading")
@example("see issue#42")
def test_strip_trailing_tags_never_loses_non_tag_text(text: str) -> None:
    stripped = strip_trailing_tags(text)
    assert text.startswith(stripped)
    assert without_tags(stripped) == without_tags(text)


# --- match_student --------------------------------------------------------------------------


def test_match_student_finds_the_first_name_and_keeps_the_sentence() -> None:
    match = match_student("Sam read a whole page aloud", STUDENTS)
    assert match.student_ids == (1,)
    assert match.body == "Sam read a whole page aloud"


@pytest.mark.parametrize("name", ["sám", "SAM", "Sam's", "SÁM"])
def test_match_student_ignores_case_accents_and_possessives(name: str) -> None:
    assert match_student(f"{name} read a page", STUDENTS).student_ids == (1,)


def test_match_student_matches_a_full_multi_word_name() -> None:
    students = [(1, "Mary Ann Lee"), (2, "Mary Jo Park")]
    assert match_student("Mary Jo read a page", students).student_ids == (2,)


def test_match_student_takes_a_unique_prefix() -> None:
    assert match_student("Ma shared a snack", STUDENTS).student_ids == (2,)


def test_match_student_gives_every_student_an_ambiguous_prefix_could_mean() -> None:
    assert set(match_student("Sa shared a snack", WITH_SAMIR).student_ids) == {1, 3}


def test_match_student_prefers_an_exact_first_name_to_a_longer_one() -> None:
    assert match_student("Sam shared a snack", WITH_SAMIR).student_ids == (1,)


def test_match_student_takes_the_name_before_a_colon_off_the_note() -> None:
    match = match_student("Sam: slept badly, anxious this morning", STUDENTS)
    assert match.student_ids == (1,)
    assert match.body == "slept badly, anxious this morning"


def test_match_student_takes_the_name_before_a_comma_off_the_note() -> None:
    match = match_student("Maya, great focus in math", STUDENTS)
    assert (match.student_ids, match.body) == ((2,), "great focus in math")


def test_match_student_keeps_the_whole_text_after_an_unknown_colon_name() -> None:
    match = match_student("Reminder: picture day", STUDENTS)
    assert match.student_ids == ()
    assert match.body == "Reminder: picture day"
    assert match.named
    assert match.name == "Reminder"


def test_match_student_still_sees_the_name_when_a_time_has_a_colon() -> None:
    match = match_student("Sam at 10:30 had a meltdown", STUDENTS)
    assert match.student_ids == (1,)
    assert match.body == "Sam at 10:30 had a meltdown"


def test_match_student_reports_no_name_when_none_is_written() -> None:
    match = match_student("read a whole page aloud", STUDENTS)
    assert match.student_ids == ()
    assert not match.named
    assert match.body == "read a whole page aloud"


def test_match_student_needs_two_letters_for_a_prefix() -> None:
    assert match_student("S read a page", STUDENTS).student_ids == ()


@given(ANY_TEXT, ANY_STUDENTS)
def test_match_student_never_raises_and_names_only_given_students(
    text: str, students: list[tuple[int, str]]
) -> None:
    match = match_student(text, students)
    assert set(match.student_ids) <= {sid for sid, _ in students}
    if not match.student_ids:
        assert match.body == text


@given(ANY_TEXT, ANY_STUDENTS)
def test_match_name_never_raises_and_names_only_given_students(
    text: str, students: list[tuple[int, str]]
) -> None:
    assert set(match_name(text, students)) <= {sid for sid, _ in students}


@given(ANY_TEXT)
def test_the_grammar_never_raises_on_arbitrary_text(text: str) -> None:
    cleaned = clean_text(text)
    for each in (text, cleaned):
        split_prefix(each)
        find_tags(each)
        strip_trailing_tags(each)
        match_student(each, STUDENTS)
        match_name(each, STUDENTS)
