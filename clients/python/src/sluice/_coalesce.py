"""Coalesced online reads for the asyncio client (AsyncSluiceClient(coalesce_online_reads=True)).

Reads started in the same turn of the event loop, for the same project, features and options and the
same join keys, go to the server as one GetOnlineFeatures call of all their entity rows; each caller
gets its own rows of the answer, exactly as its own call would have answered. A service answering many
requests at once makes one call where it made dozens: most of an online read's cost, on both sides, is
the call itself (about 100-160 µs of grpc.aio per call here), not the rows it reads.

What a caller sees is unchanged but for its timing and the server's count of calls:
- a read waits at most for the current turn of the event loop to end before it is sent, and a
  coalesced read is answered when the whole call is;
- a call that fails for its content (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, ... any code
  but those below) is retried read by read, so that each read gets its own answer or error, as alone;
- a call that fails for the channel or the caller (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
  UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED) fails every read in it with that error, as each
  would have failed alone;
- the server counts, logs and rate-limits one call per coalesced call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from sluice._errors import SluiceError
from sluice._online import online_answer
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

    def answer(self, response: online_pb2.GetOnlineFeaturesResponse, first: int = 0, total: int | None = None) -> None:
        """Settles the future with this read's rows of `response` (or the error making them raised)."""
        if self.future.done():  # the caller gave up (cancelled)
            return
        try:
            self.future.set_result(online_answer(self.columns, response, self.with_metadata, self.as_table, first, total))
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
    """Reads of one selection waiting for the end of a turn, and their entity rows."""

    __slots__ = ("reads", "rows")

    def __init__(self) -> None:
        self.reads: list[_Read] = []
        self.rows = 0


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
        # Reads waiting for the end of this turn, by selection; each list is sent by the callback scheduled with it.
        self._waiting: dict[tuple[Any, ...], _Group] = {}
        self._running: set[asyncio.Task[None]] = set()

    def read(
        self, request: online_pb2.GetOnlineFeaturesRequest, columns: dict[str, list[Any]], with_metadata: bool, as_table: bool
    ) -> asyncio.Future[Any]:
        """The answer of one read, once its call (coalesced or not) is answered."""
        loop = asyncio.get_running_loop()
        read = _Read(request, columns, with_metadata, as_table, loop.create_future())
        key = (request.project, tuple(request.features), request.feature_service, request.full_feature_names, tuple(columns))
        group = self._waiting.get(key)
        if group is None or group.rows + read.rows > self._max_rows:
            # A full group is sent as it is, and this read starts the next.
            group = self._waiting[key] = _Group()
            loop.call_soon(self._dispatch, key, group)
        group.reads.append(read)
        group.rows += read.rows
        return read.future

    def _dispatch(self, key: tuple[Any, ...], group: _Group) -> None:
        if self._waiting.get(key) is group:
            del self._waiting[key]
        task = asyncio.get_running_loop().create_task(self._call(group.reads))
        # The loop keeps only weak references to tasks.
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _call(self, group: list[_Read]) -> None:
        reads = [read for read in group if not read.future.done()]
        if len(reads) == 1:
            await self._alone(reads[0])
        elif reads:
            await self._together(reads)

    async def _alone(self, read: _Read) -> None:
        try:
            response = await self._send(read.request)
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
            response = await self._send(combined)
        except SluiceError as error:
            if error.code in SHARED_FATE:
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
        for read in reads:
            read.answer(response, first, total)
            first += read.rows
