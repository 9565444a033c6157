"""Letters out over TLS and STARTTLS to a server whose certificate a school's own CA signed,
trusted the way the school's IT person would: `smtp_ca_file` in the [email] section."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from adapters.email_smtp import SmtpPool
from adapters.platforms import EmailConfig, load_settings
from tests.email_servers import SmtpServer, TestCertificates, start_smtp_server


@pytest.fixture
def tls_server(mail_certificates: TestCertificates) -> Iterator[SmtpServer]:
    """The aiosmtpd server speaking TLS from the first byte (port 465's way)."""
    server = start_smtp_server(mail_certificates, implicit_tls=True)
    yield server
    server.stop()


def ca_file(certificates: TestCertificates, folder: Path) -> Path:
    """The school's CA certificate as the IT person saves it: one PEM file."""
    path = folder / "school-ca.pem"
    certificates.ca.cert_pem.write_to_path(str(path))
    return path


def config(tmp_path: Path, server: SmtpServer, security: str, ca: Path | None) -> EmailConfig:
    trust = f'smtp_ca_file = "{ca}"\n' if ca is not None else ""
    text = (
        "[email]\nenabled = true\n"
        'from_address = "Tandem at Maple <tandem@maple.example>"\n'
        f'smtp_host = "{server.host}"\nsmtp_port = {server.port}\n'
        f'smtp_security = "{security}"\n'
        f'smtp_username = "{server.username}"\nsmtp_password = "{server.password}"\n'
        'imap_host = "127.0.0.1"\nimap_username = "tandem"\nimap_password = "x"\n' + trust
    )
    path = tmp_path / "tandem.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, {}).platform(EmailConfig)


def letter() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "tandem@maple.example"
    mail["To"] = "dana@example.org"
    mail["Subject"] = "Sam's day"
    mail.set_content("Sam read two chapters today.")
    return mail


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_a_letter_goes_out_encrypted_trusting_the_schools_ca(
    tmp_path: Path,
    mail_certificates: TestCertificates,
    smtp_server: SmtpServer,
    tls_server: SmtpServer,
    security: str,
) -> None:
    server = tls_server if security == "tls" else smtp_server
    pool = SmtpPool(config(tmp_path, server, security, ca_file(mail_certificates, tmp_path)))

    await pool.send(letter(), "dana@example.org")
    await pool.close()

    [received] = server.messages
    assert received.recipients == ("dana@example.org",)
    assert b"Sam read two chapters today." in received.data


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_without_the_schools_ca_the_server_is_not_trusted_and_nothing_is_sent(
    tmp_path: Path, smtp_server: SmtpServer, tls_server: SmtpServer, security: str
) -> None:
    server = tls_server if security == "tls" else smtp_server
    pool = SmtpPool(config(tmp_path, server, security, ca=None))

    refused = (aiosmtplib.SMTPException, ssl.SSLError)
    with pytest.raises(refused, match="CERTIFICATE_VERIFY_FAILED"):
        await pool.send(letter(), "dana@example.org")
    await pool.close()

    assert server.messages == []
