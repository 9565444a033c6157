"""Who wrote and their students, read once per message: on PostgreSQL the students come with the
sender's own query and stand for `links_of` until the transaction writes. A change the same
transaction makes to a team (a join, a removal) is then seen, as it was when each was read apart:
a removed member cannot go on writing about the student, a new one can write at once."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, inspect
from sqlalchemy.orm import object_session
from sqlmodel import col

from bot import roster
from storage.db import Database
from storage.models import Membership, Platform, Role
from storage.stores import Store
from tests.conftest import START

EXTERNAL_ID = "7001"


async def _teacher_of_sam_with_leo_unjoined(db: Database) -> tuple[int, int, int]:
    """A teacher on Sam's team, and Leo in the same school: (teacher, Sam, Leo) ids."""
    async with db.session() as session:
        store = Store(session)
        school = await roster.ensure_school(store, "Maple Elementary", "America/Chicago", "en")
        sam = await roster.add_student(store, school, "Sam Rivera")
        leo = await roster.add_student(store, school, "Leo Chen")
        teacher = await store.people.add("Maria Ortiz", "en")
        await store.people.add_account(teacher, Platform.TELEGRAM, "", EXTERNAL_ID, EXTERNAL_ID)
        assert teacher.id is not None and sam.id is not None and leo.id is not None
        await store.students.add_membership(teacher.id, sam.id, Role.TEACHER, "instant")
        return teacher.id, sam.id, leo.id


async def _names(store: Store, person_id: int) -> list[str]:
    return [link.student.name for link in await store.students.links_of(person_id)]


async def test_a_join_in_the_same_transaction_is_seen_by_the_next_read_of_the_students(
    db: Database,
) -> None:
    teacher, _, leo = await _teacher_of_sam_with_leo_unjoined(db)
    async with db.session() as session:
        store = Store(session)
        found = await store.people.sender(Platform.TELEGRAM, "", EXTERNAL_ID, [], START)
        assert found is not None and found.person.id == teacher
        assert await _names(store, teacher) == ["Sam Rivera"]
        await store.students.add_membership(teacher, leo, Role.TEACHER, "instant")
        assert await _names(store, teacher) == ["Leo Chen", "Sam Rivera"]


async def test_a_removal_written_past_the_orm_is_seen_by_the_next_read_of_the_students(
    db: Database,
) -> None:
    teacher, sam, _ = await _teacher_of_sam_with_leo_unjoined(db)
    async with db.session() as session:
        store = Store(session)
        await store.people.sender(Platform.TELEGRAM, "", EXTERNAL_ID, [], START)
        assert await _names(store, teacher) == ["Sam Rivera"]
        # A bulk write (no object flushed): the ORM's execute event is what sees it.
        await session.exec(
            delete(Membership).where(
                col(Membership.person_id) == teacher, col(Membership.student_id) == sam
            )
        )
        assert await _names(store, teacher) == []


# --- what the sender's statement brings is the session's own: changed, it is saved ----------


async def test_the_sender_renamed_in_the_transaction_that_read_them_is_saved_not_added_again(
    db: Database,
) -> None:
    teacher, _, _ = await _teacher_of_sam_with_leo_unjoined(db)
    async with db.session() as session:
        store = Store(session)
        found = await store.people.sender(Platform.TELEGRAM, "", EXTERNAL_ID, [], START)
        assert found is not None
        found.person.display_name = "Maria Ortiz-Lee"
        found.account.active = False
        await store.people.save(found.person)
        await store.people.save(found.account)
        assert await store.people.get(teacher) is found.person
    async with db.session() as session:
        store = Store(session)
        again = await store.people.sender(Platform.TELEGRAM, "", EXTERNAL_ID, [], START)
        everyone = await store.people.names_of([teacher, teacher + 1])

    assert again is not None
    assert (again.person.display_name, again.account.active) == ("Maria Ortiz-Lee", False)
    assert everyone == {teacher: "Maria Ortiz-Lee"}


async def test_the_senders_rows_are_the_sessions_own_until_it_closes(db: Database) -> None:
    teacher, _, _ = await _teacher_of_sam_with_leo_unjoined(db)
    async with db.session() as session:
        store = Store(session)
        found = await store.people.sender(Platform.TELEGRAM, "", EXTERNAL_ID, [], START)
        assert found is not None
        [link] = await store.students.links_of(teacher)
        for row in (found.account, found.person, link.student):
            assert object_session(row) is session.sync_session
            assert inspect(row).persistent
        await session.refresh(found.person)
        assert found.person.display_name == "Maria Ortiz"

    assert inspect(found.person).detached and inspect(link.student).detached


async def test_a_student_archived_through_the_senders_links_is_saved(db: Database) -> None:
    teacher, sam, _ = await _teacher_of_sam_with_leo_unjoined(db)
    async with db.session() as session:
        store = Store(session)
        await store.people.sender(Platform.TELEGRAM, "", EXTERNAL_ID, [], START)
        [link] = await store.students.links_of(teacher)
        await store.students.set_archived(link.student, True)
    async with db.session() as session:
        student = await Store(session).students.get(sam)

    assert student is not None and student.archived


async def test_an_event_whose_handling_failed_is_not_taken_for_a_retry_when_sent_again(
    db: Database,
) -> None:
    """The dedupe row is written in the event's transaction: gone with it when handling fails."""

    async def is_new(event_id: str, fail: bool = False) -> bool:
        async with db.event_session() as session:
            arrival = await Store(session).people.arrival(
                platform=Platform.TELEGRAM,
                workspace="",
                external_id=EXTERNAL_ID,
                chat=EXTERNAL_ID,
                event_id=event_id,
                follow_ups=[],
                now=START,
            )
            if fail:
                raise RuntimeError("the handler failed")
            return arrival.fresh

    with pytest.raises(RuntimeError):
        await is_new("tg:1", fail=True)

    assert await is_new("tg:1")
    assert not await is_new("tg:1")
