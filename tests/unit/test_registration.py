"""Registration you can read: each handler module mounts itself with `register(router)`, the
composition root lists them all, and a test may mount only some."""

from __future__ import annotations

import pytest

from adapters.bootstrap import HANDLERS, build_router
from bot.dispatch import Dispatcher
from bot.handlers import onboarding, records, settings
from bot.router import Router
from tests.conftest import DemoSchool
from tests.unit.conftest import en


@pytest.fixture
def reading_only(school: DemoSchool) -> DemoSchool:
    """The demo school behind a dispatcher that knows only joining and reading the record."""
    routes = build_router([onboarding.register, records.register])
    dispatcher = Dispatcher(school.db, school.dispatcher.settings, school.clock, routes)
    return DemoSchool(dispatcher, school.db, school.clock)


async def test_a_router_answers_only_the_modules_mounted_on_it(reading_only: DemoSchool) -> None:
    students = await reading_only.say(reading_only.teacher, "/students")
    win = await reading_only.say(reading_only.teacher, "/win Sam read a page")
    plain = await reading_only.say(reading_only.teacher, "+ Sam read a page")

    assert "Sam Rivera" in students.text
    assert win.text == en("command.unknown", command="win")
    assert plain.replies == []


def test_the_root_mounts_every_conversation_once() -> None:
    routes = build_router(HANDLERS)

    commands = {"start", "join", "link", "win", "undo", "log", "invite", "pause"}
    assert commands <= set(routes.commands)
    # The signs as Arabic and Chinese keyboards type them too: `؟ ？ ！ ＋`.
    assert set(routes.prefixes) == {"+", "-", "?", "!", "\u061f", "\uff1f", "\uff01", "\uff0b"}
    assert routes.open_commands == {"start", "join", "link"}
    assert None not in (routes.plain_text, routes.edit, routes.thread)


def test_two_modules_answering_the_same_command_are_refused_when_the_router_is_built() -> None:
    def also_settings(router: Router) -> None:
        router.command("language", settings.set_language)

    with pytest.raises(ValueError, match="/language is registered twice"):
        build_router([settings.register, also_settings])
