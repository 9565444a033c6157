"""Machine translations of entries, kept per wording and reader language."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import literal, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, func, select

from storage.models import Admin, Membership, Person, Student, Translation, TranslationUsage
from storage.stores._sql import Queries


class TranslationStore(Queries):
    """What was translated before, so that a second read asks the provider nothing."""

    async def known(
        self, entry_ids: Sequence[int], language: str
    ) -> dict[tuple[int, str], Translation]:
        """The kept translations of these entries into `language`, by (entry, wording hash)."""
        if not entry_ids:
            return {}
        statement = select(Translation).where(
            col(Translation.entry_id).in_(entry_ids), Translation.language == language
        )
        rows = (await self.session.exec(statement)).all()
        return {(row.entry_id, row.source_hash): row for row in rows}

    async def of_entries(self, entry_ids: Sequence[int]) -> list[Translation]:
        """Every kept translation of these entries, any wording and language, oldest first."""
        if not entry_ids:
            return []
        statement = (
            select(Translation)
            .where(col(Translation.entry_id).in_(entry_ids))
            .order_by(col(Translation.entry_id), col(Translation.language), col(Translation.id))
        )
        return list((await self.session.exec(statement)).all())

    async def add_many(self, rows: Sequence[Translation]) -> None:
        """Keep these; one another reader kept at the same time stays as it is."""
        if not rows:
            return
        dialect = self._dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        values = [row.model_dump(exclude={"id"}) for row in rows]
        await self.session.exec(insert(Translation).values(values).on_conflict_do_nothing())

    async def names(self, school_id: int) -> list[str]:
        """Every student and person name the school's notes could hold, to be masked."""
        students = select(Student.name).where(Student.school_id == school_id)
        people = (
            select(Person.display_name)
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .join(Student, col(Student.id) == col(Membership.student_id))
            .where(Student.school_id == school_id)
        )
        admins = (
            select(Person.display_name)
            .join(Admin, col(Admin.person_id) == col(Person.id))
            .where(Admin.school_id == school_id)
        )
        found: set[str] = set()
        for statement in (students, people, admins):
            found.update((await self.session.exec(statement)).all())
        return sorted(found)

    async def names_version(self, school_id: int) -> tuple[int, ...]:
        """Changes whenever `names(school_id)` could: a student, a team member or an admin added
        or removed, a name's length changed. Aggregates the database computes (counts, largest
        ids, total name lengths) rather than every name sent over."""
        students = select(
            literal(0), func.count(), func.max(Student.id), func.sum(func.length(Student.name))
        ).where(Student.school_id == school_id)
        members = (
            select(
                literal(1),
                func.count(),
                func.max(Membership.id),
                func.sum(func.length(Person.display_name)),
            )
            .join(Person, col(Person.id) == col(Membership.person_id))
            .join(Student, col(Student.id) == col(Membership.student_id))
            .where(Student.school_id == school_id)
        )
        admins = (
            select(
                literal(2),
                func.count(),
                func.max(Admin.id),
                func.sum(func.length(Person.display_name)),
            )
            .join(Person, col(Person.id) == col(Admin.person_id))
            .where(Admin.school_id == school_id)
        )
        connection = await self.session.connection()
        rows = (await connection.execute(union_all(students, members, admins))).all()
        return tuple(int(value or 0) for row in sorted(rows) for value in row[1:])

    async def languages(self, person_ids: Sequence[int]) -> dict[int, str]:
        """The language each of these people reads Tandem in (a note's fallback language)."""
        if not person_ids:
            return {}
        statement = select(Person.id, Person.language).where(col(Person.id).in_(person_ids))
        rows = (await self.session.exec(statement)).all()
        return {pid: language for pid, language in rows if pid is not None}

    async def spend(self, provider: str, month: str, chars: int, limit: int) -> bool:
        """Add `chars` to `provider`'s count for `month`, unless that would pass `limit` (0: no
        limit); whether it was added. One statement: replicas adding at once never both pass."""
        if limit and chars > limit:
            return False
        dialect = self._dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        table = TranslationUsage.__table__  # type: ignore[attr-defined]
        added = table.c.chars + chars
        statement = (
            insert(TranslationUsage)
            .values(provider=provider, month=month, chars=chars)
            .on_conflict_do_update(
                index_elements=[table.c.provider, table.c.month],
                set_={"chars": added},
                where=(added <= limit) if limit else None,
            )
            .returning(table.c.chars)
        )
        return (await self.session.exec(statement)).first() is not None

    async def spent(self, provider: str, month: str) -> int:
        """The characters counted for `provider` in `month`."""
        statement = select(TranslationUsage.chars).where(
            TranslationUsage.provider == provider, TranslationUsage.month == month
        )
        return (await self.session.exec(statement)).first() or 0
