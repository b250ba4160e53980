"""AsyncSluiceClient: the Sluice client on asyncio (grpc.aio), for services that serve many reads at once.

    async with AsyncSluiceClient("127.0.0.1:50051", project="shop") as client:
        rows = await client.get_online_features(["customer_stats:orders_30d"], {"customer_id": [1]})

It is built like SluiceClient (the same address, project, timeout, credentials, TLS, options and
message limits) and shares its requests and conversions; only the calls are awaited. The generated
stubs are attributes as on SluiceClient, bound to the grpc.aio channel: `await client.registry.ListProjects(...)`.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import grpc

from sluice._base import ClientBase
from sluice._coalesce import OnlineReadCoalescer
from sluice._credentials import open_aio_channel
from sluice._errors import SluiceError
from sluice._historical import HistoricalCall, Spine
from sluice._models import Prediction
from sluice._online import online_answer
from sluice._values import PyValue
from sluice._writes import FeatureRowLike, WriteResult
from sluice.v1 import registry_pb2

T = TypeVar("T")

__all__ = ["AsyncSluiceClient"]


@dataclass
class AsyncSluiceClient(ClientBase):
    """A client of one Sluice server on asyncio: SluiceClient's settings, names, errors and answers,
    with awaitable calls. Use it as `async with AsyncSluiceClient(...) as client:`, or `await
    client.close()` when done. Calls raise SluiceError (SluiceArgumentError before anything is sent);
    every call has the client's deadline (`timeout`). Construct it inside the event loop that uses it.

    Wrapped: health_check, get_feature_view, write_feature_batch, get_online_features,
    get_historical_features and predict, with SluiceClient's arguments; `call()` awaits any unary
    stub method with the client's deadline, metadata and errors.

    With `coalesce_online_reads=True`, get_online_features calls started in the same turn of the
    event loop for the same features and options go to the server as one call, each caller getting
    its own rows and errors as if alone (sluice._coalesce says exactly how): for services that make
    many small reads at once.
    """

    coalesce_online_reads: bool = False
    _channel: grpc.aio.Channel = field(init=False, repr=False)
    _coalescer: OnlineReadCoalescer | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self._channel = open_aio_channel(self.address, **self._connection())
        self._attach_stubs(self._channel)
        if self.coalesce_online_reads:
            self._coalescer = OnlineReadCoalescer(lambda request: self.call(self.online.GetOnlineFeatures, request))

    async def close(self) -> None:
        """Closes the channel; calls still running are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncSluiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: Callable[..., Any], request: Any, *, timeout: float | None = None) -> Any:
        """Awaits a unary stub method with the client's deadline and metadata; failures raise SluiceError."""
        try:
            return await method(request, timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None

    async def _run(self, steps: Generator[tuple[Callable[..., Any], Any], Any, T]) -> T:
        """Runs steps that need calls, awaiting each call they yield (SluiceClient._run, on asyncio)."""
        try:
            method, request = next(steps)
            while True:
                method, request = steps.send(await self.call(method, request))
        except StopIteration as done:
            return done.value

    async def health_check(self, service: str = "") -> str:
        """The server's health ("SERVING", "NOT_SERVING", ...), or one service's."""
        return self._serving_status(await self.call(self.health.Check, self._health_request(service)))

    async def get_feature_view(self, name: str, version: int | None = None) -> registry_pb2.FeatureView:
        """The latest version of a feature view, or an exact one (SluiceClient.get_feature_view)."""
        return (await self.call(self.registry.GetFeatureView, self._feature_view_request(name, version))).feature_view

    async def write_feature_batch(
        self, feature_view: str, rows: Sequence[FeatureRowLike], *, write_id: str = "", project: str | None = None
    ) -> WriteResult:
        """Writes one batch (WriteFeatureBatch); bad rows are reported in the result, not raised
        (SluiceClient.write_feature_batch)."""
        request = self._write_batch_request(feature_view, rows, write_id, project)
        return WriteResult.from_proto(await self.call(self.ingestion.WriteFeatureBatch, request))

    async def get_online_features(
        self,
        features: Sequence[str] = (),
        entities: Mapping[str, Sequence[PyValue]] | None = None,
        *,
        feature_service: str = "",
        full_feature_names: bool = False,
        with_metadata: bool = True,
        as_table: bool = False,
        project: str | None = None,
    ) -> Any:
        """The latest values of `features` for entity rows given as columns, as one dict per row (or a
        pyarrow.Table with as_table): SluiceClient.get_online_features."""
        request, columns = self._online_request(features, entities, feature_service, full_feature_names, project)
        if self._coalescer is not None:
            return await self._coalescer.read(request, columns, with_metadata, as_table)
        return online_answer(columns, await self.call(self.online.GetOnlineFeatures, request), with_metadata, as_table)

    async def get_historical_features(
        self,
        features: Sequence[str] = (),
        spine: Spine = (),
        *,
        feature_service: str = "",
        full_feature_names: bool = False,
        exclude_late_ingested: bool = False,
        as_table: bool = False,
        as_frame: bool = False,
        batch_rows: int = 10_000,
        chunk_rows: int = 0,
        timeout: float | None = None,
        project: str | None = None,
    ) -> Any:
        """A point-in-time-correct training set for a spine of rows, a pandas DataFrame or a pyarrow
        Table, as rows, a pyarrow.Table (as_table) or a pandas DataFrame (as_frame):
        SluiceClient.get_historical_features. The spine is encoded before the stream opens; the
        answer is collected as it streams in, between other tasks' work."""
        steps = self._historical_call(
            features,
            spine,
            feature_service=feature_service,
            full_feature_names=full_feature_names,
            exclude_late_ingested=exclude_late_ingested,
            as_table=as_table,
            as_frame=as_frame,
            batch_rows=batch_rows,
            chunk_rows=chunk_rows,
            project=project,
        )
        call: HistoricalCall = await self._run(steps)
        try:
            stream = self.training.GetHistoricalFeatures(iter(call.requests), timeout=timeout or self.timeout, metadata=self.metadata)
            async for part in stream:
                call.answer.add(part)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None
        return call.answer.result()

    async def predict(
        self,
        endpoint: str,
        entities: Mapping[str, Sequence[PyValue]],
        request_features: Mapping[str, Sequence[PyValue]] | None = None,
        *,
        routing_key: str = "",
        request_id: str = "",
    ) -> Prediction:
        """Predicts for entity rows given as columns at `endpoint` (an id or a full name), as
        SluiceClient.predict: a Prediction with `outputs`, `model_version`, `role` and `feature_statuses`."""
        request = self._predict_request(endpoint, entities, request_features, routing_key, request_id)
        return Prediction.from_proto(await self.call(self.inference.Predict, request))
