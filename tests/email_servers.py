"""Real mail servers for the email tests: our own Dovecot (IMAP) and an aiosmtpd (SMTP).

Dovecot runs from a config written into a temp folder (own base_dir, state, logs, users,
maildirs and ports on 127.0.0.1), never the machine's defaults, so the package's own
service does not matter. Both servers present a certificate from a throwaway test CA
(trustme) so TLS and STARTTLS are tested with real verification.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
# Time a server gets to open its port: generous for a loaded CI machine, never reached when fine.
START_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts connections on the port (or fail with the reason)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)  # a readiness probe, not test timing
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {START_TIMEOUT_SECONDS}s")


# Dovecot dies with the thread that started it (setpriv --pdeathsig), so a test run that is
# killed leaves no server behind; this one thread lives as long as the test process.
_LAUNCHER = ThreadPoolExecutor(1, thread_name_prefix="dovecot-launcher")
SETPRIV = shutil.which("setpriv")


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    if SETPRIV is not None:
        command = [SETPRIV, "--pdeathsig", "TERM", "--", *command]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so a stop ends every session
    )


@dataclass(frozen=True)
class TestCertificates:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""

    __test__ = False  # not a pytest test class
    ca: trustme.CA
    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts the test CA (and verifies the host name)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(folder: Path) -> TestCertificates:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = folder / "server-cert.pem", folder / "server-key.pem"
    server.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in server.cert_chain_pems[1:]:
        cert_file.write_bytes(cert_file.read_bytes() + extra.bytes())
    server.private_key_pem.write_to_path(str(key_file))
    return TestCertificates(ca, cert_file, key_file)


@dataclass(frozen=True)
class Mailbox:
    """One IMAP account on the test Dovecot."""

    username: str
    password: str


SPARE_MAILBOXES = 200


def spare_mailbox(number: int) -> Mailbox:
    return Mailbox(f"family{number}", f"secret-{number}")


DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = {internal_user}
default_internal_group = {internal_user}
default_login_user = {login_user}
imap_idle_notify_interval = 1 secs
# Mail that arrives during IDLE is announced at once (inotify), or within a second without it.
mailbox_idle_check_interval = 1 secs
# No delay or penalty (anvil below) after a wrong password: one test must not slow the next.
auth_failure_delay = 0 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
}}
"""


@dataclass
class DovecotServer:
    """Our own Dovecot: plain IMAP (STARTTLS offered) on `port`, IMAPS on `tls_port`."""

    root: Path
    certificates: TestCertificates
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    mailbox: Mailbox = Mailbox("tandem", "school-secret")
    _process: subprocess.Popen[bytes] | None = None
    _users: int = 0

    def start(self) -> None:
        """Write the config (first time) and start Dovecot in the foreground as our child."""
        config = self.root / "dovecot.conf"
        if not config.exists():
            self._write_config(config)
        command = [DOVECOT, "-F", "-c", str(config)]
        self._process = _LAUNCHER.submit(_spawn, command).result()
        wait_for_port(self.port, self._process)
        wait_for_port(self.tls_port, self._process)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop the server and wait for it (every child goes with the master)."""
        if self._process is None:
            return
        # IMAP sessions outlive the master: end the whole group, as a real restart would.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=START_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None

    def restart(self) -> None:
        """Stop and start again on the same ports, with the same mail (a server restart)."""
        self.stop()
        self.start()

    def add_user(self) -> Mailbox:
        """A fresh, empty mailbox of its own (from accounts written with the config)."""
        self._users += 1
        if self._users > SPARE_MAILBOXES:
            raise RuntimeError(f"the test Dovecot has only {SPARE_MAILBOXES} spare mailboxes")
        return spare_mailbox(self._users)

    def deliver(self, raw: bytes, mailbox: Mailbox | None = None, folder: str = "INBOX") -> int:
        """Put a raw message into the mailbox's folder (IMAP APPEND); returns its UID."""
        with self.connect(mailbox) as imap:
            status, data = imap.append(folder, "", None, raw)
            assert status == "OK", data
            code = imap.untagged_responses.get("APPENDUID") or []
        if code:
            return int(str(code[-1], "ascii").split()[-1])
        # The response code is in the tagged line: ask the folder instead.
        return self.uids(mailbox, folder)[-1]

    def uids(self, mailbox: Mailbox | None = None, folder: str = "INBOX") -> list[int]:
        with self.connect(mailbox) as imap:
            imap.select(folder)
            status, data = imap.uid("SEARCH", "ALL")
            assert status == "OK", data
        return [int(uid) for uid in (data[0] or b"").split()]

    def seen_uids(self, mailbox: Mailbox | None = None, folder: str = "INBOX") -> list[int]:
        """UIDs of messages flagged \\Seen (the inbox sets it on handled mail)."""
        with self.connect(mailbox) as imap:
            imap.select(folder, readonly=True)
            status, data = imap.uid("SEARCH", "SEEN")
            assert status == "OK", data
        return [int(uid) for uid in (data[0] or b"").split()]

    def subjects(self, mailbox: Mailbox | None = None, folder: str = "INBOX") -> list[str]:
        with self.connect(mailbox) as imap:
            imap.select(folder, readonly=True)
            status, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        parser = BytesParser()
        return [
            str(parser.parsebytes(item[1])["Subject"])
            for item in data
            if isinstance(item, tuple) and status == "OK"
        ]

    def connect(self, mailbox: Mailbox | None = None) -> imaplib.IMAP4:
        box = mailbox or self.mailbox
        imap = imaplib.IMAP4(self.host, self.port)
        imap.login(box.username, box.password)
        return imap

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _write_config(self, config: Path) -> None:
        for folder in ("run", "state", "mail"):
            (self.root / folder).mkdir(exist_ok=True)
        as_root = os.getuid() == 0
        account = pwd.getpwuid(os.getuid())
        # Dovecot refuses mail access and login processes as root: as root (CI) they run as the
        # package's unprivileged users; as anyone else, everything runs as that user.
        mail_owner = pwd.getpwnam("dovecot") if as_root else account
        os.chown(self.root / "mail", mail_owner.pw_uid, mail_owner.pw_gid)
        config.write_text(
            DOVECOT_CONF.format(
                root=self.root,
                cert=self.certificates.cert_file,
                key=self.certificates.key_file,
                internal_user="dovecot" if as_root else account.pw_name,
                login_user="dovenull" if as_root else account.pw_name,
                uid=mail_owner.pw_uid,
                gid=mail_owner.pw_gid,
                imap_port=self.port,
                imaps_port=self.tls_port,
            )
        )
        # Dovecot rereads a changed passwd-file at most once a second: write every account now.
        accounts = [self.mailbox, *(spare_mailbox(n) for n in range(1, SPARE_MAILBOXES + 1))]
        (self.root / "users").write_text(
            "".join(f"{box.username}:{box.password}::::::\n" for box in accounts)
        )


def start_dovecot(certificates: TestCertificates) -> DovecotServer:
    """A running Dovecot in a fresh temp folder (readable by the mail user)."""
    root = Path(tempfile.mkdtemp(prefix="tandem-dovecot-"))
    root.chmod(0o755)
    server = DovecotServer(root, certificates)
    server.start()
    return server


TRY_LATER = "451 4.3.0 Try again later"


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server took it: the envelope and the bytes."""

    mail_from: str
    recipients: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> Message:
        return BytesParser(policy=policy.default).parsebytes(self.data)


@dataclass
class CollectingHandler:
    """aiosmtpd handler that keeps every message and refuses on request."""

    received: list[ReceivedMail] = field(default_factory=list)
    temporary_refusal: str | None = None
    refusals_left: int | None = None
    refused_recipients: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.temporary_refusal is not None:
            reply = self.temporary_refusal
            if self.refusals_left is not None:
                self.refusals_left -= 1
                if self.refusals_left <= 0:
                    self.temporary_refusal = self.refusals_left = None
            return reply
        refusal = self.refused_recipients.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append(
            ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(content))
        )
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A local SMTP server (aiosmtpd) that collects what it is sent.

    `messages` holds each accepted message. `refuse_all()` answers 4xx to every recipient
    (for `times` recipients, or until `accept_all()`); `refuse_recipient()` answers 5xx to
    one address. STARTTLS is offered with the test CA's certificate; AUTH is offered after
    STARTTLS with `username`/`password` (required only when `auth_required`).
    """

    controller: Controller
    handler: CollectingHandler
    certificates: TestCertificates
    host: str
    port: int
    username: str = "tandem"
    password: str = "smtp-secret"

    @property
    def messages(self) -> list[ReceivedMail]:
        return self.handler.received

    def refuse_all(
        self, reply: str = "451 4.3.0 Try again later", times: int | None = None
    ) -> None:
        self.handler.temporary_refusal = reply
        self.handler.refusals_left = times

    def accept_all(self) -> None:
        self.handler.temporary_refusal = None
        self.handler.refusals_left = None

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        self.handler.refused_recipients[address.lower()] = reply

    def client_context(self) -> ssl.SSLContext:
        return self.certificates.client_context()

    def stop(self) -> None:
        self.controller.stop()


def start_smtp_server(
    certificates: TestCertificates, *, implicit_tls: bool = False, auth_required: bool = False
) -> SmtpServer:
    """Start aiosmtpd in its own thread on a free port (STARTTLS, or TLS from the start)."""
    handler = CollectingHandler()
    port = free_port()
    credentials = (SmtpServer.username.encode(), SmtpServer.password.encode())

    def check_login(
        smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == credentials
        return AuthResult(success=ok)

    tls = certificates.server_context()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ssl_context=tls if implicit_tls else None,
        tls_context=None if implicit_tls else tls,
        authenticator=check_login,
        auth_required=auth_required,
        auth_require_tls=not implicit_tls,
    )
    controller.start()
    return SmtpServer(controller, handler, certificates, "127.0.0.1", port)
