"""One module per conversation; importing this package registers them all on the router."""

from bot.handlers import (
    amendments,
    checkins,
    goals,
    invites,
    link,
    notes,
    onboarding,
    questions,
    records,
    settings,
    urgent,
)

__all__ = [
    "amendments",
    "checkins",
    "goals",
    "invites",
    "link",
    "notes",
    "onboarding",
    "questions",
    "records",
    "settings",
    "urgent",
]
