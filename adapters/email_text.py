"""The words of an email: bytes in any charset to text, HTML to plain text, the reply's new part.

Used by adapters/email_parse.py. Nothing here raises on what a sender can put in a letter: an
unknown charset falls back to UTF-8 (or Windows-1252 when that fails), broken HTML still gives
its text, and the reply parser only ever sees a bounded amount of text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mailparser_reply import EmailMessage

__all__ = ["decode_bytes", "html_to_text", "new_text_of_reply"]

# Longer than any note; the reply parser's regexes are not meant for megabytes.
MAX_TEXT_CHARS = 50_000
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
        if tag in SKIPPED_TAGS or any(marker in marks for marker in QUOTE_MARKERS):
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
    lines = (line.strip() for line in "".join(collector.chunks).splitlines())
    return BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def new_text_of_reply(text: str) -> str:
    """The new text of a reply: quoted history, attribution lines and signatures removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT_CHARS]
    message = EmailMessage(text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True).read()
    if not message.replies or message.replies[0].headers:
        return ""  # the letter starts with a quoted one's header: nothing new above it
    kept = [line for line in message.replies[0].body.splitlines() if not line.startswith(">")]
    while kept and (not kept[-1].strip() or ATTRIBUTION.search(kept[-1].strip())):
        kept.pop()
    return BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()
