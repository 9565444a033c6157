"""Who wrote and their students, read once per message: on PostgreSQL the students come with the
sender's own query and stand for `links_of` until the transaction writes. A change the same
transaction makes to a team (a join, a removal) is then seen, as it was when each was read apart:
a removed member cannot go on writing about the student, a new one can write at once."""

from __future__ import annotations

from sqlalchemy import delete
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
