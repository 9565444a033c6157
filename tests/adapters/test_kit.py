"""The adapter kit on its own: a chat's turns and its slots."""

from __future__ import annotations

import asyncio

from adapters.kit import ChatTurns


class Work:
    """Events to hand to ChatTurns, each noting when it ran; `held` ones wait for `release`."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def event(self, name: str, held: bool = False) -> None:
        if held:
            self.started.set()
            await self.release.wait()
        self.done.append(name)


async def test_a_chats_backlog_waits_for_its_turn_without_taking_a_slot() -> None:
    turns = ChatTurns(slots=2)
    work = Work()
    first = asyncio.create_task(turns.run("dana", work.event("dana 1", held=True)))
    await work.started.wait()
    backlog = [asyncio.create_task(turns.run("dana", work.event(f"dana {n}"))) for n in (2, 3, 4)]

    # One slot is Dana's first message; her next three wait for her turn, not for a slot.
    async with asyncio.timeout(5):
        await turns.run("maria", work.event("maria 1"))

    assert work.done == ["maria 1"]
    work.release.set()
    await asyncio.gather(first, *backlog)
    assert work.done == ["maria 1", "dana 1", "dana 2", "dana 3", "dana 4"]


async def test_an_event_of_no_chat_needs_only_a_slot() -> None:
    turns = ChatTurns(slots=1)
    work = Work()

    await turns.run(None, work.event("inline query"))
    assert work.done == ["inline query"]
