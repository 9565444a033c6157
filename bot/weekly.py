"""Week maths, and the story of a student's week: the summary and the check-in prompt."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo

from bot import glossary
from bot.i18n import Translator, languages, translate
from bot.i18n.dates import weekdays
from bot.measure_words import MeasureFacts, measure_words, value_words
from bot.measures import MeasureKind
from bot.quoting import quote
from bot.translation import Rendering, Shown
from storage.models import Entry, EntryKind, Setting, Student


class EntryFacts(Protocol):
    """What a summary reads of an entry: an `Entry`, or a lighter row of a big week."""

    @property
    def id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def setting(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def mood(self) -> str | None: ...
    @property
    def goal_id(self) -> int | None: ...
    @property
    def attachment_ref(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def edited_at(self) -> datetime | None: ...


class GoalFacts(Protocol):
    """What a summary reads of a goal: a `Goal`, or a lighter row."""

    @property
    def id(self) -> int | None: ...
    @property
    def tag(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def measure(self) -> str | None: ...
    @property
    def target(self) -> float | None: ...
    @property
    def baseline(self) -> float | None: ...


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


def iso_week_bounds(week: str, timezone: str) -> tuple[datetime, datetime]:
    """The bounds (`week_bounds`) of the ISO week `2026-W48` in the school's timezone: what a
    letter keyed by its week (`iso_week`) reads, without keeping the bounds themselves."""
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    noon = datetime(monday.year, monday.month, monday.day, 12, tzinfo=ZoneInfo(timezone))
    return week_bounds(noon, timezone)


# Where the words of a list item's author start: under the text after the bullet ("• ").
BULLETED = "  "


def entry_line(
    entry: Entry,
    author: str,
    timezone: str,
    t: Translator,
    indent: str = BULLETED,
    translated: Rendering | None = None,
) -> str:
    """`Tue, Nov 25, 2:05 PM · Win · Ms. Ortiz:` and, quoted below, `read a whole page aloud`
    (`indent`: the quote's, under a list's bullet; `translated`: as the reader sees it)."""
    shown = translated.text if translated else shown_text(entry, t)
    return t(
        "entry.line",
        when=t.moment(entry.created_at, timezone),
        kind=t(f"kind.{entry.kind}").capitalize(),
        author=author or t("entry.former_member"),
        text=quote(shown, indent),
        marks=_marks(entry, t) + translation_mark(translated, entry.id, t),
    )


def translation_mark(rendering: Rendering | None, entry_id: int | None, t: Translator) -> str:
    """What follows the author's name: machine-made, or not translated after all."""
    if rendering is None or rendering.shown is Shown.ORIGINAL:
        return ""
    if rendering.shown is Shown.TRANSLATED:
        return " " + t("entry.translated_mark", number=entry_id)
    if rendering.shown is Shown.OVER_LIMIT:
        return " " + t("entry.over_limit_mark")
    return " " + t("entry.untranslated_mark")


@cache
def _mood_words() -> frozenset[str]:
    """Each mood in every language: what a check-in tap logs, in the words of whoever tapped."""
    return frozenset(
        translate(language, f"checkin.mood.{mood}") for language in languages() for mood in Mood
    )


def mood_only(entry: EntryFacts) -> bool:
    """A check-in tap's words, which every reader reads in their own language already."""
    return bool(entry.mood) and entry.text in _mood_words()


def shown_text(entry: EntryFacts, t: Translator) -> str:
    """The entry as written; a check-in tap wrote no words of its own, so it reads in `t`'s."""
    if entry.mood and entry.text in _mood_words():
        return t(f"checkin.mood.{entry.mood}")
    return entry.text


def _marks(entry: EntryFacts, t: Translator) -> str:
    marks = ""
    if entry.mood and entry.text not in _mood_words():
        marks += f" ({t(f'checkin.mood.{entry.mood}')})"
    if entry.attachment_ref:
        marks += f" {t('entry.photo_mark')}"
    if entry.edited_at:
        marks += f" {t('entry.edited_mark')}"
    return marks


class _Lines:
    """The summary's shorter line, `Mon · Dana (home):` and, quoted below, `slept badly`, for the
    many lines of one summary: what they share is looked up once."""

    def __init__(
        self,
        start: datetime,
        timezone: str,
        t: Translator,
        translated: Mapping[int, Rendering] | None = None,
    ) -> None:
        self.zone, self.t = ZoneInfo(timezone), t
        self.translated = translated or None  # None: most summaries, nothing looked up
        self.former = t("entry.former_member")
        self.line = t.template("summary.line")
        self.where: dict[str, str] = {}
        self.days = weekdays(t.language)
        # The reader's midnights around the week, in UTC: an entry's day is where it falls
        # among them (one comparison search, not a conversion of every entry to local time).
        first = start.astimezone(self.zone).date() - timedelta(days=1)
        days = [first + timedelta(days=n) for n in range(10)]
        self.midnights = [
            datetime(d.year, d.month, d.day, tzinfo=self.zone).astimezone(UTC) for d in days
        ]
        self.day_names = [self.days[d.weekday()] for d in days]

    def __call__(self, entry: EntryFacts, author: str) -> str:
        where = self.where.get(entry.setting)
        if where is None:
            where = self.where[entry.setting] = self.t(f"summary.setting.{entry.setting}")
        after = bisect_right(self.midnights, entry.created_at)
        if 0 < after < len(self.midnights):
            day = self.day_names[after - 1]
        else:  # outside the week: not what a summary is given, but still told right
            day = self.days[entry.created_at.astimezone(self.zone).weekday()]
        text, marks = entry.text, ""
        if entry.mood or entry.attachment_ref or entry.edited_at:  # most lines are plain
            text, marks = shown_text(entry, self.t), _marks(entry, self.t)
        translated = self.translated.get(entry.id or 0) if self.translated else None
        if translated is not None:
            text, marks = translated.text, marks + translation_mark(translated, entry.id, self.t)
        return self.line(
            day=day,
            author=author or self.former,
            where=where,
            text=quote(text, BULLETED),
            marks=marks,
        )


@dataclass(frozen=True)
class StudentWeek:
    """What the week holds for one student: the material of a summary."""

    student: Student
    entries: Sequence[tuple[EntryFacts, str]]
    goals: Sequence[GoalFacts] = ()
    open_questions: Sequence[tuple[EntryFacts, str]] = ()
    measures: Sequence[MeasureFacts] = ()  # this week's, oldest first
    # Other people's words in the reader's language, by entry id (none: all as written).
    translated: Mapping[int, Rendering] = field(default_factory=dict)


# The order a week is told in: strengths first, then what needs care, then home and school.
_SECTIONS = ("summary.wins", "summary.concerns", "summary.from_home", "summary.from_school")


# The part of the summary each kind of entry is told in, by (kind, setting); questions and
# answers have their own. A table, not a function: a big school's week looks it up 500,000 times.
_SECTION_OF: dict[tuple[str, str], str] = {
    (kind, setting): section
    for setting in Setting
    for kind, section in (
        (EntryKind.WIN, "summary.wins"),
        (EntryKind.CONCERN, "summary.concerns"),
        (EntryKind.URGENT, "summary.concerns"),
        (EntryKind.NOTE, "summary.from_home" if setting == Setting.HOME else "summary.from_school"),
    )
}


def compose_summary(
    week: StudentWeek,
    start: datetime,
    timezone: str,
    t: Translator,
    title_key: str = "summary.title",
) -> str:
    """The week as a story: wins first, then concerns, home, open questions, goals."""
    name = week.student.name
    title = t(title_key, student=name, start=t.day_month(start.date()))  # the week's own zone
    sections = _by_section(week.entries)
    entries = [told for key in _SECTIONS for told in sections[key]]
    if not entries and not week.open_questions:
        return f"{title}\n{t('summary.empty', student=name)}"
    parts = [
        title,
        _balance(
            len(sections["summary.wins"]), len(sections["summary.concerns"]), len(entries), name, t
        ),
    ]
    short_line = _Lines(start, timezone, t, week.translated)
    for key in _SECTIONS:
        if sections[key]:
            parts.append(f"\n{t(key, count=len(sections[key]))}")
            parts.extend(f"• {short_line(e, a)}" for e, a in sections[key])
    parts.extend(_open_question_lines(week.open_questions, week.translated, t))
    goals = _goals_worked_on(week.goals, entries)
    parts.extend(_goal_lines(goals, week.measures, t))
    written = (
        [e.text for e, _ in entries]
        + [e.text for e, _ in week.open_questions]
        + [goal.description for goal, _ in goals]
    )
    parts.extend(_glossary_lines(written, t))
    return "\n".join(parts)


def _by_section(
    entries: Sequence[tuple[EntryFacts, str]],
) -> dict[str, list[tuple[EntryFacts, str]]]:
    """The week's entries (with their authors) sorted into the summary's sections, in order;
    questions and answers are in none."""
    sections: dict[str, list[tuple[EntryFacts, str]]] = {key: [] for key in _SECTIONS}
    section_of = _SECTION_OF.get
    for told in entries:
        section = section_of((told[0].kind, told[0].setting))
        if section is not None:
            sections[section].append(told)
    return sections


def _open_question_lines(
    questions: Sequence[tuple[EntryFacts, str]],
    translated: Mapping[int, Rendering],
    t: Translator,
) -> list[str]:
    """The questions still waiting for an answer, numbered for `/answer N`."""
    if not questions:
        return []
    return [
        f"\n{t('summary.questions', count=len(questions))}",
        *(
            "• "
            + t(
                "summary.question_line",
                number=e.id,
                author=a or t("entry.former_member"),
                text=quote(_question_text(e, translated.get(e.id or 0), t), BULLETED),
            )
            for e, a in questions
        ),
    ]


def _goals_worked_on(
    goals: Sequence[GoalFacts], entries: Sequence[tuple[EntryFacts, str]]
) -> list[tuple[GoalFacts, int]]:
    """The goals this week's entries were linked to, each with how many."""
    counts = {goal.id: sum(1 for e, _ in entries if e.goal_id == goal.id) for goal in goals}
    return [(goal, counts[goal.id]) for goal in goals if counts[goal.id]]


def _goal_lines(
    goals: Sequence[tuple[GoalFacts, int]], measures: Sequence[MeasureFacts], t: Translator
) -> list[str]:
    """Each goal worked on, with its count of entries and the week's measures of it."""
    if not goals:
        return []
    return [
        f"\n{t('summary.goals')}",
        *(
            "• "
            + t("summary.goal_line", tag=goal.tag, description=goal.description, count=count)
            + week_numbers(t, goal, [m for m in measures if m.goal_id == goal.id])
            for goal, count in goals
        ),
    ]


def week_numbers(t: Translator, goal: GoalFacts, measures: Sequence[MeasureFacts]) -> str:
    """` · 60 %, 80 % · target 80 % — at target this week`, or '' for a week with no measure."""
    if not measures:
        return ""
    line = " · " + ", ".join(measure_words(t, measure) for measure in measures)
    if goal.target is None or goal.measure == MeasureKind.RATING:
        return line
    kind = goal.measure or measures[-1].kind
    lower_is_better = goal.baseline is not None and goal.target < goal.baseline
    last = measures[-1].value
    reached = last <= goal.target if lower_is_better else last >= goal.target
    key = "summary.at_target" if reached else "summary.below_target"
    return f"{line} · {t(key, target=value_words(t, kind, goal.target))}"


def _glossary_lines(written: Sequence[str], t: Translator) -> list[str]:
    """What the week's words mean, for the terms of the trade among them."""
    explained = glossary.explain(written, t)
    if not explained:
        return []
    return [f"\n{t('summary.glossary')}", *(f"• {line}" for line in explained)]


def _question_text(entry: EntryFacts, translated: Rendering | None, t: Translator) -> str:
    if translated is None:
        return entry.text
    return f"{translated.text}\n{translation_mark(translated, entry.id, t).strip()}"


def _balance(wins: int, concerns: int, notes: int, name: str, t: Translator) -> str:
    """One kind sentence on the week's balance: strengths first, then what to work on."""
    counted = {
        "student": name,
        "wins": t("count.wins", count=wins),
        "concerns": t("count.concerns", count=concerns),
    }
    if wins and not concerns:
        return t("summary.balance_wins", **counted)
    if wins:
        return t(
            "summary.balance_bright" if wins >= concerns else "summary.balance_hard", **counted
        )
    if concerns:
        return t("summary.balance_concerns", **counted)
    return t("summary.balance_notes", student=name, notes=t("count.notes", count=notes))
