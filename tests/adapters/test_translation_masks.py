"""The school's name mask is built once and kept, and a name added since (on this replica or
another) is masked from the next read on: no request ever holds it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot import roster
from storage.db import Database
from storage.models import School
from storage.stores import Store
from tests.adapters.fake_translation import FakeTranslation
from tests.conftest import DemoSchool
from tests.unit.conftest import invite_code


@pytest.fixture
def school(translating_school: DemoSchool) -> DemoSchool:
    return translating_school


async def read_once(school: DemoSchool) -> None:
    """The Spanish-reading father reads Sam's log: what is new is sent, and the mask built."""
    await school.say(school.spanish_parent, "/log Sam")


def sent(libre: FakeTranslation) -> str:
    return " ".join(libre.sent_texts).lower()


async def test_a_student_added_on_another_replica_is_masked_on_the_next_read(
    school: DemoSchool, libre: FakeTranslation
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await read_once(school)
    other_replica = Database(school.db.url)
    async with other_replica.session() as session:
        store = Store(session)
        maple = (await session.exec(select(School))).one()
        await roster.add_student(store, maple, "Zainab Okonkwo")
    await other_replica.dispose()

    await school.say(school.teacher, "+ Sam shared his blocks with Zainab Okonkwo")
    await read_once(school)

    assert len(libre.requests) == 2
    assert "shared his blocks with" in sent(libre)
    assert "zainab" not in sent(libre) and "okonkwo" not in sent(libre)


async def test_a_person_joining_the_team_is_masked_on_the_next_read(
    school: DemoSchool, libre: FakeTranslation
) -> None:
    await school.say(school.teacher, "+ Sam read a whole page aloud")
    await read_once(school)
    code = invite_code(await school.say(school.teacher, "/invite Sam teacher"))
    await school.say(school.stranger("Mr. Thaddeus Quimby"), f"/start {code}")

    await school.say(school.teacher, "+ Sam sorted the shapes with Mr. Quimby")
    await read_once(school)

    assert "sorted the shapes with" in sent(libre)
    assert "quimby" not in sent(libre) and "thaddeus" not in sent(libre)


async def test_the_mask_is_kept_while_the_names_stay_the_same(
    school: DemoSchool, libre: FakeTranslation
) -> None:
    notes = school.dispatcher.notes
    assert notes is not None
    async with school.db.session() as session:
        store = Store(session)
        first = await notes.masks.of_school(store, 1)
        again = await notes.masks.of_school(store, 1)
        await roster.add_student(store, (await session.exec(select(School))).one(), "Ada Byrne")
        rebuilt = await notes.masks.of_school(store, 1)

    assert again is first
    assert rebuilt is not first
    assert rebuilt.mask("Ada drew a cat").names == ("Ada",)
    assert first.mask("Ada drew a cat").names == ()
