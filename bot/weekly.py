"""Week maths and the composition of a student's week."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from storage.models import Entry, EntryKind, Setting


def week_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Monday 00:00 to next Monday 00:00 in the school's timezone, as aware datetimes."""
    local = now.astimezone(ZoneInfo(timezone))
    monday = (local - timedelta(days=local.weekday())).date()
    start = datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(timezone))
    nxt = monday + timedelta(days=7)
    return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(timezone))


def format_when(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %H:%M")


def entry_line(entry: Entry, author: str, timezone: str, t: Translator) -> str:
    """`Tue 25 Nov 14:05 · Win · Ms. Ortiz: read a whole page aloud`"""
    edited = f" {t('entry.edited_mark')}" if entry.edited_at else ""
    photo = f" {t('entry.photo_mark')}" if entry.attachment_ref else ""
    return t("entry.line", when=format_when(entry.created_at, timezone),
             kind=t(f"kind.{entry.kind}").capitalize(), author=author or t("entry.former_member"),
             text=entry.text, marks=f"{photo}{edited}")


# The order a week is told in: strengths first.
WEEK_SECTIONS: tuple[tuple[str, EntryKind | None, Setting | None], ...] = (
    ("week.wins", EntryKind.WIN, None),
    ("week.concerns", EntryKind.CONCERN, None),
    ("week.urgent", EntryKind.URGENT, None),
    ("week.from_home", EntryKind.NOTE, Setting.HOME),
    ("week.from_school", EntryKind.NOTE, Setting.SCHOOL),
    ("week.questions", EntryKind.QUESTION, None),
    ("week.answers", EntryKind.ANSWER, None),
)


def compose_week(student: str, entries: Sequence[tuple[Entry, str]], timezone: str,
                 start: datetime, t: Translator) -> str:
    """The week so far, grouped with wins first; an empty week says so kindly."""
    title = t("week.title", student=student, start=start.strftime("%d %b"))
    if not entries:
        return f"{title}\n{t('week.empty', student=student)}"
    parts = [title]
    for key, kind, setting in WEEK_SECTIONS:
        lines = [entry_line(entry, author, timezone, t) for entry, author in entries
                 if entry.kind == kind and (setting is None or entry.setting == setting)]
        if lines:
            parts.append(f"\n{t(key, count=len(lines))}")
            parts.extend(f"• {line}" for line in lines)
    return "\n".join(parts)
