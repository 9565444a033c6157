"""Email as a platform: letters out by SMTP, replies in from the school's mailbox.

`render` keeps a reply's words and buttons as a `Draft`; `post` addresses it to the person's
identity (adapters/email_identity.py), composes it (adapters/email_letters.py) and sends it
(adapters/email_smtp.py), keeping its Message-ID so a reply finds the letter and its buttons.
`take` turns a parsed mail into core events, only for a mail sent to a known reply key from
that person's own address: anything else is dropped with one log line and no answer.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage

from adapters import email_identity, email_smtp
from adapters.email_config import NAME, EmailConfig
from adapters.email_identity import Mailbox
from adapters.email_inbox import ImapInbox, ImapSettings
from adapters.email_letters import Draft, Envelope, compose, pressed, reply_words
from adapters.email_parse import InboundMail, MailKind, parse_mail
from adapters.kit import ChatAdapter, Verdict
from bot import blocked_notice
from bot.events import ButtonPress, Chat, Event, IncomingMessage, RecipientBlocked, Reply, Sender
from bot.i18n import Translator
from storage.models import EmailMessage as MessageRow
from storage.models import Platform
from storage.stores import Store
from storage.stores.email import MailboxMemory

log = logging.getLogger(__name__)

OVERSIZE_MEGABYTES = 20
MAX_MAIL_BYTES = OVERSIZE_MEGABYTES * 1024 * 1024
STOP_WORDS = frozenset({"stop", "unsubscribe"})


# What a verified sender hears about a mail that holds no note; others hear nothing.
_KIND_REPLIES = {
    MailKind.EMPTY: "email.empty",
    MailKind.OVERSIZE: "email.oversize",
    MailKind.MALFORMED: "email.unreadable",
}


class EmailAdapter(ChatAdapter[EmailConfig, Draft]):
    """Email through the kit: a chat is an email identity (its id), a message ref a Message-ID."""

    platform = NAME

    def _setup(self) -> None:
        self.smtp = email_smtp.SmtpPool(self.config)
        self._secret = self.dispatcher.settings.security.secret_key
        config = self.config
        self.inbox = ImapInbox(
            ImapSettings(
                host=config.imap_host,
                port=config.imap_port,
                security=config.imap_security,
                username=config.imap_username,
                password=config.imap_password,
                folder=config.imap_folder,
                poll_seconds=config.poll_seconds,
                max_message_bytes=MAX_MAIL_BYTES,
            ),
            ssl_context=config.imap_tls(),
        )
        self._stopping = asyncio.Event()
        self._reading: asyncio.Task[None] | None = None

    @staticmethod
    def render(reply: Reply) -> list[Draft]:
        return [Draft(reply.text, reply.buttons, reply.attachment)]

    @staticmethod
    def classify(error: Exception) -> Verdict | None:
        return email_smtp.classify(error)

    async def start(self) -> None:
        """Read the mailbox (IDLE, or polling) until stopped; SMTP connects with the first
        letter."""
        self._stopping.clear()
        memory = MailboxMemory(self.db)
        self._reading = asyncio.create_task(self.inbox.run(self.on_mail, memory, self._stopping))

    async def is_connected(self) -> bool:
        """Reading the mailbox: the loop running and logged in to the IMAP server."""
        reading = self._reading is not None and not self._reading.done()
        return reading and self.inbox.connected

    async def connect(self) -> None:
        """Nothing to log in to for sending only: SMTP connects with the first letter."""

    async def stop(self) -> None:
        """Finish the letter being read, then close the mailbox and the SMTP connections."""
        self._stopping.set()
        if self._reading is not None:
            await self._reading
            self._reading = None
        await self.smtp.close()

    # --- out ---

    async def send(
        self, chat_id: str, reply: Reply, *, patient: bool = True, thread: str | None = None
    ) -> str:
        """One letter, the file (a chart, a report) attached to it rather than sent apart."""
        return await self._post_all(chat_id, self.render(reply), thread, patient)

    async def post(self, chat: str, message: Draft, thread: str | None) -> str:
        async with self.db.session() as session:
            store = Store(session)
            found = await store.email.addressee(int(chat))
            if found is None or found[0].unreachable_at is not None:
                raise email_smtp.Unreachable(chat)
            identity, language = found
            mailbox = email_identity.open_mailbox(identity, self._secret)
            team = await store.email.teams_of(mailbox.id)
            letter = self._letter(mailbox, message, language, thread, team)
            await self._keep(store, mailbox, letter, message)
        await self.smtp.send(letter, identity.address)
        return str(letter["Message-ID"])

    async def post_letter(
        self, mailbox: Mailbox, draft: Draft, language: str | None, thread: str | None = None
    ) -> str:
        """Compose and send one letter to an identity; its Message-ID, kept with its buttons."""
        async with self.db.session() as session:
            store = Store(session)
            team = await store.email.teams_of(mailbox.id)
            letter = self._letter(mailbox, draft, language, thread, team)
            await self._keep(store, mailbox, letter, draft)
        await self.smtp.send(letter, mailbox.identity.address)
        return str(letter["Message-ID"])

    def _letter(
        self,
        mailbox: Mailbox,
        draft: Draft,
        language: str | None,
        thread: str | None,
        team: tuple[list[str], list[str]],
    ) -> EmailMessage:
        schools, roles = team
        envelope = Envelope(
            to=mailbox.identity.address,
            from_address=self.config.from_address,
            reply_to=self.config.reply_address(mailbox.key),
            school=", ".join(schools) or self.dispatcher.settings.school.name,
            roles=tuple(roles),
            language=language or self.dispatcher.settings.school.language,
            in_reply_to=thread,
        )
        now = self.dispatcher.clock.now()
        return compose(draft, envelope, self.config.message_id_domain, now)

    async def _keep(
        self, store: Store, mailbox: Mailbox, letter: EmailMessage, draft: Draft
    ) -> None:
        """Keep a letter's Message-ID and reply words before it is sent: kept after, a slow
        database could make the outbox give up on a letter already out, and send it twice."""
        words = reply_words(draft.buttons)
        buttons = [[word, button.token] for word, button in zip(words, draft.buttons, strict=True)]
        await store.email.add_message(
            MessageRow(
                message_id=str(letter["Message-ID"]),
                identity_id=mailbox.id,
                outgoing=True,
                buttons=buttons,
                at=self.dispatcher.clock.now(),
            )
        )

    async def update(self, chat: str, message_id: str, message: Draft) -> None:
        raise email_smtp.CannotEdit(message_id)

    async def _deactivate(self, chat: str) -> None:
        async with self.db.session() as session:
            store = Store(session)
            identity = await store.email.identity(int(chat))
            if identity is not None:
                await store.email.mark_unreachable([identity.address], self.dispatcher.clock.now())
        log.info("email: the server refused identity %s for good; marked unreachable", chat)

    # --- in ---

    async def on_mail(self, uid: int, raw: bytes) -> None:
        """The inbox's handler: one raw letter, read and taken."""
        mail = parse_mail(
            raw, self.config.reply_domain, self.config.message_id_domain, max_bytes=MAX_MAIL_BYTES
        )
        await self.take(mail)

    async def take(self, mail: InboundMail) -> None:
        """One mail from the inbox, to its end: handled, answered, or dropped with a log line.

        Idempotent by Message-ID: the dispatcher dedupes notes, and a kind answer is sent once.
        """
        kind = mail.kind
        if kind is MailKind.BOUNCE:
            await self._bounced(mail)
            return
        if kind in (MailKind.AUTO_REPLY, MailKind.OWN):
            log.info("email %s: %s, ignored", mail.message_id, kind)
            return
        mailbox = await self._verify(mail)
        if mailbox is None:
            return
        if kind in _KIND_REPLIES:
            await self._kind_reply(mail, mailbox, _KIND_REPLIES[kind])
        elif mail.text.strip().casefold().strip(".!") in STOP_WORDS:
            await self._stop(mail, mailbox)
        else:
            for event in await self._events(mail, mailbox):
                replies = await self.dispatcher.dispatch(event)
                try:
                    await self.answer(str(mailbox.id), replies, thread=mail.message_id)
                except RecipientBlocked:
                    # Taken, but the address takes no mail (STOP, a bounce): raising would have
                    # the inbox hand the same letter over again and again.
                    log.info("email %s: taken; its sender is unreachable", mail.message_id)
            await self._joined(mailbox)

    async def _verify(self, mail: InboundMail) -> Mailbox | None:
        if not mail.reply_key:
            log.info("email %s: sent to no reply key; dropped", mail.message_id)
            return None
        async with self.db.session() as session:
            found = await email_identity.find(
                Store(session), self._secret, mail.reply_key, mail.from_address
            )
        if found is None:
            # An unknown key, or a known key from another address: a forgery or a forward.
            log.info("email %s: reply key and sender do not match; dropped", mail.message_id)
        return found

    async def _events(self, mail: InboundMail, mailbox: Mailbox) -> list[Event]:
        sender = Sender(Platform.EMAIL, "", str(mailbox.id), display_name=mailbox.identity.address)
        chat = Chat(str(mailbox.id))
        event_id = f"mail:{mail.message_id}"[:128]
        if mailbox.identity.invite_sealed:
            code = email_identity.unseal(mailbox.identity.invite_sealed, mailbox.key)
            return [IncomingMessage(sender, chat, f"/start {code}", event_id, mail.message_id)]
        buttons = await self._buttons_of(mail.in_reply_to, mailbox)
        chosen = pressed(mail.text, buttons) if buttons else None
        attachment = _attachment_ref(mail)
        if chosen is not None:
            token, rest = chosen
            events: list[Event] = [ButtonPress(sender, chat, token, f"{event_id}:button"[:128])]
            if rest or attachment:
                events.append(
                    IncomingMessage(sender, chat, rest, event_id, mail.message_id, None, attachment)
                )
            return events
        message = IncomingMessage(
            sender, chat, mail.text, event_id, mail.message_id, mail.in_reply_to, attachment
        )
        return [message]

    async def _buttons_of(self, message_id: str | None, mailbox: Mailbox) -> list[list[str]]:
        if not message_id:
            return []
        async with self.db.session() as session:
            letter = await Store(session).email.message(message_id)
        if letter is None or not letter.outgoing or letter.identity_id != mailbox.id:
            return []
        return letter.buttons

    async def _joined(self, mailbox: Mailbox) -> None:
        """Once the invite is redeemed, its sealed code is no longer kept."""
        if not mailbox.identity.invite_sealed:
            return
        async with self.db.session() as session:
            store = Store(session)
            if await store.email.account_of(mailbox.id) is None:
                return  # the code was refused (expired, used): kept for the log of what came
            identity = await store.email.identity(mailbox.id)
            if identity is not None:
                identity.invite_sealed = None
                await store.email.save(identity)

    async def _kind_reply(self, mail: InboundMail, mailbox: Mailbox, key: str) -> None:
        async with self.db.session() as session:
            store = Store(session)
            if await store.email.message(mail.message_id) is not None:
                return  # answered once already
            account = await store.email.account_of(mailbox.id)
            person = await store.people.get(account.person_id) if account else None
        language = person.language if person else self.dispatcher.settings.school.language
        text = Translator(language)(key, megabytes=OVERSIZE_MEGABYTES)
        await self.post_letter(mailbox, Draft(text), language, mail.message_id)
        async with self.db.session() as session:
            await Store(session).email.add_message(
                MessageRow(
                    message_id=mail.message_id,
                    identity_id=mailbox.id,
                    outgoing=False,
                    at=self.dispatcher.clock.now(),
                )
            )

    async def _stop(self, mail: InboundMail, mailbox: Mailbox) -> None:
        """STOP (or the List-Unsubscribe mail): no more letters to this address."""
        await self._kind_reply(mail, mailbox, "email.stopped")
        async with self.db.session() as session:
            await Store(session).email.mark_unreachable(
                [mailbox.identity.address], self.dispatcher.clock.now()
            )

    async def _bounced(self, mail: InboundMail) -> None:
        """The addresses a delivery report proves failed: unreachable, their admins told once.

        Proof is a letter Tandem sent to that address among the report's returned Message-IDs:
        anyone can write a report naming a family's address, not one quoting our letter to it.
        """
        now = self.dispatcher.clock.now()
        async with self.db.session() as session:
            store = Store(session)
            proven = await store.email.sent_to(mail.returned_ids, mail.bounced_addresses)
            marked = await store.email.mark_unreachable(proven, now)
            for identity_id in marked:
                account = await store.email.account_of(identity_id)
                if account is not None:
                    quiet = self.dispatcher.settings.schedule.quiet_hours
                    await blocked_notice.tell_admins(store, account, now, quiet)
        unproven = len(mail.bounced_addresses) - len(proven)
        log.info(
            "email %s: a bounce; %d address(es) marked unreachable, %d without a letter of ours"
            " (ignored)",
            mail.message_id,
            len(marked),
            unproven,
        )


def _attachment_ref(mail: InboundMail) -> str | None:
    """The mail's files as a reference (the mailbox keeps them), never their bytes."""
    if not mail.attachments:
        return None
    names = ", ".join(attachment.filename for attachment in mail.attachments)
    return f"mail:{mail.message_id} {names}"[:256]


__all__ = ["EmailAdapter"]
