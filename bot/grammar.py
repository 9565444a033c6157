"""Parsing of one-line notes: cleaning, the `+ - ? !` prefixes, `#tags` and student names."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.quoting import without_blank_runs
from storage.models import EntryKind

PREFIXES: dict[str, EntryKind] = {
    "+": EntryKind.WIN,
    "-": EntryKind.CONCERN,
    "?": EntryKind.QUESTION,
    "!": EntryKind.URGENT,
    # As Arabic and Chinese keyboards type them: `؟` and the full-width `？ ！ ＋`.
    "\u061f": EntryKind.QUESTION,
    "\uff1f": EntryKind.QUESTION,
    "\uff01": EntryKind.URGENT,
    "\uff0b": EntryKind.WIN,
}

# Bidi overrides/isolates and zero-width characters can disguise text; they carry no meaning here.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u180e]")
_TAG = re.compile(r"(?<![\w#])#([^\W_][\w-]{0,31})", re.UNICODE)
_TRAILING_TAGS = re.compile(r"(?:\s*(?<![\w#])#[^\W_][\w-]{0,31})+\s*$", re.UNICODE)
_WORD_EDGE = ".,;:!?¡¿\"'()[]{}“”‘’«»"
_POSSESSIVE = re.compile(r"['’]s$")


# Entry numbers are database ids (32-bit on every database): anything bigger names no entry,
# and must not reach a query, where it would overflow the parameter.
MAX_ENTRY_NUMBER = 2**31 - 1


def entry_number(text: str) -> int | None:
    """`12` or `#12` -> 12; None if the text is not a number an entry could have."""
    digits = text.strip().removeprefix("#")
    if not digits.isdecimal() or len(digits) > len(str(MAX_ENTRY_NUMBER)):
        return None
    number = int(digits)
    return number if 0 < number <= MAX_ENTRY_NUMBER else None


def clean_text(text: str) -> str:
    """NFC, without invisible or control characters (newlines and tabs kept), a run of blank
    lines one blank line, trimmed."""
    text = _INVISIBLE.sub("", text)
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )
    # Normalised once they are gone: removing one can bring a letter and its accent together.
    text = unicodedata.normalize("NFC", text)
    if not text.isprintable():  # one line of plain text is printable: most notes
        # A line or paragraph separator breaks the line too, on the screens that show it.
        lines = text.replace("\u2028", "\n").replace("\u2029", "\n").split("\n")
        text = "\n".join(without_blank_runs(lines))
    return text.strip()


# Every note folds each of the sender's students' names: the same few names, over and over.
@functools.lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Case- and accent-insensitive form used to compare names."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def split_prefix(text: str) -> tuple[EntryKind | None, str]:
    """`+ Sam read` -> (WIN, "Sam read"); text without a prefix comes back unchanged."""
    if text[:1] in PREFIXES:
        return PREFIXES[text[0]], text[1:].strip()
    return None, text


def find_tags(text: str) -> tuple[str, ...]:
    """The `#tags` in the text, lower-cased, first occurrence first, without repeats."""
    seen: dict[str, None] = {}
    for tag in _TAG.findall(text):
        seen.setdefault(tag.casefold(), None)
    return tuple(seen)


def strip_trailing_tags(text: str) -> str:
    """`read a page #reading` -> `read a page`; tags inside the sentence stay as written."""
    stripped = _TRAILING_TAGS.sub("", text)
    return stripped if stripped.strip() else text


@dataclass(frozen=True)
class NameMatch:
    """Which of the sender's students the text names, and the text that is left."""

    student_ids: tuple[int, ...]  # one: resolved; several: ambiguous; none: not named
    body: str
    named: bool  # the sender clearly wrote a name (`Zed: ...`), even if it matched nobody
    name: str = ""


def _word_key(word: str) -> str:
    return fold(_POSSESSIVE.sub("", word.strip(_WORD_EDGE)))


def match_student(text: str, students: Sequence[tuple[int, str]]) -> NameMatch:
    """Find a student named by the first word(s) of `text`: exact name first, then unique prefix.

    `Sam: slept badly` names Sam and leaves `slept badly`; `Sam read a page` names Sam and keeps
    the sentence whole, because the entry stays as written.
    """
    head, colon, rest = text.replace("\uff1a", ":", 1).partition(":")  # `Sam：` as typed in Chinese
    unknown = NameMatch((), text, named=False)
    if colon and 0 < len(head.split()) <= 3:
        ids = _lookup(head.split(), students, exact_words=len(head.split()))
        if ids:
            return NameMatch(ids, rest.strip() or text, named=True, name=head.strip())
        # An unknown name keeps the whole text: "Reminder: picture day" is not about a "Reminder".
        # The first words may still name someone: "Sam at 10:30 had a meltdown".
        unknown = NameMatch((), text, named=True, name=head.strip())

    words = text.split()
    for count in (3, 2, 1):
        if len(words) >= count:
            ids = _lookup(words[:count], students, exact_words=count)
            if ids:
                body = " ".join(words[count:]) if words[count - 1].endswith(",") else text
                return NameMatch(
                    ids, body.strip() or text, named=True, name=" ".join(words[:count])
                )
    if unknown.named:
        return unknown
    # "Can Sam bring headphones?": one of the sender's students, by exact first name, elsewhere.
    said = {_word_key(word) for word in words[1:]}
    mentioned = tuple(
        sid for sid, name in students if fold(name).split()[:1] and fold(name).split()[0] in said
    )
    return NameMatch(mentioned, text, named=bool(mentioned)) if len(mentioned) == 1 else unknown


def _lookup(
    words: Sequence[str], students: Sequence[tuple[int, str]], exact_words: int
) -> tuple[int, ...]:
    """Students whose name starts with these words, exactly; or, for one word, by unique prefix."""
    wanted = [_word_key(w) for w in words]
    if not all(wanted):
        return ()
    exact = tuple(sid for sid, name in students if fold(name).split()[:exact_words] == wanted)
    if exact or exact_words != 1 or len(wanted[0]) < 2:
        return exact
    return tuple(sid for sid, name in students if fold(name).startswith(wanted[0]))


def match_name(query: str, students: Sequence[tuple[int, str]]) -> tuple[int, ...]:
    """Students a NAME argument (`/log Sam`) means: exact first words, else a unique prefix."""
    words = query.split()
    if not words:
        return ()
    return _lookup(words, students, exact_words=len(words))
