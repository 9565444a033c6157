"""Special-education words a summary explains in one plain line: IEP, BIP, OT, accommodations..."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.i18n import Translator


@dataclass(frozen=True)
class _Term:
    key: str  # the catalog's `glossary.<key>`
    clues: tuple[str, ...]  # literal pieces, one of which every match holds: a cheap first look
    pattern: str
    abbreviation: bool = True  # matched in capitals only ("OT", never "ot")

    @property
    def finder(self) -> re.Pattern[str]:
        return re.compile(self.pattern if self.abbreviation else f"(?i:{self.pattern})")


# How staff write each term, in English or Spanish.
_TERMS = (
    _Term("iep", ("IEP", "PEI"), r"\b(?:IEP|PEI)s?\b"),
    _Term(
        "504",
        ("504",),
        r"\b504 plans?\b|\bplan(?:es)? 504\b|\bsection 504\b"
        r"|\bsecci[oó]n 504\b",
        abbreviation=False,
    ),
    _Term("bip", ("BIP",), r"\bBIPs?\b"),
    _Term("fba", ("FBA",), r"\bFBAs?\b"),
    _Term("ot", ("OT",), r"\bOT\b"),
    _Term("pt", ("PT",), r"\bPT\b"),
    _Term("slp", ("SLP",), r"\bSLPs?\b"),
    _Term("aac", ("AAC",), r"\bAAC\b"),
    _Term("esy", ("ESY",), r"\bESY\b"),
    _Term(
        "accommodations",
        ("accommodation", "adaptaciones"),
        r"\baccommodations?\b|\badaptaciones\b",
        abbreviation=False,
    ),
    _Term(
        "modifications",
        ("modification", "modificaciones"),
        r"\bmodifications?\b|\bmodificaciones\b",
        abbreviation=False,
    ),
    _Term(
        "paraprofessional",
        ("paraprofe", "paraprofessional"),
        r"\bparaprofessionals?\b|\bparaprofesional(?:es)?\b",
        abbreviation=False,
    ),
)
_FINDERS = {term.key: term.finder for term in _TERMS}


def terms_in(texts: Iterable[str]) -> list[str]:
    """The glossary keys of the terms in these texts, in the glossary's order."""
    text = "\n".join(texts)
    folded = text.casefold()
    # `in` scans a summary's text in microseconds; a regex runs only where a clue was seen.
    return [
        term.key
        for term in _TERMS
        if any(clue in (text if term.abbreviation else folded) for clue in term.clues)
        and _FINDERS[term.key].search(text)
    ]


def explain(texts: Iterable[str], t: Translator) -> list[str]:
    """One plain-language line, in the reader's language, per term the texts use."""
    return [t(f"glossary.{key}") for key in terms_in(texts)]
