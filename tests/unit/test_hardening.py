"""What an attacker (or a tired person on a phone) will try: each case ends in the expected reply
or refusal, with nothing leaked, nothing lost and nothing crashed.

The bad-input suite, and where each case lives:

 1. oversized message, and exactly at / one over the limit    test_bad_input.py
 2. control, bidi and zero-width characters                   test_bad_input.py, test_grammar.py
 3. empty and invisible-only messages                         test_bad_input.py
 4. markup injection on Telegram (plain text, no parse_mode)  adapters/test_telegram.py,
                                                              adapters/test_privacy_logs.py
 5. mention and link injection on Slack                       adapters/test_slack.py,
                                                              adapters/test_privacy_logs.py
 6. markup in student and people's names                      here, adapters/test_privacy_logs.py
 7. forged callback data                                      adapters/test_telegram.py, here
 8. replayed button tokens                                    here
 9. other users' buttons                                      adapters/test_telegram.py,
                                                              adapters/test_slack.py, here
10. expired buttons, and buttons pressed in a group           here
11. wrong or missing Telegram webhook secret                  adapters/test_telegram.py
12. a webhook post that is not an update                      adapters/test_telegram.py
13. bad Slack signatures and missing ones                     adapters/test_slack_http.py
14. stale Slack timestamps                                    adapters/test_slack_http.py
15. requests from another Slack workspace                     adapters/test_slack_http.py
16. unknown users                                             test_onboarding.py, test_bad_input.py
17. group chats and channels                                  adapters/test_telegram.py,
                                                              adapters/test_slack.py, test_link.py
18. duplicated and replayed updates / events                  adapters/test_telegram.py,
                                                              adapters/test_slack.py,
                                                              test_bad_input.py
19. brute-forced invite codes (/start, /join)                 here
20. brute-forced link codes (/link)                           test_link.py
21. used, expired and garbage invite codes                    test_onboarding.py
22. CSV rosters with broken rows                              test_roster_import.py
23. a student deleted while a summary for them is queued      here
24. entry numbers too big for the database (/answer, /amend)  here
25. names that are SQL wildcards or quotes                    here
26. another child's record, by every kind of outsider         test_access_matrix.py
27. display names with bidi or control characters             here
28. an edit past the limit keeps the entry                    test_bad_input.py
29. arbitrary text through the grammar and dispatch           test_grammar.py, here (hypothesis)
30. arbitrary button tokens                                   here (hypothesis)
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot import forget
from bot.context import Context
from bot.events import Button, ButtonPress, Chat, Reply, Sender
from bot.handlers.onboarding import MAX_WRONG_INVITES
from bot.i18n import Translator
from bot.sender import OutboxSender
from storage.db import Database, sqlite_path
from storage.models import Account, CodeGuess, Entry, Outbox, PendingAction, Platform
from storage.stores import Store
from tests.conftest import DemoSchool, welcome
from tests.unit.conftest import Mail, Record, en, invite_code

MALLORY = Sender(Platform.TELEGRAM, "", "6660001", "Mallory")
EVE = Sender(Platform.TELEGRAM, "", "6660002", "Eve")

# --- brute-forced invite codes ----------------------------------------------------------------


async def guess_wrong(
    school: DemoSchool, sender: Sender, times: int, command: str = "/start"
) -> None:
    for n in range(times):
        said = await school.say(sender, f"{command} not-a-real-code-{n}")
        assert said.text == en("onboarding.code_unknown")


async def test_after_five_wrong_invite_codes_even_the_right_one_is_refused(
    school: DemoSchool, record: Record
) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    await guess_wrong(school, MALLORY, MAX_WRONG_INVITES)

    said = await school.say(MALLORY, f"/start {code}")

    assert said.text == en("onboarding.too_many")
    assert "Mallory" not in await record.people()


async def test_the_invite_guess_limit_lifts_after_an_hour(
    school: DemoSchool, record: Record
) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    await guess_wrong(school, MALLORY, MAX_WRONG_INVITES)
    school.clock.advance(minutes=59)
    assert (await school.say(MALLORY, f"/start {code}")).text == en("onboarding.too_many")

    school.clock.advance(minutes=2)
    said = await school.say(MALLORY, f"/start {code}")

    assert said.text == welcome("onboarding.welcome_parent", name="Mallory", student="Sam Rivera")


async def test_start_and_join_share_one_guess_limit(school: DemoSchool) -> None:
    await guess_wrong(school, MALLORY, 3, "/start")
    await guess_wrong(school, MALLORY, 2, "/join")

    said = await school.say(MALLORY, "/join another-guess")

    assert said.text == en("onboarding.too_many")


async def test_the_guess_limit_is_per_account(school: DemoSchool) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    await guess_wrong(school, MALLORY, MAX_WRONG_INVITES)

    said = await school.say(EVE, f"/start {code}")

    assert said.text == welcome("onboarding.welcome_parent", name="Eve", student="Sam Rivera")


async def test_a_used_or_expired_code_is_not_counted_as_a_guess(
    school: DemoSchool, record: Record
) -> None:
    used = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    await school.say(EVE, f"/start {used}")

    for _ in range(MAX_WRONG_INVITES + 1):
        assert (await school.say(MALLORY, f"/start {used}")).text == en("onboarding.code_used")

    assert await record.rows(CodeGuess) == []


async def test_wrong_invite_codes_and_wrong_link_codes_are_counted_apart(
    school: DemoSchool,
) -> None:
    await guess_wrong(school, MALLORY, MAX_WRONG_INVITES)

    said = await school.say(MALLORY, "/link ABCD-EFGH")

    assert said.text == en("link.bad_code")


# --- buttons: forged, replayed, someone else's, expired, in a group ----------------------------


async def test_a_replayed_undo_button_does_nothing_more(school: DemoSchool, record: Record) -> None:
    await school.say(school.teacher, "+ Sam read a page")
    logged = await school.say(school.teacher, "- Sam hit a peer")
    await school.press(school.teacher, logged.button("Undo"))

    again = await school.press(school.teacher, logged.button("Undo"))

    assert again.replies == []
    assert [entry.text for entry in await record.entries()] == ["Sam read a page"]


async def test_a_replayed_pick_button_logs_the_note_once(
    school: DemoSchool, record: Record
) -> None:
    asked = await school.say(school.teacher, "+ read a whole page")
    await school.press(school.teacher, asked.button("Sam Rivera"))

    again = await school.press(school.teacher, asked.button("Sam Rivera"))
    other = await school.press(school.teacher, asked.button("Maya Chen"))

    assert again.replies == other.replies == []
    assert len(await record.entries()) == 1


async def test_someone_elses_button_does_nothing_and_reveals_nothing(
    school: DemoSchool, record: Record
) -> None:
    logged = await school.say(school.teacher, "+ Sam read a page")

    for presser in (school.parent, school.parent_of_maya, MALLORY):
        said = await school.press(presser, logged.button("Undo"))
        assert said.replies == []
    assert len(await record.entries()) == 1


@pytest.mark.parametrize(
    "token", ["", "undo:1", "' OR 1=1 --", "%", "x" * 5000, "\u202e🙂", "../../etc/passwd", "\x00"]
)
async def test_a_forged_token_does_nothing(school: DemoSchool, record: Record, token: str) -> None:
    await school.say(school.teacher, "+ Sam read a page")

    said = await school.press(school.teacher, Button("Undo", token))

    assert said.replies == []
    assert len(await record.entries()) == 1


async def test_an_expired_button_says_so_and_changes_nothing(
    school: DemoSchool, record: Record
) -> None:
    logged = await school.say(school.teacher, "+ Sam read a page")
    school.clock.advance(days=3)

    said = await school.press(school.teacher, logged.button("Undo"))

    assert said.text == en("button.expired")
    assert len(await record.entries()) == 1


async def test_a_button_pressed_in_a_group_shows_no_student_data(
    school: DemoSchool, record: Record
) -> None:
    logged = await school.say(school.teacher, "+ Sam read a page")
    press = ButtonPress(
        school.teacher, Chat("group-1", private=False), logged.button("Undo").token, "in-a-group"
    )

    replies = await school.dispatcher.dispatch(press)

    assert [reply.text for reply in replies] == [en("group.direct_only")]
    assert len(await record.entries()) == 1


# --- numbers and names that are not what they seem --------------------------------------------


@pytest.mark.parametrize("number", ["99999999999999999999999", "2147483648", "#9" * 3, "0", "٣"])
@pytest.mark.parametrize("command", ["/answer", "/amend"])
async def test_a_number_no_entry_can_have_is_simply_not_found(
    school: DemoSchool, record: Record, command: str, number: str
) -> None:
    await school.say(school.teacher, "? Sam can he bring headphones")

    said = await school.say(school.parent, f"{command} {number} yes")

    assert "can't find" in said.text or said.text == en(f"{command[1:]}.usage")
    assert len(await record.entries()) == 1


@pytest.mark.parametrize(
    "name", ["%", "_", "%%%", "S%", "Sam'; DROP TABLE student; --", '" OR ""="', "*", "\\"]
)
async def test_a_name_that_is_a_wildcard_or_a_quote_finds_no_one(
    school: DemoSchool, record: Record, name: str
) -> None:
    await school.say(school.teacher, "+ Sam read a page")

    said = await school.say(school.parent_of_maya, f"/record {name}")

    assert said.text == en("students.not_found")
    assert len(await record.entries()) == 1


async def test_markup_in_a_student_name_is_kept_as_text(school: DemoSchool, record: Record) -> None:
    await record.add_student("<b>Bo</b> *Star*", school.teacher)

    said = await school.say(school.teacher, "/record <b>Bo</b>")
    logged = await school.say(school.teacher, "+ <b>Bo</b> drew <i>a robot</i>")

    assert said.text.startswith("<b>Bo</b> *Star* — the whole record")
    assert logged.text == en("entry.logged_win", student="<b>Bo</b> *Star*")


async def test_a_display_name_with_bidi_and_control_characters_is_cleaned_on_joining(
    school: DemoSchool, record: Record
) -> None:
    code = invite_code(await school.say(school.teacher, "/invite Sam parent"))
    tricky = Sender(Platform.TELEGRAM, "", "6660003", "Da\u202ena\x1b[31m \u200bR.\n\nadmin")

    await school.say(tricky, f"/start {code}")

    assert "Dana[31m R. admin" in await record.people()


# --- a student deleted while a summary for them is queued -------------------------------------


class Recorder:
    """A transport that keeps what it was asked to deliver."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []

    async def deliver(self, account: Account, reply: Reply) -> str:
        self.delivered.append((account.external_id, reply.text))
        return f"ref-{len(self.delivered)}"


async def forget_sam(school: DemoSchool) -> None:
    async with school.db.session() as session:
        store = Store(session)
        [student] = await store.students.keyed("sam rivera")
        ctx = Context(
            store=store, clock=school.clock, settings=school.dispatcher.settings, t=Translator("en")
        )
        await forget.forget_student(ctx, student)


async def test_a_summary_queued_for_a_forgotten_student_is_never_sent(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await school.say(school.teacher, "+ Sam read a page aloud")
    await school.say(school.teacher, "+ Maya used her calm-down corner")
    await mail.summary()
    queued = [letter.text for letter in await mail.letters(school.parent, "summary")]
    assert queued and "read a page aloud" in queued[0]

    await forget_sam(school)

    async def no_wait(seconds: float) -> None:
        school.clock.advance(seconds=seconds)

    transport = Recorder()
    sender = OutboxSender(
        school.db,
        {Platform.CONSOLE: transport},
        school.clock,
        school.dispatcher.settings.sender,
        worker="test",
        sleep=no_wait,
    )
    await sender.drain()
    delivered = "\n".join(text for _, text in transport.delivered)
    assert "Maya used her calm-down corner" in delivered
    assert "Sam" not in delivered and "read a page aloud" not in delivered
    assert await record.rows(Outbox, Outbox.status == "pending") == []


async def test_a_checkin_button_for_a_forgotten_student_does_nothing(
    school: DemoSchool, mail: Mail, record: Record
) -> None:
    await mail.checkin()
    prompt = await mail.letter(school.parent, "checkin")

    dana = await record.person_id(school.parent)

    await forget_sam(school)
    said = await school.press(school.parent, prompt.button("Good week"))

    assert said.replies == []
    assert await record.rows(Entry) == []
    assert await record.rows(PendingAction, PendingAction.person_id == dana) == []


# --- the database file ------------------------------------------------------------------------


async def test_the_sqlite_file_is_created_owner_only_and_overwrites_deletions(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    db = Database(url)
    try:
        await db.upgrade()
        async with db.engine.connect() as connection:
            secure = (await connection.execute(text("PRAGMA secure_delete"))).scalar()
    finally:
        await db.dispose()

    path = sqlite_path(url)
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secure == 1


# --- fuzzing: arbitrary text and tokens through dispatch ----------------------------------------

COMMANDS = [
    "start",
    "join",
    "log",
    "week",
    "record",
    "amend",
    "answer",
    "goal",
    "goals",
    "invite",
    "link",
    "pause",
    "quiet",
    "language",
    "delivery",
    "undo",
    "questions",
]
MESSAGES = st.one_of(
    st.text(max_size=300),
    st.builds(lambda sign, rest: f"{sign}{rest}", st.sampled_from("+-?!"), st.text(max_size=80)),
    st.builds(
        lambda command, rest: f"/{command} {rest}", st.sampled_from(COMMANDS), st.text(max_size=80)
    ),
    st.builds(
        lambda command, number, rest: f"/{command} {number} {rest}",
        st.sampled_from(["answer", "amend", "log Sam"]),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.text(max_size=20),
    ),
)
WHO = st.sampled_from(["teacher", "parent", "parent_of_maya", "stranger"])


def sender_named(school: DemoSchool, who: str) -> Sender:
    return school.stranger("Fuzz") if who == "stranger" else getattr(school, who)


def assert_sane(replies: Sequence[Reply]) -> None:
    for reply in replies:
        assert reply.text.strip()
        assert all(button.token for button in reply.buttons)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(who=WHO, message=MESSAGES)
@example(who="parent", message="/amend 99999999999999999999999 x")
@example(who="teacher", message="/answer 2147483648 x")
@example(who="teacher", message="/log Sam 99999999999999999999999")
@example(who="stranger", message="/start " + "A" * 1999)
async def test_dispatch_answers_arbitrary_text_without_crashing(
    school: DemoSchool, who: str, message: str
) -> None:
    # The examples share one school: typed at a person's pace, they stay under the flood limit.
    school.clock.advance(seconds=5)
    said = await school.say(sender_named(school, who), message)

    assert said.replies
    assert_sane(said.replies)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(who=WHO, token=st.text(max_size=100))
async def test_an_arbitrary_button_token_does_nothing(
    school: DemoSchool, who: str, token: str
) -> None:
    said = await school.press(sender_named(school, who), Button("x", token))

    assert said.replies == []
