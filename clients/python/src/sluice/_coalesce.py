"""Coalesced online reads for the asyncio client (AsyncSluiceClient(coalesce_online_reads=True)).

Reads started in the same turn of the event loop, for the same project, features and options and the
same join keys, go to the server as one GetOnlineFeatures call of all their entity rows; each caller
gets its own rows of the answer, exactly as its own call would have answered. A service answering many
requests at once makes one call where it made dozens: most of an online read's cost, on both sides, is
the call itself (about 100-160 µs of grpc.aio per call here), not the rows it reads.

What a caller sees is unchanged but for its timing and the server's count of calls:
- a read is sent in the next turn of the event loop (with the reads started in this one), and a
  coalesced read is answered when the whole call is;
- a call that fails for its content (INVALID_ARGUMENT, NOT_FOUND, a message too large, ... any code
  but those below) is resent read by read, so that each read gets its own answer or error, as alone;
- a call that fails for the channel or the caller (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
  UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED, and RESOURCE_EXHAUSTED for the caller's rate
  limit) fails every read in it with that error, as each would have failed alone;
- a read whose join key columns differ in length (which the server refuses) is sent alone, so its
  columns cannot even out with another read's;
- a call whose callers have all been cancelled is cancelled;
- the server counts, logs and rate-limits one call per coalesced call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from sluice._errors import SluiceError
from sluice._online import CheckedAnswer, check_online_answer, online_answer
from sluice.v1 import online_pb2

#: Codes a coalesced call's reads would each have met alone: not retried read by read.
SHARED_FATE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)

#: The reason of the server's RESOURCE_EXHAUSTED for a caller over its rate limit (shared fate, unlike a message too large).
RATE_LIMITED = "RATE_LIMITED"

#: Entity rows per coalesced call at most (the server's default limit is 10,000); a read with more goes alone.
MAX_COALESCED_ROWS = 1_000


class _Read:
    """One caller's read: its request (entity rows encoded), rows and answer options, and its future."""

    __slots__ = ("request", "columns", "rows", "with_metadata", "as_table", "future")

    def __init__(
        self,
        request: online_pb2.GetOnlineFeaturesRequest,
        columns: dict[str, list[Any]],
        with_metadata: bool,
        as_table: bool,
        future: asyncio.Future[Any],
    ) -> None:
        self.request, self.columns, self.with_metadata, self.as_table, self.future = request, columns, with_metadata, as_table, future
        self.rows = len(next(iter(columns.values()), []))

    @property
    def coalescible(self) -> bool:
        """Rows are its join key columns' common length: false when there is none (the server refuses those alone)."""
        return len(self.columns) > 0 and all(len(values) == self.rows for values in self.columns.values())

    def answer(
        self, response: online_pb2.GetOnlineFeaturesResponse, first: int = 0, total: int | None = None, checked: CheckedAnswer | None = None
    ) -> None:
        """Settles the future with this read's rows of `response` (or the error making them raised);
        `checked`: the response as check_online_answer made it, once for all its reads."""
        if self.future.done():  # the caller gave up (cancelled)
            return
        try:
            self.future.set_result(online_answer(self.columns, response, self.with_metadata, self.as_table, first, total, checked))
        except Exception as error:  # noqa: BLE001 - the caller's error, raised where it awaits
            self.future.set_exception(error)

    def fail(self, error: BaseException) -> None:
        if self.future.done():
            return
        if isinstance(error, asyncio.CancelledError):
            self.future.cancel()
        else:
            self.future.set_exception(error)


class _Group:
    """Reads of one selection to be sent in one call, and their entity rows."""

    __slots__ = ("reads", "rows")

    def __init__(self, first: _Read) -> None:
        self.reads = [first]
        self.rows = first.rows

    def add(self, read: _Read) -> None:
        self.reads.append(read)
        self.rows += read.rows


class OnlineReadCoalescer:
    """Gathers the reads started in one turn of the event loop into one call per selection (see the
    module). `send` makes one GetOnlineFeatures call, raising SluiceError."""

    def __init__(
        self,
        send: Callable[[online_pb2.GetOnlineFeaturesRequest], Awaitable[online_pb2.GetOnlineFeaturesResponse]],
        max_rows: int = MAX_COALESCED_ROWS,
    ) -> None:
        self._send = send
        self._max_rows = max_rows
        # Groups still taking reads, by selection; each is sent by the task started with it.
        self._waiting: dict[tuple[Any, ...], _Group] = {}
        self._running: set[asyncio.Task[None]] = set()

    def read(
        self, request: online_pb2.GetOnlineFeaturesRequest, columns: dict[str, list[Any]], with_metadata: bool, as_table: bool
    ) -> asyncio.Future[Any]:
        """The answer of one read, once its call (coalesced or not) is answered."""
        loop = asyncio.get_running_loop()
        read = _Read(request, columns, with_metadata, as_table, loop.create_future())
        if not read.coalescible:
            self._start(None, _Group(read))
            return read.future
        key = (request.project, tuple(request.features), request.feature_service, request.full_feature_names, tuple(columns))
        group = self._waiting.get(key)
        if group is not None and group.rows + read.rows <= self._max_rows:
            group.add(read)
        else:
            # A full group goes as it is, and this read starts the next.
            group = self._waiting[key] = _Group(read)
            self._start(key, group)
        return read.future

    def _start(self, key: tuple[Any, ...] | None, group: _Group) -> None:
        """Sends the group in a task, which starts in the next turn: reads started in this one join it until then."""
        task = asyncio.get_running_loop().create_task(self._call(key, group))
        # The loop keeps only weak references to tasks.
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _call(self, key: tuple[Any, ...] | None, group: _Group) -> None:
        if key is not None and self._waiting.get(key) is group:
            del self._waiting[key]
        reads = [read for read in group.reads if not read.future.done()]
        if len(reads) == 1:
            await self._alone(reads[0])
        elif reads:
            await self._together(reads)

    async def _alone(self, read: _Read) -> None:
        if read.future.done():  # cancelled while its coalesced call ran
            return
        try:
            response = await self._sent([read], read.request)
        except BaseException as error:  # noqa: BLE001 - handed to the caller, cancellation included
            read.fail(error)
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        read.answer(response)

    async def _together(self, reads: list[_Read]) -> None:
        combined = online_pb2.GetOnlineFeaturesRequest()
        combined.CopyFrom(reads[0].request)
        for read in reads[1:]:
            for name, column in read.request.entities.items():
                combined.entities[name].values.extend(column.values)
        try:
            response = await self._sent(reads, combined)
        except SluiceError as error:
            if error.code in SHARED_FATE or error.reason == RATE_LIMITED:
                for read in reads:
                    read.fail(error)
            else:
                await asyncio.gather(*(self._alone(read) for read in reads))
            return
        except BaseException as error:  # noqa: BLE001 - cancellation and anything unforeseen reach every caller
            for read in reads:
                read.fail(error)
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        total, first = sum(read.rows for read in reads), 0
        try:
            checked = check_online_answer(response, total)
        except SluiceError as error:
            for read in reads:
                read.fail(error)
            return
        for read in reads:
            read.answer(response, first, total, checked)
            first += read.rows

    async def _sent(self, reads: list[_Read], request: online_pb2.GetOnlineFeaturesRequest) -> online_pb2.GetOnlineFeaturesResponse:
        """The answer to `request`, a call that is cancelled once every read waiting for it is (as a
        caller's cancellation cancels its own call without coalescing)."""
        call = asyncio.ensure_future(self._send(request))

        def abandon(_: asyncio.Future[Any]) -> None:
            if not call.done() and all(read.future.done() for read in reads):
                call.cancel()

        for read in reads:
            read.future.add_done_callback(abandon)
        return await call
