"""A letter that carries the one to follow it (a summary, then its picture): the sender queues
the follow-up when it marks the first sent, in the same transaction, and sends it next in
that chat. Never for a letter given up; once, however often the first is delivered. The
follow-up is carried whole, or as a word from which its composer makes it at that moment.

Time is a FakeClock driven by VirtualTime: nothing here really sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from bot.events import Reply
from bot.outbox import (
    FollowUpMaker,
    Letter,
    PermanentError,
    enqueue,
    follow_up,
    follow_up_made,
    to_payload,
)
from bot.sender import OutboxSender
from storage.db import Database
from storage.models import Outbox, OutboxStatus, Platform
from storage.outbox_keys import follow_up_key
from storage.stores import Store
from tests.conftest import FakeClock
from tests.outbox_fakes import FAST, FakePlatform, Household, VirtualTime, blocked, sender


async def followed_letters(
    home: Household,
    people: Sequence[int],
    prefix: str = "week",
    *,
    composed: bool = False,
    made: bool = False,
) -> None:
    """To each person a letter `<prefix>:<n>:<person>` followed by `then <prefix>:<n>:<person>`
    (`made`: carried as a word, made by `Pictures.follow_ups`)."""
    async with home.db.session() as session:
        store = Store(session)
        for n, person_id in enumerate(people):
            key = f"{prefix}:{n}:{person_id}"
            extra = {"picture": True} if composed else {}
            then = follow_up("picture", to_payload(Reply(f"then {key}"), **extra))
            if made:
                then = follow_up_made("picture", "then")
            await enqueue(
                store,
                Letter(
                    key=key,
                    person_id=person_id,
                    kind="summary",
                    reply=Reply(key),
                    not_before=home.clock.now(),
                    student_id=home.student_id,
                    extra=then,
                ),
            )


def follow_ups(rows: Sequence[Outbox]) -> list[Outbox]:
    return [row for row in rows if row.kind == "picture"]


async def test_the_follow_up_is_queued_when_the_letter_is_sent_and_goes_right_after_it(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana, luis] = await home.people(["dana", "luis"])
    await followed_letters(home, [dana, luis])
    await home.letters([dana], prefix="later")  # queued after the summary, to the same chat

    report = await sender(db, platform, clock, time).drain()

    assert report.sent == 5
    assert [d.text for d in platform.to("dana")] == [
        f"week:0:{dana}",
        f"then week:0:{dana}",  # before the letter queued after the summary
        f"later:0:{dana}",
    ]
    assert [d.text for d in platform.to("luis")] == [f"week:1:{luis}", f"then week:1:{luis}"]
    rows = await home.outbox()
    summaries = {row.dedupe_key: row for row in rows if row.kind == "summary"}
    for then in follow_ups(rows):
        [letter] = [row for key, row in summaries.items() if follow_up_key(key) == then.dedupe_key]
        assert then.status == OutboxStatus.SENT
        assert (then.person_id, then.account_id) == (letter.person_id, letter.account_id)
        assert (then.student_id, then.school_id) == (letter.student_id, letter.school_id)
        assert letter.sent_at is not None and then.not_before == letter.sent_at
    assert len(follow_ups(rows)) == 2


async def test_a_letter_given_up_queues_no_follow_up(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana, kim, lee] = await home.people(["dana", "kim", "lee"])
    await followed_letters(home, [dana, kim, lee])
    platform.always["dana"] = blocked("dana")
    platform.always["kim"] = PermanentError("bad request")
    async with db.session() as session:  # Lee left the team after the letter was queued
        store = Store(session)
        membership = await store.students.membership(lee, home.student_id)
        assert membership is not None
        await store.students.delete_membership(membership)

    report = await sender(db, platform, clock, time).drain()

    assert (report.sent, report.blocked, report.dead) == (0, 1, 1)
    rows = await home.outbox()
    assert follow_ups(rows) == []
    assert sorted(row.status for row in rows) == ["cancelled", "dead", "failed"]


async def test_a_letter_sent_twice_by_a_crash_is_followed_once(
    db: Database, home: Household, clock: FakeClock, time: VirtualTime
) -> None:
    # The process dies after the platform took the letter, before marking it sent: the letter
    # goes again after the restart (at least once), and its follow-up once.
    platform = FakePlatform(clock, time, crash_at=1, crash_after_delivery=True)
    [dana] = await home.people(["dana"])
    await followed_letters(home, [dana])

    with pytest.raises(BaseExceptionGroup):
        await sender(db, platform, clock, time, worker="before").drain()
    assert follow_ups(await home.outbox()) == []
    platform.crash_at = None
    clock.advance(seconds=60)  # its claim runs out
    await sender(db, platform, clock, time, worker="after").drain()
    await sender(db, platform, clock, time, worker="again").drain()

    assert platform.texts() == [f"week:0:{dana}", f"week:0:{dana}", f"then week:0:{dana}"]
    assert [row.status for row in follow_ups(await home.outbox())] == [OutboxStatus.SENT]


async def test_a_follow_up_already_queued_is_not_queued_again(
    db: Database, home: Household, clock: FakeClock
) -> None:
    [dana] = await home.people(["dana"])
    account = await home.account(dana)
    assert account.id is not None

    def picture() -> Outbox:
        return Outbox(
            dedupe_key=follow_up_key("week:0:1"),
            person_id=dana,
            account_id=account.id or 0,
            student_id=home.student_id,
            school_id=home.school_id,
            kind="picture",
            payload={"text": "then"},
            not_before=clock.now(),
            claimed_by="w",
            claimed_until=clock.now(),
        )

    async with db.session() as session:
        first = await Store(session).outbox.add_claimed(picture())
        second = await Store(session).outbox.add_claimed(picture())

    assert first is not None and first.id is not None and first.claimed_by == "w"
    assert second is None
    assert len(await home.outbox()) == 1


def picture_after(letter: Outbox, said: Any) -> dict[str, Any] | None:
    """The picture that follows a `week:` letter (`followed_letters(..., made=True)`), made
    from the letter sent and the word it carries; none after any other letter."""
    if not letter.dedupe_key.startswith("week:"):
        return None
    return to_payload(Reply(f"{said} {letter.dedupe_key}"), picture=True)


class Pictures:
    """A composer of the letters marked `picture`, which makes them after `week:` letters."""

    def __init__(self) -> None:
        self.prepared: list[str] = []

    @property
    def follow_ups(self) -> Mapping[str, FollowUpMaker]:
        return {"picture": picture_after}

    def composes(self, payload: dict[str, Any]) -> bool:
        return "picture" in payload

    async def prepare(self, payload: dict[str, Any], person_id: int) -> None:
        self.prepared.append(payload["text"])

    async def compose(self, payload: dict[str, Any], person_id: int) -> Reply | None:
        return Reply(payload["text"])


def composing(
    db: Database, platform: FakePlatform, clock: FakeClock, time: VirtualTime, composer: Any
) -> OutboxSender:
    return OutboxSender(
        db,
        {Platform.TELEGRAM: platform},
        clock,
        FAST,
        worker="w",
        sleep=time.sleep,
        composer=composer,
    )


async def test_a_follow_up_carried_as_a_word_is_made_by_its_composer_from_the_letter_sent(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana, luis] = await home.people(["dana", "luis"])
    await followed_letters(home, [dana, luis], made=True)
    await followed_letters(home, [dana], prefix="other", made=True)  # no maker makes these
    pictures = Pictures()

    report = await composing(db, platform, clock, time, pictures).drain()

    assert report.sent == 5
    assert [d.text for d in platform.to("dana")] == [
        f"week:0:{dana}",
        f"then week:0:{dana}",
        f"other:0:{dana}",
    ]
    assert [d.text for d in platform.to("luis")] == [f"week:1:{luis}", f"then week:1:{luis}"]
    # Drawn ahead as each letter was claimed: the follow-up made from the letter in hand.
    assert sorted(pictures.prepared) == sorted([f"then week:0:{dana}", f"then week:1:{luis}"])
    rows = await home.outbox()
    letter = next(row for row in rows if row.dedupe_key == f"week:0:{dana}")
    assert letter.payload == {"text": f"week:0:{dana}", "buttons": [], "then": {"picture": "then"}}
    [then] = [row for row in follow_ups(rows) if row.person_id == dana]
    assert then.dedupe_key == follow_up_key(letter.dedupe_key)
    assert then.payload == to_payload(Reply(f"then week:0:{dana}"), picture=True)


async def test_a_follow_up_carried_as_a_word_with_nobody_to_make_it_is_not_queued(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    [dana] = await home.people(["dana"])
    await followed_letters(home, [dana], made=True)

    report = await sender(db, platform, clock, time).drain()  # no composer: no maker

    assert report.sent == 1 and platform.texts() == [f"week:0:{dana}"]
    assert follow_ups(await home.outbox()) == []


class SlowPictures:
    """A composer whose pictures are all ready only once every summary has gone out."""

    def __init__(self, summaries: int) -> None:
        self.summaries = summaries
        self.waiting = 0
        self.prepared: list[str] = []
        self.ready = asyncio.Event()

    @property
    def follow_ups(self) -> Mapping[str, FollowUpMaker]:
        return {}

    def composes(self, payload: dict[str, Any]) -> bool:
        return "picture" in payload

    async def prepare(self, payload: dict[str, Any], person_id: int) -> None:
        self.prepared.append(payload["text"])

    async def compose(self, payload: dict[str, Any], person_id: int) -> Reply | None:
        self.waiting += 1
        if self.waiting == self.summaries:
            self.ready.set()
        await self.ready.wait()
        return Reply(payload["text"])


async def test_follow_ups_waiting_for_their_reply_do_not_hold_up_the_letters_behind(
    db: Database, home: Household, platform: FakePlatform, clock: FakeClock, time: VirtualTime
) -> None:
    people = await home.people([f"c{n}" for n in range(100)])  # more than the sender holds
    await followed_letters(home, people, composed=True)
    pictures = SlowPictures(len(people))
    outbox = OutboxSender(
        db,
        {Platform.TELEGRAM: platform},
        clock,
        FAST,
        worker="w",
        sleep=time.sleep,
        composer=pictures,
    )

    async with asyncio.timeout(60):  # each picture waits for the last summary to go out
        report = await outbox.drain()

    assert report.sent == 200
    assert len(pictures.prepared) == 100  # each prepared as its summary was claimed
    for person in people:
        [summary, picture] = [d.text for d in platform.deliveries if d.text.endswith(f":{person}")]
        assert picture == f"then {summary}"
