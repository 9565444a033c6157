"""Reading received letters: each bad input the email issue lists ends in a clear kind."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.email_parse import (
    AttachmentRef,
    InboundMail,
    MailKind,
    oversize_stub,
    parse_mail,
)

REPLY_DOMAIN = "maple.example"
OWN_DOMAIN = "tandem.maple.example"
KEY = "Zk3q9XbT_r2LmN0pQ-vW8a"
TANDEM_LETTER_ID = "<checkin-41@tandem.maple.example>"
QUOTED = (
    "\n\nOn Mon, Nov 30, 2026 at 3:00 PM Tandem <tandem@maple.example> wrote:\n"
    "> How was Sam's day? Reply GOOD, MIXED or TOUGH.\n> \n> Why you get this: ...\n"
)


def letter(
    body: str = "+ Sam read a whole page aloud" + QUOTED,
    *,
    to: str = f"Tandem <tandem+{KEY}@{REPLY_DOMAIN}>",
    sender: str = "Dana Rivera <Dana.Rivera@Example.org>",
    subject: str = "Re: How was Sam's day?",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mail.example.org")
    message["In-Reply-To"] = TANDEM_LETTER_ID
    message["References"] = f"<invite-1@tandem.maple.example> {TANDEM_LETTER_ID}"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def parse(raw: bytes | EmailMessage, **options: int) -> InboundMail:
    data = raw if isinstance(raw, bytes) else raw.as_bytes()
    return parse_mail(data, REPLY_DOMAIN, OWN_DOMAIN, **options)


def test_a_reply_is_a_note_of_its_new_text_with_key_sender_and_thread() -> None:
    message = letter()

    mail = parse(message)

    assert mail.kind is MailKind.NOTE
    assert mail.text == "+ Sam read a whole page aloud"
    assert mail.reply_key == KEY
    assert mail.from_address == "dana.rivera@example.org"
    assert mail.message_id == message["Message-ID"]
    assert mail.in_reply_to == TANDEM_LETTER_ID
    assert mail.references == ("<invite-1@tandem.maple.example>", TANDEM_LETTER_ID)
    assert mail.attachments == ()


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("GOOD\n\n-- \nDana Rivera\nSam's mom", "GOOD"),
        ("MIXED\n\nSent from my iPhone" + QUOTED, "MIXED"),
        (
            "- rough morning\n- cried at drop off\n\nThanks,\nDana",
            "- rough morning\n- cried at drop off",
        ),
        (
            "+ Sam comió todo\n\nEl lun, 30 nov 2026 a las 15:00, Tandem <t@maple.example> "
            "escribió:\n> ¿Cómo fue el día?",
            "+ Sam comió todo",
        ),
        (
            "TOUGH\n\nFrom: Tandem <tandem@maple.example>\nSent: Monday, November 30, 2026\n"
            "To: Dana Rivera\nSubject: How was Sam's day?\n\nHow was Sam's day?",
            "TOUGH",
        ),
    ],
)
def test_signatures_and_quoted_history_are_left_out(body: str, text: str) -> None:
    assert parse(letter(body)).text == text


def test_a_flowed_reply_from_a_phone_is_one_line_again() -> None:
    head = letter().as_bytes().split(b"\n\n")[0].split(b"\nContent-Type")[0]
    raw = head + (
        b'\nContent-Type: text/plain; charset="utf-8"; format=flowed\n\n'
        b"+ Sam read a whole page aloud today and then \nasked for another book.\n\n"
        b"On Mon, Nov 30, 2026, Tandem <tandem@maple.example> wrote:\n"
        b"> How was Sam's day? Reply GOOD, MIXED \n> or TOUGH.\n"
    )

    mail = parse(raw)

    assert mail.text == "+ Sam read a whole page aloud today and then asked for another book."


def test_a_long_paragraph_starting_with_on_is_kept_whole() -> None:
    # Phones send a paragraph as one line; it must not be taken for an "On ... wrote:" line.
    paragraph = "On Monday Sam " + "read with his brother and " * 400 + "smiled."

    mail = parse(letter(paragraph + QUOTED))

    assert mail.text == paragraph


@pytest.mark.parametrize(
    "body",
    [
        QUOTED.strip(),
        "\n\n" + QUOTED,
        "-- \nDana Rivera\nSam's mom",
        "",
    ],
)
def test_a_reply_with_only_quoted_text_or_a_signature_is_empty(body: str) -> None:
    mail = parse(letter(body))

    assert (mail.kind, mail.text) == (MailKind.EMPTY, "")
    assert mail.reply_key == KEY  # still known, so the caller can answer kindly


def test_a_20_mb_message_is_oversize_and_keeps_who_sent_it() -> None:
    message = letter()
    message.add_attachment(b"\xff" * 20_000_000, maintype="video", subtype="mp4", filename="a.mp4")

    mail = parse(message)

    assert mail.kind is MailKind.OVERSIZE
    assert (mail.reply_key, mail.from_address) == (KEY, "dana.rivera@example.org")
    assert mail.text == ""


def test_the_inbox_stub_of_a_letter_it_did_not_download_is_oversize() -> None:
    headers = letter().as_bytes().split(b"\n\n")[0]

    mail = parse(oversize_stub(headers, 25_000_000))

    assert mail.kind is MailKind.OVERSIZE
    assert mail.reply_key == KEY


def test_html_only_mail_becomes_plain_text_without_its_quoted_part() -> None:
    message = letter()
    message.set_content(
        "<html><head><style>p {color: red}</style></head><body>"
        "<div dir='ltr'>+ Sam &amp; Maya <b>shared</b> the blocks<br>#social</div>"
        "<div class='gmail_quote'><div>On Mon, Tandem wrote:</div>"
        "<blockquote>How was <i>Sam's</i> day?</blockquote></div></body></html>",
        subtype="html",
    )

    mail = parse(message)

    assert mail.kind is MailKind.NOTE
    assert mail.text == "+ Sam & Maya shared the blocks\n#social"


def test_an_outlook_html_reply_leaves_out_the_letter_below_its_marker() -> None:
    message = letter()
    message.set_content(
        "<html><body><div>GOOD</div><div>He loved the field trip.</div>"
        "<hr><div id='divRplyFwdMsg' dir='ltr'><b>From:</b> Tandem<br><b>Sent:</b> Monday</div>"
        "<div>How was Sam's day? Reply GOOD, MIXED or TOUGH.</div></body></html>",
        subtype="html",
    )

    assert parse(message).text == "GOOD\nHe loved the field trip."


def test_a_message_in_an_unknown_charset_is_still_read() -> None:
    raw = letter().as_bytes().split(b"\n\n")[0].replace(b'charset="utf-8"', b"")
    raw = raw.replace(b"Content-Type: text/plain", b"Content-Type: text/plain; charset=x-klingon")
    raw = raw.replace(b"Content-Transfer-Encoding: 7bit", b"Content-Transfer-Encoding: 8bit")
    raw += "\n\n+ Sam dijo «adiós» en clase\n".encode()

    mail = parse(raw)

    assert mail.kind is MailKind.NOTE
    assert mail.text == "+ Sam dijo «adiós» en clase"


def test_a_declared_charset_is_decoded() -> None:
    message = letter()
    message.set_content("+ Sam a réussi à écrire «été»", charset="iso-8859-1", cte="8bit")

    assert parse(message).text == "+ Sam a réussi à écrire «été»"


def broken_tree(body: bytes) -> bytes:
    head = letter().as_bytes().split(b"\n\n")[0].split(b"\nContent-Type")[0]
    return head + b'\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n\n' + body


def test_a_malformed_mime_tree_with_readable_text_is_a_best_effort_note() -> None:
    # The closing boundary is missing and a part has no headers of its own.
    raw = broken_tree(b"--b1\nContent-Type: text/plain\n\n+ Sam counted to 20\n--b1\n\nstray")

    mail = parse(raw)

    assert mail.kind is MailKind.NOTE
    assert mail.text.startswith("+ Sam counted to 20")


def test_a_malformed_mime_tree_with_nothing_readable_is_malformed() -> None:
    raw = broken_tree(b"no boundary ever appears here\n")
    no_boundary = raw.replace(b'; boundary="b1"', b"")

    assert parse(raw).kind is MailKind.MALFORMED
    assert parse(no_boundary).kind is MailKind.MALFORMED


def test_the_same_message_twice_has_the_same_message_id() -> None:
    raw = letter().as_bytes()
    without_id = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"Message-ID"))

    assert parse(raw).message_id == parse(raw).message_id
    assert parse(without_id).message_id == parse(without_id).message_id
    assert parse(without_id).message_id != parse(without_id + b"more").message_id


def test_our_own_letter_returned_is_own() -> None:
    by_header = letter(X_Tandem="checkin")
    by_id = letter()
    by_id.replace_header("Message-ID", "<checkin-41@Tandem.Maple.Example>")

    assert parse(by_header).kind is MailKind.OWN
    assert parse(by_id).kind is MailKind.OWN


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Auto_Submitted": "auto-generated"},
        {"X_Autoreply": "yes"},
        {"X_Autorespond": "Out of office"},
        {"Precedence": "bulk"},
        {"Precedence": "auto_reply"},
        {"Precedence": "junk"},
        {"subject": "Out of Office: How was Sam's day?"},
        {"subject": "Automatic reply: How was Sam's day?"},
        {"subject": "Respuesta automática: ¿Cómo fue el día?"},
        {"subject": "Fuera de la oficina"},
        {"subject": "Réponse automatique : absent"},
        {"subject": "Abwesenheitsnotiz: Wie war der Tag?"},
        {"subject": "AW: Automatische Antwort"},
    ],
)
def test_auto_replies_are_recognised(headers: dict[str, str]) -> None:
    assert parse(letter("I am away until Monday.", **headers)).kind is MailKind.AUTO_REPLY


def test_auto_submitted_no_is_a_person_writing() -> None:
    assert parse(letter("GOOD", Auto_Submitted="no")).kind is MailKind.NOTE


@pytest.mark.parametrize("subject", ["Absence tomorrow", "Ausencia de Sam", "On vacation soon"])
def test_a_family_writing_that_the_child_is_away_is_not_a_robot(subject: str) -> None:
    mail = parse(letter("Sam has a doctor's appointment tomorrow.", subject=subject))

    assert mail.kind is MailKind.NOTE


def delivery_report(*recipients: tuple[str, str]) -> bytes:
    blocks = "".join(
        f"\nFinal-Recipient: rfc822; {address}\nAction: {action}\nStatus: 5.1.1\n"
        for address, action in recipients
    )
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
        "To: tandem@maple.example\nSubject: Undelivered Mail Returned to Sender\n"
        "Message-ID: <bounce-1@mx.example.org>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n'
        "--r\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
        "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n"
        f"{blocks}"
        "--r\nContent-Type: message/rfc822\n\nFrom: tandem@maple.example\nX-Tandem: checkin\n\nHi\n"
        "--r--\n"
    ).encode()


def test_a_delivery_report_is_a_bounce_naming_the_failed_addresses() -> None:
    raw = delivery_report(("Gone@Example.org", "failed"), ("late@example.org", "delayed"))

    mail = parse(raw)

    assert mail.kind is MailKind.BOUNCE
    assert mail.bounced_addresses == ("gone@example.org",)


def test_a_bounce_carries_the_message_ids_of_the_letter_that_came_back() -> None:
    returned = (
        "--r\nContent-Type: message/rfc822\n\nFrom: tandem@maple.example\nX-Tandem: checkin\n"
        "Message-ID: <ours-1@tandem.maple.example>\n\nHi\n"
    )
    headers_only = (
        "--r\nContent-Type: text/rfc822-headers\n\nFrom: tandem@maple.example\n"
        "Message-ID: <ours-2@tandem.maple.example>\n"
    )
    raw = delivery_report(("gone@example.org", "failed")).decode()
    raw = raw.replace(
        "--r\nContent-Type: message/rfc822\n\nFrom: tandem@maple.example\n"
        "X-Tandem: checkin\n\nHi\n",
        returned + headers_only,
    )
    raw = raw.replace("MIME-Version", "In-Reply-To: <ours-3@tandem.maple.example>\nMIME-Version")

    mail = parse(raw.encode())

    assert mail.kind is MailKind.BOUNCE
    assert mail.returned_ids == (
        "<ours-1@tandem.maple.example>",
        "<ours-2@tandem.maple.example>",
        "<ours-3@tandem.maple.example>",
    )


def test_a_bounce_quoting_nothing_returns_no_message_id() -> None:
    mail = parse(delivery_report(("gone@example.org", "failed")))

    assert mail.kind is MailKind.BOUNCE and mail.returned_ids == ()


def test_a_read_receipt_is_a_robot_not_a_bounce() -> None:
    raw = delivery_report(("dana@example.org", "failed")).replace(
        b"report-type=delivery-status", b"report-type=disposition-notification"
    )
    raw = raw.replace(b"message/delivery-status", b"message/disposition-notification")

    assert parse(raw).kind is MailKind.AUTO_REPLY


def test_attachments_are_kept_as_references_and_a_photo_alone_is_a_note() -> None:
    message = letter("")
    message.add_attachment(
        b"\x89PNG" + b"0" * 96, maintype="image", subtype="png", filename="tower.png"
    )

    mail = parse(message)

    assert mail.kind is MailKind.NOTE
    assert mail.attachments == (AttachmentRef("tower.png", "image/png", 100),)


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        (
            {
                "to": "Ms. Ortiz <ortiz@maple.example>",
                "Delivered_To": f"tandem+{KEY}@maple.example",
            },
            KEY,
        ),
        ({"to": "someone@maple.example", "Cc": f"TANDEM+{KEY}@MAPLE.EXAMPLE"}, KEY),
        ({"to": f"tandem+{KEY}@elsewhere.example"}, None),
        ({"to": f"tandem-{KEY}@maple.example"}, None),
        ({"to": "tandem@maple.example"}, None),
    ],
)
def test_the_reply_key_is_found_only_on_the_reply_domain(
    headers: dict[str, str], key: str | None
) -> None:
    assert parse(letter("GOOD", **headers)).reply_key == key


def test_a_letter_without_a_sender_is_malformed() -> None:
    message = letter("GOOD")
    del message["From"]

    assert parse(message).kind is MailKind.MALFORMED


def test_deeply_nested_parts_do_not_break_the_reader() -> None:
    depth = 3000
    head = b"From: dana@example.org\nMessage-ID: <deep@example.org>\nMIME-Version: 1.0\n"
    nest = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (n, n) for n in range(depth)
    )

    mail = parse(head + nest + b"Content-Type: text/plain\n\nhello\n")

    assert (mail.message_id, mail.from_address) == ("<deep@example.org>", "dana@example.org")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    mail = parse(raw)

    assert mail.message_id.startswith("<")
    assert isinstance(mail.kind, MailKind)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=2000),
    st.binary(min_size=1, max_size=200),
)
def test_a_real_letter_with_bytes_spliced_in_never_raises(at: int, junk: bytes) -> None:
    raw = letter().as_bytes()
    spliced = raw[:at] + junk + raw[at:]

    assert isinstance(parse(spliced).kind, MailKind)
