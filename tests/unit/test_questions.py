"""Questions to the team (DESIGN.md section 4): `?`, /questions, /answer N, answering by reply."""

from __future__ import annotations

from sqlmodel import col, update

from bot.events import Chat, IncomingMessage, Sender
from storage.models import Entry, EntryKind, Outbox, Setting
from tests.conftest import DemoSchool, Said
from tests.unit.conftest import Mail, Record, en

HEADPHONES = "Can Sam bring headphones on the bus?"


async def ask(school: DemoSchool, record: Record, sender: Sender, text: str) -> Entry:
    """Ask a question the way a parent or teacher would; the question entry it logged."""
    await school.say(sender, f"? {text}")
    *_, question = await record.entries()
    assert question.kind == EntryKind.QUESTION
    return question


async def reply_to(school: DemoSchool, sender: Sender, message_ref: str, text: str) -> Said:
    """A Telegram reply (or Slack thread message) to one of the bot's messages."""
    event_id = f"reply-{message_ref}-{len(text)}"
    message = IncomingMessage(
        sender,
        Chat(sender.external_id),
        text,
        event_id,
        message_ref=event_id,
        reply_to_ref=message_ref,
    )
    return Said(await school.dispatcher.dispatch(message))


async def delivered_as(school: DemoSchool, letter_id: int | None, sent_ref: str) -> None:
    """What the sender does after delivering a letter: keep the platform's message reference."""
    async with school.db.session() as session:
        await session.exec(
            update(Outbox)
            .where(col(Outbox.id) == letter_id)
            .values(status="sent", sent_ref=sent_ref)
        )


# --- asking -----------------------------------------------------------------------------------


async def test_a_parents_question_goes_to_the_teacher_and_not_back_to_the_parent(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    question = await ask(school, record, school.parent, HEADPHONES)

    letter = await mail.letter(school.teacher, "question")
    assert letter.text == en(
        "notify.question",
        author="Dana Rivera",
        student="Sam Rivera",
        text=f"│ {HEADPHONES}",
        number=question.id,
    )
    assert letter.not_before == school.clock.now()
    assert await mail.letters(school.parent) == []
    assert await mail.letters(school.parent_of_maya) == []


async def test_a_teachers_question_goes_to_the_family_whatever_their_delivery(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    question = await ask(school, record, school.teacher, "Does Sam nap at home after lunch?")

    letter = await mail.letter(school.parent, "question")
    assert letter.text == en(
        "notify.question",
        author="Ms. Ortiz",
        student="Sam Rivera",
        text="│ Does Sam nap at home after lunch?",
        number=question.id,
    )


async def test_questions_lists_the_open_ones(school: DemoSchool, record: Record) -> None:
    question = await ask(school, record, school.parent, HEADPHONES)

    listed = await school.say(school.teacher, "/questions")

    assert listed.text == "\n".join(
        [
            en("questions.title"),
            en(
                "questions.line",
                number=question.id,
                student="Sam Rivera",
                author="Dana Rivera",
                text=f"│ {HEADPHONES}",
            ),
            en("questions.hint"),
        ]
    )


async def test_questions_about_another_child_are_not_listed(
    school: DemoSchool, record: Record
) -> None:
    await ask(school, record, school.parent, HEADPHONES)

    listed = await school.say(school.parent_of_maya, "/questions")

    assert listed.text == en("questions.none")


# --- answering --------------------------------------------------------------------------------


async def test_answer_logs_the_answer_and_tells_the_asker(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    question = await ask(school, record, school.parent, HEADPHONES)

    answered = await school.say(school.teacher, f"/answer {question.id} Yes, the blue ones")

    assert answered.text == en("answer.sent", student="Sam Rivera", asker="Dana Rivera")
    *_, answer = await record.entries()
    assert (answer.kind, answer.setting, answer.text) == (
        EntryKind.ANSWER,
        Setting.SCHOOL,
        "Yes, the blue ones",
    )
    assert answer.reply_to_id == question.id
    assert answer.author_id == await record.person_id(school.teacher)
    told = await mail.letter(school.parent, "answer")
    assert told.text == en(
        "notify.answer",
        author="Ms. Ortiz",
        student="Sam Rivera",
        question=f"│ {HEADPHONES}",
        text="│ Yes, the blue ones",
    )


async def test_an_answered_question_is_no_longer_open(school: DemoSchool, record: Record) -> None:
    question = await ask(school, record, school.parent, HEADPHONES)
    await school.say(school.teacher, f"/answer {question.id} Yes, the blue ones")

    listed = await school.say(school.teacher, "/questions")

    assert listed.text == en("questions.none")


async def test_the_answer_waits_for_the_askers_quiet_hours_to_end(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    question = await ask(school, record, school.parent, HEADPHONES)
    await school.say(school.parent, "/quiet 09:00-12:00")

    await school.say(school.teacher, f"/answer {question.id} Yes, the blue ones")

    told = await mail.letter(school.parent, "answer")
    assert told.not_before.hour == 18  # 12:00 in Chicago is 18:00 UTC


async def test_replying_to_the_question_message_answers_it(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    question = await ask(school, record, school.parent, HEADPHONES)
    notification = await mail.letter(school.teacher, "question")
    await delivered_as(school, notification.row.id, "tg-4711")

    answered = await reply_to(school, school.teacher, "tg-4711", "Yes, the blue ones")

    assert answered.text == en("answer.sent", student="Sam Rivera", asker="Dana Rivera")
    *_, answer = await record.entries()
    assert (answer.kind, answer.reply_to_id) == (EntryKind.ANSWER, question.id)
    assert (await mail.letter(school.parent, "answer")).text == en(
        "notify.answer",
        author="Ms. Ortiz",
        student="Sam Rivera",
        question=f"│ {HEADPHONES}",
        text="│ Yes, the blue ones",
    )


async def test_a_reply_to_a_message_that_is_not_a_question_is_an_ordinary_note(
    school: DemoSchool, record: Record
) -> None:
    said = await reply_to(school, school.teacher, "tg-unknown", "+ Sam read a whole page aloud")

    assert said.text.startswith(en("entry.logged_win", student="Sam Rivera"))
    assert (await record.entry()).kind == EntryKind.WIN


async def test_a_reply_to_someone_elses_question_message_does_not_answer_it(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await ask(school, record, school.parent, HEADPHONES)
    notification = await mail.letter(school.teacher, "question")
    await delivered_as(school, notification.row.id, "tg-4711")

    await reply_to(school, school.parent_of_maya, "tg-4711", "+ Maya painted a cat")

    assert [entry.kind for entry in await record.entries()] == [EntryKind.QUESTION, EntryKind.WIN]


async def test_answering_a_question_about_another_child_looks_like_no_such_question(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    question = await ask(school, record, school.parent_of_maya, "Can Maya bring her blanket?")
    assert question.id is not None
    missing = question.id + 100

    refused = await school.say(school.parent, f"/answer {question.id} No idea")
    absent = await school.say(school.parent, f"/answer {missing} No idea")

    assert refused.text == en("answer.not_found", number=question.id)
    assert absent.text == en("answer.not_found", number=missing)
    assert [entry.kind for entry in await record.entries()] == [EntryKind.QUESTION]
    assert await mail.letters(school.parent_of_maya) == []
    assert await record.access_log(actor=school.parent, action="denied")


async def test_answer_without_a_number_or_text_shows_how(school: DemoSchool) -> None:
    for args in ("", "12", "twelve Yes", "12   "):
        said = await school.say(school.teacher, f"/answer {args}".strip())
        assert said.text == en("answer.usage"), args
