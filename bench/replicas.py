"""Replicas benchmark: three `tandem run` processes on one PostgreSQL, in webhook mode, are one
bot to Telegram.

    python bench/replicas.py            # 5,000 check-ins, then again with the sender killed
    python bench/replicas.py --quick    # 600 check-ins: a short check

Each run: a school of parents with two children each (one check-in prompt per child), three
replicas (real processes: `tandem run`, webhook mode, database `tandem_bench_replicas`) and
bench/botapi_fake.py keeping Telegram's limits (30 messages a second overall, one a second per
chat, 2 % of messages refused at random with 429 and a retry_after). The weekly check-in fires
in all three replicas at the same moment; one composes it, and the outbox's sending replica
(the holder of the Telegram sending lease) delivers the letters. The second run SIGKILLs the
sending replica halfway; a standby takes the lease over.

Reported: the busiest second of messages the platform accepted (and of all requests), the
rate against the limit, duplicates, letters lost, refusals for going over a limit, the time
from the kill to the next message, and each replica's statements for the check-in job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench._common import (  # noqa: E402
    markdown_table,
    pg_url,
    print_table,
    reset_postgres,
    usage,
)
from bot import grammar  # noqa: E402
from bot.config_values import WeeklyTime  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Account,
    Delivery,
    Membership,
    Outbox,
    Person,
    Role,
    School,
    Student,
)

PG_DATABASE = "tandem_bench_replicas"
REPLICAS = 3
LIMIT = 30
TOKEN = "123456789:BENCH-replicas"
SECRET = "bench-replicas_secret"
CHAT0 = 300_000_000
# The default weekly check-in time: the replicas' scheduler fires it at the run's moment instead.
CHECKIN = WeeklyTime(weekday=3, hour=17, minute=0)
# Letters a killed sender held are claimed again once their claim runs out.
CLAIM_SECONDS = 15
SENDING = re.compile(r"outbox [^:]+:(\d+): sending for telegram now")


# --- one replica ---------------------------------------------------------------------------

_JOB: ContextVar[list[str] | None] = ContextVar("job_statements", default=None)


def replica(config: str, fire_at: float, jobs_dir: Path) -> None:
    """`tandem run`, with the check-in fired at `fire_at` and its statements counted."""
    from apscheduler.triggers.date import DateTrigger
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import bot.jobs
    import bot.scheduler
    from adapters.cli import app

    weekly = bot.scheduler.weekly_trigger

    def trigger(when: WeeklyTime, timezone: str) -> Any:
        if when == CHECKIN:
            return DateTrigger(run_date=datetime.fromtimestamp(fire_at, UTC))
        return weekly(when, timezone)

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen = _JOB.get()
        if seen is not None:
            seen.append(statement.split(None, 1)[0].upper())

    checkin = bot.jobs.run_checkin

    async def counted(*args: Any, **kwargs: Any) -> Any:
        seen: list[str] = []
        _JOB.set(seen)  # this job's task only: the events and the sender run in others
        started, cpu = time.perf_counter(), time.process_time()
        report = await checkin(*args, **kwargs)
        (jobs_dir / f"checkin-{os.getpid()}.json").write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "queued": report.queued,
                    "skipped": report.skipped,
                    "statements": len(seen),
                    "kinds": Counter(seen),
                    "seconds": time.perf_counter() - started,
                    "cpu": time.process_time() - cpu,
                }
            )
        )
        return report

    bot.scheduler.weekly_trigger = trigger  # type: ignore[assignment]
    bot.jobs.run_checkin = counted  # type: ignore[assignment]
    event.listen(Engine, "before_cursor_execute", count)
    sys.argv = ["tandem", "run", "--config", config]
    app()


# --- the school ----------------------------------------------------------------------------


async def seed(url: str, parents: int) -> None:
    """One school; each parent has two children, so two check-in prompts."""
    db = Database(url)
    try:
        await db.upgrade()
        async with db.session() as session:
            school = School(name="Bench Replicas", timezone="UTC", language="en")
            session.add(school)
            await session.flush()
            assert school.id is not None
            people = [Person(display_name=f"Parent {n:05d}") for n in range(parents)]
            names = [f"Kid{n:05d} {side}" for n in range(parents) for side in ("Ann", "Bo")]
            students = [
                Student(school_id=school.id, name=name, name_key=grammar.fold(name))
                for name in names
            ]
            session.add_all([*people, *students])
            await session.flush()
            session.add_all(
                Account(
                    person_id=person.id or 0,
                    platform="telegram",
                    external_id=str(CHAT0 + n),
                    dm_chat_id=str(CHAT0 + n),
                )
                for n, person in enumerate(people)
            )
            session.add_all(
                Membership(
                    person_id=people[k // 2].id or 0,
                    student_id=student.id or 0,
                    role=Role.PARENT,
                    delivery=Delivery.WEEKLY,
                )
                for k, student in enumerate(students)
            )
        # As autovacuum would have after a roster import (the benchmark's server runs none).
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("ANALYZE")
    finally:
        await db.dispose()


async def unsent(url: str) -> Counter[str]:
    from sqlmodel import col, func, select

    db = Database(url)
    try:
        async with db.session() as session:
            rows = await session.exec(
                select(Outbox.status, func.count()).group_by(col(Outbox.status))
            )
            return Counter({str(status): int(n) for status, n in rows.all()})
    finally:
        await db.dispose()


# --- a run ---------------------------------------------------------------------------------


class Fake:
    """bench/botapi_fake.py keeping Telegram's limits, in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "botapi_fake.py"), "--limits"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the fake Bot API did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def sends(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/_sends", timeout=30) as response:
            sends: list[dict[str, Any]] = json.loads(response.read())
            return sends

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def config_for(workdir: Path, n: int, fake: Fake, url: str) -> Path:
    path = workdir / f"replica-{n}.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n'
        f'[telegram]\nenabled = true\ntoken = "{TOKEN}"\nmode = "webhook"\n'
        f'base_url = "{fake.url}/bot"\nwebhook_url = "https://tandem.invalid/telegram/hook"\n'
        f'webhook_listen = "127.0.0.1:{free_port()}"\nwebhook_secret = "{SECRET}"\n\n'
        f'[schedule]\nquiet_hours = ""\n\n[sender]\nclaim_seconds = {CLAIM_SECONDS}\n\n'
        f'[security]\nsecret_key = "bench-secret-bench-secret-bench-secret-0123"\n',
        encoding="utf-8",
    )
    return path


@dataclass
class Run:
    kill: bool
    letters: int
    sends: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    killed_at: float | None
    killed_pid: int | None
    cpu: dict[int, float]  # each replica's CPU seconds over the run, by pid
    left: Counter[str]
    seconds: float


def start_replicas(workdir: Path, fake: Fake, url: str, fire_at: float) -> list[Any]:
    processes = []
    for n in range(REPLICAS):
        config = config_for(workdir, n, fake, url)
        with (workdir / f"replica-{n}.log").open("w") as log:
            command = [sys.executable, __file__, "--replica", str(config)]
            command += ["--fire-at", str(fire_at), "--jobs-dir", str(workdir)]
            processes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
            )
    return processes


def sender_pid(workdir: Path) -> int | None:
    """The replica that last took the Telegram sending lease, from the replicas' logs."""
    latest: tuple[str, int] | None = None
    for n in range(REPLICAS):
        for line in (workdir / f"replica-{n}.log").read_text().splitlines():
            found = SENDING.search(line)
            if found and (latest is None or line[:23] >= latest[0]):
                latest = (line[:23], int(found.group(1)))
    return latest[1] if latest else None


def delivered(sends: list[dict[str, Any]]) -> int:
    return len({(s["chat"], s["text"]) for s in sends if s["status"] == 200})


def one_run(kill: bool, parents: int, workdir: Path) -> Run:
    url = pg_url(PG_DATABASE)
    reset_postgres(url)
    asyncio.run(seed(url, parents))
    letters = 2 * parents
    for old in workdir.glob("checkin-*.json"):
        old.unlink()
    fake = Fake()
    started = time.time()
    processes = start_replicas(workdir, fake, url, fire_at=started + 15)
    killed_at = killed_pid = None
    # Enough for the letters at the limit, the start, and a killed sender's claims.
    deadline = started + 30 + letters / LIMIT * 1.5 + CLAIM_SECONDS * 2
    try:
        while time.time() < deadline:
            time.sleep(1.0)
            sends = fake.sends()
            done = delivered(sends)
            if done >= letters:
                break
            if kill and killed_at is None and done >= letters // 2:
                killed_pid = sender_pid(workdir)
                assert killed_pid is not None, "no replica said it sends"
                os.kill(killed_pid, signal.SIGKILL)
                killed_at = time.time()
        sends = fake.sends()
        cpu = {p.pid: usage(p.pid).cpu_seconds for p in processes if p.poll() is None}
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        fake.stop()
    jobs = [json.loads(path.read_text()) for path in sorted(workdir.glob("checkin-*.json"))]
    left = asyncio.run(unsent(url))
    seconds = time.time() - started
    return Run(kill, letters, sends, jobs, killed_at, killed_pid, cpu, left, seconds)


# --- figures -------------------------------------------------------------------------------


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def figures(run: Run) -> dict[str, Any]:
    ok = [s for s in run.sends if s["status"] == 200]
    times = sorted(s["at"] for s in ok)
    pairs = Counter((s["chat"], s["text"]) for s in ok)
    why = Counter(s["why"] for s in run.sends if s["status"] == 429)
    after_kill = [at for at in times if run.killed_at is not None and at > run.killed_at]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    # Sustained: the middle 90 % of the letters (not the start, nor the last retries' tail).
    low, high = int(len(times) * 0.05), int(len(times) * 0.95)
    middle = times[high] - times[low] if high > low else 0.0
    composed = [job for job in run.jobs if not job["skipped"]]
    return {
        "letters": run.letters,
        "delivered": len(pairs),
        "lost": run.letters - len(pairs),
        "duplicates": sum(n - 1 for n in pairs.values()),
        "busiest second (accepted)": busiest_second(times),
        "busiest second (requests)": busiest_second([s["at"] for s in run.sends]),
        "over-limit 429s": why["over_bot_limit"] + why["over_chat_limit"],
        "random 429s": why["random"],
        "rate /s, all": round(len(times) / span, 1) if span else 0.0,
        "rate /s, middle 90 %": round((high - low) / middle, 1) if middle else 0.0,
        "of limit": round((high - low) / middle / LIMIT, 3) if middle else 0.0,
        "kill -> next send s": round(after_kill[0] - run.killed_at, 1)
        if after_kill and run.killed_at
        else "",
        "job composed by": len(composed),
        "job statements": " / ".join(str(job["statements"]) for job in run.jobs),
        "replica CPU s": " / ".join(f"{cpu:.1f}" for cpu in run.cpu.values()),
        "left in outbox": dict(run.left - Counter({"sent": run.left["sent"]})) or 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 parents, 600 check-ins")
    parser.add_argument("--parents", type=int, default=2500, help="two check-ins each")
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL run")
    parser.add_argument("--dump", type=Path, help="write every run's sendMessage calls here")
    parser.add_argument("--replica", help=argparse.SUPPRESS)
    parser.add_argument("--fire-at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--jobs-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replica:
        replica(args.replica, args.fire_at, args.jobs_dir)
        return
    parents = 300 if args.quick else args.parents
    with tempfile.TemporaryDirectory(prefix="tandem-replicas-") as tmp:
        runs = [
            one_run(kill, parents, Path(tmp)) for kill in (False, True)[: 1 + (not args.no_kill)]
        ]
    if args.dump:
        args.dump.write_text(json.dumps([run.sends for run in runs]))
    rows = [figures(run) for run in runs]
    columns = ["run", *rows[0]]
    table = [
        ["sender SIGKILLed midway" if run.kill else "3 replicas", *row.values()]
        for run, row in zip(runs, rows, strict=True)
    ]
    notes = [
        f"limits kept by the fake: {LIMIT}/s overall, 1/s per chat, 2 % random 429s",
        "job statements: each replica's SQL statements in its check-in job (the COPY of the "
        "letters counts as none)",
    ]
    print_table("Replicas: 3 x tandem run (webhook) on PostgreSQL", columns, table, notes)
    print()
    print(markdown_table(columns, table))


if __name__ == "__main__":
    main()
