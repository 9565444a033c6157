"""Entries as a reader sees them: in the reader's language when someone else wrote them in
another, from the kept translations when there are some, marked as machine-made.

With `provider = "none"` nothing here runs a statement: the hot path stays as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from bot.context import Context
from bot.i18n import Translator
from bot.quoting import quote
from bot.translation import Rendering, Shown, Words
from bot.translation_usage import StoredBudget
from bot.weekly import mood_only, translation_mark
from storage.models import Entry, Translation


def wording_hash(text: str) -> str:
    """Which wording a translation is of: an edit changes it, and so asks again."""
    return hashlib.sha256(text.encode()).hexdigest()


def is_translating(ctx: Context) -> bool:
    """Whether a provider is configured (with `none`, no statement and no request is made)."""
    return ctx.notes is not None and ctx.notes.enabled


async def for_reader(
    ctx: Context, entries: Sequence[Entry], school_id: int
) -> dict[int, Rendering]:
    """How the sender should see each entry another person wrote in another language, by entry
    id; entries shown as written are left out."""
    if not is_translating(ctx) or ctx.person is None:
        return {}
    return await _into(ctx, entries, school_id, ctx.person.language, ctx.person.id)


async def for_team(
    ctx: Context, entry: Entry, school_id: int, languages: Collection[str]
) -> dict[str, Rendering]:
    """How readers of each of `languages` should see a new entry, by language; languages that
    read it as written are left out."""
    if not is_translating(ctx):
        return {}
    shown: dict[str, Rendering] = {}
    for language in sorted(set(languages)):
        rendering = (await _into(ctx, [entry], school_id, language, None)).get(entry.id or 0)
        if rendering is not None:
            shown[language] = rendering
    return shown


def quoted(text: str, rendering: Rendering | None, entry_id: int | None, t: Translator) -> str:
    """Someone's words quoted for a letter: translated and marked, or as written."""
    if rendering is None:
        return quote(text)
    return f"{quote(rendering.text)}\n{translation_mark(rendering, entry_id, t).strip()}"


async def _into(
    ctx: Context, entries: Sequence[Entry], school_id: int, reader: str, reader_id: int | None
) -> dict[int, Rendering]:
    notes = ctx.notes
    assert notes is not None
    theirs = [
        e
        for e in entries
        if e.id is not None and e.author_id != reader_id and e.text and not mood_only(e)
    ]
    if not theirs:
        return {}
    authors = await ctx.store.translations.languages(
        sorted({e.author_id for e in theirs if e.author_id is not None})
    )
    words = {e.id: Words(e.text, authors.get(e.author_id or 0, reader)) for e in theirs}
    foreign = [e for e in theirs if notes.source_language(words[e.id]) != reader]
    if not foreign:
        return {}
    kept = await ctx.store.translations.known([e.id for e in foreign if e.id], reader)
    shown: dict[int, Rendering] = {}
    missing: list[Entry] = []
    for entry in foreign:
        assert entry.id is not None
        row = kept.get((entry.id, wording_hash(entry.text)))
        if row is None:
            missing.append(entry)
        else:
            shown[entry.id] = Rendering(row.text, Shown.TRANSLATED, row.source_language)
    if missing:
        names = await notes.masks.of_school(ctx.store, school_id)
        budget = StoredBudget(ctx.store)
        fresh = await notes.translate([words[e.id] for e in missing], reader, names, budget)
        new_rows = []
        for entry, rendering in zip(missing, fresh, strict=True):
            assert entry.id is not None
            shown[entry.id] = rendering
            if rendering.shown is Shown.TRANSLATED:
                new_rows.append(
                    Translation(
                        entry_id=entry.id,
                        language=reader,
                        source_hash=wording_hash(entry.text),
                        source_language=rendering.source,
                        text=rendering.text,
                        created_at=ctx.clock.now(),
                        provider=notes.config.provider,
                    )
                )
        await ctx.store.translations.add_many(new_rows)
    return shown
