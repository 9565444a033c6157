"""One module per conversation; importing this package registers them all on the router."""

from bot.handlers import goals, invites, notes, onboarding, records

__all__ = ["goals", "invites", "notes", "onboarding", "records"]
