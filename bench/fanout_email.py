"""bench/fanout.py's email side: parents reached by email, the real EmailAdapter as the
transport, and bench/smtp_sink.py as the SMTP server."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from adapters.bootstrap import build_router
from adapters.email import EmailAdapter
from adapters.email_config import EmailConfig
from adapters.email_identity import key_hash, reply_key
from bot.config import SecurityConfig, Settings
from bot.context import SystemClock
from bot.dispatch import Dispatcher
from storage.db import Database
from storage.models import EmailIdentity

HERE = Path(__file__).resolve().parent
SECRET = "bench secret key, long enough for tandem run"


def identities(n: int, now: Any) -> list[EmailIdentity]:
    """N parents' email identities, each with a reply key of its own."""
    rows = []
    for i in range(n):
        salt = f"{i:032x}"
        rows.append(
            EmailIdentity(
                address=f"parent{i}@bench.example",
                key_salt=salt,
                key_hash=key_hash(SECRET, reply_key(SECRET, salt)),
                created_at=now,
            )
        )
    return rows


def transport(db: Database, smtp_port: int) -> EmailAdapter:
    """The real email adapter, sending to the local sink without TLS."""
    config = EmailConfig(
        enabled=True,
        reply_domain="bench.example",
        from_address="Tandem <tandem@bench.example>",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_security="none",
        imap_host="127.0.0.1",
        imap_username="unused",
        imap_password="unused",
    )
    settings = Settings(security=SecurityConfig(secret_key=SECRET), platforms={"email": config})
    dispatcher = Dispatcher(db, settings, SystemClock(), build_router())
    return EmailAdapter(config, dispatcher, db)


@dataclass
class SmtpSinkProcess:
    process: subprocess.Popen[str]
    url: str
    smtp_port: int

    @classmethod
    def start(cls) -> SmtpSinkProcess:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "smtp_sink.py")], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 3 or line[0] != "PORT":
            process.kill()
            raise SystemExit("the SMTP sink did not start")
        return cls(process, f"http://127.0.0.1:{line[1]}", int(line[2]))

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
