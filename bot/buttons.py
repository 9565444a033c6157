"""What a button (or an awaited follow-up) means: one frozen dataclass per kind.

A button carries only an opaque token; its PendingAction row holds the kind's stable name
(`action`) and the kind's fields as JSON (`payload`). `encode` and `decode` are the one pair
that turns a payload into that row's (action, payload) and back; a row that does not decode
is no button at all. Each kind says which student it is about (a student, an entry or a
correction request) and what the presser must still be allowed to do on that student
(`needs`, an access.py Action): a press is re-checked against the matrix every time.

Declaring a kind::

    @dataclass(frozen=True)
    class Undo(OnEntry, action="undo", needs=Action.LOG):
        '''[Undo] under a new entry.'''

and handling it: `router.button(Undo, undo_button)`, where
`async def undo_button(press: ButtonPress, ctx: Context, button: Checked[Undo])`.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, fields
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

from bot import access
from bot.access import Action
from bot.context import Context
from bot.events import Sender
from bot.weekly import Mood
from storage.models import EntryKind, PendingAction
from storage.stores.students import StudentLink

P = TypeVar("P", bound="Payload")

# Every kind by its stored name; filled as the kinds below are declared.
KINDS: dict[str, type[Payload]] = {}


@dataclass(frozen=True)
class Payload:
    """The base of every button kind; a subclass names its `action` and what it `needs`."""

    action: ClassVar[str]
    needs: ClassVar[Action | None] = None

    def __init_subclass__(cls, action: str = "", needs: Action | None = None) -> None:
        super().__init_subclass__()
        if not action:
            return  # a base (OnEntry...), not a kind of its own
        if action in KINDS:
            raise ValueError(f"the button kind {action!r} is declared twice")
        cls.action, cls.needs = action, needs
        KINDS[action] = cls


@dataclass(frozen=True)
class OnStudent(Payload):
    """A kind about one student, named by id."""

    student_id: int


@dataclass(frozen=True)
class OnEntry(Payload):
    """A kind about one entry (and so about its student)."""

    entry_id: int


@dataclass(frozen=True)
class OnAmendment(Payload):
    """A kind about one correction request (and so about its entry's student)."""

    amendment_id: int


# --- the kinds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Undo(OnEntry, action="undo", needs=Action.LOG):
    """[Undo] under a new entry: removes it."""


@dataclass(frozen=True)
class Share(OnEntry, action="share", needs=Action.LOG):
    """[Share with family now]: the entry to the weekly-digest parents at once."""


@dataclass(frozen=True)
class Classify(OnEntry, action="classify", needs=Action.LOG):
    """[Win] [Concern] [Note] under a plain note: what kind of entry it is."""

    kind: EntryKind


@dataclass(frozen=True)
class Seen(OnEntry, action="seen", needs=Action.READ):
    """[Seen] under an urgent note, for each teammate."""


@dataclass(frozen=True)
class ShowOriginal(OnEntry, action="original", needs=Action.READ):
    """[Original] under a note delivered translated: the words as written."""


@dataclass(frozen=True)
class PickStudent(OnStudent, action="pick_student", needs=Action.LOG):
    """One of the buttons naming the sender's students, under a note whose student is unclear.

    The note waits in the payload; `group` ties the buttons of one question together.
    """

    group: str
    kind: EntryKind
    text: str
    source_ref: str
    attachment_ref: str | None
    ask_kind: bool


@dataclass(frozen=True)
class CheckinMood(OnStudent, action="checkin", needs=Action.LOG):
    """[Good week] [Mixed] [Tough week] under a parent's weekly check-in."""

    mood: Mood
    group: str  # "{student_id}:{iso_week}": one answer per check-in


@dataclass(frozen=True)
class CheckinMore(OnEntry, action="checkin_more", needs=Action.LOG):
    """Not a button: the parent's next free text adds to the check-in answer `entry_id`."""


@dataclass(frozen=True)
class Language(Payload, action="language"):
    """A language under the welcome: the welcome (`welcome` with `values`) again, in it."""

    language: str
    welcome: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class AcceptCorrection(OnAmendment, action="amend_accept", needs=Action.DECIDE_AMEND):
    """[Accept] under a correction request: the entry is revised."""


@dataclass(frozen=True)
class DeclineCorrection(OnAmendment, action="amend_decline", needs=Action.DECIDE_AMEND):
    """[Decline] under a correction request: the entry stays."""


@dataclass(frozen=True)
class LinkCode(Payload, action="link"):
    """Not a button: a `/link` code (its keyed hash is the token), for the person's other
    account to send."""


@dataclass(frozen=True)
class ForAccount(Payload):
    """A kind offered to one platform account, which may be nobody's yet (a stranger sending
    a `/link` code): that account presses it, whoever the row's person is."""

    platform: str
    workspace: str
    external_id: str

    def pressed_by(self, sender: Sender) -> bool:
        return (self.platform, self.workspace, self.external_id) == (
            sender.platform,
            sender.workspace,
            sender.external_id,
        )


@dataclass(frozen=True)
class JoinProfile(ForAccount, action="link_join"):
    """[Join] under what a `/link` code would do: the account joins the code's person. The
    row's person is that person; `code` is the code's token, checked again on the press."""

    code: str
    chat_id: str  # where the joining account is reached


@dataclass(frozen=True)
class KeepApart(ForAccount, action="link_cancel"):
    """[Cancel] beside [Join]: nothing is joined, and the code stops working."""

    code: str


@dataclass(frozen=True)
class RemoveMember(OnStudent, action="team_remove", needs=Action.TEAM):
    """[Remove NAME] under /team: asks to confirm taking `person_id` off the team."""

    person_id: int


@dataclass(frozen=True)
class ConfirmRemoval(OnStudent, action="team_remove_yes", needs=Action.TEAM):
    """[Yes, remove] under the question [Remove NAME] asked."""

    person_id: int


@dataclass(frozen=True)
class KeepMember(OnStudent, action="team_remove_no", needs=Action.TEAM):
    """[Cancel] beside [Yes, remove]: nobody is removed."""

    person_id: int


# --- stored form --------------------------------------------------------------------------------


def encode(payload: Payload) -> tuple[str, dict[str, Any]]:
    """The PendingAction's (action, payload) for a button of this kind."""
    return payload.action, {
        name: _plain(getattr(payload, name)) for name in _field_names(type(payload))
    }


def _field_names(kind: type[Payload]) -> tuple[str, ...]:
    # A note offers up to five buttons: `fields` each time was a good part of writing them.
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(field.name for field in fields(kind))
    return names


_FIELD_NAMES: dict[type[Payload], tuple[str, ...]] = {}


def _plain(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    return value


def decode(action: str, data: object) -> Payload | None:
    """The payload a PendingAction row holds; None (no such button) if it does not parse."""
    kind = KINDS.get(action)
    if kind is None or not isinstance(data, Mapping):
        return None
    values: dict[str, object] = {}
    try:
        for field, hint in _fields(kind):
            if field.name in data:
                values[field.name] = _typed(hint, data[field.name])
            elif field.default is MISSING:
                return None
    except (TypeError, ValueError):
        return None
    return kind(**values)


_FIELDS: dict[str, tuple[tuple[Field[Any], Any], ...]] = {}


def _fields(kind: type[Payload]) -> tuple[tuple[Field[Any], Any], ...]:
    """Each field of a kind with its type, the annotations resolved once."""
    if kind.action not in _FIELDS:
        hints = get_type_hints(kind)
        _FIELDS[kind.action] = tuple((field, hints[field.name]) for field in fields(kind))
    return _FIELDS[kind.action]


def _typed(hint: Any, value: object) -> object:
    """`value` (from JSON) as the field's type, or TypeError/ValueError."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in get_args(hint):
            return None
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _typed(inner, value)
    if origin is not None and issubclass(origin, Mapping):
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise TypeError("not a mapping of text")
        return dict(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    # bool is an int to Python, and neither may stand for the other here.
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise TypeError(f"{value!r} is not a {hint}")


# --- offering and withdrawing buttons -----------------------------------------------------------


async def offer(
    ctx: Context,
    payload: Payload,
    ttl: timedelta,
    *,
    person_id: int | None = None,
    token: str | None = None,
) -> str:
    """Store what a button means, for the sender (or `person_id`); its token (or `token`)."""
    action, data = encode(payload)
    return await ctx.store.buttons.add(
        ctx.my_id if person_id is None else person_id,
        action,
        data,
        ctx.clock.now() + ttl,
        token=token,
    )


async def offer_many(ctx: Context, payloads: Sequence[Payload], ttl: timedelta) -> list[str]:
    """Store what each of a reply's buttons means, in one statement; their tokens in order."""
    return await ctx.store.buttons.add_many(
        ctx.my_id, [encode(payload) for payload in payloads], ctx.clock.now() + ttl
    )


async def offer_on_new_entry(
    ctx: Context,
    columns: Mapping[str, object],
    payloads: Sequence[Callable[[int], OnEntry]],
    ttl: timedelta,
) -> tuple[int, list[str]]:
    """Write a new entry (its `columns`) and what each of the sender's buttons under it means
    (`payloads`: each made from the entry's id), in one statement on PostgreSQL; the entry's id
    and the buttons' tokens in order."""
    meanings = []
    for make in payloads:
        action, data = encode(make(0))
        del data["entry_id"]  # the store writes in the new entry's, once it has one
        meanings.append((action, data))
    return await ctx.store.entries.add_with_buttons(
        columns, ctx.my_id, meanings, ctx.clock.now() + ttl
    )


def as_row(person_id: int, payload: Payload, token: str, expires_at: datetime) -> PendingAction:
    """The row for a button written in bulk (the weekly check-in's, by the thousand)."""
    action, data = encode(payload)
    return PendingAction(
        token=token, person_id=person_id, action=action, payload=data, expires_at=expires_at
    )


async def withdraw(ctx: Context, *kinds: type[Payload], **where: object) -> None:
    """Retire the sender's buttons of these kinds: all of them, or those whose one field
    `where` names has that value (`entry_id=12`): the other buttons of a question once one is
    answered."""
    if len(where) > 1:
        raise TypeError("withdraw buttons by one field at most")
    for kind in kinds:
        if not where:
            await ctx.store.buttons.delete_kind(ctx.my_id, kind.action)
        for key, value in where.items():
            await ctx.store.buttons.delete_about(ctx.my_id, kind.action, key, _plain(value))


# --- a press: parsed, and re-checked against the access matrix ----------------------------------


@dataclass(frozen=True)
class Checked(Generic[P]):
    """A live pending action of the sender's own: its meaning, its row, and the sender's tie
    to the student it is about."""

    payload: P
    pending: PendingAction
    # The student it is about; None for a kind about no student, or when what it names (an
    # entry, a request) is gone.
    student_id: int | None
    # The sender's tie to that student, if it allows the kind's `needs`.
    link: StudentLink | None

    @property
    def refused(self) -> bool:
        """The sender may no longer do what the kind needs on its student (left the team)."""
        needs = self.payload.needs is not None and self.student_id is not None
        return needs and self.link is None


async def check(ctx: Context, row: PendingAction) -> Checked[Payload] | None:
    """The row's meaning with the sender's current tie to its student, re-read on every
    press; None if the row does not parse (no such button)."""
    payload = decode(row.action, row.payload)
    if payload is None:
        return None
    student_id = await student_of(ctx, payload)
    if student_id is None or payload.needs is None:
        return Checked(payload, row, student_id, None)
    link = await access.my_link(ctx, student_id, payload.needs)
    return Checked(payload, row, student_id, link)


async def log_refusal(ctx: Context, button: Checked[Payload]) -> None:
    """A `denied` row, against the button's student, for a press that is `refused`."""
    assert button.payload.needs is not None and button.student_id is not None
    student = await ctx.store.students.get(button.student_id)
    await access.log(ctx, student, access.Denied(button.payload.needs))


async def student_of(ctx: Context, payload: Payload) -> int | None:
    """The student a payload is about; None if it is about none, or what it names is gone."""
    if isinstance(payload, OnStudent):
        return payload.student_id
    if isinstance(payload, OnEntry):
        entry = await ctx.store.entries.get(payload.entry_id)
        return entry.student_id if entry is not None else None
    if isinstance(payload, OnAmendment):
        amendment = await ctx.store.records.amendment(payload.amendment_id)
        return amendment.student_id if amendment is not None else None
    return None
