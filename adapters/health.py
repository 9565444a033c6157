"""`GET /healthz` and `GET /metrics` for `tandem run`, on `[metrics] listen` (off by default).

/healthz answers 200 when the database answers `SELECT 1`, every enabled adapter is taking
events and the scheduler is running; else 503, naming what failed. A load balancer or
systemd's watchdog asks it; /metrics is for Prometheus (see docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from adapters.metrics_prometheus import CONTENT_TYPE_LATEST, PrometheusMetrics
from bot.context import Clock
from storage.db import Database

log = logging.getLogger(__name__)

# A database slower than this to answer `SELECT 1` is as good as down to a health check.
DATABASE_TIMEOUT_SECONDS = 2.0
OK = "ok"


class Connected(Protocol):
    async def is_connected(self) -> bool: ...


class Running(Protocol):
    @property
    def running(self) -> bool: ...


@dataclass
class Health:
    """What /healthz checks: the database, each enabled adapter, the scheduler."""

    db: Database
    adapters: Mapping[str, Connected]
    scheduler: Running
    timeout: float = DATABASE_TIMEOUT_SECONDS

    async def check(self) -> dict[str, str]:
        """Each part's state: "ok", or what is wrong with it."""
        checks = {"database": await self._database()}
        for name, adapter in self.adapters.items():
            checks[name] = OK if await _connected(adapter) else "not connected"
        checks["scheduler"] = OK if self.scheduler.running else "not running"
        return checks

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(self.timeout), self.db.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except Exception as error:  # the class only: a message may carry the URL
            return f"unreachable ({type(error).__name__})"
        return OK


async def _connected(adapter: Connected) -> bool:
    try:
        return await adapter.is_connected()
    except Exception:
        return False


class OpsServer:
    """The aiohttp server of /healthz and /metrics, on the bot's own event loop."""

    def __init__(
        self,
        listen: tuple[str, int],
        health: Health,
        metrics: PrometheusMetrics,
        clock: Clock,
    ) -> None:
        self.listen = listen
        self.health = health
        self.metrics = metrics
        self.clock = clock
        self._runner: web.AppRunner | None = None

    @property
    def addresses(self) -> list[Any]:
        """Where it listens (host, port, ...), once started."""
        return list(self._runner.addresses) if self._runner else []

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        host, port = self.listen
        await web.TCPSite(self._runner, host, port).start()
        log.info("serving /healthz and /metrics on %s:%d", host, port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        checks = await self.health.check()
        failing = [part for part, state in checks.items() if state != OK]
        body = {"status": "failing" if failing else OK, "failing": failing, "checks": checks}
        if failing:
            log.warning("health: failing %s", ", ".join(f"{p} ({checks[p]})" for p in failing))
        return web.Response(
            status=503 if failing else 200,
            text=json.dumps(body),
            content_type="application/json",
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await self.metrics.scrape(self.health.db, self.clock)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@asynccontextmanager
async def ops_endpoints(
    listen: tuple[str, int] | None,
    health: Health,
    metrics: PrometheusMetrics | None,
    clock: Clock,
) -> AsyncIterator[OpsServer | None]:
    """The server of /healthz and /metrics while inside; None (nothing listens) when `listen`
    is unset, as it is by default."""
    if listen is None or metrics is None:
        yield None
        return
    server = OpsServer(listen, health, metrics, clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
