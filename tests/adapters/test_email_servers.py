"""The test mail servers themselves: what the email tests rely on really happens."""

from __future__ import annotations

import imaplib
import smtplib

import pytest

from tests.email_servers import DovecotServer, SmtpServer, TestCertificates, start_smtp_server

LETTER = b"From: tandem@maple.example\r\nTo: dana@example.org\r\nSubject: Today\r\n\r\nHello\r\n"


def test_smtp_server_keeps_envelope_and_bytes_after_starttls_and_login(
    smtp_server: SmtpServer,
) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.starttls(context=smtp_server.client_context())
        client.login(smtp_server.username, smtp_server.password)
        client.sendmail("tandem@maple.example", ["dana@example.org"], LETTER)

    [mail] = smtp_server.messages
    assert (mail.mail_from, mail.recipients) == ("tandem@maple.example", ("dana@example.org",))
    assert mail.data.endswith(b"Hello\r\n")


def test_smtp_server_refuses_for_a_while_then_accepts(smtp_server: SmtpServer) -> None:
    smtp_server.refuse_all(times=1)
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("tandem@maple.example", ["dana@example.org"], LETTER)
        client.sendmail("tandem@maple.example", ["dana@example.org"], LETTER)

    assert refused.value.recipients["dana@example.org"][0] == 451
    assert len(smtp_server.messages) == 1


def test_smtp_server_refuses_one_recipient_for_good(smtp_server: SmtpServer) -> None:
    smtp_server.refuse_recipient("gone@example.org")
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        refused = client.sendmail(
            "tandem@maple.example", ["gone@example.org", "dana@example.org"], LETTER
        )

    assert refused["gone@example.org"][0] == 550
    assert smtp_server.messages[0].recipients == ("dana@example.org",)


# aiosmtpd cannot tell that TLS from the first byte is TLS, and warns about AUTH without it.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_server_with_tls_from_the_start_requires_login(
    mail_certificates: TestCertificates,
) -> None:
    server = start_smtp_server(mail_certificates, implicit_tls=True, auth_required=True)
    try:
        with smtplib.SMTP_SSL(server.host, server.port, context=server.client_context()) as client:
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("tandem@maple.example", ["dana@example.org"], LETTER)
            client.login(server.username, server.password)
            client.sendmail("tandem@maple.example", ["dana@example.org"], LETTER)
    finally:
        server.stop()
    assert len(server.messages) == 1


def test_dovecot_delivers_keeps_mail_over_a_restart_and_refuses_a_wrong_password(
    dovecot: DovecotServer,
) -> None:
    mailbox = dovecot.add_user()
    uid = dovecot.deliver(LETTER, mailbox)
    dovecot.restart()

    assert dovecot.uids(mailbox) == [uid]
    assert dovecot.subjects(mailbox) == ["Today"]
    with pytest.raises(imaplib.IMAP4.error):
        imaplib.IMAP4(dovecot.host, dovecot.port).login(mailbox.username, "wrong")


def test_dovecot_speaks_imaps_with_the_test_certificate(dovecot: DovecotServer) -> None:
    context = dovecot.certificates.client_context()
    with imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=context) as imap:
        status, _ = imap.login(dovecot.mailbox.username, dovecot.mailbox.password)
    assert status == "OK"
