"""Week maths, and the story of a student's week: the summary and the check-in prompt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from storage.models import Entry, EntryKind, Goal, Setting, Student


class Mood(StrEnum):
    """How a parent says the week went at home (the check-in buttons)."""

    GOOD = "good"
    MIXED = "mixed"
    TOUGH = "tough"


def week_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Monday 00:00 to next Monday 00:00 in the school's timezone, as aware datetimes."""
    zone = ZoneInfo(timezone)
    monday = (now.astimezone(zone) - timedelta(days=now.astimezone(zone).weekday())).date()
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    after = monday + timedelta(days=7)
    return start, datetime(after.year, after.month, after.day, tzinfo=zone)


def iso_week(now: datetime, timezone: str) -> str:
    """`2026-W48`: the week a dedupe key or a check-in belongs to, in the school's timezone."""
    year, week, _ = now.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def format_when(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %H:%M")


def entry_line(entry: Entry, author: str, timezone: str, t: Translator) -> str:
    """`Tue 25 Nov 14:05 · Win · Ms. Ortiz: read a whole page aloud`"""
    return t("entry.line", when=format_when(entry.created_at, timezone),
             kind=t(f"kind.{entry.kind}").capitalize(), author=author or t("entry.former_member"),
             text=entry.text, marks=_marks(entry, t))


def _marks(entry: Entry, t: Translator) -> str:
    marks = ""
    mood = t(f"checkin.mood.{entry.mood}") if entry.mood else ""
    if mood and mood != entry.text:
        marks += f" ({mood})"
    if entry.attachment_ref:
        marks += f" {t('entry.photo_mark')}"
    if entry.edited_at:
        marks += f" {t('entry.edited_mark')}"
    return marks


def _short_line(entry: Entry, author: str, timezone: str, t: Translator) -> str:
    """`Mon · Dana (home): slept badly` — the summary's shorter line."""
    day = entry.created_at.astimezone(ZoneInfo(timezone)).strftime("%a")
    where = t(f"summary.setting.{entry.setting}")
    return t("summary.line", day=day, author=author or t("entry.former_member"), where=where,
             text=entry.text, marks=_marks(entry, t))


@dataclass(frozen=True)
class StudentWeek:
    """What the week holds for one student: the material of a summary."""

    student: Student
    entries: Sequence[tuple[Entry, str]]
    goals: Sequence[Goal] = ()
    open_questions: Sequence[tuple[Entry, str]] = ()


def _is_from_home(entry: Entry) -> bool:
    return entry.setting == Setting.HOME and entry.kind == EntryKind.NOTE


# The order a week is told in: strengths first, then what needs care, then home and questions.
_SECTIONS = (
    ("summary.wins", lambda e: e.kind == EntryKind.WIN),
    ("summary.concerns", lambda e: e.kind in (EntryKind.CONCERN, EntryKind.URGENT)),
    ("summary.from_home", _is_from_home),
    ("summary.from_school", lambda e: e.kind == EntryKind.NOTE and e.setting == Setting.SCHOOL),
)


def compose_summary(week: StudentWeek, start: datetime, timezone: str, t: Translator,
                    title_key: str = "summary.title") -> str:
    """The week as a story: wins first, then concerns, home, open questions, goals."""
    name = week.student.name
    title = t(title_key, student=name, start=start.astimezone(ZoneInfo(timezone)).strftime("%d %b"))
    entries = [(entry, author) for entry, author in week.entries
               if entry.kind not in (EntryKind.QUESTION, EntryKind.ANSWER)]
    if not entries and not week.open_questions:
        return f"{title}\n{t('summary.empty', student=name)}"
    parts = [title, _balance(entries, name, t)]
    for key, belongs in _SECTIONS:
        lines = [_short_line(e, a, timezone, t) for e, a in entries if belongs(e)]
        if lines:
            parts.append(f"\n{t(key, count=len(lines))}")
            parts.extend(f"• {line}" for line in lines)
    if week.open_questions:
        parts.append(f"\n{t('summary.questions', count=len(week.open_questions))}")
        parts.extend("• " + t("summary.question_line", number=e.id, author=a or
                              t("entry.former_member"), text=e.text)
                     for e, a in week.open_questions)
    counts = {goal.id: sum(1 for e, _ in entries if e.goal_id == goal.id) for goal in week.goals}
    if any(counts.values()):
        parts.append(f"\n{t('summary.goals')}")
        parts.extend("• " + t("summary.goal_line", tag=goal.tag, description=goal.description,
                              count=counts[goal.id]) for goal in week.goals if counts[goal.id])
    return "\n".join(parts)


def _balance(entries: Sequence[tuple[Entry, str]], name: str, t: Translator) -> str:
    """One kind sentence on the week's balance, strengths first."""
    wins = sum(1 for e, _ in entries if e.kind == EntryKind.WIN)
    concerns = sum(1 for e, _ in entries if e.kind in (EntryKind.CONCERN, EntryKind.URGENT))
    if wins and wins >= concerns:
        return t("summary.balance_bright", student=name, wins=wins, concerns=concerns)
    if concerns:
        return t("summary.balance_hard", student=name, wins=wins, concerns=concerns)
    return t("summary.balance_notes", student=name, notes=len(entries))
