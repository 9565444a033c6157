"""Receiving mail: reading letters (parse_mail) and fetching them from a real Dovecot.

    python bench/email_inbox.py [--letters 500] [--markdown]

- parse: CPU time of `parse_mail` per letter (this process; median of 200 after a warm-up,
  of 20 for the big ones) for a plain reply with quoted history, an HTML-only reply, a reply
  with a 5 MB photo, and a 20 MB letter (OVERSIZE: only its headers are read);
- fetch: `--letters` replies put into a fresh mailbox of our own Dovecot (not timed), then one
  `ImapInbox.fetch_once` over plain IMAP handing each to a handler that parses it: letters/s
  (wall), this process's CPU ms per letter, the peak RSS, and a check that every letter was
  handed over exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.email_inbox import ImapInbox, ImapSettings
from adapters.email_parse import parse_mail
from bench._common import header, markdown_table, print_table
from tests.email_servers import make_certificates, start_dovecot

QUOTE = "\n\nOn Mon, Nov 30, 2026 at 3:00 PM Tandem <tandem@maple.example> wrote:\n" + (
    "> How was Sam's day? Reply GOOD, MIXED or TOUGH.\n" * 20
)


def reply(number: int, body: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Dana Rivera <dana@example.org>"
    message["To"] = "tandem+Zk3q9XbTr2LmN0pQvW8a@maple.example"
    message["Subject"] = "Re: How was Sam's day?"
    message["Message-ID"] = f"<reply-{number}@example.org>"
    message.set_content(body or f"+ Sam read a whole page aloud ({number})" + QUOTE)
    return message


def letters() -> dict[str, bytes]:
    html = reply(0)
    html.set_content(
        "<div>+ Sam shared the blocks<br>#social</div><div class='gmail_quote'>"
        + "<blockquote>How was Sam's day?</blockquote>" * 20
        + "</div>",
        subtype="html",
    )
    photo = reply(0)
    photo.add_attachment(b"\xff" * 5_000_000, maintype="image", subtype="jpeg", filename="a.jpg")
    big = reply(0)
    big.add_attachment(b"\xff" * 20_000_000, maintype="video", subtype="mp4", filename="a.mp4")
    crafted = reply(0, ("On " + "x " * 123 + "x\n") * 80)
    return {
        "plain reply, quoted history": reply(0).as_bytes(),
        "crafted: 80 lines of 250 chars starting 'On'": crafted.as_bytes(),
        "HTML-only reply": html.as_bytes(),
        "reply with a 5 MB photo": photo.as_bytes(),
        "20 MB letter (oversize)": big.as_bytes(),
    }


def parse_rows() -> list[list[object]]:
    rows: list[list[object]] = []
    for name, raw in letters().items():
        for _ in range(3):
            parse_mail(raw, "maple.example", "tandem.maple.example")
        times = []
        for _ in range(200 if len(raw) < 100_000 else 20):
            start = time.process_time()
            mail = parse_mail(raw, "maple.example", "tandem.maple.example")
            times.append(time.process_time() - start)
        rows.append(
            [name, f"{len(raw):,}", mail.kind.value, f"{statistics.median(times) * 1e3:.3f}"]
        )
    return rows


async def fetch_row(count: int) -> list[object]:
    certificates = make_certificates(Path(tempfile.mkdtemp()))
    dovecot = start_dovecot(certificates)
    try:
        mailbox = dovecot.add_user()
        with dovecot.connect(mailbox) as imap:
            for number in range(count):
                raw = reply(number).as_bytes().replace(b"\n", b"\r\n")
                imap.append("INBOX", "", None, raw)
        settings = ImapSettings(
            "127.0.0.1", dovecot.port, "none", mailbox.username, mailbox.password
        )
        handed: list[int] = []
        remembered: dict[tuple[str, int], int] = {}

        async def handle(uid: int, raw: bytes) -> None:
            parse_mail(raw, "maple.example", "tandem.maple.example")
            handed.append(uid)

        class Memory:
            async def last_uid(self, folder: str, uidvalidity: int) -> int:
                return remembered.get((folder, uidvalidity), 0)

            async def remember(self, folder: str, uidvalidity: int, uid: int) -> None:
                remembered[(folder, uidvalidity)] = uid

        cpu, wall = time.process_time(), time.perf_counter()
        await ImapInbox(settings).fetch_once(handle, Memory())
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        dovecot.stop()
        shutil.rmtree(dovecot.root, ignore_errors=True)
        shutil.rmtree(certificates.cert_file.parent, ignore_errors=True)
    once = len(handed) == len(set(handed)) == count
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [f"{count:,}", f"{count / wall:.0f}", f"{cpu / count * 1e3:.2f}", f"{rss:.0f}", once]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=500)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    parse_columns = ["letter", "bytes", "kind", "CPU ms (median)"]
    rows = parse_rows()
    print_table("parse_mail, CPU per letter", parse_columns, rows)
    fetch_columns = ["letters", "letters/s", "CPU ms/letter", "peak RSS MB", "each once"]
    fetched = [asyncio.run(fetch_row(args.letters))]
    print_table("ImapInbox.fetch_once from Dovecot", fetch_columns, fetched)
    if args.markdown:
        print("\n".join(header("Receiving mail")))
        print(markdown_table(parse_columns, rows))
        print()
        print(markdown_table(fetch_columns, fetched))


if __name__ == "__main__":
    main()
