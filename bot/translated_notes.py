"""Entries as a reader sees them: in the reader's language when someone else wrote them in
another, from the kept translations when there are some, marked as machine-made.

With `provider = "none"` nothing here runs a statement: the hot path stays as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from bot.context import Context
from bot.translation import Rendering, Shown, Words
from bot.weekly import mood_only
from storage.models import Entry, Translation


def wording_hash(text: str) -> str:
    """Which wording a translation is of: an edit changes it, and so asks again."""
    return hashlib.sha256(text.encode()).hexdigest()


async def for_reader(
    ctx: Context, entries: Sequence[Entry], school_id: int
) -> dict[int, Rendering]:
    """How the sender should see each entry another person wrote in another language, by entry
    id; entries shown as written are left out."""
    notes = ctx.notes
    if notes is None or not notes.enabled or ctx.person is None:
        return {}
    reader = ctx.person.language
    theirs = [
        e
        for e in entries
        if e.id is not None and e.author_id != ctx.person.id and e.text and not mood_only(e)
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
        names = await ctx.store.translations.names(school_id)
        fresh = await notes.translate([words[e.id] for e in missing], reader, names)
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
                    )
                )
        await ctx.store.translations.add_many(new_rows)
    return shown
