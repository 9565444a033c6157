"""Joining with an invite code, and help."""

from __future__ import annotations

from datetime import timedelta

from bot import grammar, invites
from bot.buttons import Checked, Language, offer, withdraw
from bot.code_guesses import GuessLimit
from bot.context import Context
from bot.events import Button, ButtonPress, IncomingMessage, Reply
from bot.handlers.settings import choose_language
from bot.i18n import Translator, guess_language, language_name, languages
from bot.invites import Redemption
from bot.router import Router
from storage.models import Role

# Invite codes carry 128 random bits; the limit also keeps a guesser from hammering the database.
MAX_WRONG_INVITES = 5
INVITE_GUESSES = GuessLimit("invite", MAX_WRONG_INVITES, timedelta(hours=1))
# Long enough to find the welcome again the next day; /language works at any time.
LANGUAGE_CHOICE_TTL = timedelta(days=7)


async def join(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """Redeem an invite code, creating the person on first contact."""
    code = args.split()[0] if args.split() else ""
    if not code:
        return [ctx.say("help.text") if ctx.person else ctx.say("onboarding.stranger")]
    now = ctx.clock.now()
    if await INVITE_GUESSES.exhausted(ctx.store, msg.sender, now):
        return [ctx.say("onboarding.too_many")]
    outcome, invite = await invites.check_invite(ctx.store, ctx.settings, now, code)
    if outcome is Redemption.UNKNOWN:
        # Only codes that never existed count: a used or expired one was handed out for real.
        await INVITE_GUESSES.wrong(ctx.store, msg.sender, now)
    if outcome is not Redemption.JOINED or invite is None:
        return [ctx.say(f"onboarding.code_{outcome}")]
    school = await ctx.store.students.school(invite.school_id)
    assert school is not None
    person = ctx.person
    if person is None:
        sender = msg.sender
        # The platform's name is someone's typing too: no bidi tricks or control characters.
        name = " ".join(grammar.clean_text(sender.display_name).split())[:200] or ctx.t(
            "onboarding.unnamed"
        )
        person = await ctx.store.people.add(
            name, guess_language(sender.language_hint, school.language)
        )
        ctx.t = Translator(person.language)
        await ctx.store.people.add_account(
            person, sender.platform, sender.workspace, sender.external_id, msg.chat.id
        )
        ctx.person = person
    if not await invites.accept_invite(ctx.store, now, invite, person):
        return [ctx.say("onboarding.code_used")]
    if invite.role == Role.ADMIN:
        return [
            await _welcome(
                ctx, "onboarding.welcome_admin", name=person.display_name, school=school.name
            )
        ]
    student = await ctx.store.students.get(invite.student_id) if invite.student_id else None
    return [
        await _welcome(
            ctx,
            f"onboarding.welcome_{invite.role}",
            name=person.display_name,
            student=student.name if student else "",
        )
    ]


async def _welcome(ctx: Context, key: str, **values: str) -> Reply:
    """The welcome, in the first guess at the newcomer's language, with a button per language."""
    if len(languages()) < 2:
        return ctx.say(key, **values)
    buttons = [
        Button(
            language_name(language),
            await offer(ctx, Language(language, key, values), LANGUAGE_CHOICE_TTL),
        )
        for language in languages()
    ]
    return Reply(f"{ctx.t(key, **values)}\n\n{ctx.t('onboarding.language_hint')}", tuple(buttons))


async def choose_welcome_language(
    press: ButtonPress, ctx: Context, button: Checked[Language]
) -> list[Reply]:
    """A newcomer chose a language under the welcome: the welcome again, now in it."""
    await withdraw(ctx, Language)
    chosen = button.payload
    await choose_language(ctx, chosen.language)
    welcome = ctx.t(chosen.welcome, **chosen.values)
    return [Reply(f"{welcome}\n\n{ctx.t('settings.language_set')}").replacing()]


async def show_help(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """What can be sent, in one screen."""
    return [ctx.say("help.text")]


def register(router: Router) -> None:
    """/start and /join (open to strangers), /help, and the welcome's language buttons."""
    router.command("start", join, open_to_strangers=True)
    router.command("join", join, open_to_strangers=True)
    router.button(Language, choose_welcome_language)
    router.command("help", show_help)
