"""The composition root: every conversation Tandem holds, mounted on one router."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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
from bot.router import Router

Mount = Callable[[Router], None]

# Every conversation, each module's `register` naming its commands, prefixes and buttons.
HANDLERS: tuple[Mount, ...] = (
    onboarding.register,
    link.register,
    notes.register,
    urgent.register,
    questions.register,
    checkins.register,
    amendments.register,
    records.register,
    goals.register,
    invites.register,
    settings.register,
)


def build_router(handlers: Iterable[Mount] = HANDLERS) -> Router:
    """A router answering what `handlers` register (a test may mount only some)."""
    router = Router()
    for register in handlers:
        register(router)
    return router
