"""A student's whole record: every entry with its earlier wordings, the check-ins, goals,
correction requests, the team, the access log and the kept machine translations, gathered in
one transaction.

`bot/record_view.py` shows it in chat (/record) and as Markdown; `bot/record_export.py` writes
it as `tandem export` files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from bot.translated_notes import wording_hash
from storage.models import (
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
    Translation,
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
    measures: Sequence[Measure] = ()  # on the student's goals, oldest first
    # entry id -> its kept machine translations, any wording and language
    translations: dict[int, list[Translation]] = field(default_factory=dict)

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

    def translations_of(
        self, entry: Entry, languages: Collection[str] | None = None
    ) -> list[Translation]:
        """The kept translations of the entry's current wording, into `languages` (None: any)."""
        wording = wording_hash(entry.text)
        return [
            row
            for row in self.translations.get(entry.id or 0, [])
            if row.source_hash == wording and (languages is None or row.language in languages)
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
    measures = await store.records.measures(student.id)
    translations: defaultdict[int, list[Translation]] = defaultdict(list)
    for row in await store.translations.of_entries([e.id for e, _ in entries if e.id is not None]):
        translations[row.entry_id].append(row)
    return StudentRecord(
        school,
        student,
        entries,
        dict(revisions),
        goals,
        amendments,
        access,
        team,
        names,
        admins,
        measures,
        dict(translations),
    )
