"""What the person running Tandem watches: /healthz and /metrics, served by `tandem run` on
`[metrics] listen`, with the real python-telegram-bot against the spec-checking fake Bot API,
the real APScheduler and the real databases. The database "stops" through a TCP proxy that
the test closes: the PostgreSQL server itself (and the `test` database) is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from adapters.bootstrap import bootstrap, build_router
from adapters.health import Health, OpsServer, ops_endpoints
from adapters.metrics_prometheus import PrometheusMetrics
from adapters.platforms import load_settings
from adapters.runtime import serve
from adapters.telegram import TelegramAdapter
from adapters.telegram_config import TelegramConfig
from bot import invites, roster
from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.events import Reply
from bot.i18n import translate
from bot.outbox import Letter, enqueue
from bot.scheduler import build_scheduler
from bot.sender import OutboxSender
from storage.db import Database
from storage.models import Role
from storage.stores import Store
from tests.adapters.fake_slack import slack_world
from tests.adapters.fake_telegram import BotApiSpec, FakeTelegram, TgUser
from tests.conftest import DemoSchool, FakeClock
from tests.outbox_fakes import FAST, VirtualTime

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TEACHER = TgUser(5001, "Maria", "Ortiz")
HOOK_URL = "https://tandem.invalid/telegram/hook"
SECRET = "tandem-webhook_Secret-42"
LOOPBACK = ("127.0.0.1", 0)  # any free port


class Ticks:
    """A monotonic timer that moves only when told: reply latencies are exact."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.02  # each reading is 20 ms after the last: a reply takes 20 ms
        return self.now


@dataclass
class Running:
    """`tandem run`'s parts, as `adapters.runtime.serve` wires them, with /healthz and
    /metrics served on a free loopback port."""

    db: Database
    clock: FakeClock
    settings: Settings
    fake: FakeTelegram
    adapter: TelegramAdapter
    metrics: PrometheusMetrics
    scheduler: Any
    server: OpsServer
    sender: OutboxSender
    _updates: int = field(default=0)

    async def get(self, path: str) -> tuple[int, str]:
        host, port = self.server.addresses[0][:2]
        async with aiohttp.ClientSession() as http, http.get(f"http://{host}:{port}{path}") as r:
            return r.status, await r.text()

    async def health(self) -> tuple[int, dict[str, Any]]:
        host, port = self.server.addresses[0][:2]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{host}:{port}/healthz") as response,
        ):
            return response.status, await response.json()

    async def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample /metrics shows, by name and labels."""
        status, text = await self.get("/metrics")
        assert status == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    async def say(self, user: TgUser, text: str) -> None:
        """`user` writes to the bot; returns once the update is handled and answered."""
        await self.post(self.fake.message(user, text))

    async def post(self, update: dict[str, Any]) -> None:
        """Telegram posts an update to the webhook; returns once it is handled and answered."""
        host, port = self.adapter.webhook_addresses[0][:2]
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://{host}:{port}/telegram/hook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as response,
        ):
            assert response.status == 200
        # PTB marks an update done only once its handler has finished.
        await self.adapter.application.update_queue.join()

    async def join_as_teacher(self, user: TgUser) -> int:
        async with self.db.session() as session:
            store = Store(session)
            school = await roster.pick_school(store, self.settings, None)
            sam = await roster.student_named(store, school, "Sam Rivera")
            invite = await invites.create_invite(
                store, self.settings, self.clock.now(), school, sam, Role.TEACHER, None
            )
        await self.say(user, f"/start {invite.code}")
        async with self.db.session() as session:
            account = await Store(session).people.account("telegram", "", str(user.id))
        assert account is not None
        return account.person_id

    async def queue_letters(self, person_id: int, texts: list[str]) -> None:
        async with self.db.session() as session:
            store = Store(session)
            for text in texts:
                letter = Letter(text, person_id, "question", Reply(text), self.clock.now())
                assert await enqueue(store, letter)


def sample(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


@contextlib.asynccontextmanager
async def running(
    db: Database, clock: FakeClock, settings: Settings, specs_dir: Any
) -> AsyncIterator[Running]:
    async with db.session() as session:
        store = Store(session)
        school = await roster.ensure_school(store, "Maple Elementary", "America/Chicago", "en")
        await roster.add_student(store, school, "Sam Rivera")
    fake = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake.start()
    config = TelegramConfig(
        enabled=True,
        token=fake.token,
        mode="webhook",
        base_url=fake.base_url,
        webhook_url=HOOK_URL,
        webhook_listen=LOOPBACK,
        webhook_secret=SECRET,
    )
    metrics = PrometheusMetrics()
    dispatcher = Dispatcher(db, settings, clock, build_router(), metrics=metrics, timer=Ticks())

    async def no_wait(seconds: float) -> None:
        """A 429's retry_after, honoured on paper."""

    adapter = TelegramAdapter(config, dispatcher, db, sleep=no_wait)
    time = VirtualTime(clock)
    time.watch(db)  # database round trips take no virtual time
    sender = OutboxSender(
        db, {"telegram": adapter}, clock, FAST, worker="ops", sleep=time.sleep, metrics=metrics
    )
    scheduler = build_scheduler(db, settings, clock, [school], metrics=metrics)
    await adapter.start()
    scheduler.start()
    health = Health(db, {"telegram": adapter}, scheduler)
    try:
        async with ops_endpoints(LOOPBACK, health, metrics, clock) as server:
            assert server is not None
            yield Running(db, clock, settings, fake, adapter, metrics, scheduler, server, sender)
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await adapter.stop()
        await fake.stop()
    assert not fake.violations, fake.violations


@pytest.fixture
async def tandem(
    db: Database, clock: FakeClock, settings: Settings, specs_dir: Any
) -> AsyncIterator[Running]:
    async with running(db, clock, settings, specs_dir) as parts:
        yield parts


# --- /healthz --------------------------------------------------------------------------------


async def test_health_is_ok_when_database_adapter_and_scheduler_are_up(tandem: Running) -> None:
    status, body = await tandem.health()

    assert status == 200
    assert body == {
        "status": "ok",
        "failing": [],
        "checks": {"database": "ok", "telegram": "ok", "scheduler": "ok"},
    }


async def test_health_is_503_when_the_scheduler_is_not_running(tandem: Running) -> None:
    tandem.scheduler.shutdown(wait=False)

    status, body = await tandem.health()

    assert status == 503
    assert body["failing"] == ["scheduler"]
    assert body["checks"]["scheduler"] == "not running"


async def test_health_is_503_naming_an_adapter_that_stopped_taking_updates(
    tandem: Running,
) -> None:
    await tandem.adapter.stop()

    status, body = await tandem.health()

    assert status == 503
    assert body["failing"] == ["telegram"]


class TcpProxy:
    """127.0.0.1:<port> -> the PostgreSQL server, until `stop` closes it and every connection
    through it (as a database going down does); `start` opens it again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._pipes):
            writer.close()
        await self._server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._pipes |= {writer, up_writer}

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._pipes -= {writer, up_writer}


@pytest.mark.postgres
async def test_health_turns_503_when_the_database_stops_and_200_when_it_is_back(
    pg: str, clock: FakeClock, settings: Settings, specs_dir: Any
) -> None:
    url = make_url(pg)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    await proxy.start()
    db = Database(url.set(port=proxy.port).render_as_string(hide_password=False))
    try:
        async with running(db, clock, settings, specs_dir) as tandem:
            assert (await tandem.health())[0] == 200

            await proxy.stop()
            down, body = await tandem.health()
            await proxy.start()
            back, _ = await tandem.health()
    finally:
        await db.dispose()
        await proxy.stop()

    assert down == 503
    assert body["failing"] == ["database"]
    assert body["checks"]["database"].startswith(("unreachable", "no answer"))
    assert back == 200


# --- /metrics --------------------------------------------------------------------------------


async def test_a_handled_note_moves_the_event_counter_and_the_latency_histogram(
    tandem: Running,
) -> None:
    await tandem.join_as_teacher(TEACHER)
    before = await tandem.scrape()

    await tandem.say(TEACHER, "+ Sam read a whole page aloud")
    after = await tandem.scrape()

    replied = sample("tandem_events_total", kind="message", outcome="replied")
    assert after[replied] - before[replied] == 1
    count = sample("tandem_reply_seconds_count", kind="message")
    total = sample("tandem_reply_seconds_sum", kind="message")
    assert after[count] - before[count] == 1
    assert after[total] - before[total] == pytest.approx(0.02)  # the injected timer's 20 ms


async def test_a_redelivered_update_is_counted_as_a_duplicate(tandem: Running) -> None:
    update = tandem.fake.message(TEACHER, "hello")

    await tandem.post(update)
    await tandem.post(update)  # Telegram did not hear our 200 in time, and retried

    shown = await tandem.scrape()
    assert shown[sample("tandem_duplicate_events_total", platform="telegram")] == 1


async def test_queued_letters_show_in_the_outbox_gauge_then_a_429_and_a_send_are_counted(
    tandem: Running,
) -> None:
    teacher = await tandem.join_as_teacher(TEACHER)
    await tandem.queue_letters(teacher, ["Question from Dana", "Another question"])

    queued = await tandem.scrape()
    tandem.fake.fail_next("sendMessage", retry_after=3)
    first = await tandem.sender.drain()
    tandem.clock.advance(seconds=5)  # past the 429's retry_after
    second = await tandem.sender.drain()
    done = await tandem.scrape()

    assert queued[sample("tandem_outbox_letters", status="pending")] == 2
    assert (first.sent + second.sent, first.retried + second.retried) == (2, 1)
    assert done[sample("tandem_rate_limited_total", platform="telegram")] == 1
    assert done[sample("tandem_letters_retried_total", platform="telegram")] == 1
    assert done[sample("tandem_letters_sent_total", platform="telegram")] == 2
    assert done[sample("tandem_outbox_letters", status="pending")] == 0


async def test_a_429_waited_out_while_replying_is_counted(tandem: Running) -> None:
    await tandem.join_as_teacher(TEACHER)
    tandem.fake.fail_next("sendMessage", retry_after=2)

    await tandem.say(TEACHER, "+ Sam read a whole page aloud")

    shown = await tandem.scrape()
    assert shown[sample("tandem_rate_limited_total", platform="telegram")] == 1
    logged = translate("en", "entry.logged_win", student="Sam Rivera")
    assert tandem.fake.sent(TEACHER.id)[-1]["text"].startswith(logged)  # the reply still went


async def test_letters_to_someone_who_blocked_the_bot_are_counted_as_blocked(
    tandem: Running,
) -> None:
    teacher = await tandem.join_as_teacher(TEACHER)
    await tandem.queue_letters(teacher, ["Question from Dana", "Another question"])
    tandem.fake.block(TEACHER.id)

    await tandem.sender.drain()

    shown = await tandem.scrape()
    assert shown[sample("tandem_letters_dead_total", platform="telegram", reason="blocked")] == 2
    assert sample("tandem_letters_dead_total", platform="telegram", reason="gave_up") not in shown


async def test_a_letter_waiting_past_its_time_shows_how_long_it_has_waited(
    tandem: Running,
) -> None:
    teacher = await tandem.join_as_teacher(TEACHER)
    await tandem.queue_letters(teacher, ["Question from Dana"])

    tandem.clock.advance(seconds=90)  # nothing sent it: the sender is stuck, say

    shown = await tandem.scrape()
    assert shown[sample("tandem_outbox_oldest_due_seconds")] == 90


async def test_a_scheduled_job_run_is_counted(tandem: Running) -> None:
    [checkin] = [job for job in tandem.scheduler.get_jobs() if job.id.startswith("checkin:")]

    await checkin.func(*checkin.args)  # what APScheduler calls when the cron fires

    shown = await tandem.scrape()
    assert shown[sample("tandem_job_runs_total", job="checkin", outcome="done")] == 1


# --- off by default --------------------------------------------------------------------------


async def test_nothing_listens_for_metrics_unless_configured(
    db: Database, settings: Settings
) -> None:
    assert settings.metrics.listen is None
    async with bootstrap(settings, db=db) as tandem:
        scheduler = tandem.scheduler([])
        health = Health(db, {}, scheduler)
        listen = settings.metrics.listen
        async with ops_endpoints(listen, health, tandem.metrics, tandem.clock) as server:
            assert server is None
    assert tandem.metrics is None


# --- `tandem run` ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Announced(logging.Handler):
    """Sets `ready` when a log line starting with `words` is written: `serve` is up to there."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.ready = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.words):
            self.ready.set()


@contextlib.contextmanager
def announced(logger_name: str, words: str) -> Iterator[Announced]:
    """Watch `logger_name` (at INFO while inside) for a line starting with `words`."""
    logger = logging.getLogger(logger_name)
    handler, level = Announced(words), logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@dataclass
class Served:
    """What `tandem run` showed: /healthz's status (0: nothing listened) and body, and whether
    it announced the endpoints."""

    status: int
    body: dict[str, Any] | None
    announced: bool


async def serve_until_running(db: Database, tmp_path: Path, specs_dir: Any, metrics: str) -> Served:
    """`tandem run` (adapters.runtime.serve) with this [metrics] section, asked for /healthz
    once it is running, then stopped with SIGTERM."""
    async with db.session() as session:
        await roster.ensure_school(Store(session), "Maple Elementary", "America/Chicago", "en")
    fake = FakeTelegram(BotApiSpec.load(specs_dir / "telegram-bot-api.json"))
    await fake.start()
    config = tmp_path / "tandem.toml"
    config.write_text(
        f'[telegram]\nenabled = true\ntoken = "{fake.token}"\nbase_url = "{fake.base_url}"\n'
        f'mode = "webhook"\nwebhook_url = "{HOOK_URL}"\nwebhook_secret = "{SECRET}"\n'
        f'webhook_listen = "127.0.0.1:{free_port()}"\n{metrics}',
        encoding="utf-8",
    )
    settings = load_settings(config, {})
    try:
        with (
            announced("adapters.runtime", "tandem is running") as running,
            announced("adapters.health", "serving /healthz and /metrics") as endpoints,
        ):
            status, body = await serve_once(db, settings, running)
    finally:
        await fake.stop()
    return Served(status, body, endpoints.ready.is_set())


async def serve_once(
    db: Database, settings: Settings, running: Announced
) -> tuple[int, dict[str, Any] | None]:
    try:
        async with bootstrap(settings, db=db) as tandem:
            serving = asyncio.create_task(serve(tandem))
            ready = asyncio.create_task(running.ready.wait())
            await asyncio.wait([serving, ready], timeout=30, return_when=asyncio.FIRST_COMPLETED)
            assert ready.done(), serving.result() if serving.done() else "not running in 30 s"
            status, body = await get_health(settings.metrics.listen)
            signal.raise_signal(signal.SIGTERM)  # what systemd sends to stop a replica
            await asyncio.wait_for(serving, 30)
    finally:
        gc.unfreeze()  # serve froze the test process's objects as it would a replica's
    return status, body


async def get_health(listen: tuple[str, int] | None) -> tuple[int, dict[str, Any] | None]:
    """/healthz's status and body; 0 when nothing listens."""
    if listen is None:
        return 0, None
    host, port = listen
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://{host}:{port}/healthz") as response,
        ):
            return response.status, await response.json()
    except aiohttp.ClientConnectionError:
        return 0, None


async def test_tandem_run_serves_healthz_on_the_configured_address(
    db: Database, tmp_path: Path, specs_dir: Any
) -> None:
    port = free_port()

    served = await serve_until_running(
        db, tmp_path, specs_dir, f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
    )

    assert (served.announced, served.status) == (True, 200)
    assert served.body is not None and served.body["checks"] == {
        "database": "ok",
        "telegram": "ok",
        "scheduler": "ok",
    }


async def test_tandem_run_serves_nothing_without_a_metrics_address(
    db: Database, tmp_path: Path, specs_dir: Any
) -> None:
    served = await serve_until_running(db, tmp_path, specs_dir, "")

    assert served == Served(0, None, announced=False)


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_health_names_slack_once_it_stops_taking_events(
    school: DemoSchool, specs_dir: Path, settings: Settings, mode: str
) -> None:
    scheduler = build_scheduler(school.db, settings, school.clock, [])
    scheduler.start()
    try:
        async with slack_world(school, specs_dir, mode) as slack:
            health = Health(school.db, {"slack": slack.adapter}, scheduler)
            taking = (await health.check())["slack"]
            await slack.adapter.stop()
            stopped = (await health.check())["slack"]
    finally:
        scheduler.shutdown(wait=False)

    assert (taking, stopped) == ("ok", "not connected")
