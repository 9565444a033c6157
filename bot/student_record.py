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
from typing import Any

from bot import access, spreadsheet, weekly
from bot.i18n import Translator
from bot.quoting import quote
from storage.models import (
    AccessAction,
    AccessLog,
    Amendment,
    AmendmentStatus,
    Entry,
    EntryRevision,
    ExportFormat,
    Goal,
    Membership,
    Person,
    Read,
    Role,
    School,
    Student,
    Via,
)
from storage.stores import Store


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
    admins: frozenset[int]  # the school's admins, who see every record of it

    def name_of(self, person_id: int | None) -> str:
        return self.names.get(person_id, "") if person_id is not None else ""

    def is_insider(self, person_id: int | None) -> bool:
        """Whether the person is on the student's team now, or an admin of the school."""
        team = {person.id for person, _ in self.team}
        return person_id is not None and (person_id in team or person_id in self.admins)

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
    access = await store.records.record_log(student.id, student.school_id)
    people = (
        {row.actor_id for row in access}
        | {row.subject_id for row in access}
        | {a.requested_by for a in amendments}
        | {a.decided_by for a in amendments}
    )
    names = await store.people.names_of(sorted(p for p in people if p is not None))
    goals = await store.records.goals(student.id)
    team = await store.students.team_of(student.id)
    admins = frozenset(p.id for p in await store.students.admins_of(school.id or 0) if p.id)
    return StudentRecord(
        school, student, entries, dict(revisions), goals, amendments, access, team, names, admins
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


def compose(
    record: StudentRecord,
    t: Translator,
    timezone: str,
    layout: _Layout = CHAT,
    names_outsiders: bool = True,
) -> str:
    """The record as a person reads it: notes, check-ins, goals, corrections, who has read it
    (for a family, without naming people outside the team: `names_outsiders`)."""
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
    lines += [
        layout.item(_access_line(row, record, t, timezone, names_outsiders))
        for row in record.access
    ]
    return "\n".join(lines).strip("\n")


def _access_line(
    row: AccessLog, record: StudentRecord, t: Translator, timezone: str, names_outsiders: bool
) -> str:
    return t(
        "record.access_line",
        when=t.moment(row.at, timezone),
        who=_who(row, record, t, names_outsiders),
        what=what_was_done(row, record, t),
    )


def _who(row: AccessLog, record: StudentRecord, t: Translator, names_outsiders: bool) -> str:
    """Who acted. A refused outsider is named only to the team's staff (`names_outsiders`):
    to a family, "someone outside the team"."""
    refused_outsider = row.action == AccessAction.DENIED and not record.is_insider(row.actor_id)
    if refused_outsider and (row.actor_id is None or not names_outsiders):
        return t("record.outsider")
    if row.actor_id is not None:
        return record.name_of(row.actor_id) or t("entry.former_member")
    if row.via == Via.CLI:
        return t("record.the_school")
    return t("entry.former_member")  # their person has been deleted since


_SEEN = {
    Read.LOG: "record.seen.log",
    Read.WEEK: "record.seen.week",
    Read.RECORD: "record.seen.record",
    Read.GOALS: "record.seen.goals",
    Read.QUESTIONS: "record.seen.questions",
}
_FORMATS = {ExportFormat.MD: "Markdown", ExportFormat.CSV: "CSV", ExportFormat.JSON: "JSON"}
_AMEND_KEYS = {
    AmendmentStatus.PENDING: "record.amend_requested",
    AmendmentStatus.ACCEPTED: "record.amend_accepted",
    AmendmentStatus.DECLINED: "record.amend_declined",
}


def what_was_done(row: AccessLog, record: StudentRecord, t: Translator) -> str:
    """The row in the reader's words. A refusal says only that it was refused."""
    match access.from_row(row):
        case access.Viewed(read, count):
            return t(_SEEN[read], count=count or 0)
        case access.Exported(form):
            return t("record.exported_as", format=_FORMATS[form])
        case access.Shared(entry_id, parents):
            return t("record.shared", number=entry_id, count=parents)
        case access.Amended(amendment_id, entry_id, status):
            return t(_AMEND_KEYS[status], number=amendment_id, entry=entry_id)
        case access.TeamChanged(change, person_id, role):
            person = record.name_of(person_id) or t("entry.former_member")
            return t(f"record.team_change.{change}", person=person, role=_role(t, role))
    return t(f"record.action.{row.action}")


def _role(t: Translator, role: Role | None) -> str:
    return t(f"role.{role}") if role else ""


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
        "access_log": [_access_json(row, record) for row in record.access],
    }


def _access_json(row: AccessLog, record: StudentRecord) -> dict[str, Any]:
    """One access-log row, every column (names for people), for the school's own copy."""
    return {
        "at": _iso(row.at),
        "actor": record.name_of(row.actor_id) or None,
        "via": row.via,
        "action": row.action,
        "what": row.what or None,
        "entry_id": row.entry_id,
        "amendment_id": row.amendment_id,
        "count": row.count,
        "person": record.name_of(row.subject_id) or None,
        "role": row.role,
        "forgotten_id": row.forgotten_id,
        "legacy_detail": row.legacy_detail or None,
    }


def as_csv(record: StudentRecord, exported_at: datetime, t: Translator | None = None) -> str:
    """One row per item, the first column saying which: team, entry (a check-in is an entry
    with a mood), revision, goal, amendment, access. Cells a spreadsheet would run as a
    formula get a leading apostrophe (the JSON export keeps every text exactly). An access
    row's detail says what was done, in the school's language (`t`)."""
    t = t or Translator(record.school.language)
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
            "status": row["what"],
            "reply_to": row["entry_id"],
            "detail": what_was_done(log, record, t),
        }
        for log, row in zip(record.access, data["access_log"], strict=True)
    ]
    return spreadsheet.csv_text(
        CSV_COLUMNS, ([row.get(column) for column in CSV_COLUMNS] for row in rows)
    )


def as_markdown(record: StudentRecord, t: Translator) -> str:
    """The record for a parent to read, in the school's language and time zone."""
    return compose(record, t, record.school.timezone, MARKDOWN, names_outsiders=False) + "\n"


def render(record: StudentRecord, form: ExportFormat, exported_at: datetime) -> str:
    """The export file's text in one of the three formats."""
    if form is ExportFormat.JSON:
        return json.dumps(as_json(record, exported_at), ensure_ascii=False, indent=2) + "\n"
    if form is ExportFormat.CSV:
        return as_csv(record, exported_at)
    return as_markdown(record, Translator(record.school.language))
