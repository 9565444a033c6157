"""Every message the code asks for is in every catalog, with the same placeholders."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from bot.glossary import _TERMS
from bot.handlers.notes import _CLASSIFY
from bot.i18n import Translator, catalog, languages, messages, translate
from bot.i18n.compile import check_all, problems, read_source
from bot.invites import Redemption
from bot.weekly import Mood
from storage.models import (
    AccessAction,
    AmendmentStatus,
    Delivery,
    EntryKind,
    Role,
    Setting,
    TeamChange,
)

BOT = Path(__file__).resolve().parents[2] / "bot"
CATALOG = catalog("en")
SECTIONS = {key.split(".")[0] for key in CATALOG}

# What each placeholder in an f-string key can be: `f"entry.logged_{kind}"` -> every EntryKind.
EXPANSIONS: dict[str, type[StrEnum]] = {
    "kind": EntryKind,
    "draft.kind": EntryKind,
    "entry.kind": EntryKind,
    "outcome": Redemption,
    "role": Role,
    "invite.role": Role,
    "link.role or 'admin'": Role,
    "mood": Mood,
    "entry.mood": Mood,
    "entry.setting": Setting,
    "delivery": Delivery,
    "wanted": Delivery,
    "membership.role": Role,
    "amendment.status": AmendmentStatus,
    "row.action": AccessAction,
    "change": TeamChange,
}
# Call sites that only ever see some members of the enum.
NARROWER: dict[str, list[str]] = {
    "button.{kind}": [f"button.{kind}" for kind in _CLASSIFY],
    "onboarding.code_{outcome}": [
        f"onboarding.code_{outcome}" for outcome in Redemption if outcome != Redemption.JOINED
    ],
    "glossary.{key}": [f"glossary.{term.key}" for term in _TERMS],
}
TRANSLATIONS = [language for language in languages() if language != "en"]
SPEAKERS = {"say", "t", "translate"}


def _calls(tree: ast.AST) -> Iterator[tuple[int, ast.expr]]:
    """The key argument of every `ctx.say(...)`, `ctx.t(...)`, `t(...)` and `translate(_, ...)`."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        position = 1 if name == "translate" else 0
        if name in SPEAKERS and len(node.args) > position:
            yield node.lineno, node.args[position]


def _expand(key: ast.expr, where: str) -> list[str]:
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return [key.value]
    if isinstance(key, ast.JoinedStr):
        template = "".join(
            str(v.value) if isinstance(v, ast.Constant) else f"{{{ast.unparse(v.value)}}}"
            for v in key.values
            if isinstance(v, ast.Constant | ast.FormattedValue)
        )
        if template in NARROWER:
            return NARROWER[template]
        parts: list[list[str]] = []
        for value in key.values:
            if isinstance(value, ast.Constant):
                parts.append([str(value.value)])
            else:
                assert isinstance(value, ast.FormattedValue)
                source = ast.unparse(value.value)
                assert source in EXPANSIONS, f"{where}: add an expansion for {{{source}}}"
                parts.append([member.value for member in EXPANSIONS[source]])
        return ["".join(combo) for combo in itertools.product(*parts)]
    return []  # a variable: its values are string constants, checked below


def _catalog_like_constants(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """String constants shaped like a catalog key (`"summary.wins"` in a table of sections)."""
    in_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in in_fstrings
        ):
            section, dot, rest = node.value.partition(".")
            if dot and section in SECTIONS and rest and rest.replace("_", "").isalnum():
                yield node.lineno, node.value


def used_keys() -> dict[str, str]:
    """Every key the code under bot/ may look up, with where it is used."""
    keys: dict[str, str] = {}
    for path in sorted(BOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        relative = path.relative_to(BOT.parent)
        for line, arg in _calls(tree):
            for key in _expand(arg, f"{relative}:{line}"):
                keys.setdefault(key, f"{relative}:{line}")
        for line, key in _catalog_like_constants(tree):
            keys.setdefault(key, f"{relative}:{line}")
    return keys


def test_the_catalog_walk_finds_the_keys_it_should() -> None:
    keys = used_keys()

    assert {"onboarding.stranger", "summary.wins", "entry.logged_urgent", "role.admin"} <= set(keys)
    assert {"onboarding.code_used", "onboarding.code_expired", "button.win"} <= set(keys)
    assert "onboarding.code_" not in keys  # a piece of an f-string is not a key


def test_every_key_the_code_uses_is_in_the_english_catalog() -> None:
    english = messages("en").texts
    missing = {key: where for key, where in used_keys().items() if key not in english}

    assert missing == {}


def test_spanish_is_one_of_the_languages() -> None:
    assert "es" in TRANSLATIONS


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_every_key_the_code_uses_is_translated(language: str) -> None:
    own = messages(language).texts
    missing = {key: where for key, where in used_keys().items() if key not in own}

    assert missing == {}


def test_every_catalog_has_every_message_with_the_same_placeholders() -> None:
    assert check_all() == []


@pytest.mark.parametrize("language", languages())
def test_the_compiled_catalogs_are_the_sources(language: str) -> None:
    """A catalog edited after `python -m bot.i18n compile` would otherwise ship stale."""
    source = {
        m.context: m.string for m in read_source(language) if m.id and m.context and not m.fuzzy
    }
    compiled = {
        key: text if isinstance(text, str) else list(text)
        for key, text in messages(language).texts.items()
    }

    assert compiled == {
        key: text if isinstance(text, str) else list(text) for key, text in source.items() if text
    }


def test_the_check_names_a_missing_message_a_lost_placeholder_and_a_missing_plural_form() -> None:
    english = Catalog(locale="en")
    english.add("Hello, {name}!", "Hello, {name}!", context="greeting.hello")
    english.add("Bye", "Bye", context="greeting.bye")
    english.add(
        ("{count} note", "{count} notes"), ("{count} note", "{count} notes"), context="count.notes"
    )
    spanish = Catalog(locale="es")
    spanish.add("Hello, {name}!", "¡Hola, {nombre}!", context="greeting.hello")
    spanish.add(
        ("{count} note", "{count} notes"), ("una nota", "{count} notas"), context="count.notes"
    )

    found = list(problems("es", spanish, english))

    assert "es: greeting.bye: not translated" in found
    assert any(p.startswith("es: greeting.hello: placeholders ['nombre']") for p in found)
    assert "es: count.notes: 2 plural forms, the language has 3" in found


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_catalog_message_has_text(key: str) -> None:
    assert CATALOG[key].strip()


def test_translating_falls_back_to_english_for_an_unknown_language() -> None:
    assert translate("xx", "onboarding.stranger") == CATALOG["onboarding.stranger"]


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("en", 1, "1 win"),
        ("en", 2, "2 wins"),
        ("en", 0, "0 wins"),
        ("es", 1, "un logro"),
        ("es", 3, "3 logros"),
    ],
)
def test_counted_words_take_the_languages_plural(language: str, count: int, expected: str) -> None:
    assert Translator(language)("count.wins", count=count) == expected
