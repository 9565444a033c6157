"""Footprint benchmark: `tandem run` from start to ready, idle memory and CPU, clean stop.

    python bench/footprint.py [--db sqlite|postgres|both] [--idle 5] [--repeat 3] [--markdown]

For each database: `tandem init` a school (SQLite in a temp dir; PostgreSQL: database
`tandem_bench_footprint`, emptied), then start `tandem run` with Telegram enabled in polling
mode against the fake Bot API (bench/botapi_fake.py, its own process), and measure:

- ready: from starting the process to the fake seeing its first getUpdates (the bot has
  logged in, registered its commands, started the scheduler and the sender, and polls);
- RSS at ready and after `--idle` seconds of idling (psutil, else /proc/PID/status), and the
  CPU time the idle seconds cost;
- stop: SIGTERM, then the time until the process has exited, and its exit code (must be 0,
  within 10 s).

Each is run `--repeat` times; the table shows the median (and the worst stop). About 10 s per
run.
"""

from __future__ import annotations

import argparse
import json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, markdown_table, pg_url, print_table, reset_postgres, usage

HERE = Path(__file__).resolve().parent
TOKEN = "123456789:AAF-bench-token"
PG_DATABASE = "tandem_bench_footprint"
STOP_BOUND = 10.0


@dataclass
class Run:
    ready_s: float
    rss_ready_mb: float
    rss_idle_mb: float
    idle_cpu_ms: float
    stop_s: float
    exit_code: int


def tandem() -> list[str]:
    script = Path(sys.executable).with_name("tandem")
    return (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from adapters.cli import app; app()"]
    )


def fake_polls(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_stats", timeout=5) as response:
        return int(json.loads(response.read())["polls"])


def once(db_url: str, workdir: Path, idle: float) -> Run:
    fake = subprocess.Popen(
        [sys.executable, str(HERE / "botapi_fake.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        fake_url = f"http://127.0.0.1:{int(fake.stdout.readline().split()[1])}"
        config = workdir / "tandem.toml"
        config.write_text(
            f'[database]\nurl = "{db_url}"\n\n[telegram]\nenabled = true\ntoken = "{TOKEN}"\n'
            f'mode = "polling"\nbase_url = "{fake_url}/bot"\n\n'
            f'[security]\nsecret_key = "bench-secret-bench-secret-bench-secret-0123"\n',
            encoding="utf-8",
        )
        subprocess.run(
            [
                *tandem(),
                "init",
                "--school",
                "Footprint Elementary",
                "--timezone",
                "America/Chicago",
                "--config",
                str(config),
            ],
            check=True,
            capture_output=True,
            cwd=workdir,
        )
        with (workdir / "run.log").open("w") as log:
            started = time.perf_counter()
            bot = subprocess.Popen(
                [*tandem(), "run", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        try:
            while fake_polls(fake_url) == 0:
                if bot.poll() is not None or time.perf_counter() - started > 60:
                    raise RuntimeError(f"tandem run did not get ready; see {workdir}/run.log")
                time.sleep(0.005)
            ready = time.perf_counter() - started
            at_ready = usage(bot.pid)
            time.sleep(idle)
            after_idle = usage(bot.pid)
            bot.send_signal(signal.SIGTERM)
            stopping = time.perf_counter()
            try:
                code = bot.wait(STOP_BOUND)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait()
                code = -9
            stopped = time.perf_counter() - stopping
        finally:
            if bot.poll() is None:
                bot.kill()
        return Run(
            ready,
            at_ready.rss_mb,
            after_idle.rss_mb,
            (after_idle.cpu_seconds - at_ready.cpu_seconds) * 1000,
            stopped,
            code,
        )
    finally:
        fake.terminate()
        fake.wait(10)


def measure(name: str, db_url: str | None, args: argparse.Namespace) -> tuple[str, list[Run]]:
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="tandem-footprint-") as tmp:
            url = db_url or f"sqlite+aiosqlite:///{Path(tmp) / 'tandem.db'}"
            if db_url is not None:
                reset_postgres(db_url)
            runs.append(once(url, Path(tmp), args.idle))
    return name, runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--pg-url",
        default=pg_url(PG_DATABASE),
        help=f"PostgreSQL database to empty and use (default {PG_DATABASE})",
    )
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idling (default 5)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args()
    load_before = load()
    results = []
    if args.db in ("sqlite", "both"):
        results.append(measure("SQLite", None, args))
    if args.db in ("postgres", "both"):
        results.append(measure("PostgreSQL", args.pg_url, args))
    columns = [
        "database",
        "runs",
        "start to ready s",
        "RSS at ready MB",
        f"RSS after {args.idle:g} s idle MB",
        f"CPU over {args.idle:g} s idle ms",
        "SIGTERM to exit s (worst)",
        "exit codes",
    ]
    rows: list[list[Any]] = []
    for name, runs in results:
        median = statistics.median
        rows.append(
            [
                name,
                len(runs),
                f"{median(r.ready_s for r in runs):.2f}",
                f"{median(r.rss_ready_mb for r in runs):.0f}",
                f"{median(r.rss_idle_mb for r in runs):.0f}",
                f"{median(r.idle_cpu_ms for r in runs):.0f}",
                f"{median(r.stop_s for r in runs):.2f} ({max(r.stop_s for r in runs):.2f})",
                ", ".join(str(r.exit_code) for r in runs),
            ]
        )
    clean = all(r.exit_code == 0 and r.stop_s < STOP_BOUND for _, runs in results for r in runs)
    notes = [
        f"  medians of {args.repeat} runs; clean stop (exit 0 within {STOP_BOUND:g} s): "
        f"{'yes' if clean else 'NO'}; load average before: {load_before}, after: {load()}"
    ]
    print_table("Footprint: `tandem run` (Telegram polling, fake Bot API)", columns, rows, notes)
    if args.markdown:
        print(markdown_table(columns, rows))


if __name__ == "__main__":
    main()
