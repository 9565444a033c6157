"""A student's whole record: every entry with its earlier wordings, the check-ins, goals,
correction requests, the team and the access log. Shown in chat by /record and written by
`tandem export` as Markdown (for a parent to read), CSV (one row per item) or JSON (nested)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot import access, spreadsheet, weekly
from bot.i18n import Translator
from bot.measure_words import measure_words
from bot.quoting import quote
from storage.models import (
    AccessAction,
    AccessLog,
    Amendment,
    Entry,
    EntryRevision,
    Goal,
    Measure,
    Membership,
    Person,
    School,
    Student,
)
from storage.stores import Store


class ExportFormat(StrEnum):
    MD = "md"
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class StudentRecord:
    """Everything Tandem holds about one student, read in one transaction."""

    school: School
    student: Student
    entries: Sequence[tuple[Entry, str]]  # with the author's name, oldest first
    revisions: dict[int, list[EntryRevision]]  # entry id -> earlier wordings, oldest first
    goals: Sequence[Goal]
    amendments: Sequence[Amendment]
    access: Sequence[AccessLog]
    team: Sequence[tuple[Person, Membership]]
    names: dict[int, str]  # person id -> display name, for the access log and amendments
    measures: Sequence[Measure] = ()  # on the student's goals, oldest first

    def name_of(self, person_id: int | None) -> str:
        return self.names.get(person_id, "") if person_id is not None else ""

    def checkins(self) -> list[tuple[Entry, str, list[tuple[Entry, str]]]]:
        """Each check-in answer (a home note with a mood) with the lines added to it."""
        added: defaultdict[int, list[tuple[Entry, str]]] = defaultdict(list)
        for entry, author in self.entries:
            if entry.reply_to_id is not None:
                added[entry.reply_to_id].append((entry, author))
        return [
            (entry, author, added[entry.id or 0]) for entry, author in self.entries if entry.mood
        ]

    def goal_counts(self) -> dict[int, int]:
        counts: defaultdict[int, int] = defaultdict(int)
        for entry, _ in self.entries:
            if entry.goal_id is not None:
                counts[entry.goal_id] += 1
        return counts


async def gather(store: Store, student: Student) -> StudentRecord:
    """Read the whole record of `student` (the caller has checked access and logged it)."""
    assert student.id is not None
    school = await store.students.school(student.school_id)
    assert school is not None
    entries = await store.records.entries(student.id)
    revisions: defaultdict[int, list[EntryRevision]] = defaultdict(list)
    for revision in await store.records.revisions([e.id for e, _ in entries if e.id is not None]):
        revisions[revision.entry_id].append(revision)
    amendments = await store.records.amendments(student.id)
    access = await store.records.access_log(student_id=student.id)
    people = (
        {row.actor_id for row in access}
        | {a.requested_by for a in amendments}
        | {a.decided_by for a in amendments}
    )
    names = await store.people.names_of(sorted(p for p in people if p is not None))
    goals = await store.records.goals(student.id)
    team = await store.students.team_of(student.id)
    measures = await store.records.measures(student.id)
    return StudentRecord(
        school, student, entries, dict(revisions), goals, amendments, access, team, names, measures
    )


# --- reading it: chat and Markdown share one layout -----------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def escape_markdown(text: str) -> str:
    """User text shown literally in Markdown: `*bold*` stays asterisks, `<b>` stays text."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


@dataclass(frozen=True)
class _Layout:
    heading: Callable[[str], str]
    item: Callable[[str], str]
    sub: Callable[[str], str]
    text: Callable[[str], str]  # how user-written text is shown
    item_indent: str  # where quoted words start under an item, and under a sub-item
    sub_indent: str


CHAT = _Layout(
    heading=lambda s: f"\n{s}",
    item=lambda s: f"• {s}",
    sub=lambda s: f"   ↳ {s}",
    text=lambda s: s,
    item_indent="  ",
    sub_indent="     ",
)
MARKDOWN = _Layout(
    heading=lambda s: f"\n## {s}\n",
    item=lambda s: f"- {s}",
    sub=lambda s: f"  - {s}",
    text=escape_markdown,
    item_indent="  ",
    sub_indent="    ",
)


def compose(record: StudentRecord, t: Translator, timezone: str, layout: _Layout = CHAT) -> str:
    """The record as a person reads it: notes, check-ins, goals, corrections, who has read it."""
    text = layout.text
    name = text(record.student.name)
    former = t("entry.former_member")
    lines = [t("record.title", student=name, school=text(record.school.name))]
    if layout is MARKDOWN:
        lines = [f"# {lines[0]}", "", t("record.exported", timezone=timezone)]

    lines.append(layout.heading(t("record.team", count=len(record.team))))
    for person, membership in record.team:
        lines.append(
            layout.item(
                t(
                    "record.member",
                    name=text(person.display_name),
                    role=t(f"role.{membership.role}"),
                )
            )
        )

    measured = _measure_lines(record, t)
    lines.append(layout.heading(t("record.entries", count=len(record.entries))))
    if not record.entries:
        lines.append(t("record.no_entries", student=name))
    for entry, author in record.entries:
        shown = entry.model_copy(update={"text": text(entry.text)})
        line = weekly.entry_line(shown, text(author), timezone, t, layout.item_indent)
        where = t(f"summary.setting.{entry.setting}")
        lines.append(layout.item(t("record.entry", number=entry.id, where=where, line=line)))
        lines += [
            layout.sub(
                t(
                    "record.revision",
                    until=t.moment(revision.edited_at, timezone),
                    text=quote(text(revision.text), layout.sub_indent),
                )
            )
            for revision in record.revisions.get(entry.id or 0, [])
        ]
        if entry.id in measured:
            lines.append(layout.sub(measured[entry.id]))

    checkins = record.checkins()
    if checkins:
        lines.append(layout.heading(t("record.checkins", count=len(checkins))))
        for entry, author, added in checkins:
            lines.append(
                layout.item(
                    t(
                        "record.checkin",
                        when=t.moment(entry.created_at, timezone),
                        author=text(author) or former,
                        mood=t(f"checkin.mood.{entry.mood}"),
                    )
                )
            )
            lines += [
                layout.sub(
                    t("record.checkin_added", text=quote(text(more.text), layout.sub_indent))
                )
                for more, _ in added
            ]

    lines.append(layout.heading(t("record.goals", count=len(record.goals))))
    counts = record.goal_counts()
    for goal in record.goals:
        state = t("record.goal_active" if goal.active else "record.goal_retired")
        lines.append(
            layout.item(
                t(
                    "record.goal",
                    tag=text(goal.tag),
                    description=text(goal.description),
                    count=counts.get(goal.id or 0, 0),
                    state=state,
                )
            )
        )

    if record.amendments:
        lines.append(layout.heading(t("record.amendments", count=len(record.amendments))))
        for amendment in record.amendments:
            lines.append(
                layout.item(
                    t(
                        "record.amendment",
                        number=amendment.id,
                        entry=amendment.entry_id,
                        when=t.moment(amendment.requested_at, timezone),
                        who=text(record.name_of(amendment.requested_by)) or former,
                        text=quote(text(amendment.text), layout.item_indent),
                    )
                )
            )
            decided = amendment.decided_at
            lines.append(
                layout.sub(
                    t(
                        f"record.amendment_{amendment.status}",
                        who=text(record.name_of(amendment.decided_by)) or former,
                        when=t.moment(decided, timezone) if decided else "",
                    )
                )
            )

    lines.append(layout.heading(t("record.access", count=len(record.access))))
    lines += [layout.item(_access_line(row, record, t, timezone)) for row in record.access]
    return "\n".join(lines).strip("\n")


def _measure_lines(record: StudentRecord, t: Translator) -> dict[int, str]:
    """Entry id -> `measure: #reading 60 % (6/10)`, for the entries that carry one."""
    tags = {goal.id: goal.tag for goal in record.goals}
    return {
        measure.entry_id: t(
            "record.measure", tag=tags.get(measure.goal_id, ""), value=measure_words(t, measure)
        )
        for measure in record.measures
    }


def _access_line(row: AccessLog, record: StudentRecord, t: Translator, timezone: str) -> str:
    if row.actor_id is not None:
        who = record.name_of(row.actor_id) or t("entry.former_member")
    elif row.detail.startswith("cli"):
        who = t("record.the_school")
    else:
        who = t("record.someone_else")
    return t(
        "record.access_line", when=t.moment(row.at, timezone), who=who, what=_what_was_done(row, t)
    )


_SEEN = {
    "log": "record.seen.log",
    "week": "record.seen.week",
    "record": "record.seen.record",
    "goals": "record.seen.goals",
    "progress": "record.seen.progress",
    "report": "record.seen.report",
    "questions": "record.seen.questions",
}
_FORMATS = {"md": "Markdown", "csv": "CSV", "json": "JSON"}
_AMEND_KEYS = {
    "requested": "record.amend_requested",
    "accepted": "record.amend_accepted",
    "declined": "record.amend_declined",
}


def _what_was_done(row: AccessLog, t: Translator) -> str:
    """The row in the reader's words; its `detail` is written for auditors, in English.

    A refusal's detail is what someone typed: never shown, only that it was refused.
    """
    words = row.detail.split()
    if row.action == AccessAction.VIEW and words and words[0] in _SEEN:
        count = int(words[1]) if len(words) > 1 and words[1].isdecimal() else 0
        return t(_SEEN[words[0]], count=count)
    if row.action == AccessAction.EXPORT and words[-1:] and words[-1] in _FORMATS:
        return t("record.exported_as", format=_FORMATS[words[-1]])
    shared = access.SHARED_DETAIL.match(row.detail) if row.action == AccessAction.SHARE else None
    if shared:
        return t("record.shared", number=int(shared[1]), count=int(shared[2]))
    amended = access.AMENDED_DETAIL.match(row.detail) if row.action == AccessAction.AMEND else None
    if amended:
        return t(_AMEND_KEYS[amended[3]], number=int(amended[1]), entry=int(amended[2]))
    return t(f"record.action.{row.action}")


# --- export files ---------------------------------------------------------------------------

CSV_COLUMNS = (
    "record",
    "id",
    "at",
    "kind",
    "setting",
    "author",
    "text",
    "mood",
    "goal",
    "reply_to",
    "edited_at",
    "status",
    "detail",
    "measure_kind",
    "value",
    "correct",
    "trials",
    "prompt",
)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def as_json(record: StudentRecord, exported_at: datetime) -> dict[str, Any]:
    """Everything, nested: the exact texts, times in UTC ISO 8601."""
    goals = {goal.id: goal.tag for goal in record.goals}
    counts = record.goal_counts()
    return {
        "student": {
            "id": record.student.id,
            "name": record.student.name,
            "school": record.school.name,
            "archived": record.student.archived,
        },
        "exported_at": exported_at.isoformat(),
        "team": [
            {"name": person.display_name, "role": membership.role}
            for person, membership in record.team
        ],
        "entries": [
            {
                "id": entry.id,
                "at": _iso(entry.created_at),
                "kind": entry.kind,
                "setting": entry.setting,
                "author": author or None,
                "text": entry.text,
                "mood": entry.mood,
                "goal": goals.get(entry.goal_id),
                "reply_to": entry.reply_to_id,
                "attachment": entry.attachment_ref,
                "edited_at": _iso(entry.edited_at),
                "revisions": [
                    {"text": revision.text, "replaced_at": _iso(revision.edited_at)}
                    for revision in record.revisions.get(entry.id or 0, [])
                ],
            }
            for entry, author in record.entries
        ],
        "checkins": [
            {
                "entry_id": entry.id,
                "at": _iso(entry.created_at),
                "mood": entry.mood,
                "author": author or None,
                "added": [more.id for more, _ in added],
            }
            for entry, author, added in record.checkins()
        ],
        "goals": [
            {
                "tag": goal.tag,
                "description": goal.description,
                "active": goal.active,
                "entries": counts.get(goal.id or 0, 0),
            }
            for goal in record.goals
        ],
        "measures": [
            {
                "entry_id": measure.entry_id,
                "goal": goals.get(measure.goal_id),
                "at": _iso(measure.taken_at),
                "setting": measure.setting,
                "measure_kind": measure.kind,
                "value": measure.value,
                "correct": measure.correct,
                "trials": measure.trials,
                "prompt": measure.prompt,
            }
            for measure in record.measures
        ],
        "amendments": [
            {
                "id": amendment.id,
                "entry_id": amendment.entry_id,
                "requested_by": record.name_of(amendment.requested_by) or None,
                "requested_at": _iso(amendment.requested_at),
                "text": amendment.text,
                "status": amendment.status,
                "decided_by": record.name_of(amendment.decided_by) or None,
                "decided_at": _iso(amendment.decided_at),
            }
            for amendment in record.amendments
        ],
        "access_log": [
            {
                "at": _iso(row.at),
                "actor": record.name_of(row.actor_id) or None,
                "action": row.action,
                "detail": row.detail,
            }
            for row in record.access
        ],
    }


def as_csv(record: StudentRecord, exported_at: datetime) -> str:
    """One row per item, the first column saying which: team, entry (a check-in is an entry
    with a mood), revision, goal, amendment, access. Cells a spreadsheet would run as a
    formula get a leading apostrophe (the JSON export keeps every text exactly)."""
    data = as_json(record, exported_at)
    rows: list[dict[str, object]] = []
    rows += [
        {"record": "team", "author": member["name"], "kind": member["role"]}
        for member in data["team"]
    ]
    for entry in data["entries"]:
        rows.append(
            {
                "record": "entry",
                **{
                    key: entry[key]
                    for key in (
                        "id",
                        "at",
                        "kind",
                        "setting",
                        "author",
                        "text",
                        "mood",
                        "goal",
                        "reply_to",
                        "edited_at",
                    )
                },
            }
        )
        rows += [
            {
                "record": "revision",
                "id": entry["id"],
                "at": revision["replaced_at"],
                "text": revision["text"],
            }
            for revision in entry["revisions"]
        ]
    rows += [
        {
            "record": "goal",
            "goal": goal["tag"],
            "text": goal["description"],
            "status": "active" if goal["active"] else "retired",
        }
        for goal in data["goals"]
    ]
    rows += [
        {"record": "measure", "id": measure["entry_id"], **measure} for measure in data["measures"]
    ]
    rows += [
        {
            "record": "amendment",
            "id": amendment["id"],
            "at": amendment["requested_at"],
            "author": amendment["requested_by"],
            "text": amendment["text"],
            "reply_to": amendment["entry_id"],
            "status": amendment["status"],
            "detail": f"{amendment['decided_by'] or ''} {amendment['decided_at'] or ''}".strip(),
        }
        for amendment in data["amendments"]
    ]
    rows += [
        {
            "record": "access",
            "at": row["at"],
            "author": row["actor"],
            "kind": row["action"],
            "detail": row["detail"],
        }
        for row in data["access_log"]
    ]
    return spreadsheet.csv_text(
        CSV_COLUMNS, ([row.get(column) for column in CSV_COLUMNS] for row in rows)
    )


def as_markdown(record: StudentRecord, t: Translator) -> str:
    """The record for a parent to read, in the school's language and time zone."""
    return compose(record, t, record.school.timezone, MARKDOWN) + "\n"


def render(record: StudentRecord, form: ExportFormat, exported_at: datetime) -> str:
    """The export file's text in one of the three formats."""
    if form is ExportFormat.JSON:
        return json.dumps(as_json(record, exported_at), ensure_ascii=False, indent=2) + "\n"
    if form is ExportFormat.CSV:
        return as_csv(record, exported_at)
    return as_markdown(record, Translator(record.school.language))
