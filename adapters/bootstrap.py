"""The composition root: the database, the router, the dispatcher, the sender and the scheduler,
built in one place and handed to the driving adapters (the CLI, `tandem run`, the console).

The platform adapters are started by `adapters.runtime.platform_adapters`, from what this
builds; nothing in `bot/` or `storage/` imports an adapter.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.metrics_prometheus import PrometheusMetrics
from adapters.translation_deepl import DeepL
from adapters.translation_http import TranslationClient
from adapters.translation_libre import LibreTranslate
from bot.charts import DRAWING
from bot.config import Settings
from bot.context import Clock, SystemClock
from bot.dispatch import Dispatcher
from bot.errors import CommandError
from bot.handlers import (
    amendments,
    checkins,
    goals,
    invites,
    link,
    notes,
    onboarding,
    progress,
    questions,
    records,
    replies,
    report,
    settings,
    team,
    urgent,
)
from bot.i18n import languages
from bot.metrics import NO_METRICS, Metrics
from bot.outbox import Transport
from bot.router import Router
from bot.scheduler import build_scheduler
from bot.sender import OutboxSender
from bot.translation import NoteTranslator
from bot.translation_config import TranslationConfig
from bot.week_charts import WeekCharts
from storage.db import Database
from storage.locks import Lease
from storage.models import School

Mount = Callable[[Router], None]

# Every conversation Tandem holds; each module's `register` names its commands and buttons.
HANDLERS: tuple[Mount, ...] = (
    onboarding.register,  # /start /join /help
    link.register,  # /link, [Join] [Cancel]
    notes.register,  # + - ? ! /win /concern /note /ask /urgent, plain text, /undo, edits
    urgent.register,  # [Seen]
    questions.register,  # /questions /answer
    replies.register,  # a reply to a question's letter answers it; to a check-in's, its note
    checkins.register,  # the weekly check-in's buttons and the line after
    amendments.register,  # /amend, [Accept] [Decline]
    records.register,  # /students /log /week /record
    goals.register,  # /goals /goal
    progress.register,  # /progress
    report.register,  # /report
    invites.register,  # /invite
    team.register,  # /team, [Remove] [Yes, remove] [Cancel]
    settings.register,  # /settings /language /delivery /quiet /pause
)

NOT_SET_UP = (
    "the database is not set up for this version of Tandem: "
    "run `tandem db upgrade` (or `tandem init`)"
)


def build_router(handlers: Iterable[Mount] = HANDLERS) -> Router:
    """A router answering what `handlers` register (a test may mount only some)."""
    router = Router()
    for register in handlers:
        register(router)
    return router


def translation_provider(config: TranslationConfig) -> TranslationClient | None:
    """The configured provider's adapter; None for `provider = "none"` (nothing is sent)."""
    if config.provider == "libretranslate":
        return LibreTranslate(config)
    if config.provider == "deepl":
        return DeepL(config)
    return None


def worker_name() -> str:
    """Tells replicas apart in the outbox's claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Tandem:
    """One process's Tandem, wired: what a driving adapter is handed."""

    settings: Settings
    db: Database
    clock: Clock
    dispatcher: Dispatcher
    notes: NoteTranslator
    charts: WeekCharts  # draws the summary's pictures as they are sent
    # Counted only when served (`[metrics] listen`); else the core's calls record nothing.
    metrics: PrometheusMetrics | None = None

    @property
    def core_metrics(self) -> Metrics:
        return self.metrics or NO_METRICS

    def sender(self, transports: Mapping[str, Transport]) -> OutboxSender:
        """The outbox's sender through these platforms, in this process's name."""
        return OutboxSender(
            self.db,
            transports,
            self.clock,
            self.settings.sender,
            worker=worker_name(),
            quiet_hours=self.settings.schedule.quiet_hours,
            metrics=self.core_metrics,
            composer=self.charts,
            # One replica at a time sends for each platform, so its limits hold for the bot.
            leases={name: Lease(self.db, f"send:{name}") for name in transports},
        )

    def scheduler(self, schools: Sequence[School]) -> AsyncIOScheduler:
        """The weekly jobs of these schools; `start()` it inside the running event loop."""
        return build_scheduler(
            self.db,
            self.settings,
            self.clock,
            schools,
            self.notes,
            self.core_metrics,
            worker=worker_name(),
            drawing=DRAWING,  # this process's sender draws the pictures (`sender`)
        )


@asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    handlers: Iterable[Mount] = HANDLERS,
    upgrade: bool = False,
    translation: TranslationClient | None = None,
    metrics: PrometheusMetrics | None = None,
) -> AsyncIterator[Tandem]:
    """Tandem over the configured database, migrated (`upgrade`) or checked to be current.

    The database is closed on exit, unless it was passed in (a test's own); so may be the
    clock, the handlers, the translation provider and the metrics a test wants.
    """
    database = db or Database(settings.database.url)
    provider = translation or translation_provider(settings.translation)
    week_charts = WeekCharts(database)
    try:
        if upgrade:
            await database.upgrade()
        elif not await database.is_current():
            raise CommandError(NOT_SET_UP)
        clock = clock or SystemClock()
        translator = NoteTranslator(provider, settings.translation, clock, languages())
        if provider is not None:
            translator.guesser.warm()
        if metrics is None and settings.metrics.listen is not None:
            metrics = PrometheusMetrics()
        dispatcher = Dispatcher(
            database,
            settings,
            clock,
            build_router(handlers),
            translator,
            metrics=metrics or NO_METRICS,
        )
        yield Tandem(settings, database, clock, dispatcher, translator, week_charts, metrics)
    finally:
        DRAWING.close()  # the drawing processes end with the runtime
        if provider is not None:
            await provider.close()
        if db is None:
            await database.dispose()
