"""Quiet hours: when a message may reach a person, in their own (or their school's) timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import ConfigError
from bot.config_values import QuietHours, parse_quiet_hours

OFF = "off"


def person_quiet_hours(stored: str | None, default: QuietHours | None) -> QuietHours | None:
    """A person's own quiet hours (`/quiet`), else the school's; "off" means none."""
    if stored is None:
        return default
    if stored == OFF:
        return None
    try:
        return parse_quiet_hours(stored, "quiet_hours")
    except ConfigError:
        return default


def next_allowed(now: datetime, timezone: str, quiet: QuietHours | None) -> datetime:
    """`now` if outside quiet hours, else the moment they end (07:00 local, say)."""
    if quiet is None:
        return now
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if not quiet.contains(local.time()):
        return now
    day = (
        local.date()
        if local.time().replace(tzinfo=None) < quiet.end
        else local.date() + timedelta(days=1)
    )
    return datetime.combine(day, quiet.end, tzinfo=zone).astimezone(UTC)
