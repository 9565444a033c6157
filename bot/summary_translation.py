"""The weekly summary's translations, made before it is composed: every entry of the week that
some reader reads in another language, from the kept translations or in batches from the
provider, a few requests at a time.

Only called when a provider is configured: with `provider = "none"` the job runs no extra
statement.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import TypeVar

from bot.context import Clock
from bot.translated_notes import wording_hash
from bot.translation import BATCH, NameMask, NoteTranslator, Rendering, Shown, Words
from bot.translation_usage import StoredBudget
from bot.weekly import EntryFacts, mood_only
from storage.models import Translation
from storage.stores import Store

_T = TypeVar("_T")

# Provider requests in flight at once: a school's week must not flood the provider.
CONCURRENT_REQUESTS = 4
# Entry ids in one `IN (...)` lookup of kept translations.
LOOKUP = 1000


async def translate_week(
    notes: NoteTranslator,
    store: Store,
    clock: Clock,
    school_id: int,
    fallback: str,
    entries: Iterable[tuple[int, EntryFacts]],
    languages: Mapping[int, Collection[str]],
) -> dict[str, dict[int, Rendering]]:
    """By reader language, by entry id: how the week's `(student id, entry)` pairs read for the
    languages each student's readers read in (`languages`); `fallback` when unsure of a text's
    own language."""
    needed: defaultdict[str, dict[int, EntryFacts]] = defaultdict(dict)
    for student_id, entry in entries:
        if entry.id is None or not entry.text or mood_only(entry):
            continue
        source = notes.source_language(Words(entry.text, fallback))
        for language in languages.get(student_id, ()):
            if language != source:
                needed[language][entry.id] = entry
    shown: dict[str, dict[int, Rendering]] = {}
    missing: list[tuple[str, EntryFacts]] = []
    for language, wanted in needed.items():
        shown[language] = {}
        for ids in batched(sorted(wanted), LOOKUP):
            kept = await store.translations.known(ids, language)
            for entry_id in ids:
                row = kept.get((entry_id, wording_hash(wanted[entry_id].text)))
                if row is None:
                    missing.append((language, wanted[entry_id]))
                else:
                    shown[language][entry_id] = Rendering(
                        row.text, Shown.TRANSLATED, row.source_language
                    )
    if missing:
        names = await notes.masks.of_school(store, school_id)
        fresh = await _ask(notes, missing, fallback, names, StoredBudget(store))
        rows = []
        for (language, entry), rendering in zip(missing, fresh, strict=True):
            assert entry.id is not None
            shown[language][entry.id] = rendering
            if rendering.shown is Shown.TRANSLATED:
                rows.append(_kept(entry, language, rendering, clock, notes.config.provider))
        for chunk in batched(rows, LOOKUP):
            await store.translations.add_many(chunk)
    return shown


async def _ask(
    notes: NoteTranslator,
    missing: Sequence[tuple[str, EntryFacts]],
    fallback: str,
    names: NameMask,
    budget: StoredBudget,
) -> list[Rendering]:
    """The provider's renderings of `missing`, in order: a batch a request, a few at a time."""
    gate = asyncio.Semaphore(CONCURRENT_REQUESTS)
    chunks = [list(chunk) for chunk in batched(range(len(missing)), BATCH)]

    async def one(chunk: list[int]) -> list[Rendering]:
        async with gate:
            language = missing[chunk[0]][0]
            words = [Words(missing[n][1].text, fallback) for n in chunk]
            return await notes.translate(words, language, names, budget)

    # A chunk holds one target language: split where the language changes.
    by_language = [
        [n for n in chunk if missing[n][0] == language]
        for chunk in chunks
        for language in dict.fromkeys(missing[n][0] for n in chunk)
    ]
    answers = await asyncio.gather(*(one(chunk) for chunk in by_language))
    out: list[Rendering | None] = [None] * len(missing)
    for chunk, rendered in zip(by_language, answers, strict=True):
        for n, rendering in zip(chunk, rendered, strict=True):
            out[n] = rendering
    return [rendering for rendering in out if rendering is not None]


def batched(items: Iterable[_T], size: int) -> Iterator[tuple[_T, ...]]:
    """`itertools.batched`, which Python 3.11 lacks."""
    rest = iter(items)
    while chunk := tuple(islice(rest, size)):
        yield chunk


def _kept(
    entry: EntryFacts, language: str, rendering: Rendering, clock: Clock, provider: str
) -> Translation:
    assert entry.id is not None
    return Translation(
        entry_id=entry.id,
        language=language,
        source_hash=wording_hash(entry.text),
        source_language=rendering.source,
        text=rendering.text,
        created_at=clock.now(),
        provider=provider,
    )
