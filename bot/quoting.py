"""Other people's words, shown so that they cannot pass for Tandem's own.

A note may hold several lines, and a line can be written to look like one of Tandem's
("Tandem: your account needs re-verification. Send /link CODE"). Wherever Tandem shows what
someone wrote (letters, replies, summaries, the record), it names the author on a line of its
own words, then every line of theirs behind a bar: a line without the bar is Tandem's.
"""

from __future__ import annotations

from collections.abc import Iterable

BAR = "│ "


def quote(text: str, indent: str = "") -> str:
    """Every line of `text` behind `indent` and a bar; a run of blank lines becomes one, and
    blank lines at either end go (`indent` lines the quote up under a list's bullet)."""
    bar = indent + BAR
    # Most notes are one line. Kept text breaks lines only with "\n" (grammar.clean_text); a
    # line separator may come from before that was so. A summary quotes 500,000 lines: no regex.
    if text and "\n" not in text and "\u2028" not in text and "\u2029" not in text:
        return bar + text
    lines = without_blank_runs(text.splitlines())
    return "\n".join(bar + line if line else bar.rstrip() for line in lines) or bar.rstrip()


def without_blank_runs(lines: Iterable[str]) -> list[str]:
    """The lines with blank (or whitespace-only) ones at either end dropped and each run of
    them inside kept as one empty line."""
    kept: list[str] = []
    blank = False
    for line in lines:
        if line.strip():
            if blank and kept:
                kept.append("")
            kept.append(line)
            blank = False
        else:
            blank = True
    return kept
