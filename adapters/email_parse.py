"""One received letter, read: who sent it, to which reply key, its new text, and what kind it is.

`parse_mail` never raises, whatever the bytes: a letter is a NOTE (someone wrote something),
EMPTY (only quoted text or a signature), AUTO_REPLY (out of office and other robots), BOUNCE
(a delivery report, with the addresses that failed), OWN (our own letter come back), OVERSIZE
(too big to read; the inbox hands over only its headers) or MALFORMED (nothing readable). What
to do with each is the caller's decision: this module only tells them apart.

A letter with a photo costs about 30 ms of CPU a megabyte (the standard library's MIME parser):
call it in a worker thread (`asyncio.to_thread`) so the event loop never waits on it.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from dataclasses import dataclass, replace
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from enum import StrEnum

from adapters.email_text import decode_bytes, html_to_text, new_text_of_reply, unflow

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "OVERSIZE_HEADER",
    "TANDEM_HEADER",
    "AttachmentRef",
    "InboundMail",
    "MailKind",
    "oversize_stub",
    "parse_mail",
]

log = logging.getLogger(__name__)

# Letters bigger than this are not read (the inbox does not even download them).
DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024
# Put by the inbox on the headers-only stub of a letter it did not download.
OVERSIZE_HEADER = "X-Tandem-Oversize"
# Put on every letter Tandem sends, so one that comes back is known for ours.
TANDEM_HEADER = "X-Tandem"
# Where the reply key can be: the envelope recipient first (mail servers add these), then To/Cc.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
MSG_ID = re.compile(r"<[^<>\s]+>")
AUTO_PRECEDENCE = {"bulk", "auto_reply", "junk"}
# Out-of-office subjects in English, Spanish, French and German (after any "Re:"); never a
# lone "Absence" or "Vacation": a family writing that their child is away is a note.
AUTO_SUBJECT = re.compile(
    r"^\s*((re|aw|fw|fwd|rv|tr)\s*:\s*)*("
    r"out of (the )?office|automatic reply|auto[- ]?reply|autoreply|away from (the )?office|"
    r"vacation reply|respuesta automática|respuesta automatica|fuera de (la )?oficina|"
    r"réponse automatique|reponse automatique|absent du bureau|absence du bureau|"
    r"abwesenheitsnotiz|automatische antwort"
    r")",
    re.IGNORECASE,
)
BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
# Enough for the longest thread's References; decoding a megabyte of Subject takes seconds.
MAX_HEADER_CHARS = 20_000


class MailKind(StrEnum):
    NOTE = "note"
    EMPTY = "empty"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    OWN = "own"
    OVERSIZE = "oversize"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class AttachmentRef:
    """A file that came with a letter: kept as a reference, like a photo in a chat."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    reply_key: str | None
    from_address: str
    text: str
    in_reply_to: str | None
    references: tuple[str, ...]
    attachments: tuple[AttachmentRef, ...]
    kind: MailKind
    bounced_addresses: tuple[str, ...] = ()
    # A bounce's proof: the Message-IDs of the letter it says came back (its returned copy or
    # headers, its In-Reply-To and References); Tandem trusts it only for letters it sent.
    returned_ids: tuple[str, ...] = ()


def oversize_stub(headers: bytes, size: int) -> bytes:
    """What the inbox hands over for a letter too big to download: its headers, marked."""
    return f"{OVERSIZE_HEADER}: {size}\r\n".encode() + headers.rstrip(b"\r\n") + b"\r\n\r\n"


def parse_mail(
    raw: bytes,
    reply_domain: str,
    own_domain: str,
    *,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> InboundMail:
    """Read a received letter; never raises (what cannot be read is MALFORMED)."""
    try:
        return _parse(raw, reply_domain.lower(), own_domain.lower(), max_bytes)
    except Exception as error:  # a letter must never stop the inbox: log its kind of failure
        log.warning("unreadable letter (%s): taken as malformed", type(error).__name__)
    try:  # its headers alone may still say who sent it, and dedupe it
        return replace(_parse_headers(raw, reply_domain.lower()), kind=MailKind.MALFORMED)
    except Exception:
        return InboundMail(_synthetic_id(raw), None, "", "", None, (), (), MailKind.MALFORMED)


def _parse(raw: bytes, reply_domain: str, own_domain: str, max_bytes: int) -> InboundMail:
    oversize = len(raw) > max_bytes
    # Only the headers of a letter too big to read are looked at.
    message = email.message_from_bytes(_header_block(raw) if oversize else raw)
    base = _mail_of_headers(message, raw, reply_domain)
    kind = _kind_from_headers(message, base.message_id, own_domain, oversize)
    if kind is MailKind.BOUNCE:
        return replace(
            base,
            kind=kind,
            bounced_addresses=_bounced_addresses(message),
            returned_ids=_returned_ids(message, base),
        )
    if kind is not None:
        return replace(base, kind=kind)
    text, attachments, readable = _body(message)
    return replace(
        base,
        text=text,
        attachments=attachments,
        kind=_body_kind(text, attachments, readable, has_sender=bool(base.from_address)),
    )


def _parse_headers(raw: bytes, reply_domain: str) -> InboundMail:
    return _mail_of_headers(email.message_from_bytes(_header_block(raw)), raw, reply_domain)


def _mail_of_headers(message: Message, raw: bytes, reply_domain: str) -> InboundMail:
    """What the headers say, as a MALFORMED letter until the body says otherwise."""
    return InboundMail(
        message_id=_first_id(_header(message, "Message-ID")) or _synthetic_id(raw),
        reply_key=_reply_key(message, reply_domain),
        from_address=_from_address(message),
        text="",
        in_reply_to=_first_id(_header(message, "In-Reply-To")),
        references=tuple(MSG_ID.findall(_header(message, "References"))),
        attachments=(),
        kind=MailKind.MALFORMED,
    )


def _body_kind(
    text: str, attachments: tuple[AttachmentRef, ...], readable: bool, *, has_sender: bool
) -> MailKind:
    if not has_sender:
        return MailKind.MALFORMED  # no one to answer or to know
    if text or attachments:
        return MailKind.NOTE  # a broken tree whose words still read is taken at its word
    return MailKind.EMPTY if readable else MailKind.MALFORMED


def _header_block(raw: bytes) -> bytes:
    """The bytes before the first blank line (at most a megabyte of headers)."""
    ends = [at for at in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if at >= 0]
    return raw[: min([*ends, 1_000_000])]


def _header(message: Message, name: str) -> str:
    """A header's value as text (encoded words decoded), "" when absent or unreadable."""
    value = message.get(name)
    if value is None:
        return ""
    text = str(value)[:MAX_HEADER_CHARS]
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, ValueError, UnicodeError, TypeError, AssertionError):
        return text


def _first_id(value: str) -> str | None:
    found = MSG_ID.search(value)
    return found.group(0) if found else None


def _synthetic_id(raw: bytes) -> str:
    """The same bytes get the same id, so a letter without Message-ID still dedupes."""
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id.invalid>"


def _addresses(message: Message, *names: str) -> list[str]:
    values = [str(value) for name in names for value in message.get_all(name, [])]
    return [address.strip().lower() for _, address in getaddresses(values) if "@" in address]


def _from_address(message: Message) -> str:
    senders = _addresses(message, "From")
    return senders[0] if senders else ""


def _reply_key(message: Message, reply_domain: str) -> str | None:
    """The <key> of the first tandem+<key>@reply_domain the letter was sent to."""
    pattern = re.compile(r"tandem\+([A-Za-z0-9_=-]+)@" + re.escape(reply_domain) + r"$", re.I)
    for address in _addresses(message, *RECIPIENT_HEADERS):
        found = pattern.match(address)
        if found:
            return _original_case(message, found.group(1))
    return None


def _original_case(message: Message, lowered_key: str) -> str:
    """The key as written (addresses are compared lower-cased; the key may be case-sensitive)."""
    for name in RECIPIENT_HEADERS:
        for value in message.get_all(name, []):
            at = str(value).lower().find(f"tandem+{lowered_key}@")
            if at >= 0:
                start = at + len("tandem+")
                return str(value)[start : start + len(lowered_key)]
    return lowered_key


def _kind_from_headers(
    message: Message, message_id: str, own_domain: str, oversize: bool
) -> MailKind | None:
    """What the headers alone tell, in the order that matters (ours before robots)."""
    if oversize or message.get(OVERSIZE_HEADER) is not None:
        return MailKind.OVERSIZE
    if message.get(TANDEM_HEADER) is not None or message_id.lower().endswith(f"@{own_domain}>"):
        return MailKind.OWN
    if _is_bounce(message):
        return MailKind.BOUNCE
    if _is_auto_reply(message):
        return MailKind.AUTO_REPLY
    return None


def _is_bounce(message: Message) -> bool:
    if message.get_content_type() == "multipart/report":
        # A delivery report; other reports (read receipts) are robots, not bounces.
        return str(message.get_param("report-type", "")).lower() == "delivery-status"
    if any(part.get_content_type() == "message/delivery-status" for part in message.walk()):
        return True
    sender = _from_address(message).split("@")[0]
    return sender in BOUNCE_SENDERS


def _is_auto_reply(message: Message) -> bool:
    auto_submitted = _header(message, "Auto-Submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    if message.get("X-Autoreply") is not None or message.get("X-Autorespond") is not None:
        return True
    if message.get_content_type() == "multipart/report":
        return True  # a read receipt or feedback report
    if _header(message, "Precedence").strip().lower() in AUTO_PRECEDENCE:
        return True
    return bool(AUTO_SUBJECT.match(_header(message, "Subject")))


def _bounced_addresses(message: Message) -> tuple[str, ...]:
    """The Final-Recipients a delivery report says failed (all of them if it does not say)."""
    failed: list[str] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "failed")).strip().lower()
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            if action == "failed" and "@" in address and address not in failed:
                failed.append(address)
    return tuple(failed)


def _returned_ids(message: Message, base: InboundMail) -> tuple[str, ...]:
    """The Message-IDs a delivery report carries of the letter that came back."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            returned = payload[0] if isinstance(payload, list) and payload else None
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            headers = text.decode("utf-8", "replace") if isinstance(text, bytes) else ""
            returned = email.message_from_string(headers)
        else:
            continue
        if isinstance(returned, Message):
            found.extend(MSG_ID.findall(_header(returned, "Message-ID")))
    found.extend(filter(None, [base.in_reply_to, *base.references]))
    return tuple(dict.fromkeys(found))


def _body(message: Message) -> tuple[str, tuple[AttachmentRef, ...], bool]:
    """The new text, the attachments, and whether the MIME tree was sound."""
    plain: str | None = None
    html: str | None = None
    attachments: list[AttachmentRef] = []
    for part in _leaves(message):
        if _is_attachment(part):
            attachments.append(_attachment(part))
        elif part.get_content_type() == "text/plain" and plain is None:
            plain = _part_text(part)
        elif part.get_content_type() == "text/html" and html is None:
            html = _part_text(part)
    words = plain if plain and plain.strip() else html_to_text(html or "")
    readable = not _defects(message) and (plain is not None or html is not None)
    return new_text_of_reply(words), tuple(attachments), readable


def _leaves(message: Message) -> list[Message]:
    """The parts that hold content; a forwarded letter counts as one attachment."""
    leaves: list[Message] = []
    stack = [message]
    while stack:
        part = stack.pop()
        payload = part.get_payload()
        if part.get_content_maintype() != "multipart":
            leaves.append(part)
        elif isinstance(payload, list):  # else a multipart without its parts: nothing to read
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return leaves


def _is_attachment(part: Message) -> bool:
    if part.get_content_maintype() == "message":
        return True
    disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
    if disposition == "attachment":
        return True
    return part.get_content_maintype() != "text" or part.get_filename() is not None


def _attachment(part: Message) -> AttachmentRef:
    filename = _attachment_name(part)
    if not filename and part.get_content_maintype() == "message":
        filename = "forwarded.eml"
    return AttachmentRef(filename or "attachment", part.get_content_type(), _decoded_size(part))


def _decoded_size(part: Message) -> int:
    """The file's size; base64 is counted, not decoded (a photo is megabytes)."""
    payload = part.get_payload()
    if not isinstance(payload, str):  # a forwarded letter: count it as sent
        return len(str(payload))
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
        compact = "".join(payload.split())
        return len(compact) * 3 // 4 - compact[-2:].count("=")
    decoded = part.get_payload(decode=True)
    return len(decoded) if isinstance(decoded, bytes) else len(payload)


def _attachment_name(part: Message) -> str:
    try:
        return str(make_header(decode_header(part.get_filename() or "")))
    except (LookupError, ValueError, UnicodeError, TypeError, AssertionError):
        return str(part.get_filename() or "")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset()
    except (LookupError, ValueError, UnicodeError, TypeError):
        charset = None  # an RFC 2231 charset parameter in a charset of its own
    text = decode_bytes(payload, charset)
    if part.get_content_type() == "text/plain" and _param(part, "format") == "flowed":
        return unflow(text, delete_space=_param(part, "delsp") == "yes")
    return text


def _param(part: Message, name: str) -> str:
    value = part.get_param(name)
    return value.strip().lower() if isinstance(value, str) else ""


def _defects(message: Message) -> list[object]:
    return [defect for part in message.walk() for defect in part.defects]
