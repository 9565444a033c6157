"""Translation benchmark: the weekly summary job and a `/log` reply with a translation provider
that takes `--latency` ms a request.

    python bench/translation.py [--students 1000] [--entries 10] [--latency 50]
                                [--part all|log|summary] [--markdown]

Seeds the school of bench/summaries.py on SQLite (teachers with 25 students, one parent per
student) and makes every second family read Tandem in Spanish. A fake LibreTranslate on
127.0.0.1 answers each request after `--latency` ms. Reported:

- loading the language detector (once, at start-up);
- `/log` replies through the dispatcher: a Spanish-reading parent's first read (asks the
  provider; the school's name mask is built), the same read again (all kept), and another
  Spanish-reading parent's first read (asks the provider; the name mask is reused);
- the summary job with `provider = "none"`, then with the provider (first run: all that is not
  kept yet is asked; second run: everything comes from the kept translations), each with the
  requests made, the texts and characters sent, the wall time and the process's CPU time;
- the cache's hit rate on the second run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import text

from adapters.bootstrap import build_router
from adapters.translation_libre import LibreTranslate
from bot import jobs
from bot.config import Settings
from bot.dispatch import Dispatcher
from bot.events import Chat, IncomingMessage, Platform, Sender
from bot.translation import NoteTranslator
from bot.translation_config import TranslationConfig
from storage.db import Database

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, markdown_table, print_table
from summaries import STUDENTS_PER_TEACHER, FixedClock, seed


@dataclass
class FakeLibre:
    """LibreTranslate that answers after `latency` seconds, counting what it was sent."""

    latency: float
    requests: int = 0
    texts: int = 0
    chars: int = 0
    runner: Any = field(default=None)
    url: str = ""

    async def translate(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests += 1
        self.texts += len(body["q"])
        self.chars += sum(len(q) for q in body["q"])
        await asyncio.sleep(self.latency)
        return web.json_response({"translatedText": [f"<es> {q}" for q in body["q"]]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/translate", self.translate)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    def taken(self) -> tuple[int, int, int]:
        counts = (self.requests, self.texts, self.chars)
        self.requests = self.texts = self.chars = 0
        return counts


def _timed(started: tuple[float, float], unit: float, suffix: str) -> list[str]:
    wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
    digits = 0 if unit == 1000 else 2
    return [f"{wall * unit:.{digits}f} {suffix}", f"{cpu * unit:.{digits}f} {suffix}"]


def _start() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


async def run(students: int, entries: int, latency_ms: float, part: str) -> list[list[Any]]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        await seed(url, students, entries, 1)
        teachers = -(-students // STUDENTS_PER_TEACHER)
        db = Database(url)
        async with db.engine.begin() as connection:
            # Every second family reads Tandem in Spanish.
            await connection.execute(
                text("UPDATE person SET language = 'es' WHERE id > :t AND (id - :t) % 2 = 1"),
                {"t": teachers},
            )
        fake = FakeLibre(latency_ms / 1000)
        await fake.start()
        config = TranslationConfig("libretranslate", fake.url, timeout_seconds=30)
        provider = LibreTranslate(config)
        notes = NoteTranslator(provider, config, FixedClock(), ("en", "es"))
        rows: list[list[Any]] = []
        try:
            started = _start()
            notes.guesser.warm()  # as `tandem run` does at start-up with a provider set
            rows.append(["detector load (start-up)", 0, 0, 0, *_timed(started, 1, "s")])
            dispatcher = Dispatcher(db, Settings(), FixedClock(), build_router(), notes)
            # Parents 0 and 2 read in Spanish; each reads their student's /log.
            reads = (("first", 0, "a"), ("second", 0, "b"), ("first, another parent", 2, "c"))
            for label, parent_n, ref in reads if part in ("all", "log") else ():
                parent = Sender(
                    Platform.TELEGRAM,
                    "",
                    str(900_000 + teachers + parent_n),
                    f"Parent {parent_n:05d}",
                )
                event = IncomingMessage(parent, Chat(parent.external_id), "/log", f"bench-{ref}")
                started = _start()
                await dispatcher.dispatch(event)
                timed = _timed(started, 1000, "ms")
                rows.append([f"/log, {label}", *fake.taken(), *timed])
            runs = (("none", None), ("first", notes), ("second", notes))
            for label, translator in runs if part in ("all", "summary") else ():
                started = _start()
                await jobs.run_summary(db, Settings(), FixedClock(), 1, translator)
                timed = _timed(started, 1, "s")
                rows.append([f"summary, {label}", *fake.taken(), *timed])
                print(*rows[-1], sep=" | ", file=sys.stderr, flush=True)  # long runs: as they come
        finally:
            await provider.close()
            await fake.runner.cleanup()
            await db.dispose()
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--latency", type=float, default=50.0)
    parser.add_argument("--part", choices=("all", "log", "summary"), default="all")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(run(args.students, args.entries, args.latency, args.part))
    columns = ["run", "requests", "texts sent", "characters sent", "wall time", "CPU time"]
    summaries = {row[0]: row[2] for row in rows if row[0].startswith("summary")}
    first, second = summaries.get("summary, first", 0), summaries.get("summary, second", 0)
    hit_rate = 1 - second / first if first else 1.0
    note = f"  cache hit rate on the second summary run: {hit_rate:.0%}"
    if args.markdown:
        print("\n".join(header("Translation")))
        print(markdown_table(columns, rows))
        print(note)
    else:
        print_table("Translation", columns, rows, [note])


if __name__ == "__main__":
    main()
