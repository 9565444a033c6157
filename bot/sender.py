"""The sender: claims due letters from the outbox, delivers them within the rate limits, and
settles each one (sent, retried with backoff, waited out after a 429, given up).

What a letter is and how it is queued: `bot/outbox.py`; a letter's follow-up (a summary's
picture) is queued here, as the letter is marked sent (`_mark_sent`), and its reply prepared
as soon as the letter is claimed (`_prepare`). What the admins hear when an account blocked the
bot: `bot/blocked_notice.py`. The whole story: `docs/outbox.md`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from bot import blocked_notice
from bot.claimed_letters import Claimed, DrainReport
from bot.config import SenderConfig
from bot.config_values import QuietHours
from bot.context import Clock
from bot.events import RecipientBlocked, Reply
from bot.metrics import NO_METRICS, Metrics
from bot.outbox import (
    Composer,
    PermanentError,
    RateLimited,
    Transport,
    followed_by,
    from_payload,
    queue_follow_up,
)
from bot.ratelimit import WINDOW_SECONDS, RateLimiter, unless_stopped
from storage.db import Database
from storage.locks import Lease
from storage.models import Outbox, OutboxStatus
from storage.stores import Store
from storage.stores.outbox import NOT_ON_TEAM

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_Settled = TypeVar("_Settled")

# Transient failures wait base * 2**(attempt - 1) seconds, capped, times a jitter in [0.5, 1):
# 8 attempts span roughly 16 to 32 minutes, enough to ride out a short platform outage.
BACKOFF_BASE_SECONDS = 15.0
BACKOFF_CAP_SECONDS = 3600.0
# When idle, look for letters other processes queued (`tandem jobs ...`) at least this often.
IDLE_POLL_SECONDS = 5.0
# After the database failed under `run`, wait this long before trying again.
ERROR_PAUSE_SECONDS = 5.0
# Never busy-loop, even when the next letter is due "now".
MIN_NAP_SECONDS = 0.05
# Letters held for one platform's limit (two seconds of it), at most: claims stay short.
MAX_HELD_PER_PLATFORM = 64
# A replica standing by (another holds the platform's sending lease) tries to take it this
# often: a sender that died is replaced within about this long.
STANDBY_POLL_SECONDS = 2.0


class OutboxSender:
    """Claims due letters, delivers them within the rate limits, and settles each one.

    At least once: a letter is marked sent only after the platform took it, so a crash between
    the two sends it again once its claim (`claim_seconds`) runs out. Nothing is lost by a
    crash; a duplicate needs a crash (or a claim running out) in that short gap.
    """

    def __init__(
        self,
        db: Database,
        transports: Mapping[str, Transport],
        clock: Clock,
        settings: SenderConfig,
        *,
        worker: str,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        quiet_hours: QuietHours | None = None,
        metrics: Metrics = NO_METRICS,
        composer: Composer | None = None,
        leases: Mapping[str, Lease] | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics
        # Per platform, the right to send for the whole bot (PostgreSQL: one replica at a time
        # holds it, so the platform's limits hold across replicas); a platform without one sends.
        self._leases = dict(leases or {})
        self._transports = dict(transports)
        self._clock = clock
        self._settings = settings
        self.worker = worker[:64]
        self._sleep = sleep
        self._jitter = jitter
        self._quiet_hours = quiet_hours  # the school default, for the notices to admins
        self._composer = composer  # makes the replies of letters composed at delivery
        self._ahead: set[asyncio.Task[None]] = set()  # replies being prepared (`_prepare`)
        self._limits = RateLimiter(settings.limits, clock, sleep)
        self._claim_for = timedelta(seconds=settings.claim_seconds)
        # No delivery starts in the last quarter of a claim, and none may take longer than that
        # quarter: so a claim never runs out while its letter is being delivered.
        self._margin = timedelta(seconds=settings.claim_seconds / 4)
        self._deliver_timeout = settings.claim_seconds / 4
        # Enough letters in hand to keep every platform busy; more are claimed at half of it.
        # At least two seconds of each platform's limit: a chat's second letter waits its
        # second in hand, and the letters behind it must still fill the platform's rate.
        busy = sum(
            min(2 * (limit.per_second or 0), MAX_HELD_PER_PLATFORM)
            for name, limit in settings.limits.items()
            if name in self._transports
        )
        self._batch = max(2 * settings.concurrency * len(self._transports), busy, 8)
        self._slots = {name: asyncio.Semaphore(settings.concurrency) for name in self._transports}
        self._held: dict[int, Claimed] = {}
        # Follow-ups in hand (`_next_in_chat`): held, but not counted against the next claim,
        # so the platform stays busy while they wait for their reply (a picture being drawn).
        self._following: set[int] = set()
        self._chats: dict[tuple[str, str], deque[int]] = {}
        self._blocked: set[int] = set()  # accounts found blocked during this drain
        self._draining = asyncio.Lock()  # one drain at a time: they share the letters in hand
        self._progress = asyncio.Event()
        self._poke = asyncio.Event()

    def poke(self) -> None:
        """Something was queued: look for due letters now instead of at the next poll."""
        self._poke.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver letters as they fall due, until `stop` is set; then give up the leases."""
        try:
            await self._run(stop)
        finally:
            await self.close()

    async def close(self) -> None:
        """Give up the sending leases: a standby replica takes over."""
        for lease in self._leases.values():
            await lease.release()

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                report = await self.drain(stop)
                if report:
                    log.info("outbox %s: %s", self.worker, report)
                wait = await self._seconds_to_next_letter()
            except Exception as error:  # the database went away: keep the sender alive
                log.error(
                    "outbox %s: drain failed (%s); retrying in %ss",
                    self.worker,
                    _reason(_first_cause(error)),
                    ERROR_PAUSE_SECONDS,
                )
                wait = ERROR_PAUSE_SECONDS
            await self._nap(wait, stop)

    async def drain(self, stop: asyncio.Event | None = None) -> DrainReport:
        """Deliver every letter due now (and those falling due meanwhile), then return."""
        async with self._draining:
            return await self._drain(stop)

    async def _drain(self, stop: asyncio.Event | None) -> DrainReport:
        report = DrainReport()
        # Accounts are read fresh with each claim; this only spares the rest of this drain's
        # letters to an account found blocked (one may have been unblocked since).
        self._blocked.clear()
        try:
            async with asyncio.TaskGroup() as tasks:
                while True:
                    stopping = stop is not None and stop.is_set()
                    in_hand = len(self._held) - len(self._following)
                    if not stopping and in_hand <= self._batch // 2:
                        claimed = await self._claim(self._batch - in_hand)
                        for letter in claimed:
                            self._take(letter, tasks, report, stop)
                        if claimed:
                            continue
                    if not self._held:
                        break
                    self._progress.clear()
                    await self._wait_for_progress()
                    await self._renew_claims()
        finally:
            # After a failure the claims simply run out and the letters are claimed again.
            self._held.clear()
            self._following.clear()
            self._chats.clear()
            for preparing in self._ahead:  # only for letters no longer in hand (stopping)
                preparing.cancel()
        return report

    # --- claiming ---

    async def _claim(self, limit: int) -> list[Claimed]:
        platforms = await self._sending()
        now = self._clock.now()
        until = now + self._claim_for
        async with self._db.write_session() as session:
            outbox = Store(session).outbox
            rows = await outbox.claim(self.worker, now, until, limit, platforms)
        if outbox.letters_cancelled:
            log.info("outbox: %d letter(s) cancelled: %s", outbox.letters_cancelled, NOT_ON_TEAM)
        return [Claimed(row, account, until) for row, account in rows]

    async def _sending(self) -> list[str]:
        """The platforms this replica sends for now: those whose lease it holds (taken now if
        free, checked if held) and those that need none."""
        platforms = []
        for platform in self._transports:
            lease = self._leases.get(platform)
            if lease is not None:
                had = lease.held
                try:
                    holds = await lease.refresh()
                except Exception as error:  # the database is away: send nothing meanwhile
                    log.warning("outbox %s: lease check failed (%s)", self.worker, _reason(error))
                    holds = False
                if not holds:
                    continue
                if not had:
                    # The last holder may have sent within the window: start a window later.
                    self._limits.hold_platform(platform, WINDOW_SECONDS)
                    log.info("outbox %s: sending for %s now", self.worker, platform)
            platforms.append(platform)
        return platforms

    def _may_send(self, platform: str) -> bool:
        lease = self._leases.get(platform)
        return lease is None or lease.held

    async def _wait_for_progress(self) -> None:
        """Until a letter is settled, or a claim needs renewing, whichever is first."""
        now = self._clock.now()
        ends = [letter.until for letter in self._held.values() if letter.until > now]
        if not ends:
            await self._progress.wait()
            return
        renew_in = (min(ends) - self._margin - now).total_seconds()
        waits = [
            asyncio.ensure_future(self._progress.wait()),
            asyncio.ensure_future(self._sleep(max(MIN_NAP_SECONDS, renew_in))),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _renew_claims(self) -> None:
        """Keep the letters still waiting here (a long queue to one chat) ours: a claim runs
        out only when its sender is gone."""
        now = self._clock.now()
        live = [letter for letter in self._held.values() if letter.until > now]
        if not live or min(letter.until for letter in live) > now + self._margin:
            return
        until = now + self._claim_for
        async with self._db.write_session() as session:
            renewed = await Store(session).outbox.renew_claims(
                [letter.id for letter in live], self.worker, now, until
            )
        for row_id in renewed:
            if row_id in self._held:
                self._held[row_id].until = until

    async def _reclaim(self, letter: Claimed) -> bool:
        """Our claim ran out while the letter waited: take it back unless another sender has."""
        until = self._clock.now() + self._claim_for
        if not await self._settle(
            lambda store: store.outbox.reclaim(letter.id, self.worker, letter.until, until)
        ):
            return False
        letter.until = until
        return True

    def _take(
        self,
        letter: Claimed,
        tasks: asyncio.TaskGroup,
        report: DrainReport,
        stop: asyncio.Event | None,
    ) -> None:
        """Queue a claimed letter behind the others to its chat (one worker per chat)."""
        if letter.id in self._held:
            # Our own claim ran out while the letter waited here, and we claimed it again.
            self._held[letter.id].until = letter.until
            return
        self._held[letter.id] = letter
        self._prepare(letter)
        key = (letter.account.platform, letter.chat)
        queue = self._chats.get(key)
        if queue is None:
            queue = self._chats[key] = deque()
            tasks.create_task(self._serve_chat(key, queue, report, stop))
        queue.append(letter.id)

    async def _serve_chat(
        self,
        key: tuple[str, str],
        queue: deque[int],
        report: DrainReport,
        stop: asyncio.Event | None,
    ) -> None:
        """Deliver one chat's letters in order; different chats interleave."""
        try:
            while queue:
                letter = self._held[queue.popleft()]
                try:
                    await self._handle(letter, report, stop)
                finally:
                    del self._held[letter.id]
                    self._following.discard(letter.id)
                    self._progress.set()
        finally:
            del self._chats[key]

    def _prepare(self, letter: Claimed) -> None:
        """Have the composer start on the reply of a letter just claimed, or of the one that
        will follow it once sent (a summary's picture): ready when its turn comes. One
        preparation per letter in hand: never more than the sender can send."""
        if self._composer is None:
            return
        payload = letter.row.payload
        if not self._composer.composes(payload):
            then = followed_by(letter.row, self._composer.follow_ups)
            if then is None or not self._composer.composes(then[1]):
                return
            payload = then[1]
        preparing = asyncio.create_task(self._composer.prepare(payload, letter.row.person_id))
        self._ahead.add(preparing)
        preparing.add_done_callback(self._ahead.discard)

    # --- delivering ---

    def _claim_is_fresh(self, letter: Claimed) -> bool:
        return self._clock.now() + self._margin <= letter.until

    async def _handle(
        self, letter: Claimed, report: DrainReport, stop: asyncio.Event | None
    ) -> None:
        account = letter.account
        platform = account.platform
        if account.id in self._blocked or not account.active:
            await self._give_up_blocked(letter, report)
            return
        if (stop is not None and stop.is_set()) or not self._may_send(platform):
            # Stopping, or the lease was lost: another replica sends the letter.
            await self._release(letter, report)
            return
        # Composed before the chat's turn, so a picture is drawn while the chat waits.
        reply = await self._reply(letter)
        if not isinstance(reply, Reply):
            await self._nothing_to_send(letter, report, reply)
            return
        # Wait for the chat outside a delivery slot, so one busy chat holds up no other.
        if not await unless_stopped(self._limits.wait_for_chat(platform, letter.chat), stop):
            await self._release(letter, report)
            return
        async with self._slots[platform]:
            if not await unless_stopped(self._limits.acquire(platform, letter.chat), stop):
                await self._release(letter, report)
                return
            # The claim may have run short while the letter waited for its chat or a slot.
            if not self._claim_is_fresh(letter) and not await self._reclaim(letter):
                report.released += 1  # another sender has it now: it is theirs to send
                return
            outcome = await self._deliver(letter, reply)
            # Settled inside the slot: at most `concurrency` letters per platform are ever
            # delivered but not yet marked, which bounds what a crash can send twice.
            await self._settle_outcome(letter, outcome, report)

    async def _settle_outcome(
        self, letter: Claimed, outcome: str | Exception, report: DrainReport
    ) -> None:
        if isinstance(outcome, str):
            await self._sent(letter, outcome, report)
        elif isinstance(outcome, RateLimited):
            self._metrics.rate_limited(letter.account.platform)
            self._limits.back_off(letter.account.platform, letter.chat, outcome.retry_after)
            await self._retry_after_429(letter, outcome.retry_after, report)
        elif isinstance(outcome, RecipientBlocked):
            await self._give_up_blocked(letter, report)
        elif isinstance(outcome, PermanentError):
            await self._give_up(
                letter, OutboxStatus.DEAD, letter.row.attempts + 1, _reason(outcome), report
            )
        else:
            await self._retry_later(letter, outcome, report)

    async def _reply(self, letter: Claimed) -> Reply | Exception | None:
        """The letter's reply: as queued, or composed now (None: nothing left to send)."""
        payload = letter.row.payload
        if self._composer is None or not self._composer.composes(payload):
            return from_payload(payload)
        try:
            return await self._composer.compose(payload, letter.row.person_id)
        except Exception as error:  # a failed drawing is retried like a failed delivery
            return error

    async def _nothing_to_send(
        self, letter: Claimed, report: DrainReport, error: Exception | None
    ) -> None:
        if error is not None:
            await self._settle_outcome(letter, error, report)
            return
        # Its data went away before delivery (every measure of the week undone): done, unsent.
        now = self._clock.now()
        await self._settle(lambda store: store.outbox.mark_sent(letter.id, self.worker, now, ""))

    async def _deliver(self, letter: Claimed, reply: Reply) -> str | Exception:
        """One delivery: the platform's message reference, or the error it ended in."""
        transport = self._transports[letter.account.platform]
        try:
            # Real time, on purpose: a hung request must end before the claim does.
            async with asyncio.timeout(self._deliver_timeout):
                return await transport.deliver(letter.account, reply)
        except Exception as error:  # any failure of one letter is that letter's, not ours
            return error

    # --- settling ---

    async def _settle(self, settle: Callable[[Store], Awaitable[_Settled]]) -> _Settled:
        """Record what became of a letter, in its own short transaction."""
        async with self._db.write_session() as session:
            return await settle(Store(session))

    async def _sent(self, letter: Claimed, ref: str, report: DrainReport) -> None:
        report.sent += 1
        self._metrics.letter_sent(letter.account.platform)
        now = self._clock.now()
        settled = await self._settle(lambda store: self._mark_sent(store, letter, now, ref))
        if isinstance(settled, Outbox):
            self._next_in_chat(letter, settled)
        elif not settled:
            # Only if our claim ran out mid-delivery and another sender took the letter.
            log.warning(
                "outbox letter %s was delivered after its claim passed to another "
                "sender: it may arrive twice",
                letter.id,
            )

    async def _mark_sent(
        self, store: Store, letter: Claimed, now: datetime, ref: str
    ) -> Outbox | bool:
        """Mark the letter sent and, if it was still ours, queue the letter that follows it (a
        summary's picture) to the same person and chat, due now and claimed by us: one
        transaction, so it is queued once however often the letter is delivered, and never
        for a letter given up. The follow-up, True if none, or False if the letter was not
        ours any more."""
        if not await store.outbox.mark_sent(letter.id, self.worker, now, ref):
            return False
        makers = self._composer.follow_ups if self._composer is not None else {}
        follow_up = await queue_follow_up(store, letter.row, self.worker, now, letter.until, makers)
        return follow_up or True

    def _next_in_chat(self, letter: Claimed, row: Outbox) -> None:
        """A follow-up queued as `letter` was sent: its chat's next letter (the chat's worker
        is on `letter`), so a summary's picture comes right after it."""
        follow_up = Claimed(row, letter.account, letter.until)
        self._held[follow_up.id] = follow_up
        self._following.add(follow_up.id)
        self._chats[(letter.account.platform, letter.chat)].appendleft(follow_up.id)

    async def _release(self, letter: Claimed, report: DrainReport) -> None:
        report.released += 1
        await self._settle(lambda store: store.outbox.release(letter.id, self.worker))

    async def _retry_after_429(
        self, letter: Claimed, retry_after: float, report: DrainReport
    ) -> None:
        # Not an attempt: the platform only asked us to slow down, so a storm of 429s delays
        # letters but never kills them.
        report.retried += 1
        self._metrics.letter_retried(letter.account.platform)
        due = self._clock.now() + timedelta(seconds=max(0.0, retry_after))
        await self._settle(
            lambda store: store.outbox.retry(
                letter.id, self.worker, due, letter.row.attempts, "RateLimited"
            )
        )

    async def _retry_later(
        self, letter: Claimed, error: BaseException, report: DrainReport
    ) -> None:
        attempts = letter.row.attempts + 1
        if attempts >= self._settings.max_attempts:
            await self._give_up(letter, OutboxStatus.DEAD, attempts, _reason(error), report)
            return
        report.retried += 1
        self._metrics.letter_retried(letter.account.platform)
        delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
        delay *= 0.5 + self._jitter() / 2
        due = self._clock.now() + timedelta(seconds=delay)
        reason = _reason(error)
        await self._settle(
            lambda store: store.outbox.retry(letter.id, self.worker, due, attempts, reason)
        )

    async def _give_up(
        self,
        letter: Claimed,
        status: OutboxStatus,
        attempts: int,
        reason: str,
        report: DrainReport,
    ) -> None:
        report.dead += 1
        self._metrics.letter_dead(letter.account.platform)
        log.warning(
            "outbox letter %s is %s after %d attempt(s): %s", letter.id, status, attempts, reason
        )
        await self._settle(
            lambda store: store.outbox.give_up(letter.id, self.worker, status, attempts, reason)
        )

    async def _give_up_blocked(self, letter: Claimed, report: DrainReport) -> None:
        """The person blocked the bot: their account goes inactive, every letter queued to it
        fails, and the admins over them hear about it once."""
        account = letter.account
        assert account.id is not None
        if account.id in self._blocked:
            # Failed with the first letter that found the block, unless it was claimed since.
            attempts = letter.row.attempts
            if await self._settle(
                lambda store: store.outbox.give_up(
                    letter.id, self.worker, OutboxStatus.FAILED, attempts, "RecipientBlocked"
                )
            ):
                report.blocked += 1
                self._metrics.letter_dead(account.platform, blocked=True)
            return
        self._blocked.add(account.id)
        async with self._db.session() as session:
            store = Store(session)
            await store.people.deactivate_account(account.id)
            failed = await store.outbox.fail_to(account.id, "RecipientBlocked")
            report.blocked += failed
            await blocked_notice.tell_admins(store, account, self._clock.now(), self._quiet_hours)
        self._metrics.letter_dead(account.platform, failed, blocked=True)
        log.info("outbox: account %s blocked the bot; its letters failed", account.id)
        self.poke()

    # --- waiting ---

    async def _seconds_to_next_letter(self) -> float:
        platforms = [name for name in self._transports if self._may_send(name)]
        if not platforms:  # standing by: try for the lease again soon
            return STANDBY_POLL_SECONDS
        async with self._db.session() as session:
            due = await Store(session).outbox.next_due(platforms)
        if due is None:
            return IDLE_POLL_SECONDS
        return min(IDLE_POLL_SECONDS, (due - self._clock.now()).total_seconds())

    async def _nap(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep until the next letter is due, a poke, or stop, whichever comes first."""
        if self._poke.is_set() or stop.is_set():
            self._poke.clear()
            return
        waits = [
            asyncio.ensure_future(self._sleep(max(MIN_NAP_SECONDS, seconds))),
            asyncio.ensure_future(self._poke.wait()),
            asyncio.ensure_future(stop.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            self._poke.clear()


def _first_cause(error: BaseException) -> BaseException:
    """The first real error inside an exception group (a drain's tasks fail as a group)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _reason(error: BaseException) -> str:
    """What last_error keeps: the error's class only, never its text (it may quote a message
    or a URL with a token). Adapters name failures by subclassing TransientError."""
    if isinstance(error, TimeoutError):
        return "TimeoutError"
    return type(error).__name__
