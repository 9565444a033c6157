"""The adapter kit on its own: a chat's turns, its slots, and a flood kept to its own line."""

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
    turns = ChatTurns(slots=2, per_chat=10)
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


async def test_beyond_its_line_a_chat_is_refused_and_told_once_a_burst() -> None:
    turns = ChatTurns(slots=4, per_chat=3)
    work = Work()
    told: list[str] = []

    async def tell() -> None:
        told.append("too fast")

    first = asyncio.create_task(turns.run("dana", work.event("1", held=True), tell))
    await work.started.wait()
    kept = [asyncio.create_task(turns.run("dana", work.event(n), tell)) for n in ("2", "3")]
    await asyncio.sleep(0)  # they join her line
    refused = [await turns.run("dana", work.event(n), tell) for n in ("4", "5", "6")]

    assert refused == [False, False, False]
    assert told == ["too fast"]
    work.release.set()
    assert await asyncio.gather(first, *kept) == [True, True, True]
    assert work.done == ["1", "2", "3"]

    # Her line emptied: the next burst is a new one, told again if it overflows.
    work.release.clear()
    again = [asyncio.create_task(turns.run("dana", work.event(n, held=True), tell)) for n in "789"]
    await asyncio.sleep(0)  # they make a new line
    assert not await turns.run("dana", work.event("10"), tell)
    assert told == ["too fast", "too fast"]
    work.release.set()
    await asyncio.gather(*again)


async def test_an_event_of_no_chat_needs_only_a_slot() -> None:
    turns = ChatTurns(slots=1)
    work = Work()

    assert await turns.run(None, work.event("inline query"))
    assert work.done == ["inline query"]
