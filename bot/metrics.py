"""The metrics port: what the core reports about its work (events, letters, 429s, jobs).

The core is handed a `Metrics` (a dependency, like the clock); the default, `NO_METRICS`,
records nothing. `adapters/metrics_prometheus.py` is the implementation `tandem run` serves
on `[metrics] listen`. Labels are small closed sets (an event's kind, a platform's name, a
job's name), never a person, a chat or a school: a label per family would grow without end.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from bot.config_values import Section, parse_listen
from bot.events import ButtonPress, Event, MessageEdited

_T = TypeVar("_T")

# Seconds on a monotonic clock; injected so that tests see exact latencies.
Timer = Callable[[], float]


class EventOutcome(StrEnum):
    """How handling one event ended."""

    REPLIED = "replied"  # one or more replies for the sender
    # Handled, nothing to say: a stranger's flood, someone else's button, a redelivery (which
    # is also counted by `duplicate_event`).
    SILENT = "silent"
    ERROR = "error"  # raised: the adapter logs it and the platform may deliver it again


class JobOutcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    ELSEWHERE = "elsewhere"  # another replica composed this occurrence


class Metrics(Protocol):
    """What the dispatcher, the sender and the scheduler report as they work."""

    def event_handled(self, kind: str, outcome: EventOutcome, seconds: float) -> None:
        """An event (`message`, `button`, `edit`) was handled, its replies ready in `seconds`."""

    def duplicate_event(self, platform: str) -> None:
        """An event seen before (a platform's redelivery) was ignored."""

    def letter_sent(self, platform: str) -> None:
        """The platform took a letter from the outbox."""

    def letter_retried(self, platform: str) -> None:
        """A letter goes back in the queue for later (a transient error or a 429)."""

    def letter_dead(self, platform: str, count: int = 1, *, blocked: bool = False) -> None:
        """Letters were given up: refused, or out of attempts; or `blocked`, their reader
        blocked the bot (every letter queued to them fails at once)."""

    def rate_limited(self, platform: str) -> None:
        """The platform answered 429: slow down."""

    def job_ran(self, job: str, outcome: JobOutcome) -> None:
        """A scheduled job (`checkin`, `summary`, `purge`) ran to its end or failed."""


class NoMetrics:
    """Records nothing: the default wherever no metrics were asked for."""

    def event_handled(self, kind: str, outcome: EventOutcome, seconds: float) -> None:
        pass

    def duplicate_event(self, platform: str) -> None:
        pass

    def letter_sent(self, platform: str) -> None:
        pass

    def letter_retried(self, platform: str) -> None:
        pass

    def letter_dead(self, platform: str, count: int = 1, *, blocked: bool = False) -> None:
        pass

    def rate_limited(self, platform: str) -> None:
        pass

    def job_ran(self, job: str, outcome: JobOutcome) -> None:
        pass


NO_METRICS: Metrics = NoMetrics()


def event_kind(event: Event) -> str:
    """The event's kind, as the metrics label it."""
    if isinstance(event, ButtonPress):
        return "button"
    return "edit" if isinstance(event, MessageEdited) else "message"


def measured_job(
    metrics: Metrics,
    job: str,
    run: Callable[..., Awaitable[_T]],
    ran_elsewhere: Callable[[_T], bool] = lambda _: False,
) -> Callable[..., Awaitable[_T]]:
    """`run`, reporting each run's outcome as `job` (the scheduler calls this instead)."""

    async def measured(*args: object, **kwargs: object) -> _T:
        try:
            result = await run(*args, **kwargs)
        except Exception:
            metrics.job_ran(job, JobOutcome.FAILED)
            raise
        metrics.job_ran(job, JobOutcome.ELSEWHERE if ran_elsewhere(result) else JobOutcome.DONE)
        return result

    measured.__name__ = measured.__qualname__ = f"measured_{job}"
    return measured


def default_timer() -> float:
    return time.perf_counter()


# --- the [metrics] section ---

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class MetricsConfig:
    """Where `tandem run` serves /metrics and /healthz; "" (the default) serves neither."""

    listen: tuple[str, int] | None = None
    # Off: only a loopback address, so records' counts never reach the network by accident.
    allow_remote: bool = False


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def read_metrics(s: Section) -> MetricsConfig:
    """The [metrics] section, checked: a listen address off the loopback needs allow_remote."""
    allow_remote = s.flag("allow_remote", MetricsConfig.allow_remote)
    text = s.text("listen", "")
    if not text.strip():
        return MetricsConfig(None, allow_remote)
    listen = parse_listen(text, s.key("listen"))
    if not allow_remote and not is_loopback(listen[0]):
        raise s.error(
            "listen",
            f"{listen[0]!r} is not a loopback address; /metrics and /healthz are served on "
            "127.0.0.1 or ::1 unless metrics.allow_remote = true (then keep the port behind "
            "a firewall or the proxy)",
        )
    return MetricsConfig(listen, allow_remote)
