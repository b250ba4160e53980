"""What SluiceClient and AsyncSluiceClient share: the connection settings, the generated stubs, names
placed in the client's project, and the requests of the calls both wrap. The clients differ only in
how they make a call (blocking, or awaited on grpc.aio)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluice._channel import channel_options
from sluice._credentials import Tls, TokenProvider
from sluice._historical import Spine, Steps, historical_call, output_of
from sluice._names import full_name, project_id
from sluice._online import OnlineRequests
from sluice._values import PyValue, to_value
from sluice._writes import FeatureRowLike, feature_row
from sluice.v1 import (
    access_pb2_grpc,
    inference_pb2,
    inference_pb2_grpc,
    ingestion_pb2,
    ingestion_pb2_grpc,
    learning_pb2_grpc,
    model_pb2_grpc,
    monitoring_pb2_grpc,
    online_pb2,
    online_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
    types_pb2,
)


@dataclass
class ClientBase:
    """The settings and requests of a client of one Sluice server (see SluiceClient)."""

    address: str
    project: str = "default"
    timeout: float | None = 30.0
    credentials: grpc.ChannelCredentials | None = None
    api_key: str | None = None
    options: Sequence[tuple[str, Any]] = ()
    token: str | TokenProvider | None = None
    tls: bool | Tls | None = None
    registry: registry_pb2_grpc.RegistryServiceStub = field(init=False, repr=False)
    ingestion: ingestion_pb2_grpc.IngestionServiceStub = field(init=False, repr=False)
    online: online_pb2_grpc.OnlineServiceStub = field(init=False, repr=False)
    training: training_pb2_grpc.TrainingServiceStub = field(init=False, repr=False)
    models: model_pb2_grpc.ModelServiceStub = field(init=False, repr=False)
    inference: inference_pb2_grpc.InferenceServiceStub = field(init=False, repr=False)
    learning: learning_pb2_grpc.LearningServiceStub = field(init=False, repr=False)
    monitoring: monitoring_pb2_grpc.MonitoringServiceStub = field(init=False, repr=False)
    access: access_pb2_grpc.AccessServiceStub = field(init=False, repr=False)
    health: health_pb2_grpc.HealthStub = field(init=False, repr=False)
    _online_requests: OnlineRequests = field(init=False, repr=False, default_factory=OnlineRequests)

    def _connection(self) -> dict[str, Any]:
        """Checks the project and gives the arguments of open_channel / open_aio_channel: the
        credentials, and the client's default options (retries, 64 MiB messages each way) under
        the caller's own."""
        self.project = project_id(self.project, "project")
        # The credentials ride on the channel (call credentials over TLS, an interceptor over
        # plaintext), so the generated stubs' calls carry them as the wrappers' do.
        return {
            "tls": self.tls,
            "credentials": self.credentials,
            "api_key": self.api_key,
            "token": self.token,
            "options": channel_options(self.options),
        }

    def _attach_stubs(self, channel: Any) -> None:
        """The generated stub of every service, on the client's channel (blocking or grpc.aio)."""
        self.registry = registry_pb2_grpc.RegistryServiceStub(channel)
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(channel)
        self.online = online_pb2_grpc.OnlineServiceStub(channel)
        self.training = training_pb2_grpc.TrainingServiceStub(channel)
        self.models = model_pb2_grpc.ModelServiceStub(channel)
        self.inference = inference_pb2_grpc.InferenceServiceStub(channel)
        self.learning = learning_pb2_grpc.LearningServiceStub(channel)
        self.monitoring = monitoring_pb2_grpc.MonitoringServiceStub(channel)
        self.access = access_pb2_grpc.AccessServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)

    @property
    def metadata(self) -> list[tuple[str, str]]:
        """Metadata the wrappers send with every call; the credentials are not here but on the channel."""
        return []

    def _name(self, collection: str, name: str, *, field: str = "name", **options: Any) -> str:
        """The full name of a resource given by id (in the client's project) or by full name."""
        return full_name(self.project, collection, name, field=field, **options)

    def _project(self, project: str | None) -> str:
        """"projects/{id}" of a project given as an id or a name; the client's when None or empty."""
        return f"projects/{project_id(project, 'project') if project else self.project}"

    @staticmethod
    def feature_row(row: FeatureRowLike) -> ingestion_pb2.FeatureRow:
        """{"entity_key": {...}, "event_time": datetime, "features": {...}} as a FeatureRow (values
        are encoded by to_value; a feature left out is null). An optional "created_time" (datetime)
        is when the source system recorded the row: it breaks ties between equal event times and is
        the row's "known since" time (docs/versioning.md); left out, the server's receipt time."""
        return feature_row(row)

    # -- the requests of the calls both clients wrap ---------------------------------------------

    @staticmethod
    def _health_request(service: str) -> health_pb2.HealthCheckRequest:
        return health_pb2.HealthCheckRequest(service=service)

    @staticmethod
    def _serving_status(response: health_pb2.HealthCheckResponse) -> str:
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def _feature_view_request(self, name: str, version: int | None) -> registry_pb2.GetFeatureViewRequest:
        return registry_pb2.GetFeatureViewRequest(name=self._name("featureViews", name, version=version, allow_version=True))

    def _write_batch_request(
        self, feature_view: str, rows: Sequence[FeatureRowLike], write_id: str, project: str | None
    ) -> ingestion_pb2.WriteFeatureBatchRequest:
        return ingestion_pb2.WriteFeatureBatchRequest(
            project=self._project(project), feature_view=feature_view, rows=[feature_row(r) for r in rows], write_id=write_id
        )

    def _online_request(
        self,
        features: Sequence[str],
        entities: Mapping[str, Sequence[PyValue]] | None,
        feature_service: str,
        full_feature_names: bool,
        project: str | None,
    ) -> tuple[online_pb2.GetOnlineFeaturesRequest, dict[str, list[Any]]]:
        return self._online_requests.build(self._project(project), features, entities, feature_service, full_feature_names)

    def _historical_call(
        self,
        features: Sequence[str],
        spine: Spine,
        *,
        feature_service: str,
        full_feature_names: bool,
        exclude_late_ingested: bool,
        as_table: bool,
        as_frame: bool,
        batch_rows: int,
        chunk_rows: int,
        project: str | None,
    ) -> Steps:
        """The steps of a GetHistoricalFeatures call (historical_call), which each client runs with
        its own kind of call (`_run`) to get the HistoricalCall: the requests and the answer's collector."""
        output = output_of(as_table, as_frame)
        query = training_pb2.HistoricalFeaturesQuery(
            project=self._project(project),
            features=list(features),
            feature_service=feature_service,
            inline_spine=True,
            full_feature_names=full_feature_names,
            exclude_late_ingested=exclude_late_ingested,
            chunk_rows=chunk_rows,
        )
        return historical_call(self.registry, query, spine, output=output, batch_rows=batch_rows)

    def _predict_request(
        self,
        endpoint: str,
        entities: Mapping[str, Sequence[PyValue]],
        request_features: Mapping[str, Sequence[PyValue]] | None,
        routing_key: str,
        request_id: str,
    ) -> inference_pb2.PredictRequest:
        return inference_pb2.PredictRequest(
            endpoint=self._name("endpoints", endpoint, field="endpoint"),
            entities=_value_columns(entities),
            request_features=_value_columns(request_features or {}),
            routing_key=routing_key,
            request_id=request_id,
        )


def _value_columns(columns: Mapping[str, Sequence[PyValue]]) -> dict[str, types_pb2.ValueColumn]:
    """Columns of Python values ({"customer_id": [1, 3]}) as ValueColumns."""
    return {key: types_pb2.ValueColumn(values=[to_value(v) for v in values]) for key, values in columns.items()}

