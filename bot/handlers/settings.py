"""A person's own settings: /settings, /language, /timezone, /delivery, /quiet, /pause."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from bot.config import ConfigError
from bot.config_values import parse_quiet_hours
from bot.context import Context
from bot.events import IncomingMessage, Reply
from bot.i18n import Translator, find_language, language_name, languages
from bot.quiet_hours import OFF, person_quiet_hours
from bot.router import Router
from bot.weekly import week_bounds
from storage.models import Delivery, Platform

MAX_PAUSE = timedelta(days=366)


async def _timezone(ctx: Context) -> str:
    if ctx.me.timezone:
        return ctx.me.timezone
    links = await ctx.store.students.links_of(ctx.my_id)
    school = await ctx.store.students.school(links[0].student.school_id) if links else None
    return school.timezone if school else ctx.settings.school.timezone


async def show_settings(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """What the sender has chosen, and how to change it."""
    person = ctx.me
    deliveries = {m.delivery for m in await ctx.store.students.memberships_of(ctx.my_id)}
    # /delivery sets every team at once, so there is one choice unless no team yet.
    delivery = deliveries.pop() if len(deliveries) == 1 else Delivery.WEEKLY
    quiet = person_quiet_hours(person.quiet_hours, ctx.settings.schedule.quiet_hours)
    paused = ""
    if person.paused_until and person.paused_until > ctx.clock.now():
        local = person.paused_until.astimezone(ZoneInfo(await _timezone(ctx)))
        paused = ctx.t("settings.paused_until", date=ctx.t.day(local.date()))
    return [
        ctx.say(
            "settings.show",
            lang=language_name(ctx.t.language),
            languages="|".join(languages()),
            delivery=ctx.t(f"settings.delivery.{delivery}"),
            quiet=str(quiet) if quiet else ctx.t("settings.quiet_off"),
            timezone=await _timezone(ctx),
            paused=paused or ctx.t("settings.not_paused"),
        )
    ]


async def set_language(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """`/language es` (or `Español`): Tandem's own messages in that language from now on."""
    wanted = _language_named(args[:64])
    if wanted is None:
        choices = ", ".join(f"{code} ({language_name(code)})" for code in languages())
        return [ctx.say("settings.language_usage", languages=choices)]
    await choose_language(ctx, wanted)
    return [ctx.say("settings.language_set")]


def _language_named(text: str) -> str | None:
    """A catalog by its code (`zh_Hans`, `zh-hans`, `zh`) or by its own name (`Tiếng Việt`)."""
    names = {language_name(code).casefold(): code for code in languages()}
    return names.get(" ".join(text.split()).casefold()) or find_language(text)


async def choose_language(ctx: Context, language: str) -> None:
    """From now on, Tandem writes to the sender in this language (this reply included)."""
    ctx.me.language = language
    await ctx.store.people.save(ctx.me)
    ctx.t = Translator(language)


async def set_delivery(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """`/delivery instant` (each note as it comes) or `/delivery weekly` (the summary only)."""
    wanted = args.strip().casefold()
    if wanted in {platform.value for platform in Platform}:
        return [await choose_platform(ctx, wanted)]
    if wanted not in (Delivery.INSTANT, Delivery.WEEKLY):
        return [ctx.say("settings.delivery_usage")]
    await ctx.store.students.set_delivery(ctx.my_id, wanted)
    return [ctx.say(f"settings.delivery_set.{wanted}")]


async def choose_platform(ctx: Context, platform: str) -> Reply:
    """`/delivery email`: letters go to the sender's account there, of the ones they have."""
    platforms = (await ctx.store.people.platforms_of([ctx.my_id])).get(ctx.my_id, [])
    if platform not in platforms:
        return ctx.say("settings.delivery_platform_missing", platform=platform)
    ctx.me.delivery_platform = platform
    await ctx.store.people.save(ctx.me)
    return ctx.say("settings.delivery_platform_set", platform=platform)


async def set_quiet(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """`/quiet 21:00-06:30`, or `/quiet off`: when nothing but urgent notes reaches you."""
    wanted = args.strip().casefold()
    if wanted == OFF:
        ctx.me.quiet_hours = OFF
        await ctx.store.people.save(ctx.me)
        return [ctx.say("settings.quiet_set_off")]
    try:
        quiet = parse_quiet_hours(wanted, "quiet") if wanted else None
    except ConfigError:
        quiet = None
    if quiet is None:
        return [ctx.say("settings.quiet_usage")]
    ctx.me.quiet_hours = str(quiet)
    await ctx.store.people.save(ctx.me)
    return [ctx.say("settings.quiet_set", quiet=str(quiet))]


async def pause(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """`/pause` skips this week's check-in; `/pause until 2027-01-05`; `/pause off` resumes."""
    words = args.strip().casefold().split()
    timezone = await _timezone(ctx)
    now = ctx.clock.now()
    if words in (["off"], ["resume"]):
        ctx.me.paused_until = None
        await ctx.store.people.save(ctx.me)
        return [ctx.say("settings.pause_off")]
    if not words:
        until = week_bounds(now, timezone)[1]
    else:
        day = _parse_day(words[-1]) if words[0] in ("until", words[-1]) else None
        if day is None:
            return [ctx.say("settings.pause_usage")]
        until = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone))
        if until <= now or until - now > MAX_PAUSE:
            return [ctx.say("settings.pause_range")]
    ctx.me.paused_until = until
    await ctx.store.people.save(ctx.me)
    return [ctx.say("settings.paused", date=ctx.t.day(until.date()))]


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@cache
def _zones() -> dict[str, str]:
    """Every IANA zone name by its lower case, so that `/timezone america/new_york` works."""
    return {zone.lower(): zone for zone in available_timezones()}


async def set_timezone(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """`/timezone America/New_York`: the sender's times in that zone; `off`: the school's."""
    wanted = args.strip()
    if not wanted:
        return [ctx.say("settings.timezone_usage", timezone=await _timezone(ctx))]
    person = ctx.me
    if wanted.lower() == OFF:
        person.timezone = None
    else:
        zone = _zones().get(wanted.lower())
        if zone is None:
            return [ctx.say("settings.timezone_unknown", timezone=wanted[:64])]
        person.timezone = zone
    await ctx.store.people.save(person)
    return [ctx.say("settings.timezone_set", timezone=await _timezone(ctx))]


def register(router: Router) -> None:
    """/settings, /language, /timezone, /delivery, /quiet, /pause."""
    router.command("settings", show_settings)
    router.command("language", set_language)
    router.command("timezone", set_timezone)
    router.command("delivery", set_delivery)
    router.command("quiet", set_quiet)
    router.command("pause", pause)
