"""Typed buttons: each kind is a frozen dataclass, stored as its stable name and its fields,
read back by one function that refuses (as no button at all) what does not parse."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from bot import buttons
from bot.buttons import (
    KINDS,
    AcceptCorrection,
    CheckinMood,
    CheckinMore,
    Classify,
    ConfirmRemoval,
    DeclineCorrection,
    JoinProfile,
    KeepApart,
    KeepMember,
    Language,
    LinkCode,
    Payload,
    PickStudent,
    RemoveMember,
    Seen,
    Share,
    ShowOriginal,
    Undo,
    decode,
    encode,
)
from bot.weekly import Mood
from storage.models import EntryKind, PendingAction
from tests.conftest import DemoSchool
from tests.unit.conftest import Record

EXAMPLES: list[Payload] = [
    Undo(7),
    Share(7),
    Classify(7, EntryKind.CONCERN),
    Seen(7),
    ShowOriginal(7),
    PickStudent(3, "ab12", EntryKind.NOTE, "read a page", "tg:1:2", None, True),
    CheckinMood(3, Mood.TOUGH, "3:2026-W48"),
    CheckinMore(7),
    Language("es", "onboarding.welcome_parent", {"name": "Dana", "student": "Sam"}),
    AcceptCorrection(4),
    DeclineCorrection(4),
    LinkCode(),
    JoinProfile("telegram", "", "5001", "ab" * 32, "5001"),
    KeepApart("slack", "T0SCHOOL", "U0DANA", "ab" * 32),
    RemoveMember(3, 9),
    ConfirmRemoval(3, 9),
    KeepMember(3, 9),
]


def test_every_kind_has_an_example() -> None:
    assert {type(example) for example in EXAMPLES} == set(KINDS.values())


@pytest.mark.parametrize("payload", EXAMPLES, ids=lambda payload: payload.action)
def test_a_payload_survives_its_stored_form(payload: Payload) -> None:
    action, stored = encode(payload)

    assert decode(action, stored) == payload


def test_the_stored_names_are_the_ones_buttons_already_sent_carry() -> None:
    assert set(KINDS) == {
        "undo",
        "share",
        "classify",
        "seen",
        "original",
        "pick_student",
        "checkin",
        "checkin_more",
        "language",
        "amend_accept",
        "amend_decline",
        "link",
        "link_join",
        "link_cancel",
        "team_remove",
        "team_remove_yes",
        "team_remove_no",
    }
    assert encode(Classify(7, EntryKind.WIN)) == ("classify", {"entry_id": 7, "kind": "win"})
    assert encode(CheckinMood(3, Mood.GOOD, "3:2026-W48")) == (
        "checkin",
        {"student_id": 3, "mood": "good", "group": "3:2026-W48"},
    )


@pytest.mark.parametrize(
    ("action", "stored"),
    [
        ("undo", {}),  # a field missing
        ("undo", {"entry_id": "7"}),  # text for a number
        ("undo", {"entry_id": True}),  # a boolean is no entry number
        ("undo", {"entry_id": None}),
        ("classify", {"entry_id": 7, "kind": "praise"}),  # no such kind
        ("checkin", {"student_id": 3, "mood": "great", "group": "3:2026-W48"}),
        ("language", {"language": "es", "welcome": "k", "values": {"name": 3}}),
        ("undo", ["entry_id", 7]),  # not an object at all
        ("nonsense", {"entry_id": 7}),  # no such kind
    ],
)
def test_a_payload_that_does_not_parse_is_no_button(action: str, stored: object) -> None:
    assert decode(action, stored) is None


def test_a_kind_cannot_be_declared_twice() -> None:
    with pytest.raises(ValueError, match="'undo' is declared twice"):

        @dataclass(frozen=True)
        class Again(buttons.OnEntry, action="undo"):
            """Another [Undo]."""


async def test_pressing_a_button_whose_payload_does_not_parse_does_nothing(
    school: DemoSchool, record: Record
) -> None:
    said = await school.say(school.teacher, "+ Sam read a page")
    undo = said.button("Undo")
    async with school.db.session() as session:
        row = await session.get(PendingAction, undo.token)
        assert row is not None
        row.payload = {"entry_id": str(row.payload["entry_id"])}
        session.add(row)

    pressed = await school.press(school.teacher, undo)

    assert pressed.replies == []
    assert len(await record.entries()) == 1


async def test_the_router_is_keyed_by_kind(school: DemoSchool) -> None:
    routes = school.dispatcher.routes

    assert set(routes.buttons) == set(KINDS.values()) - {CheckinMore, LinkCode}
    assert routes.follow_up_actions == ("checkin_more",)
    async with school.db.session() as session:
        assert (await session.exec(select(PendingAction))).all() == []
