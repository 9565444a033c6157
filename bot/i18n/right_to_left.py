"""Right-to-left catalogs: every left-to-right run in an Arabic message sits in a bidi isolate.

A chat client lays out an Arabic message with the Unicode bidi algorithm. A student's name, a
number or a command in the middle of it is a left-to-right run whose neighbouring punctuation
can land on the wrong side (`/original 12` shows as `original 12/`), and a line that opens with
one is laid out left to right altogether. FSI ... PDI (U+2068, U+2069) around each such run
keeps it whole and leaves the sentence right to left. `python -m bot.i18n check` names a run
left bare; `python -m bot.i18n isolate ar` wraps the values and commands it can find.

Babel and the standard library only: the build runs this before Tandem's dependencies are in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

RIGHT_TO_LEFT = ("ar",)
FSI, PDI = "\u2068", "\u2069"
_OPENERS = ("\u2066", "\u2067", FSI)
_ALONE = re.compile(r"\s*\{\w+\}\s*")  # a note on its own line: its own paragraph and direction
_BARE_VALUE = re.compile(r"#?\{\w+\}")
_BARE_COMMAND = re.compile(r"(?<![A-Za-z0-9/])/[a-z_]+(?:[ ][A-Za-z0-9_:|\[\]./%#-]+)*(?<![.])")
_BARE_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")  # a `tandem` option: `--student`


def outside_isolates(line: str) -> str:
    """The line with every isolated run blanked out: what its own direction rests on."""
    depth, kept = 0, []
    for char in line:
        if char in _OPENERS:
            depth += 1
        elif char == PDI:
            depth = max(0, depth - 1)
        kept.append(char if depth == 0 and char not in (*_OPENERS, PDI) else " ")
    return "".join(kept)


def _first_strong(text: str) -> str | None:
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("L", "R", "AL"):
            return direction
    return None


def bare_runs(text: str) -> Iterator[str]:
    """What would scramble this right-to-left message: each line's trouble, in words."""
    for line in text.split("\n"):
        if _ALONE.fullmatch(line):
            continue
        own = outside_isolates(line)
        right_to_left = any(unicodedata.bidirectional(char) in ("R", "AL") for char in own)
        if right_to_left and _first_strong(own) == "L":
            yield f"line {line.strip()[:30]!r} would be laid out left to right"
        for pattern in (_BARE_VALUE, _BARE_COMMAND, _BARE_OPTION):
            for found in pattern.finditer(own):
                yield f"{found.group(0)!r} is not in an isolate (U+2068 ... U+2069)"


def isolate(text: str) -> str:
    """Wrap each bare value (`{name}`, `#{tag}`), command (`/log Sam`) and option
    (`--student`) in an isolate."""
    lines = []
    for line in text.split("\n"):
        if not _ALONE.fullmatch(line):
            for pattern in (_BARE_VALUE, _BARE_COMMAND, _BARE_OPTION):
                line = _wrap(pattern, line)
        lines.append(line)
    return "\n".join(lines)


def _wrap(pattern: re.Pattern[str], line: str) -> str:
    own = outside_isolates(line)
    for found in reversed(list(pattern.finditer(own))):
        start, end = found.span()
        line = f"{line[:start]}{FSI}{line[start:end]}{PDI}{line[end:]}"
    return line
