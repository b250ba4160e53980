"""SluiceClient: one channel, the generated stubs of every service, and friendly wrappers for the
common calls (registry applies, writes, online reads) that turn failures into SluiceError."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, TypeVar

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluice._errors import FieldViolation, SluiceError
from sluice._online import online_rows, online_table
from sluice._values import PyValue, to_timestamp, to_value, value_type
from sluice.v1 import (
    inference_pb2_grpc,
    ingestion_pb2,
    ingestion_pb2_grpc,
    model_pb2_grpc,
    monitoring_pb2_grpc,
    online_pb2,
    online_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    training_pb2_grpc,
    types_pb2,
)

T = TypeVar("T")

# Retry idempotent calls (registry applies and reads, online reads, health) when the server is
# briefly unreachable; writes are retried by the caller with the same write id instead.
# CreateProject is not idempotent (a repeat is ALREADY_EXISTS): its own entry, without a retry
# policy, overrides the service's.
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [
                    {"service": "sluice.v1.RegistryService"},
                    {"service": "sluice.v1.OnlineService"},
                    {"service": "grpc.health.v1.Health"},
                ],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            },
            {"name": [{"service": "sluice.v1.RegistryService", "method": "CreateProject"}]},
        ]
    }
)


@dataclass(frozen=True)
class RowRejection:
    """A row the server refused, by its index in the batch, with every problem found in it."""

    row_index: int
    violations: list[FieldViolation]


@dataclass(frozen=True)
class WriteResult:
    """The acknowledgement of one batch: rows stored, rows rejected (the good rows of a batch are
    stored even when others are rejected), and `duplicate` when the write id was already applied."""

    write_id: str
    accepted_count: int
    rejected_rows: list[RowRejection]
    duplicate: bool
    feature_view_version: int

    @classmethod
    def from_proto(cls, ack: ingestion_pb2.WriteFeaturesResponse | ingestion_pb2.WriteFeatureBatchResponse) -> WriteResult:
        return cls(
            write_id=ack.write_id,
            accepted_count=ack.accepted_count,
            rejected_rows=[
                RowRejection(r.row_index, [FieldViolation(v.field, v.description) for v in r.violations]) for r in ack.rejected_rows
            ],
            duplicate=ack.duplicate,
            feature_view_version=ack.feature_view_version,
        )


@dataclass
class Batch:
    """One batch of WriteFeatures: rows for one feature view ("view" or "view@3")."""

    feature_view: str
    rows: Sequence[Mapping[str, Any] | ingestion_pb2.FeatureRow]
    write_id: str = ""
    project: str | None = None


@dataclass
class SluiceClient:
    """A client of one Sluice server.

    Every call has a deadline (`timeout` seconds, 30 by default) and raises SluiceError when it
    fails. Names may be short ids ("customer_stats"), which are placed in `project`, or full
    resource names ("projects/p/featureViews/customer_stats"). The generated stubs are attributes
    (`registry`, `ingestion`, `online`, `training`, `models`, `inference`, `monitoring`, `health`)
    for every method the wrappers do not cover; call them through `call()` to get the same deadline,
    metadata and errors.
    """

    address: str
    project: str = "default"
    timeout: float | None = 30.0
    credentials: grpc.ChannelCredentials | None = None
    api_key: str | None = None
    options: Sequence[tuple[str, Any]] = ()
    _channel: grpc.Channel = field(init=False, repr=False)
    registry: registry_pb2_grpc.RegistryServiceStub = field(init=False, repr=False)
    ingestion: ingestion_pb2_grpc.IngestionServiceStub = field(init=False, repr=False)
    online: online_pb2_grpc.OnlineServiceStub = field(init=False, repr=False)
    training: training_pb2_grpc.TrainingServiceStub = field(init=False, repr=False)
    models: model_pb2_grpc.ModelServiceStub = field(init=False, repr=False)
    inference: inference_pb2_grpc.InferenceServiceStub = field(init=False, repr=False)
    monitoring: monitoring_pb2_grpc.MonitoringServiceStub = field(init=False, repr=False)
    health: health_pb2_grpc.HealthStub = field(init=False, repr=False)

    def __post_init__(self) -> None:
        options = [("grpc.enable_retries", 1), ("grpc.service_config", _SERVICE_CONFIG), *self.options]
        if self.credentials is not None:
            self._channel = grpc.secure_channel(self.address, self.credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.address, options=options)
        self.registry = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(self._channel)
        self.online = online_pb2_grpc.OnlineServiceStub(self._channel)
        self.training = training_pb2_grpc.TrainingServiceStub(self._channel)
        self.models = model_pb2_grpc.ModelServiceStub(self._channel)
        self.inference = inference_pb2_grpc.InferenceServiceStub(self._channel)
        self.monitoring = monitoring_pb2_grpc.MonitoringServiceStub(self._channel)
        self.health = health_pb2_grpc.HealthStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> SluiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def metadata(self) -> list[tuple[str, str]]:
        """Metadata sent with every call (the API key, when one is set)."""
        return [("authorization", f"Bearer {self.api_key}")] if self.api_key else []

    def call(self, method: Callable[..., T], request: Any, *, timeout: float | None = None) -> T:
        """Calls a unary stub method with the client's deadline and metadata; failures raise SluiceError."""
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None

    def _name(self, collection: str, name: str) -> str:
        return name if name.startswith("projects/") else f"projects/{self.project}/{collection}/{name}"

    def _project(self, project: str | None) -> str:
        project = project or self.project
        return project if project.startswith("projects/") else f"projects/{project}"

    # -- health and registry -------------------------------------------------------------------

    def health_check(self, service: str = "") -> str:
        """The server's health ("SERVING", "NOT_SERVING", ...), or one service's."""
        response = self.call(self.health.Check, health_pb2.HealthCheckRequest(service=service))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def create_project(self, project: str, description: str = "") -> registry_pb2.Project:
        """Creates a project; ALREADY_EXISTS (reason PROJECT_ALREADY_EXISTS) if it exists."""
        request = registry_pb2.CreateProjectRequest(project=registry_pb2.Project(name=self._project(project), description=description))
        return self.call(self.registry.CreateProject, request).project

    def apply_entity(
        self,
        name: str,
        join_keys: Mapping[str, str],
        *,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        validate_only: bool = False,
    ) -> registry_pb2.ApplyEntityResponse:
        """Creates an entity or updates its description, owner and tags: join_keys maps each key to a
        type name ("int64", "string", ...). The response's `outcome` says what happened."""
        entity = registry_pb2.Entity(
            name=self._name("entities", name),
            join_keys=[registry_pb2.JoinKey(name=k, type=value_type(t)) for k, t in join_keys.items()],
            description=description,
            owner=owner,
            tags=dict(tags or {}),
        )
        return self.call(self.registry.ApplyEntity, registry_pb2.ApplyEntityRequest(entity=entity, validate_only=validate_only))

    def apply_feature_view(
        self,
        name: str,
        *,
        entity: str,
        features: Mapping[str, str] | Sequence[registry_pb2.Feature],
        ttl_seconds: float = 0,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        validate_only: bool = False,
    ) -> registry_pb2.ApplyFeatureViewResponse:
        """Applies a feature view: features maps each name to a type name (or pass Feature messages).
        The response says CREATED, UNCHANGED or NEW_VERSION, with the compatibility and changes."""
        if isinstance(features, Mapping):
            features = [registry_pb2.Feature(name=n, type=value_type(t)) for n, t in features.items()]
        ttl = duration_pb2.Duration(seconds=int(ttl_seconds), nanos=round((ttl_seconds % 1) * 1e9))
        view = registry_pb2.FeatureView(
            name=self._name("featureViews", name),
            entity=entity,
            features=list(features),
            ttl=ttl,
            description=description,
            owner=owner,
            tags=dict(tags or {}),
        )
        return self.call(self.registry.ApplyFeatureView, registry_pb2.ApplyFeatureViewRequest(feature_view=view, validate_only=validate_only))

    def get_feature_view(self, name: str, version: int | None = None) -> registry_pb2.FeatureView:
        """The latest version of a feature view, or an exact one."""
        full = self._name("featureViews", name) + (f"/versions/{version}" if version else "")
        return self.call(self.registry.GetFeatureView, registry_pb2.GetFeatureViewRequest(name=full)).feature_view

    # -- writes -------------------------------------------------------------------------------

    @staticmethod
    def feature_row(row: Mapping[str, Any] | ingestion_pb2.FeatureRow) -> ingestion_pb2.FeatureRow:
        """{"entity_key": {...}, "event_time": datetime, "features": {...}} as a FeatureRow (values
        are encoded by to_value; a feature left out is null)."""
        if isinstance(row, ingestion_pb2.FeatureRow):
            return row
        event_time: datetime | timestamp_pb2.Timestamp = row["event_time"]
        return ingestion_pb2.FeatureRow(
            entity_key={k: to_value(v) for k, v in row["entity_key"].items()},
            event_time=to_timestamp(event_time),
            features={k: to_value(v) for k, v in row.get("features", {}).items()},
        )

    def write_feature_batch(
        self,
        feature_view: str,
        rows: Sequence[Mapping[str, Any] | ingestion_pb2.FeatureRow],
        *,
        write_id: str = "",
        project: str | None = None,
    ) -> WriteResult:
        """Writes one batch (WriteFeatureBatch). Bad rows are reported in the result, not raised; a
        retry with the same write_id is applied once (`duplicate` is then true)."""
        request = ingestion_pb2.WriteFeatureBatchRequest(
            project=self._project(project), feature_view=feature_view, rows=[self.feature_row(r) for r in rows], write_id=write_id
        )
        return WriteResult.from_proto(self.call(self.ingestion.WriteFeatureBatch, request))

    def write_features(self, batches: Iterable[Batch], *, timeout: float | None = None) -> Iterator[WriteResult]:
        """Streams batches over one WriteFeatures call and yields one acknowledgement per batch, in
        order. `timeout` bounds the whole stream (the client's timeout by default)."""
        requests = (
            ingestion_pb2.WriteFeaturesRequest(
                project=self._project(b.project),
                feature_view=b.feature_view,
                rows=[self.feature_row(r) for r in b.rows],
                write_id=b.write_id,
            )
            for b in batches
        )
        try:
            for ack in self.ingestion.WriteFeatures(requests, timeout=timeout or self.timeout, metadata=self.metadata):
                yield WriteResult.from_proto(ack)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None

    # -- reads --------------------------------------------------------------------------------

    def get_online_features(
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
        """Reads the latest values of `features` (refs such as "view:feature", or a feature_service)
        for the entity rows given as columns ({"customer_id": [1, 2]}).

        Returns a list of dicts, one per entity row, in the order given: the join keys, each
        feature's value, and with_metadata its `{name}__status` and `{name}__event_time`. With
        as_table=True the same columns come as a pyarrow.Table (pyarrow must be installed).
        """
        columns = {key: list(values) for key, values in (entities or {}).items()}
        request = online_pb2.GetOnlineFeaturesRequest(
            project=self._project(project),
            features=list(features),
            feature_service=feature_service,
            entities={key: types_pb2.ValueColumn(values=[to_value(v) for v in values]) for key, values in columns.items()},
            full_feature_names=full_feature_names,
        )
        response = self.call(self.online.GetOnlineFeatures, request)
        if as_table:
            return online_table(columns, response, with_metadata)
        return online_rows(columns, response, with_metadata)

    # GetHistoricalFeatures (training) and Predict (inference) have no wrappers yet. They will follow
    # the same shape: build the request, `self.call(self.inference.Predict,
    # ...)` for unary calls, or iterate the stream inside try/except grpc.RpcError as
    # write_features does, and return rows or a pyarrow table as get_online_features does.
