"""The outbox: handlers and jobs queue letters here; the sender (`bot/sender.py`) delivers them.

A job never sends. It writes rows with a unique dedupe key (insert-or-ignore), so a job fired
twice, by a restart or by two replicas, enqueues once.

A letter may carry the letter that follows it (a summary, then its picture): the sender queues
that one when it marks the first sent, in the same transaction, so the job writes one row per
letter it sends now, and the second never arrives before the first. The follow-up is carried
whole (`follow_up`), or as a word of its kind (`follow_up_made`: `{"chart": "es"}`) from
which its composer makes it out of the letter sent (`Composer.follow_ups`): a summary carries
its picture's language and nothing else, everything else is in the summary's own row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.events import Button, Reply
from bot.events import RecipientBlocked as RecipientBlocked  # a Transport raises it too
from storage.models import Account, Outbox
from storage.outbox_keys import FOLLOW_UP, follow_up_key
from storage.stores import Store


def to_payload(reply: Reply, **extra: Any) -> dict[str, Any]:
    """A reply as JSON the outbox row can keep."""
    return {"text": reply.text, "buttons": [[b.label, b.token] for b in reply.buttons], **extra}


# Makes the payload of a follow-up from the letter sent and the word it carries for it
# (`follow_up_made`); None if that letter cannot be followed so.
FollowUpMaker = Callable[[Outbox, Any], dict[str, Any] | None]


def follow_up(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What a letter's payload carries (`to_payload(reply, **follow_up(...))`) so that a letter
    of `kind` with `payload` is queued to the same person once it is sent."""
    return {FOLLOW_UP: {"kind": kind, "payload": payload}}


def follow_up_made(kind: str, said: str) -> dict[str, Any]:
    """Like `follow_up`, for a letter of `kind` whose payload the maker of that kind makes from
    the letter sent and `said` (`followed_by`): a few bytes instead of the whole payload."""
    return {FOLLOW_UP: {kind: said}}


def followed_by(
    row: Outbox, makers: Mapping[str, FollowUpMaker]
) -> tuple[str, dict[str, Any]] | None:
    """The kind and payload of the letter to queue once this one is sent, if any: carried
    whole, or made by the maker of its kind (none without one: no composer to send it)."""
    then = row.payload.get(FOLLOW_UP)
    if not then:
        return None
    if "payload" in then:  # carried whole (as every follow-up was before `follow_up_made`)
        return then["kind"], then["payload"]
    [(kind, said)] = then.items()
    make = makers.get(kind)
    payload = make(row, said) if make is not None else None
    return None if payload is None else (kind, payload)


def from_payload(payload: dict[str, Any]) -> Reply:
    return Reply(
        payload["text"], tuple(Button(label, token) for label, token in payload.get("buttons", []))
    )


@dataclass(frozen=True)
class Letter:
    """One message for one person, about one student, not to be delivered before a time."""

    key: str  # the dedupe key, built by storage.outbox_keys
    person_id: int
    kind: str
    reply: Reply
    not_before: datetime
    student_id: int | None = None
    extra: dict[str, Any] | None = None
    school_id: int | None = None  # the student's, unless the letter is about no student


async def enqueue(store: Store, letter: Letter) -> bool:
    """Queue a letter to the person's active account; False if already queued or unreachable."""
    account = await store.people.delivery_account(letter.person_id)
    if account is None or account.id is None:
        return False
    return await store.outbox.add(
        Outbox(
            dedupe_key=letter.key,
            person_id=letter.person_id,
            account_id=account.id,
            student_id=letter.student_id,
            school_id=letter.school_id,
            kind=letter.kind,
            payload=to_payload(letter.reply, **(letter.extra or {})),
            not_before=letter.not_before,
        )
    )


class Transport(Protocol):
    """What an adapter offers the sender: deliver one reply to one account's direct chat.

    Returns the platform's reference of the sent message ("" if none), so a reply to it can be
    traced back. Raises RateLimited, TransientError, RecipientBlocked or PermanentError.
    """

    async def deliver(self, account: Account, reply: Reply) -> str: ...


class Composer(Protocol):
    """Makes a letter's reply when it is delivered rather than when it is queued (a picture
    drawn from the data as it is then: `bot/week_charts.py`)."""

    @property
    def follow_ups(self) -> Mapping[str, FollowUpMaker]:
        """The makers of its letters that follow others (`follow_up_made`), by kind."""
        ...

    def composes(self, payload: dict[str, Any]) -> bool: ...

    async def prepare(self, payload: dict[str, Any], person_id: int) -> None:
        """Start what `compose` will need (a picture drawn ahead, while the letters before it
        go out), so that it then finds it done. Never raises: `compose` tries again."""
        ...

    async def compose(self, payload: dict[str, Any], person_id: int) -> Reply | None:
        """The reply for `person_id`; None when there is nothing left to send (nothing of the
        data left, or the person no longer on the student's team)."""
        ...


class TransientError(Exception):
    """A timeout or server error: try again later."""


class PermanentError(Exception):
    """The platform rejected the message itself: retrying cannot help."""


class RateLimited(Exception):
    """The platform asked us to wait (HTTP 429 with retry-after)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


async def queue_follow_up(
    store: Store,
    row: Outbox,
    worker: str,
    now: datetime,
    until: datetime,
    makers: Mapping[str, FollowUpMaker],
) -> Outbox | None:
    """Queue the letter that follows `row` (a summary's picture), if it carries one
    (`followed_by`, made by `makers`), to the same person and chat, due now and already
    claimed by `worker` until `until`; None if it carries none or it is queued already."""
    then = followed_by(row, makers)
    if then is None:
        return None
    kind, payload = then
    return await store.outbox.add_claimed(
        Outbox(
            dedupe_key=follow_up_key(row.dedupe_key),
            person_id=row.person_id,
            account_id=row.account_id,
            student_id=row.student_id,
            school_id=row.school_id,
            kind=kind,
            payload=payload,
            not_before=now,
            claimed_by=worker,
            claimed_until=until,
        )
    )
