"""How many wrong codes one platform account may send: invite codes (/start, /join) and link
codes (/link) share this limit's shape, each with its own count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.events import Sender
from storage.stores import Store


@dataclass(frozen=True)
class GuessLimit:
    """At most `most` wrong codes of one kind per account in any `window`.

    Counted per platform account, not per person: a stranger guessing has no person yet.
    """

    kind: str
    most: int = 5
    window: timedelta = timedelta(hours=1)

    async def exhausted(self, store: Store, sender: Sender, now: datetime) -> bool:
        """True once the account has sent `most` wrong codes within the window; checked before
        the code itself, so past the limit even the right code is refused."""
        wrong = await store.invites.guesses(
            self.kind, sender.platform, sender.workspace, sender.external_id, now - self.window
        )
        return wrong >= self.most

    async def wrong(self, store: Store, sender: Sender, now: datetime) -> None:
        """Count one wrong code against the account."""
        await store.invites.add_guess(
            self.kind, sender.platform, sender.workspace, sender.external_id, now
        )
