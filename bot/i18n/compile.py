"""Compile the message catalogs (.po -> .mo) and check them: `python -m bot.i18n compile|check`.

`messages.pot` is the English source: each message's `msgctxt` is its key (`entry.logged_win`)
and its `msgid` the English text. Every other language is `locale/LL/LC_MESSAGES/tandem.po`,
made from the template with `pybabel init` and kept in step with `pybabel update`.

This module needs only Babel and the standard library, because setup.py runs it at build time,
before the package's own dependencies are there.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "messages.pot"
LOCALES = HERE / "locale"
DOMAIN = "tandem"
SOURCE_LANGUAGE = "en"
_PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def sources() -> dict[str, Path]:
    """Each language's catalog source, English (the template) first."""
    found = {SOURCE_LANGUAGE: TEMPLATE}
    for po in sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        found[po.parent.parent.name] = po
    return found


def compiled_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


def read_source(language: str) -> Catalog:
    """A language's catalog from its source; English strings are the template's msgids."""
    with sources()[language].open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    if language == SOURCE_LANGUAGE:
        for message in catalog:
            if message.id:
                message.string = message.id
    return catalog


def keyed(catalog: Catalog) -> dict[str, Message]:
    """The catalog's messages by key (their msgctxt)."""
    return {message.context: message for message in catalog if message.id and message.context}


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _forms(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def problems(language: str, catalog: Catalog, english: Catalog) -> Iterator[str]:
    """What keeps a catalog from being complete: missing, stale, extra or mis-filled messages."""
    # Imported here: setup.py loads this module by path, with no `bot` package to import from.
    from bot.i18n.right_to_left import RIGHT_TO_LEFT, bare_runs

    theirs, ours = keyed(catalog), keyed(english)
    for key, source in ours.items():
        message = theirs.get(key)
        forms = _forms(message.string) if message else ()
        if message is None or not all(form.strip() for form in forms) or not forms:
            yield f"{language}: {key}: not translated"
            continue
        if message.fuzzy:
            yield f"{language}: {key}: marked fuzzy (check the translation, then remove the flag)"
        if message.id != source.id:
            yield f"{language}: {key}: translated from an older English text (run pybabel update)"
        wanted = placeholders(" ".join(_forms(source.id)))
        if source.pluralizable:
            if len(forms) != catalog.num_plurals:
                yield (
                    f"{language}: {key}: {len(forms)} plural forms, the language has "
                    f"{catalog.num_plurals}"
                )
            for form in forms:
                # A singular form may leave the number out ("one note"); nothing else may go.
                if not placeholders(form) <= wanted or wanted - {"count"} - placeholders(form):
                    yield (
                        f"{language}: {key}: placeholders {sorted(placeholders(form))} "
                        f"differ from {sorted(wanted)}"
                    )
        elif placeholders(forms[0]) != wanted:
            yield (
                f"{language}: {key}: placeholders {sorted(placeholders(forms[0]))} differ "
                f"from {sorted(wanted)}"
            )
        if language in RIGHT_TO_LEFT:
            for form in forms:
                for trouble in bare_runs(form):
                    yield f"{language}: {key}: {trouble} (python -m bot.i18n isolate {language})"
    for key in theirs.keys() - ours.keys():
        yield f"{language}: {key}: not in the English template (a message that was removed?)"


def missing_entries(language: str) -> str:
    """The English messages `language` lacks, as .po entries to translate and append."""
    english, theirs = read_source(SOURCE_LANGUAGE), keyed(read_source(language))
    wanted = Catalog(locale=language, domain=DOMAIN)
    for key, message in keyed(english).items():
        if key not in theirs:
            empty = ("",) * wanted.num_plurals if message.pluralizable else ""
            wanted.add(message.id, empty, context=key)
    buffer = io.BytesIO()
    write_po(buffer, wanted, width=100, omit_header=True)
    return buffer.getvalue().decode("utf-8")


def isolate_catalog(language: str) -> int:
    """Put the right-to-left catalog's bare values and commands in isolates; how many changed."""
    from bot.i18n.right_to_left import isolate

    catalog = read_source(language)
    changed = 0
    for message in catalog:
        if not message.id or not message.string:
            continue
        forms = _forms(message.string)
        fixed = tuple(isolate(form) for form in forms)
        if fixed != forms:
            message.string = fixed if message.pluralizable else fixed[0]
            changed += 1
    with sources()[language].open("wb") as handle:
        write_po(handle, catalog, width=100)
    return changed


def compile_language(language: str) -> Path:
    """Write the language's .mo beside its source; untranslated messages fall back to English."""
    catalog = read_source(language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    path = compiled_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def check_all() -> list[str]:
    english = read_source(SOURCE_LANGUAGE)
    return [
        problem
        for language in sources()
        if language != SOURCE_LANGUAGE
        for problem in problems(language, read_source(language), english)
    ]


USAGE = "usage: python -m bot.i18n [compile|check|missing LANG|isolate LANG]"


def main(argv: Sequence[str] = ()) -> int:
    command = argv[0] if argv else "compile"
    if command in ("missing", "isolate"):
        return _for_one_language(command, argv[1:])
    if command not in ("compile", "check"):
        print(USAGE, file=sys.stderr)
        return 2
    found = check_all()
    for problem in found:
        print(problem, file=sys.stderr)
    if command == "compile":
        for language in sources():
            print(f"compiled {compile_language(language).relative_to(HERE.parent.parent)}")
    elif not found:
        print(f"every catalog is complete: {', '.join(sources())}")
    return 1 if found and command == "check" else 0


def _for_one_language(command: str, rest: Sequence[str]) -> int:
    from bot.i18n.right_to_left import RIGHT_TO_LEFT

    if len(rest) != 1 or rest[0] not in sources() or rest[0] == SOURCE_LANGUAGE:
        print(USAGE, file=sys.stderr)
        return 2
    if command == "missing":
        print(missing_entries(rest[0]), end="")
    elif rest[0] not in RIGHT_TO_LEFT:
        print(f"{rest[0]} is written left to right: nothing to isolate", file=sys.stderr)
        return 2
    else:
        print(f"isolated the values and commands of {isolate_catalog(rest[0])} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
