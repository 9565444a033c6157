"""Which special-education words a summary explains: the term as staff write it, nothing else."""

from __future__ import annotations

import pytest

from bot.glossary import terms_in


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Sam met his IEP goal for reading", ["iep"]),
        ("Revisamos el PEI de Sam", ["iep"]),
        ("per the 504 plan he gets extra time", ["504"]),
        ("OT after lunch, then PT", ["ot", "pt"]),
        ("the SLP says he used his AAC device", ["slp", "aac"]),
        ("new BIP after the FBA", ["bip", "fba"]),
        ("Accommodations: a quiet room", ["accommodations"]),
        ("las adaptaciones funcionan", ["accommodations"]),
        ("modifications to the spelling list", ["modifications"]),
        ("his paraprofessional helped at recess", ["paraprofessional"]),
        ("ESY starts in June", ["esy"]),
    ],
)
def test_a_term_written_by_staff_is_found(text: str, terms: list[str]) -> None:
    assert terms_in([text]) == terms


@pytest.mark.parametrize(
    "text",
    [
        "he could not find his coat",  # "not", not OT
        "got a pt. in the game",  # lower case is not the abbreviation
        "the recipe was a hit",  # "recipe" holds no IEP
        "scored 504 points",  # a number, not a plan
        "para la escuela",  # Spanish "for", not a paraprofessional
        "OTTO read aloud",
    ],
)
def test_an_ordinary_word_is_not_taken_for_a_term(text: str) -> None:
    assert terms_in([text]) == []


def test_terms_come_in_the_glossarys_order_once_each() -> None:
    assert terms_in(["OT today", "IEP meeting", "more OT", "iep"]) == ["iep", "ot"]
