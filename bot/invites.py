"""Invite codes: random, stored hashed, single use, expiring."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot import access, spreadsheet
from bot.config import Settings
from storage.models import (
    Delivery,
    Invite,
    Person,
    Role,
    School,
    Student,
    TeamChange,
    Via,
)
from storage.stores import Store


def new_code() -> str:
    """More than 128 random bits, URL-safe so the code fits a Telegram deep link; never starting
    with `-`, which the roster's codes file would have to escape as a would-be formula."""
    while (code := secrets.token_urlsafe(17)).startswith(spreadsheet.FORMULA_START):
        pass
    return code


def hash_code(code: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), code.strip().encode(), hashlib.sha256).hexdigest()


async def invite_link(store: Store, settings: Settings, code: str) -> str | None:
    """The first link a platform makes for a code (a deep link that opens a chat with the bot and
    redeems it), with the name the platform gave the bot when its adapter last started."""
    for name, platform in settings.platforms.items():
        link = platform.invite_link(code, await store.bot_profile.username(name))
        if link:
            return link
    return None


@dataclass(frozen=True)
class NewInvite:
    code: str
    invite: Invite
    link: str | None


async def create_invite(
    store: Store,
    settings: Settings,
    now: datetime,
    school: School,
    student: Student | None,
    role: Role,
    created_by: int | None,
    label: str | None = None,
) -> NewInvite:
    assert school.id is not None
    code = new_code()
    invite = await store.invites.add(
        Invite(
            code_hash=hash_code(code, settings.security.secret_key),
            school_id=school.id,
            student_id=student.id if student else None,
            role=role,
            created_by=created_by,
            expires_at=now + timedelta(hours=settings.security.invite_ttl_hours),
            label=label,
        )
    )
    # Who may come to see the record is the record's business: the invite is in its log.
    via = Via.CHAT if created_by is not None else Via.CLI
    made = access.TeamChanged(TeamChange.INVITED, role=role)
    await store.records.add_access_log(access.to_row(made, now, created_by, via, student or school))
    # Adapters store the bot's username at start, so the CLI can link too.
    return NewInvite(code, invite, await invite_link(store, settings, code))


class Redemption(StrEnum):
    JOINED = "joined"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


async def check_invite(
    store: Store, settings: Settings, now: datetime, code: str
) -> tuple[Redemption, Invite | None]:
    invite = await store.invites.by_hash(hash_code(code, settings.security.secret_key))
    if invite is None:
        return Redemption.UNKNOWN, None
    if invite.used_at is not None:
        return Redemption.USED, invite
    if invite.expires_at <= now:
        return Redemption.EXPIRED, invite
    return Redemption.JOINED, invite


async def accept_invite(store: Store, now: datetime, invite: Invite, person: Person) -> bool:
    """Put the person where the invite says; False if the code was used in the meantime."""
    assert person.id is not None
    if not await store.invites.use(invite, person.id, now):
        return False
    about: Student | School | None
    if invite.role == Role.ADMIN:
        await store.students.add_admin(person.id, invite.school_id)
        about = await store.students.school(invite.school_id)
    elif invite.student_id is not None:
        await store.students.add_membership(
            person.id, invite.student_id, invite.role, Delivery.WEEKLY, joined_at=now
        )
        about = await store.students.get(invite.student_id)
    else:
        return True
    joined = access.TeamChanged(TeamChange.JOINED, person.id, Role(invite.role))
    await store.records.add_access_log(access.to_row(joined, now, person.id, Via.CHAT, about))
    return True
