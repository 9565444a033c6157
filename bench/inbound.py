"""Inbound benchmark: `tandem run` on Telegram (polling) against a bare python-telegram-bot echo.

    python bench/inbound.py [--n 5000] [--db sqlite|postgres|both] [--rate 0] [--teachers 200]
                            [--profile DIR] [--markdown]

A fake Bot API (bench/botapi_fake.py) runs in its own process and queues N updates: 70 % one-line
notes from the teachers (`+ Sam ...`, `- Maya ...`, `Leo: ...`), 30 % notes from parents. Each
bot runs in its own process against a fresh fake, one after the other, in the same run:

- bare echo: a minimal PTB Application (same concurrency and connection pool as Tandem's
  adapter) whose MessageHandler sends the text back, on PTB's own HTTP client (httpx): the
  baseline the ratio is taken against;
- the same echo on the HTTP client Tandem gives PTB (aiohttp, adapters/telegram_http.py), for
  scale: what Tandem adds to an update apart from the client;
- Tandem:    `tandem run` (adapter + dispatcher + scheduler + sender, INFO logging to a file)
  on SQLite (a temp file) and on PostgreSQL (database `tandem_bench_inbound`, emptied).

The school is seeded first: `--teachers` teachers with 5 students each, one parent per student,
each with a Telegram account whose id the updates come from. Every note becomes one entry and
one reply; the run checks that.

Reported per bot: updates/s (N over first hand-out to last reply), the latency of each update
(from the getUpdates response that hands it out to its reply's sendMessage arriving at the fake)
at p50 and p99, the bot process's CPU time per update, and updates/s as a ratio to the echo
(target: >= 0.75). `--rate 0` (the default) queues all N at once, so latency includes the wait
behind the backlog; `--rate R` releases R updates per second instead, for latency under a load
the bot keeps up with. A run of 5000 takes 1 to 2 minutes per bot on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from bot import grammar
from storage.db import Database
from storage.models import Account, Delivery, Entry, Membership, Person, Role, School, Student

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, markdown_table, pg_url, print_table, reset_postgres, usage

HERE = Path(__file__).resolve().parent
TOKEN = "123456789:AAF-bench-token"
STUDENTS_PER_TEACHER = 5
FIRST_NAMES = ("Sam", "Maya", "Leo", "Ava", "Noah")
TEACHER_ID0 = 100_000_000
PARENT_ID0 = 200_000_000
BENCH_PER_MINUTE = 1_000_000
PG_DATABASE = "tandem_bench_inbound"
TARGET_RATIO = 0.75
# The echo again, with the HTTP client Tandem's adapter gives PTB (adapters/telegram_http.py):
# what Tandem adds to an update, apart from the client.
SAME_CLIENT_ECHO = "PTB echo, aiohttp client"

WINS = (
    "read a whole page aloud",
    "asked for help with words",
    "shared the blocks at recess",
    "finished the math sheet",
    "waited for his turn in line",
)
CONCERNS = (
    "hit a peer at recess",
    "refused to start the writing task",
    "cried at drop-off",
    "left the room twice",
)
NOTES = (
    "slept badly, anxious this morning",
    "tired after lunch",
    "new meds started today",
    "loved the library visit",
    "ate all of lunch",
)


# --- the school and its updates --------------------------------------------------------------


def student_name(teacher: int, k: int) -> str:
    return f"{FIRST_NAMES[k]} Family{teacher * STUDENTS_PER_TEACHER + k:05d}"


async def seed(url: str, teachers: int) -> None:
    """The school: teachers with 5 students each, one parent per student, Telegram accounts."""
    db = Database(url)
    try:
        await db.upgrade()
        async with db.session() as session:
            school = School(name="Bench Elementary", timezone="America/Chicago", language="en")
            session.add(school)
            await session.flush()
            assert school.id is not None
            people: list[tuple[Person, int, str]] = []
            students: list[tuple[Student, int]] = []
            for teacher in range(teachers):
                people.append(
                    (
                        Person(display_name=f"Teacher {teacher:03d}"),
                        TEACHER_ID0 + teacher,
                        Role.TEACHER,
                    )
                )
                for k in range(STUDENTS_PER_TEACHER):
                    name = student_name(teacher, k)
                    students.append(
                        (
                            Student(school_id=school.id, name=name, name_key=grammar.fold(name)),
                            teacher,
                        )
                    )
            for index in range(len(students)):
                people.append(
                    (Person(display_name=f"Parent {index:05d}"), PARENT_ID0 + index, Role.PARENT)
                )
            session.add_all([person for person, _, _ in people])
            session.add_all([student for student, _ in students])
            await session.flush()
            session.add_all(
                [
                    Account(
                        person_id=_id(person),
                        platform="telegram",
                        external_id=str(tg),
                        dm_chat_id=str(tg),
                    )
                    for person, tg, _ in people
                ]
            )
            memberships = []
            for index, (student, teacher) in enumerate(students):
                teacher_person, parent_person = people[teacher][0], people[teachers + index][0]
                memberships.append(
                    Membership(
                        person_id=_id(teacher_person),
                        student_id=_id(student),
                        role=Role.TEACHER,
                        delivery=Delivery.WEEKLY,
                    )
                )
                memberships.append(
                    Membership(
                        person_id=_id(parent_person),
                        student_id=_id(student),
                        role=Role.PARENT,
                        delivery=Delivery.WEEKLY,
                    )
                )
            session.add_all(memberships)
    finally:
        await db.dispose()


def _id(row: Person | Student) -> int:
    assert row.id is not None
    return row.id


def make_updates(n: int, teachers: int, seed_value: int, first_id: int) -> list[dict[str, Any]]:
    """N message updates: 70 % from teachers naming one of their students, 30 % from parents."""
    rng = random.Random(seed_value)
    updates = []
    for number in range(first_id, first_id + n):
        if rng.random() < 0.7:
            teacher = rng.randrange(teachers)
            user_id, first = TEACHER_ID0 + teacher, f"Teacher{teacher}"
            name = FIRST_NAMES[rng.randrange(STUDENTS_PER_TEACHER)]
            text = rng.choice(
                (
                    f"+ {name} {rng.choice(WINS)}",
                    f"- {name} {rng.choice(CONCERNS)}",
                    f"{name}: {rng.choice(NOTES)}",
                )
            )
        else:
            parent = rng.randrange(teachers * STUDENTS_PER_TEACHER)
            user_id, first = PARENT_ID0 + parent, f"Parent{parent}"
            text = rng.choice((rng.choice(NOTES), f"+ {rng.choice(WINS)}"))
        chat = {"id": user_id, "type": "private", "first_name": first}
        updates.append(
            {
                "update_id": number,
                "message": {
                    "message_id": number,
                    "date": int(time.time()),
                    "chat": chat,
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": first,
                        "language_code": "en",
                    },
                    "text": text,
                },
            }
        )
    return updates


async def count_entries(url: str) -> int:
    db = Database(url)
    try:
        async with db.session() as session:
            return int((await session.exec(select(func.count()).select_from(Entry))).one())
    finally:
        await db.dispose()


# --- the bare echo bot (its own process) -------------------------------------------------------


async def echo_bot(base_url: str, client: str) -> None:
    """A minimal PTB bot with Tandem's adapter settings: it sends each text back. `client`:
    "httpx", PTB's own HTTP client; "aiohttp", the one Tandem's adapter gives PTB."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    from adapters.telegram import (
        CONCURRENT_UPDATES,
        CONNECTION_POOL_SIZE,
        POLL_TIMEOUT,
        POOL_TIMEOUT,
    )
    from adapters.telegram_http import AiohttpRequest

    builder = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(base_url)
        .job_queue(None)
        .concurrent_updates(CONCURRENT_UPDATES)
    )
    if client == "aiohttp":
        builder = builder.request(
            AiohttpRequest(CONNECTION_POOL_SIZE, pool_timeout=POOL_TIMEOUT)
        ).get_updates_request(AiohttpRequest())
    else:
        builder = builder.connection_pool_size(CONNECTION_POOL_SIZE).pool_timeout(POOL_TIMEOUT)
    application = builder.build()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Send the text back."""
        message = update.effective_message
        assert message is not None and message.text is not None
        await context.bot.send_message(message.chat_id, message.text)

    application.add_handler(MessageHandler(filters.TEXT, echo))
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(timeout=POLL_TIMEOUT)
    await stop.wait()
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


# --- one measured run --------------------------------------------------------------------------


@dataclass
class Result:
    bot: str
    n: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # bot process CPU time per update
    fake_cpu_ms: float
    rss_mb: float
    entries: int | None
    problems: list[str]

    @property
    def rate(self) -> float:
        return self.n / self.seconds


class Fake:
    """bench/botapi_fake.py in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "botapi_fake.py")], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the fake Bot API did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def call(self, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def tandem_command() -> list[str]:
    script = Path(sys.executable).with_name("tandem")
    return (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from adapters.cli import app; app()"]
    )


def measure(bot: str, db_url: str | None, args: argparse.Namespace, workdir: Path) -> Result:
    fake = Fake()
    log_path = workdir / f"{bot}.log"
    try:
        if db_url is None:
            client = "aiohttp" if bot == SAME_CLIENT_ECHO else "httpx"
            command = [sys.executable, __file__, "--echo-bot", f"{fake.url}/bot", client]
        else:
            config = workdir / f"{bot}.toml"
            config.write_text(
                f'[database]\nurl = "{db_url}"\n\n[telegram]\nenabled = true\n'
                f'token = "{TOKEN}"\nmode = "polling"\nbase_url = "{fake.url}/bot"\n\n'
                f'[security]\nsecret_key = "bench-secret-bench-secret-bench-secret-0123"\n',
                encoding="utf-8",
            )
            command = [*tandem_command(), "run", "--config", str(config)]
        if args.profile:
            # pyinstrument in the bot's process; it writes its report when the bot stops.
            args.profile.mkdir(parents=True, exist_ok=True)
            report = args.profile / f"{bot.replace(',', '').replace(' ', '-')}.txt"
            profiler = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(report)]
            command = (
                [*profiler, *command[1:]]
                if command[0] == sys.executable
                else [*profiler, "--from-path", *command]
            )
        # Each teacher sends dozens of notes in the run's minute: a flood by design, which the
        # per-person limit would cut short (the limit itself is still checked on every note).
        environment = {**os.environ, "TANDEM_SECURITY_MESSAGES_PER_MINUTE": str(BENCH_PER_MINUTE)}
        with log_path.open("w") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=environment
            )
        try:
            return _drive(bot, process, fake, db_url, args)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = -9
            if code != 0:
                print(f"{bot}: exited with {code}; see {log_path}", file=sys.stderr)
    finally:
        fake.stop()


def _drive(
    bot: str,
    process: subprocess.Popen[bytes],
    fake: Fake,
    db_url: str | None,
    args: argparse.Namespace,
) -> Result:
    deadline = time.monotonic() + 60
    while fake.call("/_stats")["polls"] == 0:  # the bot is up once it long-polls
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{bot} did not start polling")
        time.sleep(0.05)
    # A warm-up round fills the caches a long-running bot has warm, then the measured round.
    warm = min(200, max(20, args.n // 20))
    fake.call("/_load", {"updates": make_updates(warm, args.teachers, 7, 1), "rate": 0})
    fake.call(f"/_wait?replied={warm}&timeout=120", timeout=130)
    fake.call("/_mark", {})  # the measured round starts here
    cpu0, fake_cpu0 = usage(process.pid).cpu_seconds, usage(fake.process.pid).cpu_seconds
    updates = make_updates(args.n, args.teachers, args.seed, warm + 1)
    fake.call("/_load", {"updates": updates, "rate": args.rate})
    total = warm + args.n
    limit = max(600.0, args.n / 5)
    fake.call(f"/_wait?replied={args.n}&timeout={limit}", timeout=limit + 10)
    after = fake.call("/_stats")
    bot_usage = usage(process.pid)
    fake_cpu = usage(fake.process.pid).cpu_seconds - fake_cpu0
    latencies = sorted(after["latencies"])
    problems = []
    if after["replied"] < args.n:
        problems.append(f"only {after['replied']} of {args.n} updates answered")
    if after["unmatched"]:
        problems.append(f"{after['unmatched']} replies to chats with no update waiting")
    entries = asyncio.run(count_entries(db_url)) if db_url else None
    if entries is not None and entries != total:
        problems.append(f"{entries} entries for {total} notes")
    seconds = (after["last_reply"] or 0) - (after["first_handout"] or 0)
    return Result(
        bot=bot,
        n=len(latencies),
        seconds=seconds,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        cpu_ms=(bot_usage.cpu_seconds - cpu0) * 1000 / args.n,
        fake_cpu_ms=fake_cpu * 1000 / args.n,
        rss_mb=bot_usage.rss_mb,
        entries=entries,
        problems=problems,
    )


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000, help="updates to queue (default 5000)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--pg-url",
        default=pg_url(PG_DATABASE),
        help=f"PostgreSQL database to empty and use (default {PG_DATABASE})",
    )
    parser.add_argument(
        "--rate", type=float, default=0, help="updates released per second (0: all queued at once)"
    )
    parser.add_argument("--teachers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run each bot under pyinstrument, reports in DIR",
    )
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--echo-bot", nargs=2, metavar=("BASE_URL", "CLIENT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.echo_bot:
        asyncio.run(echo_bot(*args.echo_bot))
        return

    results: list[Result] = []
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="tandem-inbound-") as tmp:
        workdir = Path(tmp)
        results.append(measure("bare PTB echo", None, args, workdir))
        results.append(measure(SAME_CLIENT_ECHO, None, args, workdir))
        if args.db in ("sqlite", "both"):
            url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            asyncio.run(seed(url, args.teachers))
            results.append(measure("Tandem, SQLite", url, args, workdir))
        if args.db in ("postgres", "both"):
            reset_postgres(args.pg_url)
            asyncio.run(seed(args.pg_url, args.teachers))
            results.append(measure("Tandem, PostgreSQL", args.pg_url, args, workdir))
    echo = results[0]
    columns = [
        "bot",
        "updates",
        "updates/s",
        "p50 ms",
        "p99 ms",
        "bot CPU ms/update",
        "fake CPU ms/update",
        "bot RSS MB",
        f"ratio to echo (target >= {TARGET_RATIO})",
    ]
    rows = []
    for result in results:
        ratio = result.rate / echo.rate
        met = "met" if ratio >= TARGET_RATIO else "MISSED"
        verdict = "" if result is echo else f"{ratio:.2f} {met}"
        if result.bot == SAME_CLIENT_ECHO:
            verdict = f"{ratio:.2f} (for scale)"
        if args.rate:  # every bot gets the offered rate: the ratio says nothing
            verdict = "n/a (paced)"
        rows.append(
            [
                result.bot,
                result.n,
                f"{result.rate:.0f}",
                f"{result.p50_ms:.0f}",
                f"{result.p99_ms:.0f}",
                f"{result.cpu_ms:.2f}",
                f"{result.fake_cpu_ms:.2f}",
                f"{result.rss_mb:.0f}",
                verdict or "1.00",
            ]
        )
    mode = "all queued at once" if not args.rate else f"released at {args.rate:g}/s"
    notes = [
        f"  {args.n} updates ({mode}); {args.teachers} teachers, "
        f"{args.teachers * STUDENTS_PER_TEACHER} students and parents; "
        f"load average before: {load_before}, after: {load()}"
    ]
    notes += [f"  {r.bot}: {problem}" for r in results for problem in r.problems]
    print_table("Inbound: Telegram polling, Tandem vs a bare PTB echo", columns, rows, notes)
    if args.markdown:
        print(markdown_table(columns, rows))
    if os.environ.get("BENCH_JSON"):
        print(json.dumps([r.__dict__ for r in results]))


if __name__ == "__main__":
    main()
