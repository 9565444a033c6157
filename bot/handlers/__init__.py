"""One module per conversation; importing this package registers them all on the router."""

from bot.handlers import (
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

__all__ = ["checkins", "goals", "invites", "link", "notes", "onboarding", "questions", "records",
           "settings", "urgent"]
