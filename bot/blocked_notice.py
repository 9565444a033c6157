"""An account blocked the bot: tell the admins of the schools where the person is on a team,
once, in their own language and outside their quiet hours."""

from __future__ import annotations

from datetime import datetime

from bot.config_values import QuietHours
from bot.events import Reply
from bot.i18n import translate
from bot.outbox import Letter, enqueue
from bot.quiet_hours import next_allowed, person_quiet_hours
from storage import outbox_keys
from storage.models import Account, Platform
from storage.stores import Store

# Catalog keys of the platforms' names, for the message telling admins about a block.
PLATFORM_NAMES: dict[str, str] = {
    Platform.TELEGRAM: "platform.telegram",
    Platform.SLACK: "platform.slack",
    Platform.EMAIL: "platform.email",
    Platform.CONSOLE: "platform.console",
}


async def tell_admins(
    store: Store, account: Account, now: datetime, school_quiet_hours: QuietHours | None
) -> None:
    """Queue one notice to each admin over the account's person (`school_quiet_hours`: the
    default for admins who set none)."""
    person = await store.people.get(account.person_id)
    if person is None or account.id is None:
        return
    for admin, school in await store.students.admins_over(person.id or 0):
        assert admin.id is not None
        language = admin.language
        text = _notice(language, account.platform, person.display_name)
        quiet = person_quiet_hours(admin.quiet_hours, school_quiet_hours)
        due = next_allowed(now, admin.timezone or school.timezone, quiet)
        # One key per blocked account and admin: told once, however many letters failed.
        await enqueue(
            store,
            Letter(
                key=outbox_keys.blocked_key(account.id, admin.id),
                person_id=admin.id,
                kind="blocked",
                reply=Reply(text),
                not_before=due,
                school_id=school.id,
            ),
        )


def _notice(language: str, platform: str, name: str) -> str:
    """What the admins read: a chat's "blocked the bot", or an email address that bounces."""
    if platform == Platform.EMAIL:
        return translate(language, "outbox.blocked_email", name=name)
    where = translate(language, PLATFORM_NAMES.get(platform, "platform.console"))
    return translate(language, "outbox.blocked", name=name, platform=where)
