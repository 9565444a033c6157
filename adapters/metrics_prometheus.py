"""The core's metrics (`bot/metrics.py`) as Prometheus counters, and the outbox read at scrape.

Each instance has its own CollectorRegistry: nothing is global, so two in one process (tests,
replicas in a benchmark) never share a count.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.context import Clock
from bot.metrics import EventOutcome, JobOutcome
from storage.db import Database
from storage.models import OutboxStatus
from storage.stores import Store

__all__ = ["CONTENT_TYPE_LATEST", "PrometheusMetrics"]

log = logging.getLogger(__name__)

# From a few milliseconds (a note on an idle bot) to the seconds an alert is about.
REPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A scrape that cannot read the outbox this fast reports no depth rather than hang.
SCRAPE_DATABASE_TIMEOUT = 2.0
UNSENT = tuple(status.value for status in OutboxStatus if status is not OutboxStatus.SENT)


class PrometheusMetrics:
    """`bot.metrics.Metrics` counted in a registry of its own, exposed by `scrape`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter(
            "tandem_events", "Events handled, by kind and outcome.", ["kind", "outcome"], registry=r
        )
        self.duplicates = Counter(
            "tandem_duplicate_events",
            "Events ignored as seen before (a platform's redelivery).",
            ["platform"],
            registry=r,
        )
        self.reply_seconds = Histogram(
            "tandem_reply_seconds",
            "Time from an event reaching the core to its replies being ready.",
            ["kind"],
            buckets=REPLY_BUCKETS,
            registry=r,
        )
        self.sent = Counter(
            "tandem_letters_sent", "Outbox letters the platform took.", ["platform"], registry=r
        )
        self.retried = Counter(
            "tandem_letters_retried",
            "Outbox letters queued again after a transient error or a 429.",
            ["platform"],
            registry=r,
        )
        self.dead = Counter(
            "tandem_letters_dead",
            "Outbox letters given up: gave_up (refused, out of attempts) or blocked (the "
            "reader blocked the bot).",
            ["platform", "reason"],
            registry=r,
        )
        self.rate_limits = Counter(
            "tandem_rate_limited", "429 answers from a platform.", ["platform"], registry=r
        )
        self.jobs = Counter(
            "tandem_job_runs",
            "Scheduled job runs, by job and outcome.",
            ["job", "outcome"],
            registry=r,
        )
        self.outbox = Gauge(
            "tandem_outbox_letters",
            "Unsent outbox letters by status, read from the database at scrape time.",
            ["status"],
            registry=r,
        )
        self.oldest_due = Gauge(
            "tandem_outbox_oldest_due_seconds",
            "How long the longest-waiting due letter has waited (0: none is due).",
            registry=r,
        )

    # --- bot.metrics.Metrics ---

    def event_handled(self, kind: str, outcome: EventOutcome, seconds: float) -> None:
        self.events.labels(kind, outcome.value).inc()
        if outcome is not EventOutcome.ERROR:
            self.reply_seconds.labels(kind).observe(seconds)

    def duplicate_event(self, platform: str) -> None:
        self.duplicates.labels(platform).inc()

    def letter_sent(self, platform: str) -> None:
        self.sent.labels(platform).inc()

    def letter_retried(self, platform: str) -> None:
        self.retried.labels(platform).inc()

    def letter_dead(self, platform: str, count: int = 1, *, blocked: bool = False) -> None:
        self.dead.labels(platform, "blocked" if blocked else "gave_up").inc(count)

    def rate_limited(self, platform: str) -> None:
        self.rate_limits.labels(platform).inc()

    def job_ran(self, job: str, outcome: JobOutcome) -> None:
        self.jobs.labels(job, outcome.value).inc()

    # --- exposition ---

    async def scrape(self, db: Database, clock: Clock) -> bytes:
        """The text format, with the outbox's depth read now (one short transaction)."""
        await self._read_outbox(db, clock)
        return generate_latest(self.registry)

    async def _read_outbox(self, db: Database, clock: Clock) -> None:
        now = clock.now()
        try:
            async with asyncio.timeout(SCRAPE_DATABASE_TIMEOUT), db.session() as session:
                depth = await Store(session).status.outbox_depth(now)
        except Exception as error:  # no database: say nothing rather than something stale
            log.warning("metrics: the outbox could not be read (%s)", type(error).__name__)
            self.outbox.clear()
            self.oldest_due.set(float("nan"))
            return
        for status in UNSENT:
            self.outbox.labels(status).set(depth.by_status.get(status, 0))
        waited = (now - depth.oldest_due).total_seconds() if depth.oldest_due else 0.0
        self.oldest_due.set(max(0.0, waited))
