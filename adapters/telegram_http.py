"""python-telegram-bot's Bot API calls made with aiohttp instead of httpx.

PTB sends through a `BaseRequest`; its default, `HTTPXRequest`, costs about 2.5 ms of CPU per
call at Tandem's concurrency (httpcore's pool and anyio's streams), more than the dispatcher
spends on a note. aiohttp, which the Slack adapter and the webhook server use already, makes
the same call for about 0.4 ms (`bench/inbound.py`, docs/benchmarks.md). The calls are the same
for Telegram: form fields as PTB encodes them, uploads as multipart/form-data, PTB's own
User-Agent; and so are the failures PTB and Tandem handle: `TimedOut`, `NetworkError`.

Timeouts keep PTB's meaning where aiohttp has one: waiting for a pooled connection and
connecting (aiohttp's `connect`, `sock_connect`), and each read (`sock_read`: a long poll's
read timeout is PTB's poll timeout plus its read timeout). aiohttp has no timer for writing,
so a whole call is also bounded by the sum of the four.
"""

from __future__ import annotations

from collections.abc import Iterable

import aiohttp

# The types PTB's own request classes use for "no value given" (a documented extension point,
# whose signature names them; they live in PTB's private modules).
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

Seconds = float | None


class AiohttpRequest(BaseRequest):
    """PTB's request interface on one aiohttp session with a bounded connection pool."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: Seconds = 5.0,
        write_timeout: Seconds = 5.0,
        connect_timeout: Seconds = 5.0,
        pool_timeout: Seconds = 1.0,
        media_write_timeout: Seconds = 20.0,
    ) -> None:
        # PTB's HTTPXRequest defaults, so the bot behaves as it did with PTB's own client.
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> Seconds:
        return self._read_timeout

    async def initialize(self) -> None:
        # Made here, not in __init__: an aiohttp session belongs to the running loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if uploads else self._write_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=_sum((pool, connect, write, read)),
            connect=_sum((pool, connect)),
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's own timeouts subclass it
            raise TimedOut from error
        except aiohttp.ClientError as error:
            # Only the kind of failure: some of aiohttp's messages quote the URL, whose path
            # holds the bot's token.
            raise NetworkError(f"aiohttp.{type(error).__name__}") from error


def _given(value: ODVInput[float], default: Seconds) -> Seconds:
    return default if isinstance(value, DefaultValue) else value


def _sum(parts: Iterable[Seconds]) -> Seconds:
    """The parts' sum; None (no limit) if any part has none."""
    total = 0.0
    for part in parts:
        if part is None:
            return None
        total += part
    return total


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """The call's fields URL-encoded, as PTB's own client sends them; with uploads, the fields
    and the files as multipart/form-data."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields or None
    form = aiohttp.FormData(fields)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
