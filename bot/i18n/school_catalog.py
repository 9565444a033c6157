"""A school's own wording: `[school] catalog_dir` holds .po files whose messages replace
Tandem's, message by message; whatever a school's file leaves out is Tandem's own text.

The folder holds `<lang>/LC_MESSAGES/tandem.po` (the layout `pybabel init` makes) or `<lang>.po`,
for any language Tandem writes, English included. The files are read once, when the config is
loaded; a file that does not parse, a message Tandem does not have, or a translation whose
placeholders differ from Tandem's is refused with its file and line, before anything runs.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator, Mapping
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileError, read_po

from bot.i18n.catalogs import DEFAULT_LANGUAGE, Messages, Text, find_language, messages
from bot.i18n.compile import DOMAIN, placeholders

# The school's messages by language, installed by the composition root from the settings.
_installed: dict[str, Messages] = {}


class SchoolCatalogError(ValueError):
    """A school catalog that cannot be used: `path:line: why`."""


def catalog_files(folder: Path) -> dict[str, Path]:
    """The folder's .po files by the language they are for."""
    if not folder.is_dir():
        raise SchoolCatalogError(f"{folder}: not a folder")
    found: dict[str, Path] = {}
    for path in sorted([*folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po"), *folder.glob("*.po")]):
        name = path.parent.parent.name if path.parent.name == "LC_MESSAGES" else path.stem
        language = find_language(name)
        if language is None or language.casefold() != name.replace("-", "_").casefold():
            raise SchoolCatalogError(f"{path}: {name!r} is not a language Tandem writes")
        if language in found:
            raise SchoolCatalogError(f"{path}: a second file for {language} ({found[language]})")
        found[language] = path
    return found


def read_school_catalog(folder: Path) -> dict[str, Messages]:
    """Every language's messages from the school's folder, checked against Tandem's."""
    return {language: _read(language, path) for language, path in catalog_files(folder).items()}


def _read(language: str, path: Path) -> Messages:
    try:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=DOMAIN, abort_invalid=True)
    except PoFileError as err:
        why = str(err).rsplit(" on ", 1)[0]
        raise SchoolCatalogError(f"{path}:{err.lineno + 1}: {why}") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SchoolCatalogError(f"{path}: {err}") from None
    texts: dict[str, Text] = {}
    for message in catalog:
        if not message.id:
            continue
        for why in _problems(message, catalog):
            raise SchoolCatalogError(f"{path}:{message.lineno}: {why}")
        text = _text(message)
        if text is not None and message.context:
            texts[message.context] = text
    return Messages(language, texts, gettext.c2py(catalog.plural_expr))


def _problems(message: Message, catalog: Catalog) -> Iterator[str]:
    english = messages(DEFAULT_LANGUAGE).texts
    key = message.context
    if key is None or key not in english:
        yield f"{key or message.id!r} is not one of Tandem's messages (msgctxt is its key)"
        return
    source = english[key]
    wanted = placeholders(" ".join((source,) if isinstance(source, str) else source))
    forms = _forms(message)
    if isinstance(source, str) != isinstance(message.id, str):
        yield f"{key}: Tandem's message is {'singular' if isinstance(source, str) else 'plural'}"
    elif not isinstance(source, str) and forms and len(forms) != catalog.num_plurals:
        yield f"{key}: {len(forms)} plural forms, the language has {catalog.num_plurals}"
    for form in forms:
        if not placeholders(form) <= wanted:
            yield f"{key}: placeholders {sorted(placeholders(form))} differ from {sorted(wanted)}"


def _forms(message: Message) -> tuple[str, ...]:
    if not message.string:
        return ()
    return (message.string,) if isinstance(message.string, str) else tuple(message.string)


def _text(message: Message) -> Text | None:
    forms = _forms(message)
    if message.fuzzy or not forms or not all(form.strip() for form in forms):
        return None  # left empty: Tandem's own text stays
    return forms[0] if isinstance(message.string, str) else forms


def use_school_catalog(found: Mapping[str, Messages]) -> None:
    """From now on, these messages replace Tandem's (an empty mapping: Tandem's own again)."""
    _installed.clear()
    _installed.update(found)


def school_messages(language: str) -> Messages | None:
    return _installed.get(language)
