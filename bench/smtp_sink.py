"""A local SMTP server for benchmarks (aiosmtpd): takes every letter and counts it by subject.

    python bench/smtp_sink.py

Prints "PORT <http> <smtp>" on the first line of stdout. The HTTP side is bench/fake_platform.py's:
GET /stats (what arrived, times on this machine's monotonic clock, duplicates by subject) and
POST /reset. A letter's subject is its key (the bench's letters are one line: the key).
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import time
from email import message_from_bytes
from pathlib import Path

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_platform import Platform, make_app


class Counting:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        now = time.monotonic()
        letter = message_from_bytes(envelope.original_content or b"")
        key = str(letter["Subject"] or "")
        self.platform.offer(",".join(envelope.rcpt_tos), key, now)
        return "250 Message accepted"


def free_socket() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    return listener


async def serve() -> None:
    # No limit and no refusals: the sender's own pace is what is measured.
    platform = Platform(rate=10**9, per_chat=10**9, inject=0.0, random=random.Random(1))
    runner = web.AppRunner(make_app(platform), access_log=None)
    await runner.setup()
    http = free_socket()
    await web.SockSite(runner, http).start()
    smtp = free_socket()
    smtp.listen(128)
    loop = asyncio.get_running_loop()
    handler = Counting(platform)
    await loop.create_server(lambda: SMTP(handler), sock=smtp)
    print(f"PORT {http.getsockname()[1]} {smtp.getsockname()[1]}", flush=True)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(serve())
