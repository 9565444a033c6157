"""Email: the people reached by it, the messages by Message-ID, the mailbox's last UID."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from storage.db import Database
from storage.models import (
    Account,
    EmailIdentity,
    EmailMailbox,
    EmailMessage,
    Membership,
    Person,
    School,
    Student,
)
from storage.stores._sql import Queries, _table

EMAIL = "email"  # Account.platform of an email account


class EmailStore(Queries):
    """Email identities, messages and mailbox state."""

    async def add_identity(self, identity: EmailIdentity) -> EmailIdentity:
        return await self._add(identity)

    async def identity(self, identity_id: int) -> EmailIdentity | None:
        return await self.session.get(EmailIdentity, identity_id)

    async def identity_by_key(self, key_hash: str) -> EmailIdentity | None:
        statement = select(EmailIdentity).where(EmailIdentity.key_hash == key_hash)
        return (await self.session.exec(statement)).first()

    async def identity_by_address(self, address: str) -> EmailIdentity | None:
        statement = select(EmailIdentity).where(EmailIdentity.address == address.lower())
        return (await self.session.exec(statement)).first()

    async def identity_of(self, person_id: int) -> EmailIdentity | None:
        """The identity of a person's email account, if they have one."""
        statement = (
            select(EmailIdentity)
            .join(Account, col(Account.external_id) == _identity_ref())
            .where(col(Account.platform) == EMAIL, col(Account.person_id) == person_id)
        )
        return (await self.session.exec(statement)).first()

    async def addressee(self, identity_id: int) -> tuple[EmailIdentity, str | None] | None:
        """An identity and the language of the person it reaches (None before they joined),
        in one query: every letter asks it."""
        statement = (
            select(EmailIdentity, Person.language)
            .outerjoin(
                Account,
                (col(Account.platform) == EMAIL) & (col(Account.external_id) == _identity_ref()),
            )
            .outerjoin(Person, col(Person.id) == col(Account.person_id))
            .where(col(EmailIdentity.id) == identity_id)
        )
        row = (await self.session.exec(statement)).first()
        return (row[0], row[1]) if row is not None else None

    async def teams_of(self, identity_id: int) -> tuple[list[str], list[str]]:
        """The schools whose teams the person this identity reaches is on, and their roles
        there (sorted, each once): what a letter's "why you get this" line names."""
        statement = (
            select(School.name, Membership.role)
            .join(Student, col(Student.school_id) == col(School.id))
            .join(Membership, col(Membership.student_id) == col(Student.id))
            .join(Account, col(Account.person_id) == col(Membership.person_id))
            .where(col(Account.platform) == EMAIL, col(Account.external_id) == str(identity_id))
            .distinct()
        )
        rows = (await self.session.exec(statement)).all()
        return sorted({name for name, _ in rows}), sorted({role for _, role in rows})

    async def account_of(self, identity_id: int) -> Account | None:
        statement = select(Account).where(
            col(Account.platform) == EMAIL, col(Account.external_id) == str(identity_id)
        )
        return (await self.session.exec(statement)).first()

    async def save(self, identity: EmailIdentity) -> EmailIdentity:
        return await self._add(identity)

    async def mark_unreachable(self, addresses: Sequence[str], now: datetime) -> list[int]:
        """Mark these addresses unreachable and their accounts inactive; the ids of the
        identities newly marked."""
        wanted = [address.lower() for address in addresses]
        statement = select(EmailIdentity).where(
            col(EmailIdentity.address).in_(wanted), col(EmailIdentity.unreachable_at).is_(None)
        )
        marked = list((await self.session.exec(statement)).all())
        for identity in marked:
            identity.unreachable_at = now
            self.session.add(identity)
        ids = [identity.id for identity in marked if identity.id is not None]
        if ids:
            await self.session.exec(
                update(Account)
                .where(
                    col(Account.platform) == EMAIL,
                    col(Account.external_id).in_([str(i) for i in ids]),
                )
                .values(active=False)
            )
        await self.session.flush()
        return ids

    async def unreachable(self) -> Sequence[EmailIdentity]:
        """The addresses a server refused for good, for `tandem status`."""
        statement = (
            select(EmailIdentity)
            .where(col(EmailIdentity.unreachable_at).is_not(None))
            .order_by(col(EmailIdentity.address))
        )
        return (await self.session.exec(statement)).all()

    # --- messages by Message-ID ---

    async def add_message(self, message: EmailMessage) -> bool:
        """Keep a Message-ID; False if it was kept already (the same message, again)."""
        values = {
            "message_id": message.message_id,
            "identity_id": message.identity_id,
            "outgoing": message.outgoing,
            "buttons": message.buttons,
            "at": message.at,
        }
        postgres = self._dialect.name == "postgresql"
        insert_for = pg_insert if postgres else sqlite_insert
        statement = insert_for(_table(EmailMessage)).values(values).on_conflict_do_nothing()
        result = await self.session.exec(statement)
        return bool(result.rowcount)

    async def message(self, message_id: str) -> EmailMessage | None:
        return await self.session.get(EmailMessage, message_id)

    async def sent_to(self, message_ids: Sequence[str], addresses: Sequence[str]) -> list[str]:
        """Those of `addresses` that one of our letters `message_ids` went to (one query)."""
        if not message_ids or not addresses:
            return []
        statement = (
            select(EmailIdentity.address)
            .join(EmailMessage, col(EmailMessage.identity_id) == col(EmailIdentity.id))
            .where(
                col(EmailMessage.message_id).in_(message_ids),
                col(EmailMessage.outgoing).is_(True),
                col(EmailIdentity.address).in_([address.lower() for address in addresses]),
            )
            .distinct()
        )
        return list((await self.session.exec(statement)).all())

    # --- the mailbox ---

    async def last_uid(self, folder: str, uidvalidity: int) -> int:
        row = await self.session.get(EmailMailbox, (folder, uidvalidity))
        return row.last_uid if row is not None else 0

    async def remember_uid(self, folder: str, uidvalidity: int, uid: int) -> None:
        """Remember `uid` as taken, never going back to an older one."""
        row = await self.session.get(EmailMailbox, (folder, uidvalidity))
        if row is None:
            self.session.add(EmailMailbox(folder=folder, uidvalidity=uidvalidity, last_uid=uid))
        elif uid > row.last_uid:
            row.last_uid = uid
            self.session.add(row)
        await self.session.flush()


def _identity_ref() -> ColumnElement[str]:
    """EmailIdentity.id as the text Account.external_id holds."""
    return cast(col(EmailIdentity.id), String)


class MailboxMemory:
    """The inbox's `UidMemory`: each call in a transaction of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def last_uid(self, folder: str, uidvalidity: int) -> int:
        async with self._db.session() as session:
            return await EmailStore(session).last_uid(folder, uidvalidity)

    async def remember(self, folder: str, uidvalidity: int, uid: int) -> None:
        async with self._db.session() as session:
            await EmailStore(session).remember_uid(folder, uidvalidity, uid)
