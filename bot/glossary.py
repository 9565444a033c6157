"""Special-education words a summary explains in one plain line: IEP, BIP, OT, accommodations..."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.i18n import Translator

# Each term's catalog key (`glossary.<key>`) and how staff write it, in English or Spanish.
# Abbreviations match only in capitals ("OT", not "ot"), words in any case.
_TERMS = {
    "iep": r"\bIEPs?\b|\bPEIs?\b",
    "504": r"(?i:\b504 plans?\b|\bplan(?:es)? 504\b|\bsection 504\b|\bsecci[oó]n 504\b)",
    "bip": r"\bBIPs?\b",
    "fba": r"\bFBAs?\b",
    "ot": r"\bOT\b",
    "pt": r"\bPT\b",
    "slp": r"\bSLPs?\b",
    "aac": r"\bAAC\b",
    "esy": r"\bESY\b",
    "accommodations": r"(?i:\baccommodations?\b|\badaptaciones\b)",
    "modifications": r"(?i:\bmodifications?\b|\bmodificaciones\b)",
    "paraprofessional": r"(?i:\bparaprofessionals?\b|\bparaprofesional(?:es)?\b)",
}
# One pass over the text finds every term: the group that matched names it.
_FINDER = re.compile("|".join(f"(?P<t{n}>{pattern})" for n, pattern in enumerate(_TERMS.values())))
_KEYS = list(_TERMS)


def terms_in(texts: Iterable[str]) -> list[str]:
    """The glossary keys of the terms in these texts, in the glossary's order."""
    found = {_KEYS[int(match.lastgroup[1:])] for match in _FINDER.finditer("\n".join(texts))
             if match.lastgroup}
    return [key for key in _KEYS if key in found]


def explain(texts: Iterable[str], t: Translator) -> list[str]:
    """One plain-language line, in the reader's language, per term the texts use."""
    return [t(f"glossary.{key}") for key in terms_in(texts)]
