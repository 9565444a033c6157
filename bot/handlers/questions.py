"""Questions to the team: /questions lists open ones; /answer N or a reply answers one."""

from __future__ import annotations

from datetime import timedelta

from bot import access, grammar, translated_notes
from bot.access import Action, Viewed
from bot.context import Context
from bot.events import IncomingMessage, Reply
from bot.i18n import Translator
from bot.notifications import not_before, original_button
from bot.outbox import Letter, enqueue
from bot.quoting import quote
from bot.router import Router
from storage import outbox_keys
from storage.models import Entry, EntryKind, Person, Read, Role, Setting, Student

OPEN_FOR = timedelta(days=60)


async def list_questions(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """Open questions about the sender's students, oldest first."""
    links = await access.my_students(ctx, Action.READ)
    names = {link.student.id: link.student.name for link in links}
    open_ones = await ctx.store.entries.open_questions(
        [sid for sid in names if sid is not None], ctx.clock.now() - OPEN_FOR
    )
    if not open_ones:
        return [ctx.say("questions.none")]
    # Question texts are part of each student's record: reading them is logged like /log.
    students = {link.student.id: link.student for link in links}
    for student_id in dict.fromkeys(entry.student_id for entry, _ in open_ones):
        await access.log(ctx, students[student_id], Viewed(Read.QUESTIONS))
    school_id = students[open_ones[0][0].student_id].school_id
    shown = await translated_notes.for_reader(ctx, [entry for entry, _ in open_ones], school_id)
    lines = [
        ctx.t(
            "questions.line",
            number=entry.id,
            student=names[entry.student_id],
            author=author or ctx.t("entry.former_member"),
            text=translated_notes.quoted(entry.text, shown.get(entry.id or 0), entry.id, ctx.t),
        )
        for entry, author in open_ones
    ]
    return [Reply("\n".join([ctx.t("questions.title"), *lines, ctx.t("questions.hint")]))]


async def answer_command(msg: IncomingMessage, ctx: Context, args: str) -> list[Reply]:
    """`/answer 12 Yes, headphones are fine`"""
    word, _, text = args.strip().partition(" ")
    if not word.lstrip("#").isdecimal() or not text.strip():
        return [ctx.say("answer.usage")]
    number = grammar.entry_number(word)
    if number is None:
        # Too big to be any question's number: the same answer as a number nobody has.
        return [ctx.say("answer.not_found", number=word.lstrip("#")[:12])]
    return await answer(msg, ctx, number, text.strip())


async def answer(msg: IncomingMessage, ctx: Context, number: int, text: str) -> list[Reply]:
    """Log the answer on the question's student and send it to the asker."""
    question = await ctx.store.entries.get(number)
    links = {link.student.id: link for link in await access.my_students(ctx, Action.ANSWER)}
    if question is None or question.kind != EntryKind.QUESTION or question.student_id not in links:
        # A question about someone else's child looks like no question at all, but is logged.
        if question is not None and question.student_id not in links:
            other = await ctx.store.students.get(question.student_id)
            await access.refuse(ctx, other, Action.ANSWER)
        return [ctx.say("answer.not_found", number=number)]
    link = links[question.student_id]
    student = link.student
    entry = await ctx.store.entries.add(
        Entry(
            student_id=question.student_id,
            author_id=ctx.my_id,
            kind=EntryKind.ANSWER,
            setting=Setting.HOME if link.role == Role.PARENT else Setting.SCHOOL,
            text=text,
            reply_to_id=question.id,
            source_platform=ctx.account.platform if ctx.account else "",
            source_ref=msg.message_ref,
            created_at=ctx.clock.now(),
        )
    )
    asker = await ctx.store.people.get(question.author_id) if question.author_id else None
    if asker is not None and asker.id is not None and asker.id != ctx.my_id:
        await _tell_asker(ctx, asker, question, entry, student)
    return [
        ctx.say(
            "answer.sent",
            student=student.name,
            asker=asker.display_name if asker else ctx.t("entry.former_member"),
        )
    ]


async def _tell_asker(
    ctx: Context, asker: Person, question: Entry, answer: Entry, student: Student
) -> None:
    """The answer, in the asker's language, when they get to read it (quiet hours apply)."""
    assert answer.id is not None and asker.id is not None
    school = await ctx.store.students.school(student.school_id)
    t = Translator(asker.language)
    translated = await translated_notes.for_team(ctx, answer, student.school_id, [asker.language])
    button = await original_button(ctx, answer, asker, translated, t)
    await enqueue(
        ctx.store,
        Letter(
            key=outbox_keys.answer_key(answer.id, asker.id),
            person_id=asker.id,
            kind=EntryKind.ANSWER,
            reply=Reply(
                t(
                    "notify.answer",
                    author=ctx.me.display_name,
                    student=student.name,
                    question=quote(question.text),
                    text=translated_notes.quoted(
                        answer.text, translated.get(asker.language), answer.id, t
                    ),
                )
            ).with_buttons(button),
            not_before=not_before(ctx, asker, school.timezone if school else "UTC"),
            student_id=student.id,
        ),
    )


def register(router: Router) -> None:
    """/questions and /answer (a reply to a question's letter: bot/handlers/replies.py)."""
    router.command("questions", list_questions)
    router.command("answer", answer_command)
