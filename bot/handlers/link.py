"""One person on two platforms: `/link` shows a one-time code, `/link CODE` sent from the
other account joins the two accounts into that person."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from bot.buttons import LinkCode, decode, offer, withdraw
from bot.code_guesses import GuessLimit
from bot.context import Context
from bot.events import IncomingMessage, Reply
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
    sender = msg.sender
    now = ctx.clock.now()
    if await GUESSES.exhausted(ctx.store, sender, now):
        return ctx.say("link.too_many")
    found = await ctx.store.buttons.get(code_token(code, ctx.settings.security.secret_key))
    # Only a link code: a button's token sent as a code is no code at all.
    pending = found if found and isinstance(decode(found.action, found.payload), LinkCode) else None
    target = await ctx.store.people.get(pending.person_id) if pending is not None else None
    if pending is None or target is None or pending.expires_at <= now:
        if pending is not None:
            await ctx.store.buttons.delete(pending)
        await GUESSES.wrong(ctx.store, sender, now)
        return ctx.say("link.bad_code")
    assert target.id is not None
    # Found even when inactive: the person writing from it is evidently there again.
    account = await ctx.store.people.account(sender.platform, sender.workspace, sender.external_id)
    if account is not None and account.person_id == target.id:
        return ctx.say("link.same")
    if account is None:
        await ctx.store.buttons.delete(pending)
        await ctx.store.people.add_account(
            target, sender.platform, sender.workspace, sender.external_id, msg.chat.id
        )
        ctx.person = target
        return ctx.say("link.joined", name=target.display_name)
    conflicts = await ctx.store.people.role_conflicts(target.id, account.person_id)
    if conflicts:
        # The code stays valid: once an admin has sorted the roles out, it can be sent again.
        return ctx.say("link.conflict", students=", ".join(conflicts))
    await ctx.store.buttons.delete(pending)
    return await _merge(ctx, target, account)


async def _merge(ctx: Context, target: Person, account: Account) -> Reply:
    """The sender already was someone else here: everything of theirs moves to `target`."""
    assert target.id is not None
    merged = await ctx.store.people.merge(target.id, account.person_id)
    await ctx.store.people.attach_account(account, target.id)
    ctx.person, ctx.account = target, account
    if merged.students or merged.entries:
        return ctx.say(
            "link.merged",
            name=target.display_name,
            teams=ctx.t("count.teams", count=merged.students),
            notes=ctx.t("count.notes", count=merged.entries),
        )
    return ctx.say("link.joined", name=target.display_name)


def register(router: Router) -> None:
    """/link, open to a sender who has not joined (that is how a second account joins)."""
    router.command("link", link, open_to_strangers=True)
