"""Translating other people's words into the reader's language: the port, and what the core
does around it (names masked, language detected on the server, failures shown as the original).

The providers (LibreTranslate, DeepL) are driven adapters in `adapters/translation_*.py`; the
composition root hands one in. `bot.i18n.Translator` is a different thing: Tandem's own
catalog strings.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Protocol

from lingua import IsoCode639_1, LanguageDetector, LanguageDetectorBuilder

from bot.context import Clock
from bot.translation_config import TranslationConfig
from bot.translation_usage import CharBudget, ProcessBudget

if TYPE_CHECKING:
    from storage.stores import Store

log = logging.getLogger(__name__)

# Below this confidence the detector is unsure, and the author's language is taken instead.
SURE_ENOUGH = 0.7
# After a failure (not the monthly limit), the provider is not asked again for this long.
REST_AFTER_FAILURE = timedelta(seconds=60)
# Texts in one provider request (LibreTranslate's `q` and DeepL's `text` take lists).
BATCH = 25
# A placeholder the engines copy through untouched; restored after, spacing tolerated.
_PLACEHOLDER = "⟦{}⟧"
_PLACEHOLDER_RE = re.compile(r"⟦\s*(\d+)\s*⟧")


class Failure(enum.StrEnum):
    ERROR = "error"  # the provider answered with an error, or not as expected
    TIMEOUT = "timeout"
    REFUSED = "refused"  # the key was refused
    LIMIT = "limit"  # over translation.monthly_char_limit


class TranslationFailed(Exception):
    def __init__(self, failure: Failure, why: str = "") -> None:
        super().__init__(f"{failure}: {why}" if why else str(failure))
        self.failure = failure


class TranslationProvider(Protocol):
    """A machine translation service: `texts` from `source` into `target` (catalog codes),
    in order, or TranslationFailed."""

    async def translate(self, texts: Sequence[str], source: str, target: str) -> list[str]: ...


class Shown(enum.StrEnum):
    ORIGINAL = "original"  # same language, or nothing to translate with
    TRANSLATED = "translated"
    FAILED = "failed"  # the original, because the provider failed
    OVER_LIMIT = "over_limit"  # the original: the month's characters (or quota) are spent


@dataclass(frozen=True)
class Rendering:
    """What a reader is shown of someone's words."""

    text: str
    shown: Shown
    source: str  # the language the words were detected in


@dataclass(frozen=True)
class Words:
    """Someone's words, and the language their author reads Tandem in (the fallback guess)."""

    text: str
    author_language: str


class LanguageGuesser:
    """Which of the languages in play a text is in, on this machine, never asking a provider."""

    def __init__(self, languages: Collection[str]) -> None:
        self.languages = sorted(languages)
        self._in_play = frozenset(languages)

    def warm(self) -> None:
        """Load the detector's models now (a second or two), not on a reader's first read."""
        _ = self._detector

    @property
    def _detector(self) -> LanguageDetector | None:
        return _detector_for(self._in_play)

    def guess(self, text: str, fallback: str) -> str:
        detector = self._detector
        if detector is None:
            return fallback
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].value < SURE_ENOUGH:
            return fallback
        code = values[0].language.iso_code_639_1.name.lower()
        return next((lang for lang in self.languages if _base(lang) == code), fallback)


@cache
def _detector_for(languages: frozenset[str]) -> LanguageDetector | None:
    """One detector per set of languages in the process: its models take a second to load."""
    codes = {_iso(language) for language in languages} - {None}
    if len(codes) < 2:
        return None
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)  # type: ignore[arg-type]
    return builder.with_preloaded_language_models().build()


def _base(language: str) -> str:
    return re.split(r"[_-]", language)[0].lower()


def _iso(language: str) -> IsoCode639_1 | None:
    return getattr(IsoCode639_1, _base(language).upper(), None)


@dataclass(frozen=True)
class Masked:
    text: str
    names: tuple[str, ...]  # placeholder n stands for names[n]

    def restore(self, translated: str) -> str:
        def name(match: re.Match[str]) -> str:
            n = int(match.group(1))
            return self.names[n] if n < len(self.names) else match.group(0)

        return _PLACEHOLDER_RE.sub(name, translated)


_WORD = re.compile(r"\w+")


class NameMask:
    """Replaces every known name in a text by a numbered placeholder: each full name, and each
    of its words that could stand alone ("Ortiz" of "Ms. Ortiz"), case-insensitively.

    Word spans are looked up in a set, longest first: a school's thousands of names cost a few
    lookups a word, not a regular expression of thousands of alternatives.
    """

    def __init__(self, names: Collection[str]) -> None:
        self.spans: set[tuple[str, ...]] = set()
        for name in names:
            words = tuple(word.casefold() for word in _WORD.findall(name))
            if words:
                self.spans.add(words)
            for part in name.split():
                if len(part) > 1 and not part.endswith("."):
                    self.spans.update(
                        (word.casefold(),) for word in _WORD.findall(part) if len(word) > 1
                    )
        self.longest = max((len(span) for span in self.spans), default=0)

    def mask(self, text: str) -> Masked:
        tokens = list(_WORD.finditer(text)) if self.longest else []
        found: list[str] = []
        out: list[str] = []
        done = i = 0
        while i < len(tokens):
            for k in range(min(self.longest, len(tokens) - i), 0, -1):
                if tuple(t.group(0).casefold() for t in tokens[i : i + k]) in self.spans:
                    start, end = tokens[i].start(), tokens[i + k - 1].end()
                    out += [text[done:start], _PLACEHOLDER.format(len(found))]
                    found.append(text[start:end])
                    done, i = end, i + k
                    break
            else:
                i += 1
        out.append(text[done:])
        return Masked("".join(out), tuple(found))


# Building the mask of every name a school knows costs about 0.3 s of CPU at 10,000 students
# (reading 20,000 names, then indexing them); checking that they are unchanged costs a few
# aggregates. The check runs on every use: a name added on another replica is masked from its
# next read on.
class SchoolMasks:
    """The name masks of the schools this process has translated for, with the version of the
    names each was built from."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[tuple[int, ...], NameMask]] = {}

    async def of_school(self, store: Store, school_id: int) -> NameMask:
        # The version is read before the names: a change in between only rebuilds once more.
        version = await store.translations.names_version(school_id)
        kept = self._kept.get(school_id)
        if kept is not None and kept[0] == version:
            return kept[1]
        mask = NameMask(await store.translations.names(school_id))
        self._kept[school_id] = (version, mask)
        return mask


class NoteTranslator:
    """Other people's words in a reader's language: masked, detected, batched, bounded in time.

    Without a provider (`provider = "none"`) every text is shown as written and nothing runs.
    The month's characters are counted in the `budget` each call is given (the database's),
    else in this process.
    """

    def __init__(
        self,
        provider: TranslationProvider | None,
        config: TranslationConfig,
        clock: Clock,
        languages: Collection[str],
    ) -> None:
        self.provider = provider
        self.config = config
        self.clock = clock
        self.guesser = LanguageGuesser(languages)
        self._resting_until: datetime | None = None
        self._process_budget = ProcessBudget()
        self.masks = SchoolMasks()  # the name masks of the schools translated for

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def source_language(self, words: Words) -> str:
        return self.guesser.guess(words.text, words.author_language)

    async def translate(
        self,
        items: Sequence[Words],
        target: str,
        names: Collection[str] | NameMask = (),
        budget: CharBudget | None = None,
    ) -> list[Rendering]:
        """Each of `items` as `target`'s reader should see it, in order; the characters sent
        counted in `budget` (else in this process)."""
        sources = [self.source_language(words) for words in items]
        shown = [Rendering(w.text, Shown.ORIGINAL, s) for w, s in zip(items, sources, strict=True)]
        if self.provider is None:
            return shown
        mask = names if isinstance(names, NameMask) else NameMask(names)
        by_source: dict[str, list[int]] = {}
        for n, (item, source) in enumerate(zip(items, sources, strict=True)):
            if source != target and item.text.strip():
                by_source.setdefault(source, []).append(n)
        # One wait for the whole call, however many requests it takes; after a failure, none.
        deadline = asyncio.get_running_loop().time() + self.config.timeout_seconds
        failure: Failure | None = None
        for source, indexes in by_source.items():
            for start in range(0, len(indexes), BATCH):
                batch = indexes[start : start + BATCH]
                masked = [mask.mask(items[n].text) for n in batch]
                sent = [m.text for m in masked]
                out = failure or await self._call(sent, source, target, deadline, budget)
                failure = None if isinstance(out, list) else out
                failed = Shown.OVER_LIMIT if out is Failure.LIMIT else Shown.FAILED
                texts: Sequence[str | None] = out if isinstance(out, list) else [None] * len(batch)
                for n, m, text in zip(batch, masked, texts, strict=True):
                    shown[n] = (
                        Rendering(m.restore(text), Shown.TRANSLATED, source)
                        if text is not None
                        else Rendering(items[n].text, failed, source)
                    )
        return shown

    async def _call(
        self,
        texts: list[str],
        source: str,
        target: str,
        deadline: float,
        budget: CharBudget | None,
    ) -> list[str] | Failure:
        """The provider's translations, or why not (and one log line per failure, none while
        resting after one)."""
        assert self.provider is not None
        if self._resting_until is not None and self.clock.now() < self._resting_until:
            return Failure.ERROR
        try:
            await self._spend(sum(len(text) for text in texts), budget or self._process_budget)
            async with asyncio.timeout_at(deadline):
                out = await self.provider.translate(texts, source, target)
            if len(out) != len(texts):
                raise TranslationFailed(Failure.ERROR, "a different number of texts came back")
            return out
        except TimeoutError:
            failure = Failure.TIMEOUT
        except TranslationFailed as error:
            failure = error.failure
        if failure is not Failure.LIMIT:
            # A provider that failed is left alone a while: readers get originals at once.
            self._resting_until = self.clock.now() + REST_AFTER_FAILURE
        log.warning(
            "translation %s->%s failed (%s): %d texts shown as written",
            source,
            target,
            failure,
            len(texts),
        )
        return failure

    async def _spend(self, chars: int, budget: CharBudget) -> None:
        """Refuse a request that would go past the month's character limit."""
        month = self.clock.now().strftime("%Y-%m")
        limit = self.config.monthly_char_limit
        if not await budget.spend(self.config.provider, month, chars, limit):
            raise TranslationFailed(Failure.LIMIT)
