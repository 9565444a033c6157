"""What a request to the core fails with when its user can put it right."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Said:
    """A catalog message by key and values, put into words only when someone reads it: an
    operator's error is raised before anyone knows which language it will be read in."""

    key: str
    values: Mapping[str, object] = field(default_factory=dict)

    def in_language(self, language: str) -> str:
        from bot.i18n import translate  # the catalogs load on first use, not on import

        words = {name: _worded(value, language) for name, value in self.values.items()}
        return translate(language, self.key, **words)

    def __str__(self) -> str:
        return self.in_language("en")


def _worded(value: object, language: str) -> object:
    """A value as its reader sees it: a message in their language; a tuple of them (a list of
    problems), each one so, joined by "; "."""
    if isinstance(value, Said):
        return value.in_language(language)
    if isinstance(value, tuple):
        return "; ".join(str(_worded(item, language)) for item in value)
    return value


def said(key: str, **values: object) -> Said:
    """`said("operator.unknown_key")`: the message, to be worded in its reader's language."""
    return Said(key, values)


class CommandError(Exception):
    """A refused command, in one line that says why and how to go on.

    The CLI prints it as `tandem: MESSAGE` on standard error, in the operator's language, and
    exits with 2."""

    def __init__(self, message: str | Said) -> None:
        super().__init__(message)
        self.message = message

    def in_language(self, language: str) -> str:
        message = self.message
        return message.in_language(language) if isinstance(message, Said) else message

    def __str__(self) -> str:
        return self.in_language("en")
