"""Corrections: a parent asks with /amend N text; the entry's author or a school admin taps
[Accept] (the entry is revised, its old wording kept) or [Decline] (it stays); the parent is
told either way, and every step is in the access log."""

from __future__ import annotations

from datetime import timedelta

from bot import access, grammar
from bot.access import Action
from bot.buttons import AcceptCorrection, Checked, DeclineCorrection, OnAmendment, offer, withdraw
from bot.context import Context
from bot.events import Button, ButtonPress, IncomingMessage, Reply
from bot.i18n import Translator
from bot.notifications import not_before
from bot.outbox import Letter, enqueue
from bot.quoting import quote
from bot.router import Router
from storage import outbox_keys
from storage.models import (
    AccessAction,
    Amendment,
    AmendmentStatus,
    Entry,
    Person,
    Student,
)
from storage.stores.students import StudentLink

# A request waits a school term for its decision; the buttons stop working after that.
DECISION_TTL = timedelta(days=60)
_DONE = {
    AmendmentStatus.ACCEPTED: "amend.accepted_done",
    AmendmentStatus.DECLINED: "amend.declined_done",
}
_TOLD = {
    AmendmentStatus.ACCEPTED: "notify.amend_accepted",
    AmendmentStatus.DECLINED: "notify.amend_declined",
}


async def request_amendment(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """`/amend 12 Sam read two pages, not one`: ask the team to correct note #12."""
    word, _, text = args.strip().partition(" ")
    text = text.strip()
    if not word.lstrip("#").isdecimal() or not text:
        return [ctx.say("amend.usage")]
    number = grammar.entry_number(word)
    entry = await ctx.store.entries.get(number) if number is not None else None
    link = await access.my_link(ctx, entry.student_id, Action.AMEND) if entry else None
    if entry is None or link is None:
        if entry is not None:
            # Another child's note looks like no note at all, but the attempt is logged.
            other = await ctx.store.students.get(entry.student_id)
            await access.log(ctx, other, AccessAction.DENIED, f"amend: #{entry.id}")
        return [ctx.say("amend.not_found", number=word.lstrip("#")[:12])]
    student = link.student
    if entry.author_id == ctx.my_id:
        return [ctx.say("amend.own")]
    if text == entry.text:
        return [ctx.say("amend.same")]
    amendment = await ctx.store.records.add_amendment(
        Amendment(
            entry_id=entry.id or 0,
            student_id=entry.student_id,
            requested_by=ctx.my_id,
            text=text,
            requested_at=ctx.clock.now(),
        )
    )
    await access.log(
        ctx,
        student,
        AccessAction.AMEND,
        access.amended_detail(amendment.id, entry.id, "requested"),
    )
    deciders = await _deciders(ctx, entry, student)
    for person in deciders:
        await _ask(ctx, person, amendment, entry, student)
    if not deciders:
        return [ctx.say("amend.requested_nobody", number=entry.id, student=student.name)]
    return [
        ctx.say(
            "amend.requested",
            number=entry.id,
            student=student.name,
            people=", ".join(person.display_name for person in deciders),
        )
    ]


async def _deciders(ctx: Context, entry: Entry, student: Student) -> list[Person]:
    """The entry's author (if still on the team) and the school's admins, the asker left out."""
    candidates: dict[int, Person] = {}
    author = await ctx.store.people.get(entry.author_id) if entry.author_id else None
    for person in [
        *([author] if author else []),
        *await ctx.store.students.admins_of(student.school_id),
    ]:
        if person.id is None or person.id == ctx.my_id or person.id in candidates:
            continue
        links = await ctx.store.students.links_of(person.id)
        link = next((found for found in links if found.student.id == student.id), None)
        if access.may_decide(link, entry, person.id):
            candidates[person.id] = person
    return list(candidates.values())


async def _ask(
    ctx: Context, person: Person, amendment: Amendment, entry: Entry, student: Student
) -> None:
    assert person.id is not None and amendment.id is not None
    t = Translator(person.language)
    buttons = [
        Button(
            t(label),
            await offer(ctx, kind(amendment.id), DECISION_TTL, person_id=person.id),
        )
        for kind, label in (
            (AcceptCorrection, "button.accept"),
            (DeclineCorrection, "button.decline"),
        )
    ]
    school = await ctx.store.students.school(student.school_id)
    await enqueue(
        ctx.store,
        Letter(
            key=outbox_keys.amend_key(amendment.id, person.id),
            person_id=person.id,
            kind="amend",
            reply=Reply(
                t(
                    "notify.amend",
                    parent=ctx.me.display_name,
                    student=student.name,
                    number=entry.id,
                    old=quote(entry.text),
                    new=quote(amendment.text),
                )
            ).with_buttons(*buttons),
            not_before=not_before(ctx, person, school.timezone if school else "UTC"),
            student_id=student.id,
        ),
    )


async def accept(
    press: ButtonPress, ctx: Context, button: Checked[AcceptCorrection]
) -> list[Reply]:
    """Revise the entry as the parent asked; the old wording stays in its history."""
    return await _decide(ctx, button.payload, button.link, AmendmentStatus.ACCEPTED)


async def decline(
    press: ButtonPress, ctx: Context, button: Checked[DeclineCorrection]
) -> list[Reply]:
    """Keep the entry as it is; the request stays in the record."""
    return await _decide(ctx, button.payload, button.link, AmendmentStatus.DECLINED)


async def _decide(
    ctx: Context, asked: OnAmendment, link: StudentLink | None, status: AmendmentStatus
) -> list[Reply]:
    amendment_id = asked.amendment_id
    await withdraw(ctx, AcceptCorrection, DeclineCorrection, amendment_id=amendment_id)
    amendment = await ctx.store.records.amendment(amendment_id)
    entry = await ctx.store.entries.get(amendment.entry_id) if amendment else None
    student = await ctx.store.students.get(entry.student_id) if entry else None
    if amendment is None or entry is None or student is None or student.id is None:
        return [ctx.say("entry.gone").replacing()]
    # The press was re-checked: the presser may have left the team since the button was sent.
    if not access.may_decide(link, entry, ctx.my_id):
        await access.log(ctx, student, AccessAction.DENIED, f"decide_amend: #{amendment.id}")
        return [ctx.say("entry.gone").replacing()]
    now = ctx.clock.now()
    if not await ctx.store.records.decide_amendment(amendment, status, ctx.my_id, now):
        return [ctx.say("amend.already_decided", number=entry.id).replacing()]
    if status is AmendmentStatus.ACCEPTED:
        await ctx.store.entries.revise(entry, amendment.text, now)
    await access.log(
        ctx,
        student,
        AccessAction.AMEND,
        access.amended_detail(amendment.id, entry.id, status),
    )
    await _tell_parent(ctx, amendment, entry, student, status)
    return [ctx.say(_DONE[status], number=entry.id, student=student.name).replacing()]


async def _tell_parent(
    ctx: Context, amendment: Amendment, entry: Entry, student: Student, status: AmendmentStatus
) -> None:
    parent = await ctx.store.people.get(amendment.requested_by) if amendment.requested_by else None
    if parent is None or parent.id is None:
        return
    assert amendment.id is not None
    t = Translator(parent.language)
    school = await ctx.store.students.school(student.school_id)
    await enqueue(
        ctx.store,
        Letter(
            key=outbox_keys.amended_key(amendment.id),
            person_id=parent.id,
            kind="amend",
            reply=Reply(
                t(
                    _TOLD[status],
                    person=ctx.me.display_name,
                    student=student.name,
                    number=entry.id,
                    text=quote(amendment.text),
                )
            ),
            not_before=not_before(ctx, parent, school.timezone if school else "UTC"),
            student_id=student.id,
        ),
    )


def register(router: Router) -> None:
    """/amend, and the [Accept] [Decline] buttons its request sends."""
    router.command("amend", request_amendment)
    router.button(AcceptCorrection, accept)
    router.button(DeclineCorrection, decline)
