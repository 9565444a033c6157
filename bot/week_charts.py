"""The weekly summary's pictures: one per student, of the goals measured that week.

The summary job writes only the summaries; a summary of a student measured that week says, in
a few bytes, that its picture follows it and in which language (`picture_after`:
`"then": {"chart": "es"}`), and the sender, when it marks the summary sent, queues the chart
letter to the same person in the same transaction (`bot.outbox.follow_up_made`). The chart
letter's facts are made then from the summary's row (`chart_after`: the student, and the week
of its key) and hold no bounds: the week's are the school's, read with the goals at delivery.
So the job writes the same rows as with charts off, barely longer, and the picture never
arrives before its summary. Letters queued by earlier versions (the whole chart letter in the
summary, its week's bounds in the chart letter) are followed and drawn as they are.

The picture is drawn from the measures as they are at delivery (a note edited after the job ran
is shown as edited). The sender asks for it ahead (`WeekCharts.prepare`) when it claims the
summary or the chart letter, so it is drawn while the letters before it go out; never more than
the letters in the sender's hands need, and at most `in_flight` at a time, in the process pool
`bot.charts.DRAWING` (shared with /progress and /report; the runtime closes it on exit). Each
student's picture is drawn once for the whole team: it is kept, by student, week and a
fingerprint of everything drawn, in a bounded cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from bot import charts
from bot.events import Attachment, Reply
from bot.i18n import Translator
from bot.measure_words import chart_data, goal_series_words
from bot.outbox import FollowUpMaker, follow_up_made
from bot.weekly import iso_week_bounds
from storage.db import Database
from storage.models import Outbox
from storage.outbox_keys import parse_summary_key
from storage.stores import Store

log = logging.getLogger(__name__)

KIND = "chart"  # the letters' kind in the outbox
PAYLOAD_KEY = "chart"  # what marks a letter whose reply is made at delivery
# Drawings handed to the pool at once: one more than its workers, so that a worker done with
# one starts the next at once instead of waiting for a busy event loop to hand it over.
IN_FLIGHT = charts.DRAWERS + 1
CACHE_BYTES = 32 * 1024 * 1024  # pictures kept for the rest of a team (~60 KB each)
ASKED_KEPT = 4096  # weeks remembered as drawn ahead (a few summary days' worth)


def week_payload(student_id: int, week: str, language: str) -> dict[str, Any]:
    """What a chart letter keeps: which student and week to draw, in which language."""
    facts = {"student": student_id, "week": week, "language": language}
    return {"text": "", "buttons": [], PAYLOAD_KEY: facts}


def picture_after(language: str) -> dict[str, Any]:
    """What a summary's payload carries so that its picture, in `language`, follows it: the
    sender queues the chart letter once the summary is sent (`chart_after`)."""
    return follow_up_made(KIND, language)


def chart_after(summary: Outbox, language: Any) -> dict[str, Any] | None:
    """The chart letter that follows a summary sent (`picture_after`): its student and week
    are the summary's key's. None for a letter that is not a summary."""
    key = parse_summary_key(summary.dedupe_key)
    return None if key is None else week_payload(key.student_id, key.week, str(language))


FOLLOW_UPS: Mapping[str, FollowUpMaker] = {KIND: chart_after}


class WeekCharts:
    """Makes a chart letter's reply when the sender delivers it, and draws its picture ahead
    when the sender claims it or the summary it follows (`bot.outbox.Composer`)."""

    def __init__(
        self,
        db: Database,
        *,
        drawing: charts.DrawingPool = charts.DRAWING,
        in_flight: int = IN_FLIGHT,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self._db = db
        self._drawing_pool = drawing  # the process's; the runtime closes it on exit
        self._slots = asyncio.Semaphore(in_flight)
        # Pictures drawn ahead read their weeks a few at a time (the database's connections).
        self._ahead = asyncio.Semaphore(in_flight)
        # The weeks asked for ahead lately: each member's letter asks, one drawing serves all.
        self._asked: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._cache: OrderedDict[tuple[int, str, str], bytes] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached = 0
        self._drawing: dict[tuple[int, str, str], asyncio.Future[bytes]] = {}
        self.drawn = 0  # pictures drawn (not taken from the cache)

    @property
    def follow_ups(self) -> Mapping[str, FollowUpMaker]:
        return FOLLOW_UPS

    def composes(self, payload: dict[str, Any]) -> bool:
        return PAYLOAD_KEY in payload

    async def prepare(self, payload: dict[str, Any], person_id: int) -> None:
        """Draw the letter's picture into the cache before its turn to be sent, at most
        `in_flight` at once, once for every member of the team asking; a failure is only
        logged (`compose` draws it again, and a picture changed since is drawn again then)."""
        facts = payload[PAYLOAD_KEY]
        asked = tuple(sorted(facts.items()))
        if asked in self._asked:
            return
        self._asked[asked] = None
        while len(self._asked) > ASKED_KEPT:
            self._asked.popitem(last=False)
        try:
            async with self._ahead:
                read = await self._read(facts, None)
            if read is not None:  # queued for a drawing slot, in the order claimed
                await self.picture(facts["student"], facts["week"], read[1])
        except Exception as error:  # the letter's own turn tries again, and reports it
            log.info("drawing a week's picture ahead failed: %s", type(error).__name__)

    async def compose(self, payload: dict[str, Any], person_id: int) -> Reply | None:
        """The picture of the student's week with its numbers in words; None if nothing of
        that week is measured any more (its notes undone since the job ran), or if the reader
        has left the student's team or the student was archived meanwhile."""
        read = await self._read(payload[PAYLOAD_KEY], person_id)
        if read is None:
            return None
        facts, panels, words = read
        png = await self.picture(facts["student"], facts["week"], panels)
        return Reply(words, attachment=Attachment(png, f"progress-{facts['week']}.png", words))

    async def _read(
        self, facts: dict[str, Any], person_id: int | None
    ) -> tuple[dict[str, Any], tuple[charts.ChartData, ...], str] | None:
        """The week's panels and words as the reader sees them now; None if there is nothing
        to show them. Without a reader (drawn ahead: shown to nobody yet), no words."""
        t = Translator(facts["language"])
        name = ""
        async with self._db.session() as session:
            store = Store(session)
            if person_id is not None:
                # Checked as the picture is sent: a letter waits here while others are drawn.
                student = await store.students.readable_by(facts["student"], person_id)
                if student is None:
                    return None
                name = student.name
            week = await store.progress.student_week(facts["student"], partial(_bounds, facts))
        if not week:
            return None
        panels = tuple(chart_data(t, goal, series) for goal, series in week)
        if person_id is None:
            return facts, panels, ""
        lines = [goal_series_words(t, goal, series) for goal, series in week]
        return facts, panels, "\n".join([t("summary.chart_words", student=name), *lines])

    async def picture(
        self, student_id: int, week: str, panels: Sequence[charts.ChartData]
    ) -> bytes:
        """The PNG of these panels: from the cache, from a drawing already under way for
        another member of the team (or drawn ahead), or drawn now in the pool."""
        key = (student_id, week, _fingerprint(panels))
        while True:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            under_way = self._drawing.get(key)
            if under_way is None:
                return await self._draw_once(key, tuple(panels))
            try:
                return await asyncio.shield(under_way)
            except asyncio.CancelledError:
                this = asyncio.current_task()
                if not under_way.cancelled() or (this is not None and this.cancelling()):
                    raise
                # Only the drawing was cancelled (drawn ahead by a drain that ended): draw here.

    async def _draw_once(
        self, key: tuple[int, str, str], panels: tuple[charts.ChartData, ...]
    ) -> bytes:
        drawing: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._drawing[key] = drawing
        try:
            png = await self._draw(panels)
        except asyncio.CancelledError:
            drawing.cancel()
            raise
        except Exception as error:
            drawing.set_exception(error)
            drawing.exception()  # marked as read: there may be no other member waiting
            raise
        finally:
            del self._drawing[key]
        drawing.set_result(png)
        self._keep(key, png)
        return png

    async def _draw(self, panels: tuple[charts.ChartData, ...]) -> bytes:
        # At most `in_flight` drawings at once; the other letters wait here, holding no worker.
        async with self._slots:
            png = await self._drawing_pool.run(charts.draw_panels_png, panels)
        self.drawn += 1
        return png

    def _keep(self, key: tuple[int, str, str], png: bytes) -> None:
        self._cache[key] = png
        self._cached += len(png)
        while self._cached > self._cache_bytes and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached -= len(dropped)


def _bounds(facts: dict[str, Any], timezone: str) -> tuple[datetime, datetime]:
    """The week drawn, in the school's timezone (read with the student's goals); as the letter
    keeps them if it does (queued by a version that kept them)."""
    if "from" in facts:
        return datetime.fromisoformat(facts["from"]), datetime.fromisoformat(facts["to"])
    return iso_week_bounds(facts["week"], timezone)


def _fingerprint(panels: Sequence[charts.ChartData]) -> str:
    """Everything a picture shows (points, lines, words in the reader's language): an edit
    before delivery changes it, and the picture is drawn again."""
    return hashlib.sha256(repr(tuple(panels)).encode()).hexdigest()
