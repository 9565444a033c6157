"""The weekly jobs: they only enqueue (dedupe keys make a second firing a no-op), never send."""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.buttons import CheckinMood, as_row
from bot.charts import DrawingPool
from bot.config import Settings
from bot.context import Clock
from bot.early_warning import Warning, early_warnings
from bot.events import Button, Reply
from bot.i18n import Translator
from bot.outbox import to_payload
from bot.quiet_hours import next_allowed, person_quiet_hours
from bot.summary_translation import translate_week
from bot.translation import NoteTranslator, Rendering
from bot.week_charts import picture_after
from bot.weekly import EntryFacts, Mood, StudentWeek, compose_summary, iso_week, week_bounds
from storage import outbox_keys
from storage.db import Database
from storage.models import PendingAction, Person, Platform, Role, School, Student
from storage.stores import Store
from storage.stores.outbox import outbox_values
from storage.stores.weekly import Reader, WeekEntry, WeekGoal, WeekMeasure

log = logging.getLogger(__name__)

CHECKIN_TTL = timedelta(days=6)
# Why a job queued nothing because another replica composed this occurrence.
RAN_ELSEWHERE = "ran_elsewhere"
QUESTIONS_LOOKBACK = timedelta(days=60)


@dataclass(frozen=True)
class JobReport:
    school: str
    queued: int
    skipped: str = ""  # why nothing was queued, if so


def ran_elsewhere(report: JobReport) -> bool:
    return report.skipped == RAN_ELSEWHERE


async def _school(store: Store, school_id: int) -> School:
    school = await store.students.school(school_id)
    if school is None:
        raise LookupError(f"school {school_id} is gone")
    return school


class _Letters:
    """Outbox rows for one job run, addressed in bulk (one account query for everyone)."""

    def __init__(self, store: Store, settings: Settings, now: datetime, school: School) -> None:
        self.store, self.settings, self.now, self.school = store, settings, now, school
        self.rows: list[dict[str, Any]] = []

    def due(self, timezone: str | None, quiet_hours: str | None) -> datetime:
        quiet = person_quiet_hours(quiet_hours, self.settings.schedule.quiet_hours)
        return next_allowed(self.now, timezone or self.school.timezone, quiet)

    def add(
        self, key: str, person: Person, kind: str, reply: Reply, student_id: int | None
    ) -> None:
        assert person.id is not None
        self.add_for(
            key,
            person.id,
            self.due(person.timezone, person.quiet_hours),
            kind,
            to_payload(reply),
            student_id,
        )

    def add_for(
        self,
        key: str,
        person_id: int,
        due: datetime,
        kind: str,
        payload: dict[str, Any],
        student_id: int | None,
    ) -> None:
        # Column values, not Outbox objects: a big school's summary job writes tens of thousands.
        # Letters may share one payload (and so its JSON): the rows are written, never changed.
        self.rows.append(
            outbox_values(
                dedupe_key=key,
                person_id=person_id,
                account_id=0,
                student_id=student_id,
                school_id=self.school.id,
                kind=kind,
                payload=payload,
                not_before=due,
            )
        )

    async def post(self) -> int:
        assert self.school.id is not None
        accounts = await self.store.weekly.accounts(self.school.id)
        reachable = []
        for row in self.rows:
            account = accounts.get(row["person_id"])
            if account is not None and account.id is not None:
                row["account_id"] = account.id
                reachable.append(row)
        return await self.store.outbox.add_many(reachable)


async def _ran_elsewhere(
    store: Store, job: str, school_id: int, occurrence: str, once: str | None, now: datetime
) -> bool:
    """With `once` (the scheduler's replica name), claim the occurrence in the job's own
    transaction; True if another replica claimed it (the dedupe keys stay as a second line)."""
    if once is None:  # run by hand (`tandem jobs ...`): always composed
        return False
    ran = await store.job_runs.claim(job, school_id, occurrence, once, now)
    if ran is not None:
        log.info("%s for school %s, %s: ran in %s, not here", job, school_id, occurrence, ran)
    return ran is not None


@dataclass(frozen=True)
class _Occurrence:
    school: School
    now: datetime
    week: str


async def _occurrence(
    store: Store, settings: Settings, clock: Clock, job: str, school_id: int, once: str | None
) -> _Occurrence | JobReport:
    """The school and week a weekly job composes; or why it composes nothing."""
    school = await _school(store, school_id)
    now = clock.now()
    if _skipped(settings, school, now):
        return JobReport(school.name, 0, "skip_dates")
    week = iso_week(now, school.timezone)
    if await _ran_elsewhere(store, job, school_id, week, once, now):
        return JobReport(school.name, 0, RAN_ELSEWHERE)
    return _Occurrence(school, now, week)


def _skipped(settings: Settings, school: School, now: datetime) -> bool:
    return settings.schedule.is_skipped(now.astimezone(ZoneInfo(school.timezone)).date())


async def run_checkin(
    db: Database, settings: Settings, clock: Clock, school_id: int, *, once: str | None = None
) -> JobReport:
    """Ask each parent how the week went at home; nudge teachers whose students have no notes.
    With `once`, composed by one replica a week (`_ran_elsewhere`)."""
    async with db.session() as session:
        store = Store(session)
        occurrence = await _occurrence(store, settings, clock, "checkin", school_id, once)
        if isinstance(occurrence, JobReport):
            return occurrence
        school, now, week = occurrence.school, occurrence.now, occurrence.week
        start, end = week_bounds(now, school.timezone)
        students = {s.id: s for s in await store.students.in_school(school_id)}
        noted = await store.weekly.students_noted(school_id, start, end)
        warnings = await early_warnings(store, settings, school_id, now)
        letters = _Letters(store, settings, now, school)
        buttons: list[PendingAction] = []
        quiet_students: dict[int, list[str]] = defaultdict(list)
        warned: dict[int, list[tuple[str, list[Warning]]]] = defaultdict(list)
        teachers: dict[int, Person] = {}
        for membership, person in await store.weekly.teams(school_id):
            student = students.get(membership.student_id)
            if student is None or person.id is None or _paused(person, now):
                continue
            if membership.role == Role.PARENT:
                reply = _checkin_prompt(person, student, week, now, buttons)
                key = outbox_keys.checkin_key(membership.student_id, person.id, week)
                letters.add(key, person, "checkin", reply, student.id)
            elif membership.role == Role.TEACHER:
                if student.id not in noted:
                    quiet_students[person.id].append(student.name)
                if student.id in warnings:  # only teachers hear them: they are for planning
                    warned[person.id].append((student.name, warnings[student.id]))
                teachers[person.id] = person
        for person_id in quiet_students.keys() | warned.keys():
            person = teachers[person_id]
            t = Translator(person.language)
            names = quiet_students.get(person_id)
            lines = [t("checkin.nudge", students=", ".join(names))] if names else []
            lines += [
                t(key, student=name, **values)
                for name, found in warned.get(person_id, ())
                for key, values in found
            ]
            key = outbox_keys.nudge_key(person_id, week)
            letters.add(key, person, "nudge", Reply("\n".join(lines)), None)
        await store.buttons.add_rows(buttons)
        return JobReport(school.name, await letters.post())


def _measures_by_student(rows: Sequence[WeekMeasure]) -> dict[int, list[WeekMeasure]]:
    by_student: defaultdict[int, list[WeekMeasure]] = defaultdict(list)
    for measure in rows:
        by_student[measure.student_id].append(measure)
    return by_student


def _paused(person: Person, now: datetime) -> bool:
    return person.paused_until is not None and person.paused_until > now


def _checkin_prompt(
    person: Person, student: Student, week: str, now: datetime, buttons: list[PendingAction]
) -> Reply:
    assert person.id is not None
    t = Translator(person.language)
    prompt = Reply(t("checkin.prompt", student=student.name))
    assert student.id is not None
    for mood in Mood:
        answer = CheckinMood(student_id=student.id, mood=mood, group=f"{student.id}:{week}")
        pending = as_row(person.id, answer, _token(), now + CHECKIN_TTL)
        buttons.append(pending)
        prompt = prompt.with_buttons(Button(t(f"checkin.button.{mood}"), pending.token))
    return prompt


def _token() -> str:
    return secrets.token_urlsafe(16)


Weeks = AsyncIterator[tuple[int, Sequence[tuple[EntryFacts, str]]]]


async def run_summary(
    db: Database,
    settings: Settings,
    clock: Clock,
    school_id: int,
    notes: NoteTranslator | None = None,
    *,  # `once`: this replica's name (`_ran_elsewhere`)
    once: str | None = None,
    drawing: DrawingPool | None = None,
) -> JobReport:
    """Send each member of each student's team the story of the week, in their language: a
    constant number of queries per school, entries streamed a student at a time; with `once`,
    one replica a week composes it. With `[summary] charts`, a summary of a student measured
    that week carries its picture, which the sender queues once it is sent and draws
    (`bot/week_charts.py`): the same rows as without. `drawing`: the sender's pool, started as
    soon as the job finds pictures to come."""
    async with db.session() as session:
        store = Store(session)
        occurrence = await _occurrence(store, settings, clock, "summary", school_id, once)
        if isinstance(occurrence, JobReport):
            return occurrence
        school, now, week = occurrence.school, occurrence.now, occurrence.week
        start, end = week_bounds(now, school.timezone)
        students = {s.id: s for s in await store.students.in_school(school_id)}
        questions = _by_student(
            await store.weekly.open_questions(school_id, now - QUESTIONS_LOOKBACK)
        )
        goals = _goals_by_student(await store.weekly.goals(school_id))
        measures = _measures_by_student(await store.weekly.measures(school_id, start, end))
        if settings.summary.charts and measures and drawing is not None:
            # Pictures to come: the pool starts (fork server, matplotlib) while this job runs.
            drawing.warm()
        readers = [r for r in await store.weekly.readers(school_id) if r.student_id in students]
        ways = _ways_of_reading(readers, school)
        texts: dict[tuple[int, str, str], dict[str, Any]] = {}

        def compose(student_id: int, entries: Sequence[tuple[EntryFacts, str]]) -> None:
            known = (goals[student_id], questions[student_id], measures.get(student_id, ()))
            story = StudentWeek(students[student_id], entries, *known)
            pictured = settings.summary.charts and student_id in measures
            for language, timezone in ways[student_id]:
                told = replace(story, translated=translated[language]) if translated else story
                text = compose_summary(told, start, timezone, Translator(language))
                # Its picture's language: the sender makes and queues it once this is sent.
                then = picture_after(language) if pictured else {}
                texts[(student_id, language, timezone)] = to_payload(Reply(text), **then)

        weeks, translated = await _week(notes, store, clock, school, (start, end), ways)
        async for student_id, entries in weeks:
            if student_id in ways:
                compose(student_id, entries)
        letters = _Letters(store, settings, now, school)
        for reader in readers:
            way = (reader.student_id, *_way_of_reading(reader.language, reader.timezone, school))
            if way not in texts:  # nothing written this week: the kind empty-week summary
                compose(reader.student_id, ())
            due = letters.due(reader.timezone, reader.quiet_hours)
            key = outbox_keys.summary_key(reader.student_id, reader.person_id, week)
            letters.add_for(key, reader.person_id, due, "summary", texts[way], reader.student_id)
        return JobReport(school.name, await letters.post())


def _goals_by_student(goals: Iterable[WeekGoal]) -> defaultdict[int, list[WeekGoal]]:
    by_student: defaultdict[int, list[WeekGoal]] = defaultdict(list)
    for goal in goals:
        by_student[goal.student_id].append(goal)
    return by_student


def _ways_of_reading(
    readers: Sequence[Reader], school: School
) -> defaultdict[int, set[tuple[str, str]]]:
    """One composition per student, language and timezone, shared by every reader of it."""
    ways: defaultdict[int, set[tuple[str, str]]] = defaultdict(set)
    for reader in readers:
        ways[reader.student_id].add(_way_of_reading(reader.language, reader.timezone, school))
    return ways


async def _week(
    notes: NoteTranslator | None,
    store: Store,
    clock: Clock,
    school: School,
    bounds: tuple[datetime, datetime],
    ways: Mapping[int, set[tuple[str, str]]],
) -> tuple[Weeks, dict[str, dict[int, Rendering]]]:
    """The week's entries, streamed, and no translations; or, with a translation provider, the
    week read whole and translated before the summaries are composed."""
    assert school.id is not None
    weeks: Weeks = store.weekly.entries(school.id, *bounds)
    if notes is None or not notes.enabled:
        return weeks, {}
    return await _translated_week(notes, store, clock, school, weeks, ways)


async def _translated_week(
    notes: NoteTranslator,
    store: Store,
    clock: Clock,
    school: School,
    weeks: Weeks,
    ways: Mapping[int, set[tuple[str, str]]],
) -> tuple[Weeks, dict[str, dict[int, Rendering]]]:
    """The week read whole, to be told again, and its words (open questions included) in each
    reader language: a map, maybe empty, for every language read."""
    read = [(sid, week) async for sid, week in weeks if sid in ways]
    assert school.id is not None
    questions = await store.weekly.open_questions(school.id, clock.now() - QUESTIONS_LOOKBACK)
    languages = {sid: {language for language, _ in way} for sid, way in ways.items()}
    told = [(sid, e) for sid, week in read for e, _ in week]
    told += [(e.student_id, e) for e, _ in questions]
    shown = await translate_week(notes, store, clock, school.id, school.language, told, languages)
    every = {language for way in languages.values() for language in way}
    return _replayed(read), {language: shown.get(language, {}) for language in every}


async def _replayed(weeks: Sequence[tuple[int, Sequence[tuple[EntryFacts, str]]]]) -> Weeks:
    for week in weeks:
        yield week


def _way_of_reading(language: str, timezone: str | None, school: School) -> tuple[str, str]:
    """The language and timezone a summary is written in for one reader."""
    return language, timezone or school.timezone


def _by_student(
    rows: Iterable[tuple[WeekEntry, str]],
) -> defaultdict[int, list[tuple[WeekEntry, str]]]:
    grouped: defaultdict[int, list[tuple[WeekEntry, str]]] = defaultdict(list)
    for entry, author in rows:
        grouped[entry.student_id].append((entry, author))
    return grouped


def enabled_platforms(settings: Settings) -> list[str]:
    """The platforms letters can still go out on: the enabled ones, and the demo's console."""
    return [Platform.CONSOLE.value, *settings.enabled_platforms]


async def run_purge(
    db: Database, settings: Settings, clock: Clock, *, once: str | None = None
) -> dict[str, int]:
    """Delete records past `retention_days`, the bot's expired bookkeeping (invites unused a
    month past their expiry included), people on no team who run no school, and letters to a
    platform no longer enabled. With `once`, run by one replica a (UTC) day."""
    async with db.session() as session:
        now = clock.now()
        store = Store(session)
        if await _ran_elsewhere(store, "purge", 0, now.date().isoformat(), once, now):
            return {}
        purged = await store.records.purge(
            entries_before=now - timedelta(days=settings.security.retention_days),
            events_before=now - timedelta(days=30),
            now=now,
            platforms=enabled_platforms(settings),
        )
    # Deleted rows are overwritten in the file (secure_delete), not in SQLite's log.
    await db.checkpoint()
    return purged
