"""The IEP progress report: per goal its terms, every measure, a chart and a sentence of trend;
then the wins, concerns, home observations and open questions of the period, and a glossary.

`gather` reads it in one transaction; `compose` turns it into titled blocks of plain text in the
reader's language, which bot/report_pdf.py lays out as a PDF and `as_markdown` as Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bot import charts, glossary
from bot.i18n import Translator
from bot.measure_words import chart_data, goal_terms_words, measure_words, value_words
from bot.measures import MeasureKind
from storage.models import Entry, EntryKind, Goal, Measure, School, Setting, Student
from storage.stores import Store

ONE_PER_LINE = 40  # measures of a goal listed one per line; more go MANY_PER_LINE a line
MANY_PER_LINE = 6
QUOTED_NOTES = 60  # the newest notes quoted per section; older ones are counted


@dataclass(frozen=True)
class GoalProgress:
    goal: Goal
    measures: Sequence[tuple[Measure, str]]  # with who took it, oldest first


@dataclass(frozen=True)
class ProgressReport:
    school: School
    student: Student
    start: date
    end: date  # inclusive
    made: date
    goals: Sequence[GoalProgress]
    entries: Sequence[tuple[Entry, str]]  # the period's notes with their authors


@dataclass
class Block:
    """A heading and its paragraphs; `chart` is a PNG to show under the heading."""

    heading: str
    lines: list[str] = field(default_factory=list)
    chart: bytes | None = None
    quoted: bool = False


async def gather(
    store: Store, school: School, student: Student, start: date, end: date, made: date
) -> ProgressReport:
    """The student's goals, measures and notes from `start` to `end` (both days included)."""
    assert student.id is not None
    since = datetime.combine(start, time(), UTC)
    until = datetime.combine(end + timedelta(days=1), time(), UTC)
    entries = [
        (entry, author)
        for entry, author in await store.records.entries(student.id)
        if since <= entry.created_at < until
    ]
    authors = {entry.id: author for entry, author in entries}
    goals = [
        GoalProgress(
            goal,
            [
                (measure, authors.get(measure.entry_id, ""))
                for measure in await store.progress.series(goal.id or 0)
                if since <= measure.taken_at < until
            ],
        )
        for goal in await store.entries.goals(student.id)
    ]
    return ProgressReport(school, student, start, end, made, goals, entries)


def trend(t: Translator, progress: GoalProgress) -> str:
    """One plain sentence: from where to where, against the target, how often home saw it."""
    goal, measures = progress.goal, progress.measures
    if not measures:
        return t("report.no_measures")
    kind = goal.measure or measures[-1][0].kind
    first = goal.baseline if goal.baseline is not None else measures[0][0].value
    last = measures[-1][0].value
    key = "report.trend_up" if last > first else "report.trend_down"
    sentence = t(
        "report.trend_same" if last == first else key,
        tag=goal.tag,
        start=value_words(t, kind, first),
        end=value_words(t, kind, last),
    )
    if goal.target is not None and kind != MeasureKind.RATING:
        lower_is_better = goal.baseline is not None and goal.target < goal.baseline
        reached = last <= goal.target if lower_is_better else last >= goal.target
        target = value_words(t, kind, goal.target)
        sentence += " " + t("report.at_target" if reached else "report.below_target", target=target)
    home = sum(1 for measure, _ in measures if measure.setting == Setting.HOME)
    if home:
        sentence += " " + t("report.home_seen", count=home)
    return sentence


async def compose(report: ProgressReport, t: Translator, charts_too: bool = True) -> list[Block]:
    """The report as blocks of text in the reader's language (charts drawn when asked)."""
    blocks = [
        Block(
            t("report.title", student=report.student.name),
            [
                t("report.school", school=report.school.name),
                t("report.period", start=t.day(report.start), end=t.day(report.end)),
                t("report.made", day=t.day(report.made)),
            ],
        )
    ]
    for progress in report.goals:
        blocks.append(await _goal_block(t, progress, charts_too))
    for key, chosen in _NOTE_SECTIONS:
        picked = [(e, a) for e, a in report.entries if chosen(e)]
        if picked:
            lines = [_note_line(t, entry, author) for entry, author in picked[-QUOTED_NOTES:]]
            if len(picked) > QUOTED_NOTES:
                lines.insert(0, t("report.earlier_notes", count=len(picked) - QUOTED_NOTES))
            blocks.append(Block(t(key), lines, quoted=True))
    terms = glossary.explain([entry.text for entry, _ in report.entries], t)
    terms += [t("glossary.iep")] if t("glossary.iep") not in terms else []
    blocks.append(Block(t("report.glossary"), terms))
    return blocks


async def _goal_block(t: Translator, progress: GoalProgress, charts_too: bool) -> Block:
    goal = progress.goal
    lines = [goal.description]
    terms = goal_terms_words(t, goal)
    if terms:
        lines.append(terms)
    lines.append(trend(t, progress))
    if len(progress.measures) <= ONE_PER_LINE:
        lines += [
            t(
                "report.measure",
                day=t.day(measure.taken_at.date()),
                value=measure_words(t, measure),
                who=author or t("entry.former_member"),
                where=t("report.home" if measure.setting == Setting.HOME else "report.at_school"),
            )
            for measure, author in progress.measures
        ]
    else:  # a long series, several to a line (home still marked), so the report stays short
        told = [
            t("report.measure_short", day=t.day_month(m.taken_at.date()), value=measure_words(t, m))
            for m, _ in progress.measures
        ]
        lines += [
            " · ".join(told[at : at + MANY_PER_LINE]) for at in range(0, len(told), MANY_PER_LINE)
        ]
    chart = None
    if charts_too and progress.measures:
        data = chart_data(t, goal, [measure for measure, _ in progress.measures])
        chart = await charts.draw(data)
    return Block(t("report.goal", tag=goal.tag), lines, chart)


def _note_line(t: Translator, entry: Entry, author: str) -> str:
    where = t("report.home" if entry.setting == Setting.HOME else "report.at_school")
    return t(
        "report.note", day=t.day(entry.created_at.date()), who=author, where=where, text=entry.text
    )


_NOTE_SECTIONS = (
    ("report.wins", lambda entry: entry.kind == EntryKind.WIN),
    ("report.concerns", lambda entry: entry.kind in (EntryKind.CONCERN, EntryKind.URGENT)),
    (
        "report.home_notes",
        lambda entry: entry.kind == EntryKind.NOTE and entry.setting == Setting.HOME,
    ),
    ("report.questions", lambda entry: entry.kind == EntryKind.QUESTION),
)


def as_markdown(blocks: Sequence[Block]) -> str:
    """The report as Markdown (no pictures: every number is in the text)."""
    lines: list[str] = []
    for number, block in enumerate(blocks):
        lines += [("# " if number == 0 else "## ") + block.heading, ""]
        lines += [f"> {line}" if block.quoted else f"- {line}" for line in block.lines]
        lines.append("")
    return "\n".join(lines)
