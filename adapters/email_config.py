"""What Tandem knows of email before any mail library is loaded: the [email] section, the
[sender] key that paces it, and the reply address a person's letters carry."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import TYPE_CHECKING, Literal, Self

from bot.config import PlatformConfig, SendLimit
from bot.config_values import Section, missing, when_is, when_set
from bot.errors import said

if TYPE_CHECKING:
    from adapters.platforms import Adapter
    from bot.dispatch import Dispatcher
    from storage.db import Database

NAME = "email"

SmtpSecurity = Literal["starttls", "tls", "none"]
SMTP_SECURITY: tuple[SmtpSecurity, ...] = ("starttls", "tls", "none")
ImapSecurity = Literal["tls", "starttls", "none"]
IMAP_SECURITY: tuple[ImapSecurity, ...] = ("tls", "starttls", "none")

# Most providers take a few letters a second from one mailbox before they throttle it.
PER_SECOND = SendLimit("email_per_second", 10)

# A domain as it may stand after the @: labels of letters, digits and hyphens.
_DOMAIN_RE = re.compile(r"(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}", re.ASCII)
# A reply key as it stands in tandem+<key>@: what `reply_key` makes (url-safe base64).
REPLY_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}", re.ASCII)
REPLY_LOCAL_PART = "tandem"


@dataclass(frozen=True)
class EmailConfig(PlatformConfig):
    from_address: str = "Tandem at Maple <tandem@maple.example>"
    reply_domain: str = "maple.example"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: SmtpSecurity = "starttls"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    imap_host: str = ""
    imap_port: int = 993
    imap_security: ImapSecurity = "tls"
    imap_username: str = ""
    imap_password: str = field(default="", repr=False)
    imap_folder: str = "INBOX"
    poll_seconds: int = 30
    # A PEM file of the CA that signed a server's certificate, for a school's own CA; empty =
    # the system's trusted CAs.
    smtp_ca_file: str = ""
    imap_ca_file: str = ""

    @classmethod
    def read(cls, section: Section) -> Self:
        """The [email] section, checked; a disabled adapter's may be incomplete."""
        s, default = section, cls()
        config = cls(
            enabled=s.flag("enabled", default.enabled),
            from_address=s.text("from_address", default.from_address).strip(),
            reply_domain=s.text("reply_domain", default.reply_domain).strip().lower(),
            smtp_host=s.text("smtp_host", default.smtp_host).strip(),
            smtp_port=_port(s, "smtp_port", default.smtp_port),
            smtp_security=s.choice("smtp_security", default.smtp_security, SMTP_SECURITY),
            smtp_username=s.text("smtp_username", default.smtp_username),
            smtp_password=s.text("smtp_password", default.smtp_password),
            imap_host=s.text("imap_host", default.imap_host).strip(),
            imap_port=_port(s, "imap_port", default.imap_port),
            imap_security=s.choice("imap_security", default.imap_security, IMAP_SECURITY),
            imap_username=s.text("imap_username", default.imap_username),
            imap_password=s.text("imap_password", default.imap_password),
            imap_folder=s.text("imap_folder", default.imap_folder).strip(),
            poll_seconds=s.positive("poll_seconds", default.poll_seconds),
            smtp_ca_file=s.text("smtp_ca_file", default.smtp_ca_file).strip(),
            imap_ca_file=s.text("imap_ca_file", default.imap_ca_file).strip(),
        )
        for name in ("smtp_ca_file", "imap_ca_file"):
            _check_ca_file(s, name, getattr(config, name))
        if not _sender_address(config.from_address):
            raise s.error("from_address", said("operator.email_from_address"))
        if not _DOMAIN_RE.fullmatch(config.reply_domain):
            raise s.error("reply_domain", said("operator.email_domain"))
        if not config.imap_folder:
            raise s.error("imap_folder", said("operator.not_empty"))
        if config.enabled:
            when = when_is("email.enabled", "true")
            s.required("smtp_host", config.smtp_host, when)
            s.required("imap_host", config.imap_host, when)
            if config.smtp_username:
                s.required("smtp_password", config.smtp_password, when_set("email.smtp_username"))
            s.required("imap_username", config.imap_username, when)
            s.required("imap_password", config.imap_password, when)
        return config

    def check(self) -> None:
        """Refuse what the loader lets through only for a disabled adapter."""
        if not self.smtp_host:
            raise missing(NAME, "smtp_host", said("operator.when_email_runs"))

    @property
    def sender_address(self) -> str:
        """The bare address of `from_address` (`tandem@maple.example`)."""
        return _sender_address(self.from_address)

    @property
    def message_id_domain(self) -> str:
        """The right side of our Message-IDs: apart from any person's, so ours are known."""
        return f"tandem.{self.reply_domain}"

    def smtp_tls(self) -> ssl.SSLContext:
        """What the SMTP connection trusts: the school's CA file, or the system's CAs."""
        return ssl.create_default_context(cafile=self.smtp_ca_file or None)

    def imap_tls(self) -> ssl.SSLContext:
        """What the IMAP connection trusts: the school's CA file, or the system's CAs."""
        return ssl.create_default_context(cafile=self.imap_ca_file or None)

    def reply_address(self, key: str) -> str:
        """The secret address a person's replies go to: tandem+<key>@reply_domain."""
        return f"{REPLY_LOCAL_PART}+{key}@{self.reply_domain}"


def _port(section: Section, name: str, default: int) -> int:
    port = section.integer(name, default)
    if not 1 <= port <= 65535:
        raise section.error(name, said("operator.port_range"))
    return port


def _check_ca_file(section: Section, name: str, path: str) -> None:
    """A CA file named must be there and hold a certificate: found out at start, not at the
    first letter."""
    if not path:
        return
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise section.error(name, said("operator.file_not_found", path=path)) from None
    except (OSError, ssl.SSLError) as error:
        why = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
        raise section.error(name, said("operator.cannot_read_file", file=path, why=why)) from None


def _sender_address(value: str) -> str:
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    return address.lower() if at and local and _DOMAIN_RE.fullmatch(domain) else ""


def build(config: EmailConfig, dispatcher: Dispatcher, db: Database) -> Adapter:
    """The adapter, aiosmtplib loaded only now: a CLI command that sends nothing never loads it."""
    from adapters.email import EmailAdapter

    return EmailAdapter(config, dispatcher, db)
