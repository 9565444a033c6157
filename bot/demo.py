"""The seeded demo school behind `tandem demo`: two students, a teacher, three parents."""

from __future__ import annotations

from dataclasses import dataclass

from bot import roster
from storage.models import Delivery, Platform, Role
from storage.stores import Store

DEMO_SCHOOL = "Maple Elementary (demo)"


@dataclass(frozen=True)
class DemoPerson:
    name: str
    role: Role
    students: tuple[str, ...]
    admin: bool = False
    language: str = "en"
    email: str = ""  # reads Tandem by email (the console shows their letters as text)


DEMO_PEOPLE = (
    DemoPerson("Ms. Ortiz", Role.TEACHER, ("Sam Rivera", "Maya Chen"), admin=True),
    DemoPerson("Dana Rivera", Role.PARENT, ("Sam Rivera",)),
    DemoPerson("Lee Chen", Role.PARENT, ("Maya Chen",)),
    # Sam's father reads Tandem in Spanish: the same notes, Tandem's own words in his language.
    DemoPerson("Luis Rivera", Role.PARENT, ("Sam Rivera",), language="es"),
)
# Maya's mother uses neither Telegram nor Slack: `tandem demo` adds her (seed_demo(email=True)).
DEMO_EMAIL_PARENT = DemoPerson(
    "Rosa Chen", Role.PARENT, ("Maya Chen",), email="rosa.chen@example.org"
)
DEMO_GOALS = {
    "Sam Rivera": [("reading", "Reads a page aloud to an adult")],
    "Maya Chen": [("calm", "Uses a calm-down strategy when upset")],
}


def console_id(name: str) -> str:
    """The console's stand-in for a platform user id."""
    return "-".join(name.casefold().replace(".", "").split())


async def seed_demo(
    store: Store, timezone: str = "America/Chicago", *, email: bool = False
) -> bool:
    """Create the demo school once (with its email parent if `email`); False if it was
    already there."""
    found = await store.students.school_named(DEMO_SCHOOL)
    if found is not None:
        if email:
            await seed_email_parent(store)
        return False
    school = await store.students.add_school(DEMO_SCHOOL, timezone, "en")
    students = {}
    for name, goals in DEMO_GOALS.items():
        student = await roster.add_student(store, school, name)
        assert student.id is not None
        students[name] = student.id
        for tag, description in goals:
            await store.entries.set_goal(student.id, tag, description)
    assert school.id is not None
    for demo in DEMO_PEOPLE:
        person = await store.people.add(demo.name, demo.language)
        assert person.id is not None
        await store.people.add_account(
            person, Platform.CONSOLE, "", console_id(demo.name), console_id(demo.name)
        )
        for name in demo.students:
            await store.students.add_membership(
                person.id, students[name], demo.role, Delivery.WEEKLY
            )
        if demo.admin:
            await store.students.add_admin(person.id, school.id)
    if email:
        await seed_email_parent(store)
    return True


async def seed_email_parent(store: Store) -> None:
    """Add the demo's email parent once (to a demo school seeded before she was in it)."""
    demo = DEMO_EMAIL_PARENT
    if await store.people.account(Platform.EMAIL, "", console_id(demo.name)) is not None:
        return
    school = await store.students.school_named(DEMO_SCHOOL)
    assert school is not None and school.id is not None
    students = {s.name: s.id for s in await store.students.in_school(school.id)}
    person = await store.people.add(demo.name, demo.language)
    assert person.id is not None
    # On the email platform, her console name as the account: the core knows no addresses.
    await store.people.add_account(
        person, Platform.EMAIL, "", console_id(demo.name), console_id(demo.name)
    )
    for name in demo.students:
        student_id = students.get(name)
        if student_id is not None:
            await store.students.add_membership(person.id, student_id, demo.role, Delivery.WEEKLY)
