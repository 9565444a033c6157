"""The words of an email: bytes in any charset to text, HTML to plain text, the reply's new part.

Used by adapters/email_parse.py. Nothing here raises on what a sender can put in a letter: an
unknown charset falls back to UTF-8 (or Windows-1252 when that fails), broken HTML still gives
its text, and the reply parser only ever sees a bounded amount of text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mailparser_reply import EmailMessage

__all__ = ["decode_bytes", "html_to_text", "new_text_of_reply", "unflow"]

# Longer than any note; the reply parser's regexes are not meant for megabytes.
MAX_TEXT_CHARS = 20_000
# The reply parser's "On ... wrote:" pattern takes time growing with the square of a line's
# length; no attribution line is this long, so longer lines are hidden from it (and restored).
MAX_PARSED_LINE = 250
# Languages whose "On ... wrote:" lines and signatures the reply parser knows (English always).
REPLY_LANGUAGES = ("en", "es", "fr", "de")
# Attribution lines the reply parser can miss ("El lun, ... escribió:"): the quote follows them.
ATTRIBUTION = re.compile(
    r"(wrote|escribió|a écrit|schrieb|a ecrit)\s*:\s*$|^-{2,}\s*(original message|mensaje original|"
    r"message d'origine|ursprüngliche nachricht)\s*-{2,}$",
    re.IGNORECASE,
)
BLANK_RUNS = re.compile(r"\n{3,}")

# Elements whose whole content is dropped: code, and the quoted history mail clients nest.
SKIPPED_TAGS = {"script", "style", "head", "title", "blockquote", "template"}
# Where mail clients start the quoted letter (Gmail, Thunderbird, Outlook, Yahoo): the rest of
# the document is history, even where it is not nested inside the marked element (Outlook).
QUOTE_MARKERS = ("gmail_quote", "moz-cite-prefix", "divrplyfwdmsg", "yahoo_quoted", "appendonsend")
BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table",
    "section", "article", "header", "footer", "pre", "hr",
}  # fmt: skip
VOID_TAGS = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Text of the bytes in the declared charset; an unknown or wrong one never raises."""
    if charset:
        try:
            return payload.decode(charset.strip().strip('"'), errors="replace")
        except (LookupError, ValueError, TypeError):
            pass  # unknown charset name (or not a text codec): guess below
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", errors="replace")


def unflow(text: str, *, delete_space: bool = False) -> str:
    """Plain text sent format=flowed (RFC 3676) with its soft line breaks joined again.

    Phones and Apple Mail send a paragraph as lines ending in a space; joined, a one-line note
    stays one line. Lines join only with lines of the same quote depth; "-- " stays a line.
    """
    joined: list[str] = []
    pending, pending_depth = "", -1
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if pending_depth not in (-1, depth):
            joined.append(pending)
            pending, pending_depth = "", -1
        prefix = pending if pending_depth == depth else ">" * depth + (" " if depth else "")
        if content.endswith(" ") and content != "-- ":
            pending, pending_depth = prefix + (content[:-1] if delete_space else content), depth
        else:
            joined.append(prefix + content)
            pending, pending_depth = "", -1
    if pending_depth != -1:
        joined.append(pending)
    return "\n".join(joined)


class _TextCollector(HTMLParser):
    """Plain text of an HTML body, without scripts, styles and quoted history."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping is not None:
            if tag == self._skipping and tag not in VOID_TAGS:
                self._depth += 1
            return
        marks = " ".join(value or "" for name, value in attrs if name in ("class", "id")).lower()
        if any(marker in marks for marker in QUOTE_MARKERS):
            self._skipping, self._depth = "", 1  # no tag is "": skipped to the end
            return
        if tag in SKIPPED_TAGS:
            if tag not in VOID_TAGS:
                self._skipping, self._depth = tag, 1
            return
        if tag in BLOCK_TAGS:
            self.chunks.append("\n")
        if tag == "li":
            self.chunks.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping is not None:
            if tag == self._skipping:
                self._depth -= 1
                if self._depth == 0:
                    self._skipping = None
            return
        if tag in BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skipping is None:
            self.chunks.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body (quoted history left out)."""
    collector = _TextCollector()
    try:
        collector.feed(html[: MAX_TEXT_CHARS * 4])
        collector.close()
    except (AssertionError, ValueError):  # HTMLParser's own complaints about broken markup
        pass
    # Block edges make lines; clients open a block per line, so no blank lines between them.
    lines = (line.strip() for line in "".join(collector.chunks).splitlines())
    return "\n".join(line for line in lines if line)


def new_text_of_reply(text: str) -> str:
    """The new text of a reply: quoted history, attribution lines and signatures removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT_CHARS]
    shielded, long_lines = _hide_long_lines(text)
    message = EmailMessage(shielded, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True)
    message.read()
    if not message.replies or message.replies[0].headers:
        return ""  # the letter starts with a quoted one's header: nothing new above it
    kept = [line for line in message.replies[0].body.splitlines() if not line.startswith(">")]
    while kept and (not kept[-1].strip() or ATTRIBUTION.search(kept[-1].strip())):
        kept.pop()
    new_text = BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()
    for token, line in long_lines.items():
        new_text = new_text.replace(token, line)
    return new_text


def _hide_long_lines(text: str) -> tuple[str, dict[str, str]]:
    """The text with each long line as a token (long quoted lines dropped), and the lines."""
    hidden: dict[str, str] = {}
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) > MAX_PARSED_LINE:
            if line.lstrip().startswith(">"):
                continue  # quoted history, removed in the end anyway
            token = f"\ue000{len(hidden)}\ue001"  # private-use characters: never in a letter
            hidden[token] = line.strip()
            line = token
        lines.append(line)
    return "\n".join(lines), hidden
