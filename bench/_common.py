"""What bench/inbound.py, bench/summaries.py and bench/footprint.py share.

The machine and the load at the time of a run (every table in docs/benchmarks.md carries
them), a process's memory and CPU time, a scratch PostgreSQL database, and table printing.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shlex
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

# `--db postgres` uses this server; each script has a database of its own on it, so two
# benchmarks (or a benchmark and the test suite, which uses `test`) never empty each other's.
PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
REPO_ROOT = Path(__file__).resolve().parents[1]


def pg_url(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def machine() -> str:
    """`4 × Intel Xeon ... · 7.8 GiB · Linux 6.1 · Python 3.11.7 · SQLite 3.40.1`"""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    except OSError:
        pass
    parts = [
        f"{os.cpu_count()} × {model or platform.processor() or 'CPU'}",
        memory,
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    return " · ".join(part for part in parts if part)


def load() -> str:
    """The 1-, 5- and 15-minute load averages, as `uptime` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def command_line() -> str:
    return "python " + " ".join(
        shlex.quote(arg) for arg in [os.path.relpath(sys.argv[0], REPO_ROOT), *sys.argv[1:]]
    )


def header(title: str) -> list[str]:
    """The lines printed above every table: what, where, when, how."""
    return [
        f"{title}",
        f"  date:    {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"  machine: {machine()}",
        f"  command: {command_line()}",
    ]


@dataclass(frozen=True)
class Usage:
    """A process's resident memory now and its CPU time so far."""

    rss_mb: float
    cpu_seconds: float


def usage(pid: int) -> Usage:
    """From psutil when it is installed (the `bench` extra), else from /proc."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        status = Path(f"/proc/{pid}/status").read_text()
        rss_kb = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return Usage(rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks)
    process = psutil.Process(pid)
    times = process.cpu_times()
    return Usage(process.memory_info().rss / 1024 / 1024, times.user + times.system)


async def fresh_postgres(url: str) -> None:
    """Create the database if it is missing, and empty its public schema."""
    name = make_url(url).database
    server = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with server.connect() as connection:
            found = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not found:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await server.dispose()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def reset_postgres(url: str) -> None:
    asyncio.run(fresh_postgres(url))


def print_table(
    title: str, columns: list[str], rows: list[list[Any]], notes: list[str] | None = None
) -> None:
    """The header lines, then the table (rich), then any notes."""
    console = Console(width=max(170, Console().width))
    for line in header(title):
        console.print(line, highlight=False, markup=False)
    table = Table(show_header=True, header_style="bold")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)
    for note in notes or []:
        console.print(note, highlight=False, markup=False)


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """The same table as Markdown, for pasting into docs/benchmarks.md."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(columns) - 1)) + " |",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
