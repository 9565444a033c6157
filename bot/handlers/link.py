"""One person on two platforms: `/link` shows a one-time code; `/link CODE` sent from the
other account shows whom it would join and what they see, and [Join] joins the account to
that person. Never the other way: an account that has students or admin rights of its own is
not handed to the code's person in chat."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from bot import team
from bot.buttons import Checked, JoinProfile, KeepApart, LinkCode, decode, offer, withdraw
from bot.code_guesses import GuessLimit
from bot.context import Context
from bot.events import Button, ButtonPress, IncomingMessage, Reply
from bot.router import Router
from storage.models import Account, Person

LINK_TTL = timedelta(minutes=15)
# Wrong codes one account may send in GUESS_WINDOW before every code is refused.
MAX_WRONG_CODES = 5
GUESS_WINDOW = timedelta(hours=1)
GUESS_KIND = "link"
GUESSES = GuessLimit(GUESS_KIND, MAX_WRONG_CODES, GUESS_WINDOW)

# Typed on a phone, maybe read aloud: no 0/O or 1/I to confuse. 8 of 32 letters = 40 bits,
# enough for a code that lives 15 minutes behind a guess limit.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 8


def new_code() -> str:
    """A fresh code, shown as two groups of four: `K7QM-2XPD`."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def normalise(code: str) -> str:
    """The code as typed, without case, dashes or spaces: `k7qm 2xpd` -> `K7QM2XPD`."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_token(code: str, secret_key: str) -> str:
    """What the database keeps: a keyed hash, so a copy of the database cannot link anyone."""
    return hmac.new(
        secret_key.encode(), f"link:{normalise(code)}".encode(), hashlib.sha256
    ).hexdigest()


async def link(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """`/link` gives a code; `/link CODE` from another account joins it to the code's person."""
    if not normalise(args):
        if ctx.person is None:
            return [ctx.say("onboarding.stranger")]
        return [await _offer_code(ctx)]
    return [await _redeem(msg, ctx, args)]


async def _offer_code(ctx: Context) -> Reply:
    # One live code per person: a new /link retires the one shown before.
    await withdraw(ctx, LinkCode)
    code = new_code()
    await offer(ctx, LinkCode(), LINK_TTL, token=code_token(code, ctx.settings.security.secret_key))
    return ctx.say("link.code", code=code, minutes=int(LINK_TTL.total_seconds() // 60))


async def _redeem(msg: IncomingMessage, ctx: Context, code: str) -> Reply:
    """Show who the code would join this account to, and what they see; nothing changes
    until [Join]. Refused when this account already has students or admin rights of its own:
    joining it would hand them to the code's person (issue 13, hole 1)."""
    sender = msg.sender
    now = ctx.clock.now()
    if await GUESSES.exhausted(ctx.store, sender, now):
        return ctx.say("link.too_many")
    token = code_token(code, ctx.settings.security.secret_key)
    target = await _code_owner(ctx, token)
    if target is None:
        await GUESSES.wrong(ctx.store, sender, now)
        return ctx.say("link.bad_code")
    # Found even when inactive: the person writing from it is evidently there again.
    account = await ctx.store.people.account(sender.platform, sender.workspace, sender.external_id)
    if account is not None and account.person_id == target.id:
        return ctx.say("link.same")
    refused = await _refusal(ctx, target, account)
    if refused is not None:
        return refused
    joining = await team.side_of(ctx.store, target)
    pending = await ctx.store.buttons.get(token)
    assert pending is not None
    ttl = pending.expires_at - now
    where = (sender.platform, sender.workspace, sender.external_id)
    join = await offer(ctx, JoinProfile(*where, token, msg.chat.id), ttl, person_id=_id(target))
    cancel = await offer(ctx, KeepApart(*where, token), ttl, person_id=_id(target))
    return ctx.say("link.offer", name=target.display_name, sees=_sees(ctx, joining)).with_buttons(
        Button(ctx.t("button.join"), join), Button(ctx.t("button.cancel"), cancel)
    )


async def _code_owner(ctx: Context, token: str) -> Person | None:
    """The person a live link code is for; an expired code is retired."""
    found = await ctx.store.buttons.get(token)
    # Only a link code: a button's token sent as a code is no code at all.
    pending = found if found and isinstance(decode(found.action, found.payload), LinkCode) else None
    if pending is None:
        return None
    if pending.expires_at <= ctx.clock.now():
        await ctx.store.buttons.delete(pending)
        return None
    return await ctx.store.people.get(pending.person_id)


async def _refusal(ctx: Context, target: Person, account: Account | None) -> Reply | None:
    """Why this account may not join the code's person in chat, if it may not: it is someone
    with students or admin rights already (an admin joins two such people with `tandem people
    merge`; the other way round, the code's person brings theirs to a new account)."""
    if account is None:
        return None
    redeemer = await ctx.store.people.get(account.person_id)
    assert redeemer is not None
    if not (await team.side_of(ctx.store, redeemer)).has_access:
        return None
    if (await team.side_of(ctx.store, target)).has_access:
        return ctx.say("link.refused_both")
    return ctx.say("link.refused_turn_around")


def _sees(ctx: Context, side: team.Side) -> str:
    """What the code's person sees, in a line: their students with roles, the schools they run."""
    parts = []
    if side.teams:
        teams = [f"{student} ({ctx.t(f'role.{role}')})" for student, role in side.teams]
        parts.append(ctx.t("link.sees_team", students=", ".join(teams)))
    parts += [ctx.t("link.sees_school", school=school) for school in side.schools]
    return "; ".join(parts) or ctx.t("link.sees_nothing")


def _id(person: Person) -> int:
    assert person.id is not None
    return person.id


async def join_profile(
    press: ButtonPress, ctx: Context, button: Checked[JoinProfile]
) -> list[Reply]:
    """[Join]: this account becomes the code's person's, if the code still works and nothing
    this account has since would move to them."""
    offered = button.payload
    await _retire(ctx, button.pending.person_id, offered.code)
    target = await _code_owner(ctx, offered.code)
    if target is None or _id(target) != button.pending.person_id:
        return [ctx.say("link.bad_code").replacing()]
    sender = press.sender
    account = await ctx.store.people.account(sender.platform, sender.workspace, sender.external_id)
    if account is not None and account.person_id == target.id:
        return [ctx.say("link.same").replacing()]
    refused = await _refusal(ctx, target, account)
    if refused is not None:
        return [refused.replacing()]
    await ctx.store.buttons.delete_kind(_id(target), LinkCode.action)
    if account is None:
        await ctx.store.people.add_account(
            target, sender.platform, sender.workspace, sender.external_id, offered.chat_id
        )
        ctx.person = target
        return [ctx.say("link.joined", name=target.display_name).replacing()]
    return [(await _merge(ctx, target, account)).replacing()]


async def keep_apart(press: ButtonPress, ctx: Context, button: Checked[KeepApart]) -> list[Reply]:
    """[Cancel]: nothing is joined, and the code stops working (it was shown to this account)."""
    await _retire(ctx, button.pending.person_id, button.payload.code)
    code = await ctx.store.buttons.get(button.payload.code)
    if code is not None and isinstance(decode(code.action, code.payload), LinkCode):
        await ctx.store.buttons.delete(code)
    return [ctx.say("link.kept_apart").replacing()]


async def _retire(ctx: Context, owner: int, code: str) -> None:
    """The [Join] and [Cancel] shown for one code: once one is pressed, neither works."""
    for kind in (JoinProfile, KeepApart):
        await ctx.store.buttons.delete_about(owner, kind.action, "code", code)


async def _merge(ctx: Context, target: Person, account: Account) -> Reply:
    """The account was someone here with no students and no admin rights (one a school took
    off every team): that someone becomes `target`, their notes with them."""
    dropped = await ctx.store.people.get(account.person_id)
    assert dropped is not None
    # From here on the sender is `target`: the merge's access-log rows are by them.
    ctx.person, ctx.account = target, account
    merged = await team.merge_people(ctx, target, dropped)
    await ctx.store.people.attach_account(account, _id(target))
    if merged.students or merged.entries:
        return ctx.say(
            "link.merged",
            name=target.display_name,
            teams=ctx.t("count.teams", count=merged.students),
            notes=ctx.t("count.notes", count=merged.entries),
        )
    return ctx.say("link.joined", name=target.display_name)


def register(router: Router) -> None:
    """/link, open to a sender who has not joined (that is how a second account joins); its
    [Join] and [Cancel]."""
    router.command("link", link, open_to_strangers=True)
    router.button(JoinProfile, join_profile)
    router.button(KeepApart, keep_apart)
