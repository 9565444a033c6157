"""Fan-out benchmark: the real OutboxSender against a fake platform that enforces the limit.

    python bench/fanout.py [--n 1000] [--rate 30] [--db sqlite|postgres] [--inject 0.02]
                           [--variant both|steady|kill] [--platform telegram|email] [--markdown]

Seeds N check-in letters to N parents (one Telegram chat each), starts bench/fake_platform.py in
its own process (it answers 429 above the rate, and at random for 2 % of requests), and runs:

- steady: the real sender (real clock, real sleep) in this process until every letter is out;
- kill:   the sender in a child process, killed with SIGKILL once half the letters are out,
          then restarted at once; the letters it held come back when their claim runs out.

Per run: letters, limit, elapsed (from starting the sender to the platform accepting the last
letter), achieved rate and its ratio to the limit, duplicates and lost letters (as the platform
counted them), dead rows, 429s injected and enforced, and the most letters the platform saw in
any one second. Targets: ratio >= 0.95, zero duplicates, zero lost. PostgreSQL uses the
database `tandem_bench_fanout` (created if missing, emptied). 1000 letters take about 40 s per
variant; 5000 about 3 minutes per variant.

`--platform email`: N parents reached by email instead, the real EmailAdapter (aiosmtplib) as
the transport and bench/smtp_sink.py (aiosmtpd, in its own process) as the server; the limit is
`--rate` letters a second ([sender] email_per_second), and nothing is refused at random.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout_email
from _common import fresh_postgres, load, markdown_table, pg_url, print_table

from bot.config import PlatformLimits, SenderConfig
from bot.context import SystemClock
from bot.events import Reply
from bot.outbox import PermanentError, RateLimited, TransientError
from bot.sender import OutboxSender
from storage.db import Database
from storage.models import (
    Account,
    Delivery,
    Membership,
    Outbox,
    OutboxStatus,
    Person,
    Platform,
    Role,
    School,
    Student,
)

HERE = Path(__file__).resolve().parent
PG_DATABASE = "tandem_bench_fanout"
TARGET_RATIO = 0.95


class HttpPlatform:
    """A Transport that POSTs each message to the fake platform, mapping its answers."""

    def __init__(self, base_url: str, connections: int) -> None:
        self.base_url = base_url
        self.connections = connections
        self._http: aiohttp.ClientSession | None = None

    async def deliver(self, account: Account, reply: Reply) -> str:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                timeout=aiohttp.ClientTimeout(total=10),
            )
        try:
            async with self._http.post(
                f"{self.base_url}/send", json={"chat": account.dm_chat_id, "key": reply.text}
            ) as response:
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientError(type(error).__name__) from None
        if response.status == 429:
            raise RateLimited(float(body.get("retry_after", 1)))
        if response.status >= 500:
            raise TransientError(str(response.status))
        if response.status != 200:
            raise PermanentError(str(response.status))
        return str(body["ref"])

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


# --- the database ------------------------------------------------------------------------------


async def seed(url: str, n: int, platform: str = Platform.TELEGRAM) -> None:
    """An empty schema with N parents (one chat or mailbox each) and one due letter to each."""
    if url.startswith("sqlite"):
        remove_sqlite(url.split("///", 1)[1])
    else:
        await fresh_postgres(url)
    db = Database(url)
    try:
        await db.upgrade()
        now = datetime.now(UTC)
        async with db.session() as session:
            school = School(name="Bench Elementary", timezone="America/Chicago")
            session.add(school)
            await session.flush()
            student = Student(school_id=school.id or 0, name="Sam", name_key="sam")
            people = [Person(display_name=f"Parent {i}") for i in range(n)]
            session.add_all([student, *people])
            mailboxes = fanout_email.identities(n if platform == Platform.EMAIL else 0, now)
            session.add_all(mailboxes)
            await session.flush()
            chats = [str(m.id) for m in mailboxes] or [f"chat{i}" for i in range(n)]
            accounts = [
                Account(
                    person_id=p.id or 0,
                    platform=platform,
                    external_id=chats[i],
                    dm_chat_id=chats[i],
                )
                for i, p in enumerate(people)
            ]
            session.add_all(accounts)
            # Each parent on Sam's team: the sender drops letters about him to anyone else.
            session.add_all(
                Membership(
                    person_id=p.id or 0,
                    student_id=student.id or 0,
                    role=Role.PARENT,
                    delivery=Delivery.WEEKLY,
                )
                for p in people
            )
            await session.flush()
            session.add_all(
                [
                    Outbox(
                        dedupe_key=key(i),
                        person_id=a.person_id,
                        account_id=a.id or 0,
                        student_id=student.id,
                        school_id=school.id,
                        kind="checkin",
                        payload={"text": key(i), "buttons": []},
                        not_before=now,
                    )
                    for i, a in enumerate(accounts)
                ]
            )
    finally:
        await db.dispose()


def remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def key(i: int) -> str:
    return f"checkin:{i}:2026-W48"


async def outbox_counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.session() as session:
            rows = await session.exec(
                select(Outbox.status, func.count()).group_by(col(Outbox.status))
            )
            return {status: count for status, count in rows.all()}
    finally:
        await db.dispose()


# --- the platform ------------------------------------------------------------------------------


@dataclass
class FakePlatformProcess:
    process: subprocess.Popen[str]
    url: str

    @classmethod
    def start(cls, rate: int, per_chat: int, inject: float) -> FakePlatformProcess:
        process = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "fake_platform.py"),
                "--rate",
                str(rate),
                "--per-chat",
                str(per_chat),
                "--inject",
                str(inject),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            process.kill()
            raise SystemExit("the fake platform did not start")
        return cls(process, f"http://127.0.0.1:{line[1]}")

    async def call(self, method: str, path: str) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path) as response,
        ):
            result: dict[str, Any] = await response.json()
            return result

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# --- the sender --------------------------------------------------------------------------------


def sender_config(args: argparse.Namespace) -> SenderConfig:
    return SenderConfig(
        claim_seconds=args.claim_seconds,
        concurrency=args.concurrency,
        limits={
            Platform.TELEGRAM: PlatformLimits(args.rate, args.per_chat),
            Platform.EMAIL: PlatformLimits(args.rate, None),
        },
    )


async def run_sender(
    db_url: str, platform_url: str, config: SenderConfig, worker: str, stop: asyncio.Event
) -> None:
    """The real sender, on the real clock, until `stop`; `platform_url` "smtp:<port>" sends
    email through the real email adapter."""
    db = Database(db_url)
    if platform_url.startswith("smtp:"):
        email = fanout_email.transport(db, int(platform_url.removeprefix("smtp:")))
        transports: dict[str, Any] = {Platform.EMAIL: email}
    else:
        transports = {Platform.TELEGRAM: HttpPlatform(platform_url, config.concurrency)}
    try:
        sender = OutboxSender(db, transports, SystemClock(), config, worker=worker)
        await sender.run(stop)
    finally:
        for transport in transports.values():
            await (transport.close() if isinstance(transport, HttpPlatform) else transport.stop())
        await db.dispose()


def sender_process(args: argparse.Namespace, worker: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--sender-only",
            "--db-url",
            args.db_url,
            "--platform-url",
            args.sender_url,
            "--rate",
            str(args.rate),
            "--per-chat",
            str(args.per_chat),
            "--claim-seconds",
            str(args.claim_seconds),
            "--concurrency",
            str(args.concurrency),
            "--worker",
            worker,
        ]
    )


async def sender_only(args: argparse.Namespace) -> None:
    """Child-process mode: a sender that stops cleanly on SIGTERM (SIGKILL is the crash)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await run_sender(args.db_url, args.platform_url, sender_config(args), args.worker, stop)


# --- the runs ----------------------------------------------------------------------------------


@dataclass
class Result:
    variant: str
    letters: int
    limit: int
    elapsed: float
    unique: int
    duplicates: int
    lost: int
    dead: int
    injected: int
    enforced: int
    busiest_second: int
    note: str = ""

    @property
    def rate(self) -> float:
        return self.unique / self.elapsed if self.elapsed else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.limit


async def wait_until_done(
    platform: FakePlatformProcess, args: argparse.Namespace, deadline: float
) -> dict[str, Any]:
    while time.monotonic() < deadline:
        stats = await platform.call("GET", "/stats")
        counts = await outbox_counts(args.db_url)
        if stats["unique"] >= args.n and not counts.get(OutboxStatus.PENDING):
            return stats
        await asyncio.sleep(0.5)
    return await platform.call("GET", "/stats")


async def result_of(
    variant: str, args: argparse.Namespace, stats: dict[str, Any], started: float, note: str = ""
) -> Result:
    delivered = stats["keys"]
    lost = sum(1 for i in range(args.n) if key(i) not in delivered)
    counts = await outbox_counts(args.db_url)
    return Result(
        variant,
        args.n,
        args.rate,
        (stats["last"] or started) - started,
        stats["unique"],
        stats["duplicates"],
        lost,
        counts.get(OutboxStatus.DEAD, 0),
        stats["injected"],
        stats["enforced"],
        stats["busiest_second"],
        note,
    )


async def steady(args: argparse.Namespace, platform: Any) -> Result:
    await seed(args.db_url, args.n, args.platform)
    await platform.call("POST", "/reset")
    stop = asyncio.Event()
    started = time.monotonic()  # the platform's clock is this machine's monotonic clock too
    sending = asyncio.create_task(
        run_sender(args.db_url, args.sender_url, sender_config(args), "bench", stop)
    )
    stats = await wait_until_done(platform, args, started + budget(args))
    stop.set()
    await sending
    return await result_of("steady", args, stats, started)


async def kill_and_restart(args: argparse.Namespace, platform: Any) -> Result:
    await seed(args.db_url, args.n, args.platform)
    await platform.call("POST", "/reset")
    started = time.monotonic()
    first = sender_process(args, "bench-first")
    while True:  # polling another process: there is no event to wait on
        if (await platform.call("GET", "/stats"))["accepted"] >= args.n // 2:
            break
        await asyncio.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    at_kill = (await platform.call("GET", "/stats"))["accepted"]
    restarted = time.monotonic()
    second = sender_process(args, "bench-restarted")
    try:
        stats = await wait_until_done(platform, args, restarted + budget(args))
    finally:
        second.terminate()
        second.wait(timeout=30)
    note = (
        f"SIGKILL after {at_kill} delivered; restarted at once; letters it held came back "
        f"after claim_seconds={args.claim_seconds}"
    )
    return await result_of("kill+restart", args, stats, started, note)


def budget(args: argparse.Namespace) -> float:
    return 3 * args.n / args.rate + 4 * args.claim_seconds + 60


COLUMNS = [
    "run",
    "letters",
    "limit/s",
    "elapsed s",
    "rate/s",
    "ratio",
    "duplicates",
    "lost",
    "dead",
    "429 injected",
    "429 enforced",
    "most in 1 s",
]


def rows(results: list[Result]) -> list[list[Any]]:
    return [
        [
            r.variant,
            r.letters,
            r.limit,
            f"{r.elapsed:.1f}",
            f"{r.rate:.2f}",
            f"{r.ratio:.3f}",
            r.duplicates,
            r.lost,
            r.dead,
            r.injected,
            r.enforced,
            r.busiest_second,
        ]
        for r in results
    ]


async def bench(args: argparse.Namespace) -> list[Result]:
    platform: Any
    if args.platform == Platform.EMAIL:
        platform = fanout_email.SmtpSinkProcess.start()
        args.sender_url = f"smtp:{platform.smtp_port}"
    else:
        platform = FakePlatformProcess.start(args.rate, args.per_chat, args.inject)
        args.sender_url = platform.url
    try:
        results = []
        if args.variant in ("both", "steady"):
            results.append(await steady(args, platform))
        if args.variant in ("both", "kill"):
            results.append(await kill_and_restart(args, platform))
        return results
    finally:
        platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Outbox fan-out benchmark.")
    parser.add_argument("--n", type=int, default=1000, help="letters (default 1000)")
    parser.add_argument("--rate", type=int, default=30, help="Telegram messages/second")
    parser.add_argument("--per-chat", type=int, default=1)
    parser.add_argument("--inject", type=float, default=0.02, help="share of random 429s")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--variant", choices=("both", "steady", "kill"), default="both")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--claim-seconds",
        type=int,
        default=10,
        help="how soon a killed sender's letters come back (default 10)",
    )
    parser.add_argument("--platform", choices=("telegram", "email"), default="telegram")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    # Child-process mode, used by the kill run.
    parser.add_argument("--sender-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--platform-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--worker", default="bench", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.sender_only:
        asyncio.run(sender_only(args))
        return
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "postgres":
            args.db_url = pg_url(PG_DATABASE)
        else:
            args.db_url = f"sqlite+aiosqlite:///{os.path.join(tmp, 'bench.db')}"
        results = asyncio.run(bench(args))
    notes = [
        f"{args.platform}, {args.db}; limit {args.rate}/s overall"
        + (
            " (email: the real EmailAdapter to a local aiosmtpd; nothing refused); "
            if args.platform == Platform.EMAIL
            else f" and {args.per_chat}/s per chat; "
            f"{args.inject:.0%} of requests answered 429 at random (retry_after 1 s); "
        )
        + f"concurrency {args.concurrency}; claim_seconds {args.claim_seconds}",
        f"load average before: {load_before}; after: {load()}",
        f"targets: ratio >= {TARGET_RATIO}, zero duplicates, zero lost",
    ]
    notes += [f"{r.variant}: {r.note}" for r in results if r.note]
    print_table(
        "Fan-out: the outbox sender against a rate-limited fake platform",
        COLUMNS,
        rows(results),
        notes,
    )
    if args.markdown:
        print(markdown_table(COLUMNS, rows(results)))
    print(
        json.dumps(
            [{**r.__dict__, "rate": round(r.rate, 3), "ratio": round(r.ratio, 4)} for r in results]
        )
    )


if __name__ == "__main__":
    main()
