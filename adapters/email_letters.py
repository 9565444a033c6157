"""A core reply as a letter: text and accessible HTML, headers for threading and unsubscribing,
and buttons turned into words to reply with ("reply GOOD, MIXED or TOUGH")."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from bot.events import Attachment, Button
from bot.i18n import Translator

SUBJECT_LIMIT = 78
_WORD_RE = re.compile(r"\w+")
_BULLET = ("• ", "- ", "* ")


@dataclass(frozen=True)
class Draft:
    """One letter before it has an address: the core's words, buttons and file."""

    text: str
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None
    subject: str = ""  # "" = the text's first line


@dataclass(frozen=True)
class Envelope:
    """Whom a letter goes to and how it threads."""

    to: str
    from_address: str
    reply_to: str
    school: str  # the person's school(s), named in "why you get this"
    language: str
    roles: tuple[str, ...] = ()  # their roles on the team ("parent"); () before they join
    in_reply_to: str | None = None
    references: tuple[str, ...] = field(default=())


def reply_words(buttons: Sequence[Button]) -> list[str]:
    """The word a reader replies with for each button: its label's first word in capitals, or
    its number where two labels start alike."""
    words = [_first_word(button.label) for button in buttons]
    if len(set(words)) < len(words) or not all(words):
        return [str(number) for number in range(1, len(buttons) + 1)]
    return words


def pressed(text: str, buttons: Sequence[Sequence[str]]) -> tuple[str, str] | None:
    """The token of the button a reply names by its first word (or number), and the rest of
    the reply; None if its first word names no button."""
    first, _, rest = text.strip().partition("\n")
    word, _, more = first.strip().partition(" ")
    word = word.strip(".,!;:").casefold()
    for number, (reply_word, token) in enumerate(buttons, start=1):
        if word in (reply_word.casefold(), str(number)):
            # "Good - he slept well": the dash joins the word to the rest, it is no `-` concern.
            same_line = more.strip().lstrip("-–—:,. ")
            return token, "\n".join(part for part in (same_line, rest.strip()) if part)
    return None


def compose(draft: Draft, envelope: Envelope, domain: str, now: datetime) -> EmailMessage:
    """The letter, multipart text and HTML, with its Message-ID set."""
    t = Translator(envelope.language)
    words = reply_words(draft.buttons)
    choices = _choices(t, words) if words else ""
    footer = [t("email.reply_hint"), _why(t, envelope)]
    letter = EmailMessage()
    letter["Subject"] = draft.subject or _subject(draft.text)
    letter["From"] = envelope.from_address
    letter["To"] = Address(addr_spec=envelope.to)
    letter["Reply-To"] = Address(addr_spec=envelope.reply_to)
    letter["Date"] = format_datetime(now)
    letter["Message-ID"] = make_msgid("tandem", domain)
    letter["X-Tandem"] = "1"  # a letter of ours that comes back is known for ours
    letter["Auto-Submitted"] = "auto-generated"  # so out-of-office replies leave us alone
    letter["List-Unsubscribe"] = f"<mailto:{envelope.reply_to}?subject=STOP&body=STOP>"
    letter["Content-Language"] = envelope.language
    if envelope.in_reply_to:
        letter["In-Reply-To"] = envelope.in_reply_to
        letter["References"] = " ".join((*envelope.references, envelope.in_reply_to))
    text = draft.text
    if choices:
        text += "\n\n" + t("email.reply_with", choices=choices)
    letter.set_content(text + "\n\n-- \n" + "\n".join(footer) + "\n")
    letter.add_alternative(_html(draft, t, choices, footer, envelope.language), subtype="html")
    if draft.attachment is not None:
        maintype, _, subtype = draft.attachment.mime.partition("/")
        letter.add_attachment(
            draft.attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=draft.attachment.filename,
        )
    return letter


def _why(t: Translator, envelope: Envelope) -> str:
    """Why this person gets the letter: their school(s) and their role on the student's team."""
    if not envelope.roles:
        return t("email.why", school=envelope.school)
    roles = ", ".join(t(f"role.{role}") for role in envelope.roles)
    return t("email.why_team", school=envelope.school, role=roles)


def _first_word(label: str) -> str:
    found = _WORD_RE.search(label)
    return found.group(0).upper() if found else ""


def _choices(t: Translator, words: Sequence[str]) -> str:
    if len(words) == 1:
        return words[0]
    return t("email.choice_or", first=", ".join(words[:-1]), last=words[-1])


def _subject(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "Tandem")
    first = first.strip("*_ ")
    return first if len(first) <= SUBJECT_LIMIT else first[: SUBJECT_LIMIT - 1] + "…"


def _html(draft: Draft, t: Translator, choices: str, footer: Sequence[str], language: str) -> str:
    """Real headings and paragraphs, lists as lists, no layout tables: what a screen reader and
    a phone show well."""
    blocks = [block for block in re.split(r"\n\s*\n", draft.text.strip()) if block.strip()]
    body: list[str] = []
    for number, block in enumerate(blocks):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if number == 0 and len(lines) == 1 and len(blocks) > 1:
            body.append(f"<h1>{html.escape(lines[0].strip('*_ '))}</h1>")
        elif all(line.startswith(_BULLET) for line in lines):
            items = "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines)
            body.append(f"<ul>{items}</ul>")
        elif len(lines) > 1 and not lines[0].startswith(_BULLET) and _is_heading(lines[0]):
            body.append(f"<h2>{html.escape(lines[0].rstrip(':'))}</h2>")
            body.append("<p>" + "<br>".join(html.escape(line) for line in lines[1:]) + "</p>")
        else:
            body.append("<p>" + "<br>".join(html.escape(line) for line in lines) + "</p>")
    if draft.attachment is not None and draft.attachment.is_image:
        alt = html.escape(t("email.chart_alt", alt=draft.attachment.alt), quote=True)
        body.append(f"<p>{alt}</p>")  # the chart itself is attached
    if choices:
        body.append(
            f"<p><strong>{html.escape(t('email.reply_with', choices=choices))}</strong></p>"
        )
    body.append("<hr>" + "".join(f"<p><small>{html.escape(line)}</small></p>" for line in footer))
    return (
        f'<!DOCTYPE html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(draft.subject or _subject(draft.text))}</title></head>"
        '<body style="font-family: sans-serif; font-size: 16px; line-height: 1.5; max-width: 40em">'
        + "\n".join(body)
        + "</body></html>"
    )


def _is_heading(line: str) -> bool:
    return line.endswith(":") and len(line) <= 60
