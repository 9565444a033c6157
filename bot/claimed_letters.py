"""The letters a sender holds while it delivers them, and what one drain did with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.models import Account, Outbox


@dataclass
class DrainReport:
    """What one drain did with the letters it claimed."""

    sent: int = 0
    retried: int = 0  # a transient error or a 429: queued again for later
    dead: int = 0  # given up: a permanent error, or too many attempts
    blocked: int = 0  # given up because the person blocked the bot (admins are told)
    released: int = 0  # handed back unsent (stopping), or taken over by another sender

    def __bool__(self) -> bool:
        return any((self.sent, self.retried, self.dead, self.blocked, self.released))


@dataclass
class Claimed:
    """A letter this sender holds, with the account it goes to and until when it holds it."""

    row: Outbox
    account: Account
    until: datetime

    @property
    def id(self) -> int:
        assert self.row.id is not None
        return self.row.id

    @property
    def chat(self) -> str:
        """The chat the limits count against: one direct chat per account."""
        account = self.account
        return f"{account.workspace}/{account.dm_chat_id or account.external_id}"
