"""Logging one-line notes: `+ - ? !`, /win /concern /note /ask /urgent, plain text, undo, edits."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from bot import access, grammar, notifications
from bot.access import Action, Shared
from bot.buttons import (
    Checked,
    Classify,
    OnEntry,
    PickStudent,
    Share,
    Undo,
    offer,
    offer_on_new_entry,
    withdraw,
)
from bot.context import Context
from bot.events import Button, ButtonPress, IncomingMessage, MessageEdited, Reply
from bot.note_measures import keep_measure, read_note_measure
from bot.router import Router
from storage.models import (
    Entry,
    EntryKind,
    Goal,
    Membership,
    Person,
    Role,
    Setting,
    Student,
)
from storage.stores.students import StudentLink

BUTTON_TTL = timedelta(days=2)
UNDO_WINDOW = timedelta(hours=24)
URGENT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Draft:
    """A note on its way to becoming an entry."""

    kind: EntryKind
    text: str
    source_ref: str
    attachment_ref: str | None
    ask_kind: bool = False  # plain text asks [Win] [Concern] [Note]; /note does not


async def log_note(
    msg: IncomingMessage,
    ctx: Context,
    text: str,
    kind: EntryKind = EntryKind.NOTE,
    ask_kind: bool = False,
) -> list[Reply]:
    """Log a note about one of the sender's students, asking which one when it is unclear."""
    if not text and msg.attachment_ref is None:
        return [ctx.say("note.empty", kind=ctx.t(f"kind.{kind}"))]
    links, archived = await access.my_students_and_archived(ctx, Action.LOG)
    if not links and not archived:
        return [ctx.say("students.none")]
    # Archived students are matched too, so that a note about one gets a kind "archived".
    every = [*links, *archived]
    match = grammar.match_student(text, [(_id(link.student), link.student.name) for link in every])
    draft = Draft(kind, match.body, msg.message_ref, msg.attachment_ref, ask_kind)
    if len(match.student_ids) == 1:
        link = next(link for link in every if link.student.id == match.student_ids[0])
        if link.student.archived:
            return [ctx.say("student.archived", student=link.student.name)]
    elif len(links) == 1 and not match.student_ids:
        link = links[0]
    elif not links:
        names = ", ".join(link.student.name for link in archived)
        return [ctx.say("student.archived", student=names)]
    else:
        choices = [link for link in links if link.student.id in match.student_ids] or links
        return [
            await _ask_which_student(
                ctx,
                draft
                if match.student_ids
                else Draft(kind, text, msg.message_ref, msg.attachment_ref, ask_kind),
                choices,
                match,
            )
        ]
    return await _save(ctx, link.student, draft, link)


def _id(student: Student) -> int:
    assert student.id is not None
    return student.id


async def _ask_which_student(
    ctx: Context, draft: Draft, choices: list[StudentLink], match: grammar.NameMatch
) -> Reply:
    group = secrets.token_hex(4)
    picks = [
        PickStudent(
            student_id=_id(link.student),
            group=group,
            kind=draft.kind,
            text=draft.text,
            source_ref=draft.source_ref,
            attachment_ref=draft.attachment_ref,
            ask_kind=draft.ask_kind,
        )
        for link in choices
    ]
    buttons = [
        Button(link.student.name, await offer(ctx, pick, BUTTON_TTL))
        for link, pick in zip(choices, picks, strict=True)
    ]
    key = (
        "note.which_student_unknown"
        if match.named and not match.student_ids
        else "note.which_student"
    )
    return ctx.say(key, name=match.name).with_buttons(*buttons)


async def pick_student(
    press: ButtonPress, ctx: Context, button: Checked[PickStudent]
) -> list[Reply]:
    """The sender chose which student a note is about."""
    pick = button.payload
    await withdraw(ctx, PickStudent, group=pick.group)
    link = button.link
    if link is None:
        return [ctx.say("students.not_found").replacing()]
    draft = Draft(pick.kind, pick.text, pick.source_ref, pick.attachment_ref, pick.ask_kind)
    replies = await _save(ctx, link.student, draft, link)
    return [replies[0].replacing(), *replies[1:]]


async def _save(ctx: Context, student: Student, draft: Draft, link: StudentLink) -> list[Reply]:
    """Log the note about `student`, to whom the sender is tied by `link`."""
    setting = Setting.HOME if link and link.role == Role.PARENT else Setting.SCHOOL
    tags = grammar.find_tags(draft.text)
    # Most notes have no tag, and then no need of the student's goals.
    goals = await ctx.store.entries.goals(_id(student)) if tags else ()
    known = [goal for tag in tags for goal in goals if goal.tag == tag]
    unknown = [tag for tag in tags if all(goal.tag != tag for goal in goals)]
    measured = await read_note_measure(ctx, student, draft.kind, draft.text, goals or None)
    if measured.refusal is not None:
        return [measured.refusal]
    # Strip a lone trailing tag only when it is fully captured by the goal link.
    text = grammar.strip_trailing_tags(draft.text) if len(tags) == 1 and known else draft.text
    # Past the hour's urgent notes, one more would page the whole team again: a concern instead.
    paged_enough = draft.kind == EntryKind.URGENT and await _urgent_notes_used_up(ctx)
    kind = EntryKind.CONCERN if paged_enough else draft.kind
    team, families_wait = await _team_to_tell(ctx, kind, student, link)
    # [Share with family now], when the family would otherwise wait for the weekly summary.
    share = setting == Setting.SCHOOL and kind in _CLASSIFY and families_wait
    columns: dict[str, Any] = {
        "student_id": _id(student),
        "author_id": ctx.my_id,
        "kind": kind,
        "setting": setting,
        "text": text,
        "goal_id": known[0].id if known else None,
        "source_platform": ctx.account.platform if ctx.account else "",
        "source_ref": draft.source_ref,
        "attachment_ref": draft.attachment_ref,
        "created_at": ctx.clock.now(),
    }
    # The entry and its buttons are written together (one statement on PostgreSQL); what
    # needs the entry comes after, and only then is it made an object (most notes need none).
    entry_id, buttons = await _entry_with_buttons(
        ctx, columns, _CLASSIFY if draft.ask_kind else (), share
    )
    entry = Entry(id=entry_id, **columns) if measured.found or team is not None else None
    line = ctx.t(f"entry.logged_{kind}", student=student.name)
    if paged_enough:
        cap = ctx.settings.security.urgent_per_hour
        line = f"{line} {ctx.t('entry.urgent_used_up', count=cap)}"
    measure_words = await keep_measure(ctx, entry, measured) if entry is not None else ""
    if measure_words:
        line = f"{line} {measure_words}"
    elif known:
        line = f"{line} {ctx.t('entry.goal_linked', tag=known[0].tag)}"
    if draft.ask_kind:
        line = f"{line} {ctx.t('entry.ask_kind')}"
    if entry is not None and team is not None:
        await notifications.tell_team(ctx, entry, student, team)
    replies = [Reply(line).with_buttons(*buttons)]
    if unknown:
        replies.append(_unknown_tags(ctx, unknown, goals, student))
    return replies


def _unknown_tags(
    ctx: Context, unknown: Sequence[str], goals: Sequence[Goal], student: Student
) -> Reply:
    """The tags that name no goal of the student (the note is kept), beside those that do."""
    listed = ", ".join(f"#{goal.tag}" for goal in goals) or ctx.t("goals.none_short")
    tags = ", ".join(f"#{tag}" for tag in unknown)
    return ctx.say("entry.unknown_tags", tags=tags, student=student.name, goals=listed)


_CLASSIFY = (EntryKind.WIN, EntryKind.CONCERN, EntryKind.NOTE)


async def _urgent_notes_used_up(ctx: Context) -> bool:
    """Whether the sender has paged their teams `security.urgent_per_hour` times this hour."""
    used = await ctx.store.entries.urgent_count_since(ctx.my_id, ctx.clock.now() - URGENT_WINDOW)
    return used >= ctx.settings.security.urgent_per_hour


async def _team_to_tell(
    ctx: Context, kind: EntryKind, student: Student, link: StudentLink
) -> tuple[Sequence[tuple[Person, Membership]] | None, bool]:
    """The team to tell of a new entry of this kind now (None: nobody is told at once), and
    whether the student's families wait for the weekly summary instead. The team is read
    (once, for both) only if the shape of it that came with the link does not settle both."""
    shape = link.team
    if shape is not None and not notifications.may_tell(kind, shape):
        return None, shape.weekly_parents > 0
    team = await ctx.store.students.team_of(_id(student))
    return team, bool(await notifications.weekly_families(ctx, student, team))


async def _entry_with_buttons(
    ctx: Context, columns: dict[str, Any], kinds: Sequence[EntryKind], share: bool
) -> tuple[int, list[Button]]:
    """Write a new entry (its `columns`) with its buttons: one per kind in `kinds`, [Undo], and
    [Share with family now] if `share`. The entry's id, and the buttons."""
    labelled: list[tuple[str, Callable[[int], OnEntry]]] = [
        (ctx.t(f"button.{kind}"), partial(Classify, kind=kind)) for kind in kinds
    ]
    labelled.append((ctx.t("button.undo"), Undo))
    if share:
        labelled.append((ctx.t("button.share"), Share))
    entry_id, tokens = await offer_on_new_entry(
        ctx, columns, [make for _, make in labelled], BUTTON_TTL
    )
    buttons = [Button(label, token) for (label, _), token in zip(labelled, tokens, strict=True)]
    return entry_id, buttons


def _entry_id(entry: Entry) -> int:
    assert entry.id is not None
    return entry.id


async def share_now(press: ButtonPress, ctx: Context, button: Checked[Share]) -> list[Reply]:
    """Send this entry to the student's weekly-digest parents now."""
    entry = await _my_entry(ctx, button.payload.entry_id)
    await ctx.store.buttons.delete(button.pending)
    student = await ctx.store.students.get(entry.student_id) if entry else None
    if entry is None or student is None:
        return [ctx.say("entry.gone")]
    shared = await notifications.share_with_family(ctx, entry, student)
    await access.log(ctx, student, Shared(_entry_id(entry), shared))
    return [ctx.say("entry.shared", student=student.name)]


async def _undo_button(ctx: Context, entry: Entry) -> Button:
    token = await offer(ctx, Undo(_entry_id(entry)), BUTTON_TTL)
    return Button(ctx.t("button.undo"), token)


async def classify(press: ButtonPress, ctx: Context, button: Checked[Classify]) -> list[Reply]:
    """Turn a plain note into a win or a concern (or keep it a note)."""
    entry = await _my_entry(ctx, button.payload.entry_id)
    await withdraw(ctx, Classify, entry_id=button.payload.entry_id)
    if entry is None:
        return [ctx.say("entry.gone").replacing()]
    entry.kind = button.payload.kind
    await ctx.store.entries.add(entry)
    student = await ctx.store.students.get(entry.student_id)
    name = student.name if student else ""
    return [
        ctx.say(f"entry.logged_{entry.kind}", student=name)
        .replacing()
        .with_buttons(await _undo_button(ctx, entry))
    ]


async def _my_entry(ctx: Context, entry_id: int) -> Entry | None:
    entry = await ctx.store.entries.get(entry_id)
    return entry if entry is not None and entry.author_id == ctx.my_id else None


async def undo_button(press: ButtonPress, ctx: Context, button: Checked[Undo]) -> list[Reply]:
    """Remove the entry this button was sent with."""
    entry = await _my_entry(ctx, button.payload.entry_id)
    return [(await _undo(ctx, entry)).replacing()]


async def undo_command(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """Remove the sender's latest entry, if it is recent."""
    entry = await ctx.store.entries.last_by(ctx.my_id, ctx.clock.now() - UNDO_WINDOW)
    return [await _undo(ctx, entry)]


async def _undo(ctx: Context, entry: Entry | None) -> Reply:
    # Only while the author may still write about the student (not after removal or archiving).
    if entry is None or await access.my_link(ctx, entry.student_id, Action.LOG) is None:
        return ctx.say("entry.nothing_to_undo")
    student = await ctx.store.students.get(entry.student_id)
    await withdraw(ctx, Undo, Classify, entry_id=entry.id)
    await ctx.store.outbox.delete_about_entry(entry)
    await ctx.store.entries.delete(entry)
    return ctx.say(
        "entry.undone",
        kind=ctx.t(f"kind.{entry.kind}"),
        student=student.name if student else "",
        text=_preview(entry.text),
    )


def _preview(text: str, width: int = 60) -> str:
    text = " ".join(text.split())  # one line, inside the reply's quotation marks
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


async def edit_entry(event: MessageEdited, ctx: Context) -> list[Reply]:
    """An edited message edits the entry it made; the old text is kept as a revision."""
    if ctx.account is None:
        return []
    entry = await ctx.store.entries.from_message(ctx.account.platform, event.message_ref, ctx.my_id)
    # An edit writes into the record: not once the author is off the team or it is archived.
    if entry is None or await access.my_link(ctx, entry.student_id, Action.LOG) is None:
        return []
    text = grammar.clean_text(event.text)
    _, text = grammar.split_prefix(text)
    student = await ctx.store.students.get(entry.student_id)
    if student is not None:
        match = grammar.match_student(text, [(_id(student), student.name)])
        text = match.body if match.student_ids else text
    if not text:
        return [ctx.say("entry.edit_empty")]
    if len(text) > ctx.settings.security.max_entry_chars:
        return [
            ctx.say("input.too_long", limit=ctx.settings.security.max_entry_chars, length=len(text))
        ]
    if text == entry.text or student is None:
        return [ctx.say("entry.edited", student=student.name if student else "")]
    # The new wording is read again for its measure; the old one stays in the revision.
    measured = await read_note_measure(ctx, student, entry.kind, text)
    if measured.refusal is not None:
        return [measured.refusal]
    await ctx.store.entries.revise(entry, text, ctx.clock.now())
    await ctx.store.progress.delete_of_entry(_entry_id(entry))
    line = ctx.t("entry.edited", student=student.name)
    measure_words = await keep_measure(ctx, entry, measured)
    return [Reply(f"{line} {measure_words}" if measure_words else line)]


# `/win Sam read a page` is `+ Sam read a page`, and so on.
KIND_COMMANDS = {
    "win": EntryKind.WIN,
    "concern": EntryKind.CONCERN,
    "note": EntryKind.NOTE,
    "ask": EntryKind.QUESTION,
    "urgent": EntryKind.URGENT,
}


def register(router: Router) -> None:
    """`+ - ? !`, /win /concern /note /ask /urgent, plain text, /undo, edits, and their buttons."""
    for char, kind in grammar.PREFIXES.items():
        router.prefix(char, partial(log_note, kind=kind))
    for command, kind in KIND_COMMANDS.items():
        router.command(command, partial(log_note, kind=kind))
    router.text(partial(log_note, kind=EntryKind.NOTE, ask_kind=True))
    router.command("undo", undo_command)
    router.edited(edit_entry)
    router.button(PickStudent, pick_student)
    router.button(Share, share_now)
    router.button(Classify, classify)
    router.button(Undo, undo_button)
