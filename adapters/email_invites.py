"""An invite sent by email: replying to it joins the team (`tandem invite --email`, roster)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosmtplib

from adapters import email_identity
from adapters.email_config import EmailConfig
from adapters.email_letters import Draft, Envelope, compose
from adapters.email_smtp import SmtpPool
from bot.config import Settings
from bot.errors import CommandError, said
from bot.i18n import Translator
from bot.invites import NewInvite
from bot.roster_import import IssuedInvite
from storage.models import EmailMessage, Student
from storage.stores import Store

_ADDRESS_LIMIT = 254


def check_address(address: str) -> str:
    """A plain address (`dana@example.org`), lower-cased; a CommandError names what is wrong."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or len(address) > _ADDRESS_LIMIT or " " in address:
        raise CommandError(said("operator.email_not_address", address=repr(address)))
    return address


async def invite_by_email(
    store: Store,
    settings: Settings,
    code: str,
    address: str,
    student: str | None,
    now: datetime,
    smtp: SmtpPool | None = None,
    *,
    school: str | None = None,
    role: str | None = None,
) -> str:
    """Send the invite to `address` from its own reply address; the letter's Message-ID.

    The code travels sealed under the reply key: the reply itself redeems it.
    """
    config = settings.platform(EmailConfig)
    if not config.smtp_host:
        raise CommandError(said("operator.email_not_set_up"))
    secret = settings.security.secret_key
    mailbox = await email_identity.enrol(store, secret, check_address(address), now)
    # Someone already on Tandem by email redeems it by a reply just the same.
    mailbox.identity.invite_sealed = email_identity.seal(code, mailbox.key)
    await store.email.save(mailbox.identity)
    language = settings.school.language
    t = Translator(language)
    school = school or settings.school.name
    name = student or school
    draft = Draft(
        t("email.invite", school=school, student=name),
        subject=t("email.invite_subject", school=school, student=name),
    )
    envelope = Envelope(
        to=mailbox.identity.address,
        from_address=config.from_address,
        reply_to=config.reply_address(mailbox.key),
        school=school,
        roles=(role,) if role else (),
        language=language,
    )
    letter = compose(draft, envelope, config.message_id_domain, now)
    pool = smtp or SmtpPool(config, size=1)
    try:
        await pool.send(letter, mailbox.identity.address)
    finally:
        if smtp is None:
            await pool.close()
    message_id = str(letter["Message-ID"])
    await store.email.add_message(
        EmailMessage(message_id=message_id, identity_id=mailbox.id, outgoing=True, at=now)
    )
    return message_id


async def send_from_cli(
    store: Store,
    settings: Settings,
    new: NewInvite,
    address: str,
    student: Student | None,
    now: datetime,
) -> str:
    """`tandem invite --email`: the address the invite went to; a CommandError if the mail
    server would not take it (the invite is then not kept)."""
    school = await store.students.school(new.invite.school_id)
    try:
        await invite_by_email(
            store,
            settings,
            new.code,
            address,
            student.name if student else None,
            now,
            school=school.name if school else None,
            role=new.invite.role,
        )
    except (OSError, aiosmtplib.SMTPException) as error:
        raise CommandError(said("operator.email_invite_refused", why=error)) from None
    return check_address(address)


async def send_roster_invites(
    store: Store,
    settings: Settings,
    issued: Sequence[IssuedInvite],
    now: datetime,
    school: str | None = None,
) -> int:
    """The roster's invites for adults with an email address, sent; how many. One refused by
    the mail server stops the import (nothing is kept), with the line it came from."""
    wanted = [invite for invite in issued if invite.row.email]
    if not wanted:
        return 0
    pool = SmtpPool(settings.platform(EmailConfig), size=1)
    try:
        for invite in wanted:
            try:
                await invite_by_email(
                    store,
                    settings,
                    invite.code,
                    invite.row.email,
                    invite.row.student,
                    now,
                    pool,
                    school=school,
                    role=invite.row.role,
                )
            except (OSError, aiosmtplib.SMTPException) as error:
                raise CommandError(
                    said(
                        "operator.email_roster_refused",
                        line=invite.row.line,
                        address=invite.row.email,
                        why=error,
                    )
                ) from None
    finally:
        await pool.close()
    return len(wanted)
