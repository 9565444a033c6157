"""A student's record as a person reads it: /record in chat, and the Markdown export for a
family. Chat and Markdown share one layout; only how a heading, an item and user text look
differs."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot import access, weekly
from bot.i18n import Translator
from bot.i18n.dates import locale_of
from bot.measure_words import measure_words
from bot.quoting import quote
from bot.student_record import StudentRecord
from storage.models import (
    AccessAction,
    AccessLog,
    AmendmentStatus,
    ExportFormat,
    Read,
    Role,
    Via,
)

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
    translated_into: Collection[str] | None = None,
) -> str:
    """The record as a person reads it: notes (each with its machine translations into
    `translated_into`, None: every kept one), check-ins, goals, corrections, who has read it
    (for a family, without naming people outside the team: `names_outsiders`)."""
    text = layout.text
    lines = [t("record.title", student=text(record.student.name), school=text(record.school.name))]
    if layout is MARKDOWN:
        lines = [f"# {lines[0]}", "", t("record.exported", timezone=timezone)]
    page = _Page(record, t, timezone, layout, translated_into)
    lines += page.team() + page.entries() + page.checkins() + page.goals() + page.amendments()
    lines.append(layout.heading(t("record.access", count=len(record.access))))
    lines += [
        layout.item(_access_line(row, record, t, timezone, names_outsiders))
        for row in record.access
    ]
    return "\n".join(lines).strip("\n")


@dataclass(frozen=True)
class _Page:
    """The record's sections, each as lines in one layout."""

    record: StudentRecord
    t: Translator
    timezone: str
    layout: _Layout
    translated_into: Collection[str] | None = None

    def team(self) -> list[str]:
        t, text, team = self.t, self.layout.text, self.record.team
        return [self.layout.heading(t("record.team", count=len(team)))] + [
            self.layout.item(
                t(
                    "record.member",
                    name=text(person.display_name),
                    role=t(f"role.{membership.role}"),
                )
            )
            for person, membership in team
        ]

    def entries(self) -> list[str]:
        t, text, layout, entries = self.t, self.layout.text, self.layout, self.record.entries
        lines = [layout.heading(t("record.entries", count=len(entries)))]
        measured = _measure_lines(self.record, t)
        if not entries:
            lines.append(t("record.no_entries", student=text(self.record.student.name)))
        for entry, author in entries:
            shown = entry.model_copy(update={"text": text(entry.text)})
            line = weekly.entry_line(shown, text(author), self.timezone, t, layout.item_indent)
            where = t(f"summary.setting.{entry.setting}")
            lines.append(layout.item(t("record.entry", number=entry.id, where=where, line=line)))
            lines += [
                layout.sub(
                    t(
                        "record.revision",
                        until=t.moment(revision.edited_at, self.timezone),
                        text=quote(text(revision.text), layout.sub_indent),
                    )
                )
                for revision in self.record.revisions.get(entry.id or 0, [])
            ]
            lines += [
                layout.sub(
                    t(
                        "record.translation",
                        provider=provider_name(t, row.provider),
                        language=language_name_in(t, row.language),
                        text=quote(text(row.text), layout.sub_indent),
                    )
                )
                for row in self.record.translations_of(entry, self.translated_into)
            ]
            if entry.id in measured:
                lines.append(layout.sub(measured[entry.id]))
        return lines

    def checkins(self) -> list[str]:
        t, text, layout = self.t, self.layout.text, self.layout
        checkins = self.record.checkins()
        if not checkins:
            return []
        lines = [layout.heading(t("record.checkins", count=len(checkins)))]
        for entry, author, added in checkins:
            when = t.moment(entry.created_at, self.timezone)
            mood = t(f"checkin.mood.{entry.mood}")
            who = text(author) or t("entry.former_member")
            lines.append(layout.item(t("record.checkin", when=when, author=who, mood=mood)))
            lines += [
                layout.sub(
                    t("record.checkin_added", text=quote(text(more.text), layout.sub_indent))
                )
                for more, _ in added
            ]
        return lines

    def goals(self) -> list[str]:
        t, text, goals = self.t, self.layout.text, self.record.goals
        counts = self.record.goal_counts()
        return [self.layout.heading(t("record.goals", count=len(goals)))] + [
            self.layout.item(
                t(
                    "record.goal",
                    tag=text(goal.tag),
                    description=text(goal.description),
                    count=counts.get(goal.id or 0, 0),
                    state=t("record.goal_active" if goal.active else "record.goal_retired"),
                )
            )
            for goal in goals
        ]

    def amendments(self) -> list[str]:
        t, text, layout, record = self.t, self.layout.text, self.layout, self.record
        if not record.amendments:
            return []
        former = t("entry.former_member")
        lines = [layout.heading(t("record.amendments", count=len(record.amendments)))]
        for amendment in record.amendments:
            asked = t(
                "record.amendment",
                number=amendment.id,
                entry=amendment.entry_id,
                when=t.moment(amendment.requested_at, self.timezone),
                who=text(record.name_of(amendment.requested_by)) or former,
                text=quote(text(amendment.text), layout.item_indent),
            )
            decided = amendment.decided_at
            outcome = t(
                f"record.amendment_{amendment.status}",
                who=text(record.name_of(amendment.decided_by)) or former,
                when=t.moment(decided, self.timezone) if decided else "",
            )
            lines += [layout.item(asked), layout.sub(outcome)]
        return lines


# The services' own names, as they write them.
_PROVIDERS = {"libretranslate": "LibreTranslate", "deepl": "DeepL"}


def provider_name(t: Translator, provider: str) -> str:
    """Which service made a translation; those kept before it was noted say so."""
    return _PROVIDERS.get(provider, provider) or t("record.provider_unknown")


def language_name_in(t: Translator, language: str) -> str:
    """A language's name in the reader's language: `Spanish`, `español`."""
    return locale_of(language).get_display_name(t.language) or language


def _measure_lines(record: StudentRecord, t: Translator) -> dict[int, str]:
    """Entry id -> `measure: #reading 60 % (6/10)`, for the entries that carry one."""
    tags = {goal.id: goal.tag for goal in record.goals}
    return {
        measure.entry_id: t(
            "record.measure", tag=tags.get(measure.goal_id, ""), value=measure_words(t, measure)
        )
        for measure in record.measures
    }


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
    Read.PROGRESS: "record.seen.progress",
    Read.REPORT: "record.seen.report",
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
