"""Who a mail is from, proved by the secret address it was sent to, not by its From header.

Every person reached by email has a reply key: `tandem+<key>@reply_domain` is the Reply-To of
every letter they get. The key is 128 bits made from a random salt and the app's secret key; the
database keeps the salt and a keyed hash of the key (to find the person by it), never the key,
so a database dump without the secret key reveals no reply address. `rekey` draws a new salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from storage.models import EmailIdentity
from storage.stores import Store

_KEY = b"tandem email reply key\x00"
_LOOKUP = b"tandem email reply lookup\x00"
_SEAL = b"tandem email invite seal\x00"


def reply_key(secret_key: str, salt: str) -> str:
    """The 128-bit key of a salt, url-safe (22 characters)."""
    digest = hmac.new(secret_key.encode(), _KEY + salt.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def key_hash(secret_key: str, key: str) -> str:
    """What the database finds a key by."""
    return hmac.new(secret_key.encode(), _LOOKUP + key.encode(), hashlib.sha256).hexdigest()


def _stream(key: str, size: int) -> bytes:
    blocks = (hashlib.sha256(_SEAL + key.encode() + bytes([n])).digest() for n in range(8))
    return b"".join(blocks)[:size]


def seal(code: str, key: str) -> str:
    """An invite code sealed under the reply key: only a reply to that key opens it."""
    data = code.encode()
    if len(data) > 64:
        raise ValueError("invite code too long to seal")
    return bytes(a ^ b for a, b in zip(data, _stream(key, len(data)), strict=True)).hex()


def unseal(sealed: str, key: str) -> str:
    data = bytes.fromhex(sealed)
    return bytes(a ^ b for a, b in zip(data, _stream(key, len(data)), strict=True)).decode()


@dataclass(frozen=True)
class Mailbox:
    """A person's email identity with the key of their reply address."""

    identity: EmailIdentity
    key: str

    @property
    def id(self) -> int:
        assert self.identity.id is not None
        return self.identity.id


def open_mailbox(identity: EmailIdentity, secret_key: str) -> Mailbox:
    return Mailbox(identity, reply_key(secret_key, identity.key_salt))


async def enrol(store: Store, secret_key: str, address: str, now: datetime) -> Mailbox:
    """The identity of an address, made with a fresh key if it has none."""
    known = await store.email.identity_by_address(address)
    if known is not None:
        return open_mailbox(known, secret_key)
    salt = secrets.token_hex(16)
    key = reply_key(secret_key, salt)
    identity = await store.email.add_identity(
        EmailIdentity(
            address=address.lower(),
            key_salt=salt,
            key_hash=key_hash(secret_key, key),
            created_at=now,
        )
    )
    return Mailbox(identity, key)


async def rekey(store: Store, secret_key: str, identity: EmailIdentity) -> Mailbox:
    """A new reply key: letters sent before it can no longer be replied to."""
    pending = (
        unseal(identity.invite_sealed, reply_key(secret_key, identity.key_salt))
        if identity.invite_sealed
        else None
    )
    identity.key_salt = secrets.token_hex(16)
    key = reply_key(secret_key, identity.key_salt)
    identity.key_hash = key_hash(secret_key, key)
    identity.invite_sealed = seal(pending, key) if pending else None
    await store.email.save(identity)
    return Mailbox(identity, key)


async def find(store: Store, secret_key: str, key: str, from_address: str) -> Mailbox | None:
    """The identity a mail to `key` from `from_address` proves; None unless both match."""
    identity = await store.email.identity_by_key(key_hash(secret_key, key))
    if identity is None or not hmac.compare_digest(identity.address, from_address.lower()):
        return None
    return Mailbox(identity, key)
