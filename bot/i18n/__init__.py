"""Message catalogs: every user-facing string comes from here, in the reader's language.

The catalogs are gettext files: `messages.pot` (English, the source) and one
`locale/LL/LC_MESSAGES/tandem.po` per other language, compiled to `.mo` when Tandem is built or
installed, or by `python -m bot.i18n compile`.
"""

from bot.i18n.catalogs import (
    DEFAULT_LANGUAGE,
    catalog,
    find_language,
    guess_language,
    languages,
    messages,
)
from bot.i18n.dates import language_name
from bot.i18n.translator import Translator, translate

__all__ = [
    "DEFAULT_LANGUAGE",
    "Translator",
    "catalog",
    "find_language",
    "guess_language",
    "language_name",
    "languages",
    "messages",
    "translate",
]
