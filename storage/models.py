"""SQLModel tables: the record of truth (DESIGN.md section 3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database; SQLite stores them naive, so we re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        # A week's summaries read a million of these: one C call a value, not three calls.
        if dialect.name == "sqlite":
            return _utc_from_sqlite
        if dialect.driver == "asyncpg":  # timestamptz arrives aware, in UTC already
            return None
        return super().result_processor(dialect, coltype)


def _utc_from_sqlite(value: str | None) -> datetime | None:
    """SQLite's stored text (`2026-11-30 14:05:00.000000`, UTC) as an aware datetime."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text with an offset of its own, written by hand or by another tool
        return datetime.fromisoformat(value).astimezone(UTC)


class Platform(StrEnum):
    TELEGRAM = "telegram"
    SLACK = "slack"
    EMAIL = "email"
    CONSOLE = "console"


class Role(StrEnum):
    TEACHER = "teacher"
    PARENT = "parent"
    ADMIN = "admin"


class Delivery(StrEnum):
    INSTANT = "instant"
    WEEKLY = "weekly"


class EntryKind(StrEnum):
    WIN = "win"
    CONCERN = "concern"
    NOTE = "note"
    QUESTION = "question"
    ANSWER = "answer"
    URGENT = "urgent"


class Setting(StrEnum):
    SCHOOL = "school"
    HOME = "home"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    # Dropped unsent at delivery: the person had left the student's team (`last_error` says so).
    CANCELLED = "cancelled"


class AccessAction(StrEnum):
    VIEW = "view"
    EXPORT = "export"
    SHARE = "share"
    DENIED = "denied"
    DELETE = "delete"
    AMEND = "amend"
    TEAM = "team"  # who may see the record changed: an invite, a join, a removal...


class Via(StrEnum):
    """How an access-log row's actor acted: in chat, or as the school's operator at the CLI."""

    CHAT = "chat"
    CLI = "cli"


class Read(StrEnum):
    """What a `view` row read."""

    LOG = "log"
    WEEK = "week"
    RECORD = "record"
    GOALS = "goals"
    PROGRESS = "progress"  # /progress: the charts
    REPORT = "report"  # a progress report, in chat or by `tandem report`
    QUESTIONS = "questions"


class ExportFormat(StrEnum):
    MD = "md"
    CSV = "csv"
    JSON = "json"


class TeamChange(StrEnum):
    """What a `team` row says changed about who may see a student's record."""

    INVITED = "invited"  # an invite was made (subject: none yet; role: the invite's)
    REVOKED = "revoked"  # an unused invite was withdrawn (role: the invite's)
    JOINED = "joined"  # an invite was redeemed (subject: who joined)
    REMOVED = "removed"
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"
    MERGED = "merged"  # two people became one (subject: the one kept)
    ADMIN_ADDED = "admin_added"
    ADMIN_REMOVED = "admin_removed"


def utc_field(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ..., sa_type=UTCDateTime, nullable=nullable, index=index
    )


class School(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(200), unique=True)
    timezone: str = Field(sa_type=String(64))
    language: str = Field(default="en", sa_type=String(8))


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(sa_type=String(200))
    language: str = Field(default="en", sa_type=String(8))
    timezone: str | None = Field(default=None, sa_type=String(64))
    quiet_hours: str | None = Field(default=None, sa_type=String(16))
    # Check-ins are skipped until then (`/pause`); None means not paused.
    paused_until: datetime | None = utc_field(nullable=True)
    # The platform letters go to (`/delivery email`), among the active accounts; None = the
    # first account made.
    delivery_platform: str | None = Field(default=None, sa_type=String(16))


class Account(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("platform", "workspace", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    platform: str = Field(sa_type=String(16))
    workspace: str = Field(default="", sa_type=String(64))
    external_id: str = Field(sa_type=String(64))
    dm_chat_id: str = Field(default="", sa_type=String(64))
    active: bool = True


class Student(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="school.id", index=True, ondelete="CASCADE")
    name: str = Field(sa_type=String(200))
    # Accent- and case-folded name, so names can be matched in SQL on both databases.
    name_key: str = Field(sa_type=String(200), index=True)
    archived: bool = False


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("person_id", "student_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    student_id: int = Field(foreign_key="student.id", index=True, ondelete="CASCADE")
    role: str = Field(sa_type=String(16))
    delivery: str = Field(default=Delivery.WEEKLY, sa_type=String(16))
    # When they joined the team; None for memberships older than the column that no invite
    # dates (migration 0007 fills in the rest from the invite they joined with).
    joined_at: datetime | None = utc_field(nullable=True)


class Admin(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("person_id", "school_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    school_id: int = Field(foreign_key="school.id", index=True, ondelete="CASCADE")


class Goal(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("student_id", "tag"),)

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="student.id", index=True, ondelete="CASCADE")
    tag: str = Field(sa_type=String(32))
    description: str = Field(sa_type=Text)
    active: bool = True
    # How progress on the goal is measured (bot.measures.MeasureKind), against what, by when;
    # None for a goal that is only a tag.
    measure: str | None = Field(default=None, sa_type=String(16))
    target: float | None = None
    baseline: float | None = None
    due_on: date | None = None


class Entry(SQLModel, table=True):
    __table_args__ = (
        Index("ix_entry_student_created", "student_id", "created_at"),
        Index("ix_entry_source", "source_platform", "source_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="student.id", ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    kind: str = Field(sa_type=String(16))
    setting: str = Field(sa_type=String(16))
    text: str = Field(sa_type=Text)
    mood: str | None = Field(default=None, sa_type=String(16))
    goal_id: int | None = Field(default=None, foreign_key="goal.id", ondelete="SET NULL")
    reply_to_id: int | None = Field(default=None, foreign_key="entry.id", ondelete="SET NULL")
    source_platform: str = Field(sa_type=String(16))
    source_ref: str = Field(default="", sa_type=String(128))
    # A photo or file kept by the platform (its file id), never the bytes.
    attachment_ref: str | None = Field(default=None, sa_type=String(256))
    created_at: datetime = utc_field()
    edited_at: datetime | None = utc_field(nullable=True)


class EntryRevision(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True, ondelete="CASCADE")
    text: str = Field(sa_type=Text)
    edited_at: datetime = utc_field()


class Measure(SQLModel, table=True):
    """The one measure a note carries on a goal (`6/10`, `80%`, `x3`, `12 min`, a prompt level)."""

    __table_args__ = (Index("ix_measure_goal_taken", "goal_id", "taken_at"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", unique=True, ondelete="CASCADE")
    goal_id: int = Field(foreign_key="goal.id", ondelete="CASCADE")
    # Kept on the row so a student's measures are charted, exported and forgotten together.
    student_id: int = Field(foreign_key="student.id", index=True, ondelete="CASCADE")
    setting: str = Field(sa_type=String(16))
    kind: str = Field(sa_type=String(16))
    value: float
    correct: int | None = None
    trials: int | None = None
    prompt: str | None = Field(default=None, sa_type=String(32))
    taken_at: datetime = utc_field()


class Translation(SQLModel, table=True):
    """An entry's words machine-translated into one language, kept per wording (`source_hash`
    of the text translated), so a note is translated once per language and again when edited."""

    __table_args__ = (UniqueConstraint("entry_id", "language", "source_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True, ondelete="CASCADE")
    language: str = Field(sa_type=String(16))
    source_hash: str = Field(sa_type=String(64))
    source_language: str = Field(sa_type=String(16))
    text: str = Field(sa_type=Text)
    created_at: datetime = utc_field()
    # Which service made it (`[translation] provider`); "" for those kept before it was noted.
    provider: str = Field(default="", sa_type=String(32), sa_column_kwargs={"server_default": ""})


class TranslationUsage(SQLModel, table=True):
    """Characters sent to a translation provider in one calendar month (UTC), for
    `[translation] monthly_char_limit`: one row every replica adds to."""

    __tablename__ = "translation_usage"

    provider: str = Field(primary_key=True, sa_type=String(32))
    month: str = Field(primary_key=True, sa_type=String(7))  # "2026-12"
    chars: int = Field(default=0, sa_type=BigInteger)


class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(sa_type=String(64), unique=True)
    school_id: int = Field(foreign_key="school.id", index=True, ondelete="CASCADE")
    student_id: int | None = Field(
        default=None, foreign_key="student.id", index=True, ondelete="CASCADE"
    )
    role: str = Field(sa_type=String(16))
    created_by: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    expires_at: datetime = utc_field()
    used_at: datetime | None = utc_field(nullable=True)
    used_by: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    # Whom a roster import meant the code for (the adult's name on the roster), so importing the
    # same file again makes no second invite; None for invites made one at a time.
    label: str | None = Field(default=None, sa_type=String(200))


class PendingAction(SQLModel, table=True):
    token: str = Field(primary_key=True, sa_type=String(64))
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    action: str = Field(sa_type=String(32))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    expires_at: datetime = utc_field()


class Outbox(SQLModel, table=True):
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_sent_ref", "account_id", "sent_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(sa_type=String(200), unique=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    # The student the message is about, so forgetting a student clears its queue too.
    student_id: int | None = Field(
        default=None, foreign_key="student.id", index=True, ondelete="CASCADE"
    )
    # The school it comes from, so the sender can take turns between schools: one school's
    # flood never holds up another's letters. None only for rows queued before it was kept.
    school_id: int | None = Field(default=None, foreign_key="school.id", ondelete="CASCADE")
    kind: str = Field(sa_type=String(32))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    not_before: datetime = utc_field()
    status: str = Field(default=OutboxStatus.PENDING, sa_type=String(16))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    claimed_by: str | None = Field(default=None, sa_type=String(64))
    claimed_until: datetime | None = utc_field(nullable=True)
    sent_at: datetime | None = utc_field(nullable=True)
    # The platform's reference of the delivered message, so a reply to it can be traced back.
    sent_ref: str | None = Field(default=None, sa_type=String(128))


class AccessLog(SQLModel, table=True):
    """Who did what to a student's record, as columns (bot/access.py writes and reads them)."""

    __table_args__ = (Index("ix_accesslog_student_at", "student_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field()
    actor_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    via: str = Field(default=Via.CHAT, sa_type=String(8))
    # Kept without a foreign key: the row outlives the student's deletion (see forgotten_id).
    student_id: int | None = Field(default=None, index=True)
    # The student's school; on a `team` row with no student, the whole school (admin rights).
    school_id: int | None = Field(default=None, index=True)
    action: str = Field(sa_type=String(16))  # AccessAction
    # Which of the action's kinds: a Read (view), an ExportFormat (export), the refused
    # access.Action (denied), an AmendmentStatus (amend), a TeamChange (team); "" for others.
    what: str = Field(default="", sa_type=String(32))
    entry_id: int | None = None
    amendment_id: int | None = None
    count: int | None = None  # notes read (/log N), parents a note was shared with
    # Whom a team change was about, and in which role.
    subject_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    role: str | None = Field(default=None, sa_type=String(16))
    # A `delete` row's student, by number only; student_id stays empty so that a later student
    # given the same number (SQLite may reuse it) does not inherit the row.
    forgotten_id: int | None = None
    # Written before migration 0006 in English words that did not parse into the columns.
    legacy_detail: str = Field(default="", sa_type=String(200))


class SeenEvent(SQLModel, table=True):
    platform: str = Field(primary_key=True, sa_type=String(16))
    event_id: str = Field(primary_key=True, sa_type=String(128))
    seen_at: datetime = utc_field(index=True)


class BotProfile(SQLModel, table=True):
    """What a platform says about our own bot (Telegram's getMe), for links made anywhere."""

    platform: str = Field(primary_key=True, sa_type=String(16))
    username: str = Field(sa_type=String(64))
    updated_at: datetime = utc_field()


class CodeGuess(SQLModel, table=True):
    """A wrong code sent from one platform account, so guessing codes can be limited."""

    __table_args__ = (
        Index("ix_codeguess_sender", "kind", "platform", "workspace", "external_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=String(16))  # what was guessed: "link"
    # The sender by platform id: a stranger has no person yet.
    platform: str = Field(sa_type=String(16))
    workspace: str = Field(default="", sa_type=String(64))
    external_id: str = Field(sa_type=String(64))
    at: datetime = utc_field()


class Acknowledgement(SQLModel, table=True):
    """Someone on the team tapped [Seen] on an urgent note."""

    __table_args__ = (UniqueConstraint("entry_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True, ondelete="CASCADE")
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    seen_at: datetime = utc_field()


class AmendmentStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Amendment(SQLModel, table=True):
    """A parent's request to correct an entry, and what the author or an admin decided."""

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id", index=True, ondelete="CASCADE")
    # Kept on the row so the student's requests can be listed, exported and forgotten together.
    student_id: int = Field(foreign_key="student.id", index=True, ondelete="CASCADE")
    requested_by: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    text: str = Field(sa_type=Text)
    requested_at: datetime = utc_field()
    status: str = Field(default=AmendmentStatus.PENDING, sa_type=String(16))
    decided_by: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    decided_at: datetime | None = utc_field(nullable=True)


class JobRun(SQLModel, table=True):
    """One run of a scheduled job for one occurrence (a school's check-in of one week): the
    replica that claimed it composes it, the others see the row and leave it."""

    job: str = Field(primary_key=True, sa_type=String(32))
    school_id: int = Field(primary_key=True)  # 0 for a job over every school (the purge)
    occurrence: str = Field(primary_key=True, sa_type=String(32))  # "2026-W48", "2026-11-26"
    worker: str = Field(sa_type=String(64))
    started_at: datetime = utc_field(index=True)


class EmailIdentity(SQLModel, table=True):
    """A person reached by email: their address and the secret reply address that proves them.

    The reply key is never stored: it is recomputed from `key_salt` and the app's secret key, and
    found again by `key_hash` (a keyed hash of it), so a database dump reveals neither. The email
    account's `external_id` is this row's id.
    """

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(sa_type=String(254), unique=True)  # lower-cased addr-spec
    key_salt: str = Field(sa_type=String(32))
    key_hash: str = Field(sa_type=String(64), unique=True)
    # The invite a reply to the invite letter redeems, sealed under the reply key; None once used.
    invite_sealed: str | None = Field(default=None, sa_type=String(128))
    # When a server refused the address for good (a 5xx, a bounce); None while it takes mail.
    unreachable_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field()


class EmailMessage(SQLModel, table=True):
    """A letter we sent or a message we took, by its Message-ID: threading, dedupe, and the
    buttons a reply may name ("GOOD")."""

    message_id: str = Field(primary_key=True, sa_type=String(255))
    identity_id: int | None = Field(
        default=None, foreign_key="emailidentity.id", index=True, ondelete="CASCADE"
    )
    outgoing: bool
    # A letter's buttons as [[reply word, token], ...]; empty for a message taken.
    buttons: list[list[str]] = Field(default_factory=list, sa_type=JSON)
    at: datetime = utc_field(index=True)


class EmailMailbox(SQLModel, table=True):
    """The last IMAP UID taken from one folder (per UIDVALIDITY), so nothing is taken twice."""

    folder: str = Field(primary_key=True, sa_type=String(200))
    uidvalidity: int = Field(primary_key=True, sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)
