"""`tandem export` files of a student's record: JSON (everything, nested, exact texts), CSV
(one row per item, cells a spreadsheet would run escaped) and Markdown (for a family to read).
Kept machine translations go beside each note's original, marked as machine-made, with the
service that made them and their language."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot import spreadsheet
from bot.i18n import Translator
from bot.record_view import MARKDOWN, compose, provider_name, what_was_done
from bot.student_record import StudentRecord
from storage.models import AccessLog, Entry, ExportFormat

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
        "entries": _entries_json(record),
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
        "goals": _goals_json(record),
        "measures": _measures_json(record),
        "amendments": _amendments_json(record),
        "access_log": [_access_json(row, record) for row in record.access],
    }


def _entries_json(record: StudentRecord) -> list[dict[str, Any]]:
    goals = {goal.id: goal.tag for goal in record.goals}
    return [
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
            "translations": _translations_json(record, entry),
        }
        for entry, author in record.entries
    ]


def _translations_json(record: StudentRecord, entry: Entry) -> list[dict[str, Any]]:
    """The entry's kept machine translations, of this wording or an earlier one."""
    current = {row.id for row in record.translations_of(entry)}
    return [
        {
            "machine_translation": True,
            "provider": row.provider or None,
            "language": row.language,
            "source_language": row.source_language,
            "of_current_wording": row.id in current,
            "made_at": _iso(row.created_at),
            "text": row.text,
        }
        for row in record.translations.get(entry.id or 0, [])
    ]


def _goals_json(record: StudentRecord) -> list[dict[str, Any]]:
    counts = record.goal_counts()
    return [
        {
            "tag": goal.tag,
            "description": goal.description,
            "active": goal.active,
            "entries": counts.get(goal.id or 0, 0),
        }
        for goal in record.goals
    ]


def _measures_json(record: StudentRecord) -> list[dict[str, Any]]:
    goals = {goal.id: goal.tag for goal in record.goals}
    return [
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
    ]


def _amendments_json(record: StudentRecord) -> list[dict[str, Any]]:
    return [
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
    ]


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


# The columns an entry's CSV row takes from its JSON object, as they are.
_ENTRY_CELLS = ("id", "at", "kind", "setting", "author", "text", "mood", "goal", "reply_to")


def as_csv(record: StudentRecord, exported_at: datetime, t: Translator | None = None) -> str:
    """One row per item, the first column saying which: team, entry (a check-in is an entry
    with a mood), revision, goal, amendment, access. Cells a spreadsheet would run as a
    formula get a leading apostrophe (the JSON export keeps every text exactly). An access
    row's detail says what was done, in the school's language (`t`)."""
    t = t or Translator(record.school.language)
    data = as_json(record, exported_at)
    rows: list[dict[str, object]] = [
        {"record": "team", "author": member["name"], "kind": member["role"]}
        for member in data["team"]
    ]
    for entry in data["entries"]:
        cells = {key: entry[key] for key in _ENTRY_CELLS}
        rows.append({"record": "entry", **cells, "edited_at": entry["edited_at"]})
        rows += [
            {"record": "revision", "id": entry["id"], "at": old["replaced_at"], "text": old["text"]}
            for old in entry["revisions"]
        ]
        rows += [_translation_row(entry["id"], made, t) for made in entry["translations"]]
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
    rows += [_amendment_row(amendment) for amendment in data["amendments"]]
    rows += [
        _access_row(row, what_was_done(log, record, t))
        for log, row in zip(record.access, data["access_log"], strict=True)
    ]
    return spreadsheet.csv_text(
        CSV_COLUMNS, ([row.get(column) for column in CSV_COLUMNS] for row in rows)
    )


def _translation_row(entry_id: int, made: dict[str, Any], t: Translator) -> dict[str, object]:
    detail = t(
        "record.translation_detail",
        provider=provider_name(t, made["provider"] or ""),
        source=made["source_language"],
        language=made["language"],
    )
    return {
        "record": "translation",
        "id": entry_id,
        "at": made["made_at"],
        "kind": made["language"],
        "text": made["text"],
        "status": "current_wording" if made["of_current_wording"] else "earlier_wording",
        "detail": detail,
    }


def _amendment_row(amendment: dict[str, Any]) -> dict[str, object]:
    return {
        "record": "amendment",
        "id": amendment["id"],
        "at": amendment["requested_at"],
        "author": amendment["requested_by"],
        "text": amendment["text"],
        "reply_to": amendment["entry_id"],
        "status": amendment["status"],
        "detail": f"{amendment['decided_by'] or ''} {amendment['decided_at'] or ''}".strip(),
    }


def _access_row(row: dict[str, Any], done: str) -> dict[str, object]:
    return {
        "record": "access",
        "at": row["at"],
        "author": row["actor"],
        "kind": row["action"],
        "status": row["what"],
        "reply_to": row["entry_id"],
        "detail": done,
    }


def as_markdown(record: StudentRecord, t: Translator) -> str:
    """The record for a parent to read, in the school's language and time zone."""
    # Every kept translation of each note's wording, each marked with its service and language.
    timezone = record.school.timezone
    return (
        compose(record, t, timezone, MARKDOWN, names_outsiders=False, translated_into=None) + "\n"
    )


def render(record: StudentRecord, form: ExportFormat, exported_at: datetime) -> str:
    """The export file's text in one of the three formats."""
    if form is ExportFormat.JSON:
        return json.dumps(as_json(record, exported_at), ensure_ascii=False, indent=2) + "\n"
    if form is ExportFormat.CSV:
        return as_csv(record, exported_at)
    return as_markdown(record, Translator(record.school.language))
