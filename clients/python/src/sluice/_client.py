"""SluiceClient: one channel, the generated stubs of every service, and friendly wrappers for the
common calls (registry applies, writes, event streams, online reads, training data, models,
deployments and their promotions, predictions, online learners, the served-consistency check, and
access: API keys, role bindings and the audit trail) that turn failures into SluiceError."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, TypeVar

import grpc

from sluice._base import ClientBase
from sluice._credentials import open_channel
from sluice._errors import SluiceArgumentError, SluiceError
from sluice._historical import HistoricalCall, Spine
from sluice._learning import (
    CheckpointLike,
    LabelBatchLike,
    LearnerInputLike,
    OptimizerLike,
    checkpoint_policy,
    is_label_batch,
    label_batch,
    learner_inputs,
    learner_kind,
    number,
    optimizer as optimizer_member,
)
from sluice._models import Bindings, Prediction, input_bindings, missing_feature_policy, read_model, upload_requests
from sluice._names import project_id, versioned_name
from sluice._online import online_answer
from sluice._streams import EventLike, FeatureSpec, event_row, features as feature_messages, stream_fields
from sluice._values import PyValue, to_duration, to_timestamp, value_type
from sluice._writes import EventWriteResult, FeatureRowLike, WriteResult
from sluice.v1 import (
    access_pb2,
    ingestion_pb2,
    learning_pb2,
    model_pb2,
    monitoring_pb2,
    registry_pb2,
)

T = TypeVar("T")
B = TypeVar("B")
R = TypeVar("R")


@dataclass
class Batch:
    """One batch of WriteFeatures: rows for one feature view ("view" or "view@3")."""

    feature_view: str
    rows: Sequence[Mapping[str, Any] | ingestion_pb2.FeatureRow]
    write_id: str = ""
    project: str | None = None


@dataclass
class EventBatch:
    """One batch of WriteEvents: events for one event stream ("stream" or "stream@2")."""

    event_stream: str
    events: Sequence[EventLike]
    write_id: str = ""
    project: str | None = None


@dataclass
class SluiceClient(ClientBase):
    """A client of one Sluice server, blocking (sluice.aio.AsyncSluiceClient is the asyncio one).

    Every call has a deadline (`timeout` seconds, 30 by default) and raises SluiceError when it
    fails. Names (of feature views, entities, models, endpoints, ...) are short ids
    ("customer_stats"), which are placed in `project`, or full resource names
    ("projects/p/featureViews/customer_stats"), used unchanged; anything else raises
    SluiceArgumentError (a SluiceError with code INVALID_ARGUMENT) before the call, showing the
    expected form. `project` is an id or "projects/{id}" (kept as the id). Refs ("customer_stats",
    "customer_stats@2:orders_30d", or the full forms "projects/p/featureViews/customer_stats:orders_30d")
    go to the server as written. The generated stubs are attributes
    (`registry`, `ingestion`, `online`, `training`, `models`, `inference`, `learning`, `monitoring`,
    `access`, `health`) for every method the wrappers do not cover; call them through `call()` to get the same
    deadline, metadata and errors.

    Connecting: plaintext by default. `tls=True` (gRPC's default roots) or `tls=Tls.from_files(ca_file,
    cert_file, key_file)` (a CA bundle; a client certificate and key for mutual TLS) for TLS, or
    grpc ChannelCredentials as `credentials`. `api_key` ("sk_...") or `token` (a JWT, or a function
    returning one, called for every call) goes as `authorization: Bearer ...` on every call, the
    stubs' too; in plaintext only to a loopback address unless `tls=False` says so explicitly.
    Messages may be 64 MiB each way unless `options` set grpc.max_receive_message_length or
    grpc.max_send_message_length.
    """

    _channel: grpc.Channel = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._channel = open_channel(self.address, **self._connection())
        self._attach_stubs(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> SluiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: Callable[..., T], request: Any, *, timeout: float | None = None) -> T:
        """Calls a unary stub method with the client's deadline and metadata; failures raise SluiceError."""
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None

    def _run(self, steps: Generator[tuple[Callable[..., Any], Any], Any, T]) -> T:
        """Runs steps that need calls (see sluice._historical.join_key_types): each call they yield is
        made, and its response sent back, until they return."""
        try:
            method, request = next(steps)
            while True:
                method, request = steps.send(self.call(method, request))
        except StopIteration as done:
            return done.value

    # -- health and registry -------------------------------------------------------------------

    def health_check(self, service: str = "") -> str:
        """The server's health ("SERVING", "NOT_SERVING", ...), or one service's."""
        return self._serving_status(self.call(self.health.Check, self._health_request(service)))

    def create_project(self, project: str, description: str = "") -> registry_pb2.Project:
        """Creates a project (an id, or "projects/{id}"); ALREADY_EXISTS (reason
        PROJECT_ALREADY_EXISTS) if it exists."""
        name = f"projects/{project_id(project, 'project')}"
        request = registry_pb2.CreateProjectRequest(project=registry_pb2.Project(name=name, description=description))
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
        """Creates an entity (an id or a full name) or updates its description, owner and tags:
        join_keys maps each key to a type name ("int64", "string", ...). The response's `outcome`
        says what happened."""
        entity = registry_pb2.Entity(
            name=self._name("entities", name, lenient=True),
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
        features: Mapping[str, FeatureSpec] | Sequence[registry_pb2.Feature],
        ttl_seconds: float = 0,
        stream: str = "",
        log_served_values: bool = False,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        validate_only: bool = False,
    ) -> registry_pb2.ApplyFeatureViewResponse:
        """Applies a feature view (an id or a full name): features maps each name to a type name (or
        pass Feature messages). The response says CREATED, UNCHANGED or NEW_VERSION, with the
        compatibility and changes.

        With `stream` (a stream ref: "transactions", "transactions@2" or a full name) it is an
        aggregation view: each feature is then {"aggregation": {"function": "sum", "field": "amount",
        "window_seconds": 7 * 86_400}} (also "k" for last_n, and a "filter" expression), with an
        optional "type" (the server fills in the aggregation's result type), "description" and
        "tags". `log_served_values` logs every value served from the view, for check_served_consistency.
        """
        view = registry_pb2.FeatureView(
            name=self._name("featureViews", name, lenient=True),
            entity=entity,
            features=feature_messages(features),
            ttl=to_duration(ttl_seconds),
            description=description,
            owner=owner,
            tags=dict(tags or {}),
            stream=stream,
            log_served_values=log_served_values,
        )
        return self.call(self.registry.ApplyFeatureView, registry_pb2.ApplyFeatureViewRequest(feature_view=view, validate_only=validate_only))

    def get_feature_view(self, name: str, version: int | None = None) -> registry_pb2.FeatureView:
        """The latest version of a feature view, or an exact one: by id ("customer_stats", with
        `version`) or by full name ("projects/p/featureViews/customer_stats[/versions/3]")."""
        return self.call(self.registry.GetFeatureView, self._feature_view_request(name, version)).feature_view

    # -- writes -------------------------------------------------------------------------------

    def write_feature_batch(
        self,
        feature_view: str,
        rows: Sequence[FeatureRowLike],
        *,
        write_id: str = "",
        project: str | None = None,
    ) -> WriteResult:
        """Writes one batch (WriteFeatureBatch). Bad rows are reported in the result, not raised; a
        retry with the same write_id is applied once (`duplicate` is then true)."""
        request = self._write_batch_request(feature_view, rows, write_id, project)
        return WriteResult.from_proto(self.call(self.ingestion.WriteFeatureBatch, request))

    def write_features(self, batches: Iterable[Batch], *, timeout: float | None = None) -> Iterator[WriteResult]:
        """Streams batches over one WriteFeatures call and yields one acknowledgement per batch, in
        order. `timeout` bounds the whole stream (the client's timeout by default). A batch the
        client cannot encode ends the stream there: the batches before it are acknowledged, then
        its SluiceArgumentError is raised."""

        def request(b: Batch) -> ingestion_pb2.WriteFeaturesRequest:
            return ingestion_pb2.WriteFeaturesRequest(
                project=self._project(b.project), feature_view=b.feature_view, rows=[self.feature_row(r) for r in b.rows], write_id=b.write_id
            )

        return self._write_stream(self.ingestion.WriteFeatures, batches, request, WriteResult.from_proto, timeout)

    def _write_stream(
        self,
        method: Callable[..., Iterable[Any]],
        batches: Iterable[B],
        to_request: Callable[[B], Any],
        to_result: Callable[[Any], R],
        timeout: float | None,
    ) -> Iterator[R]:
        """Runs a bidirectional write call (WriteFeatures, WriteEvents): one request per batch, one
        acknowledgement per request, in order."""
        refused: list[SluiceArgumentError] = []

        def requests() -> Iterator[Any]:
            # gRPC consumes this on its own thread: an error raised here would only cancel the
            # call, so it is kept and raised to the caller once the stream has ended.
            for batch in batches:
                try:
                    request = to_request(batch)
                except SluiceArgumentError as error:
                    refused.append(error)
                    return
                yield request

        try:
            for ack in method(requests(), timeout=timeout or self.timeout, metadata=self.metadata):
                yield to_result(ack)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None
        if refused:
            raise refused[0]

    # -- event streams --------------------------------------------------------------------------

    def apply_event_stream(
        self,
        name: str,
        *,
        entity: str,
        fields: Mapping[str, str] | Sequence[registry_pb2.StreamField],
        event_time_field: str = "",
        granularity_seconds: float = 0,
        allowed_lateness_seconds: float = 0,
        retention_seconds: float = 0,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        validate_only: bool = False,
    ) -> registry_pb2.ApplyEventStreamResponse:
        """Applies an event stream (an id or a full name): the raw events, of `entity`, that
        aggregation feature views aggregate. `fields` maps each field to a type name (or pass
        StreamField messages). Durations are in seconds; 0 leaves them to the server's defaults
        (granularity 1 minute, no allowed lateness, events kept forever). Versioned like feature
        views: the response says CREATED, UNCHANGED or NEW_VERSION."""
        stream = registry_pb2.EventStream(
            name=self._name("eventStreams", name, lenient=True),
            entity=entity,
            fields=stream_fields(fields),
            event_time_field=event_time_field,
            granularity=to_duration(granularity_seconds) if granularity_seconds else None,
            allowed_lateness=to_duration(allowed_lateness_seconds) if allowed_lateness_seconds else None,
            retention=to_duration(retention_seconds) if retention_seconds else None,
            description=description,
            owner=owner,
            tags=dict(tags or {}),
        )
        request = registry_pb2.ApplyEventStreamRequest(event_stream=stream, validate_only=validate_only)
        return self.call(self.registry.ApplyEventStream, request)

    def get_event_stream(self, name: str, version: int | None = None) -> registry_pb2.EventStream:
        """The latest version of an event stream, or an exact one: by id ("transactions", with
        `version`) or by full name ("projects/p/eventStreams/transactions[/versions/2]")."""
        full = self._name("eventStreams", name, version=version, allow_version=True)
        return self.call(self.registry.GetEventStream, registry_pb2.GetEventStreamRequest(name=full)).event_stream

    def list_event_streams(self, *, page_size: int = 0, project: str | None = None) -> Iterator[registry_pb2.EventStream]:
        """Every event stream of a project (the latest version of each, by name), fetched page by page."""
        parent = self._project(project)
        page_token = ""
        while True:
            request = registry_pb2.ListEventStreamsRequest(parent=parent, page_size=page_size, page_token=page_token)
            response = self.call(self.registry.ListEventStreams, request)
            yield from response.event_streams
            page_token = response.next_page_token
            if not page_token:
                return

    def write_event_batch(
        self,
        event_stream: str,
        events: Sequence[EventLike],
        *,
        write_id: str = "",
        project: str | None = None,
    ) -> EventWriteResult:
        """Writes one batch of events (WriteEventBatch) to `event_stream` (a stream ref). An event is
        {"entity_key": {...}, "event_time": datetime, "fields": {...}}, optionally with
        "created_time", or an EventRow. Bad events are reported in the result, not raised; a retry
        with the same write_id is applied once, online and offline (`duplicate` is then true)."""
        request = ingestion_pb2.WriteEventBatchRequest(
            project=self._project(project), event_stream=event_stream, events=[event_row(e) for e in events], write_id=write_id
        )
        return EventWriteResult.from_proto(self.call(self.ingestion.WriteEventBatch, request))

    def write_events(self, batches: Iterable[EventBatch], *, timeout: float | None = None) -> Iterator[EventWriteResult]:
        """Streams EventBatches over one WriteEvents call and yields one acknowledgement per batch, in
        order, as write_features does for feature rows: `timeout` bounds the whole stream, and a batch
        the client cannot encode ends the stream there (the batches before it are acknowledged, then
        its SluiceArgumentError is raised)."""

        def request(b: EventBatch) -> ingestion_pb2.WriteEventsRequest:
            return ingestion_pb2.WriteEventsRequest(
                project=self._project(b.project), event_stream=b.event_stream, events=[event_row(e) for e in b.events], write_id=b.write_id
            )

        return self._write_stream(self.ingestion.WriteEvents, batches, request, EventWriteResult.from_proto, timeout)

    def get_event_stream_status(self, event_stream: str, *, project: str | None = None) -> ingestion_pb2.GetEventStreamStatusResponse:
        """Event time and lateness of a stream (a stream ref): per source ("api", "kafka:{topic}/{partition}")
        its max_event_time, watermark, event_count and too_late_count, and the totals."""
        request = ingestion_pb2.GetEventStreamStatusRequest(project=self._project(project), event_stream=event_stream)
        return self.call(self.ingestion.GetEventStreamStatus, request)

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
        request, columns = self._online_request(features, entities, feature_service, full_feature_names, project)
        return online_answer(columns, self.call(self.online.GetOnlineFeatures, request), with_metadata, as_table)

    # -- training data -------------------------------------------------------------------------

    def get_historical_features(
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
        """A point-in-time-correct training set (GetHistoricalFeatures with an inline spine): for each
        spine row, the values of `features` (refs such as "view:feature" or "view@2:feature", or a
        feature_service) known at its event time, never later ones, and null when there were none
        or the newest is older than the view's TTL.

        The spine is either rows or columns, sent in SpineBatch messages of batch_rows rows:
        - rows: {"entity_key": {"customer_id": 1}, "event_time": datetime, "extra_columns":
          {"churned": True}} (extra columns, such as labels, are passed through), or SpineRows;
        - a pandas DataFrame, pyarrow Table or RecordBatch with a column per join key, an
          `event_time` column (datetime64 / timestamp of any unit; naive is UTC; int epochs are
          refused) and any other columns as extra columns, sent as typed columns without a loop over
          rows. The client reads the join keys and their types from the registry first (one
          ResolveFeatures call) and matches the key columns to them. The index of a
          DataFrame is not sent (reset_index() to send it); NaN and None are nulls.

        Returns one dict per spine row, in spine order: the join keys, "event_time", the extra
        columns, then each feature (named "view__feature" with full_feature_names); timestamps are
        aware UTC datetimes and missing values None. With as_table=True the answer comes in the Arrow
        format and is returned as a pyarrow.Table; with as_frame=True, as a pandas DataFrame
        (table.to_pandas(), timestamps aware in UTC, integer columns with nulls as floats). Bad
        arguments raise SluiceArgumentError before the stream opens. `timeout` bounds the whole
        stream (the registry reads of a columnar spine have their own).
        """
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
        call: HistoricalCall = self._run(steps)
        try:
            for part in self.training.GetHistoricalFeatures(iter(call.requests), timeout=timeout or self.timeout, metadata=self.metadata):
                call.answer.add(part)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None
        return call.answer.result()

    # -- models, deployments and predictions ----------------------------------------------------

    def upload_model(
        self,
        model: str,
        model_file: str | os.PathLike[str] | bytes,
        bindings: Bindings,
        *,
        training_dataset: str = "",
        description: str = "",
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> model_pb2.ModelVersion:
        """Uploads an ONNX file (a path, or its bytes) as the next version of `model` (an id or a
        full name; created if new): a header with the file's SHA-256, then the file in 1 MiB chunks
        (UploadModel). `training_dataset` records lineage: "churn_training@1", "churn_training"
        (its latest) or a full name.

        `bindings` maps each model input to where its values come from: a list of pinned feature
        refs (["stats@1:orders_30d", "stats@1:spend_30d"], in order along the input's last
        dimension), {"feature_service": "name@2"}, or {"request_feature": "basket_value"} (sent
        with each Predict). The server loads the model and checks the bindings before storing
        anything; the returned ModelVersion has its `name`, `version`, `inputs` and `outputs`.
        """
        header = model_pb2.ModelUploadHeader(
            model=self._name("models", model, field="model"),
            input_bindings=input_bindings(bindings),
            training_dataset=(
                versioned_name(self.project, "trainingDatasets", training_dataset, field="training_dataset", need_version=False)
                if training_dataset
                else ""
            ),
            description=description,
            labels=dict(labels or {}),
        )
        requests = upload_requests(header, read_model(model_file))
        try:
            response = self.models.UploadModel(requests, timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None
        return response.model_version

    def _version_name(self, ref: str, field: str) -> str:
        """"churn@3" (or a full version name) as "projects/p/models/churn/versions/3"; "ctr@live" as
        ".../models/ctr/versions/live", the live state of the learner "ctr"."""
        return versioned_name(self.project, "models", ref, field=field, need_version=True)

    def apply_deployment(
        self,
        endpoint: str,
        stable: str,
        canary: tuple[str, float] | None = None,
        shadows: Sequence[str] = (),
        *,
        routing_key: str = "",
        missing_features: str = "use_default",
        require_promotion_approval: bool = False,
        actor: str = "",
        reason: str = "",
    ) -> model_pb2.Deployment:
        """Creates or changes an endpoint's routing (ApplyDeployment): `stable` serves the traffic
        the canary does not; `canary` is (version, traffic percent); `shadows` get a copy of each
        request off the response path. `endpoint` is an id or a full name; versions are "model@3"
        or full version names ("projects/p/models/churn/versions/3"), and "learner@live" (or
        ".../versions/live") serves an online learner's live state as it learns. With
        missing_features="reject", Predict fails rather than reading a missing feature as 0. With
        require_promotion_approval, promote_canary only requests a promotion, which another
        authenticated principal approves (approve_promotion), and stable can no longer be changed
        here. The versions are loaded and warmed before traffic moves; returns the new Deployment
        revision.
        """
        deployment = model_pb2.Deployment(
            name=self._name("endpoints", endpoint, field="endpoint"),
            stable_version=self._version_name(stable, "stable"),
            canary=model_pb2.CanarySpec(model_version=self._version_name(canary[0], "canary"), traffic_percent=canary[1]) if canary else None,
            shadow_versions=[self._version_name(s, f"shadows[{i}]") for i, s in enumerate(shadows)],
            routing_key=routing_key,
            missing_feature_policy=missing_feature_policy(missing_features),
            require_promotion_approval=require_promotion_approval,
        )
        request = model_pb2.ApplyDeploymentRequest(deployment=deployment, actor=actor, reason=reason)
        return self.call(self.models.ApplyDeployment, request).deployment

    def get_deployment(self, endpoint: str) -> model_pb2.Deployment:
        """An endpoint's current routing (an id or a full name)."""
        request = model_pb2.GetDeploymentRequest(name=self._name("endpoints", endpoint, field="endpoint"))
        return self.call(self.models.GetDeployment, request).deployment

    def promote_canary(self, endpoint: str, *, actor: str = "", reason: str = "") -> model_pb2.Deployment:
        """Makes the canary of `endpoint` (an id or a full name) the stable version (PromoteCanary). On
        an endpoint that requires approval nothing is promoted: the returned Deployment is unchanged
        but for its `pending_promotion`, which waits for approve_promotion by another principal."""
        request = model_pb2.PromoteCanaryRequest(name=self._name("endpoints", endpoint, field="endpoint"), actor=actor, reason=reason)
        response = self.call(self.models.PromoteCanary, request)
        deployment = response.deployment
        if response.HasField("pending_promotion") and not deployment.HasField("pending_promotion"):
            deployment.pending_promotion.CopyFrom(response.pending_promotion)
        return deployment

    def rollback_deployment(self, endpoint: str, *, actor: str = "", reason: str = "") -> model_pb2.Deployment:
        """Returns `endpoint` to its previous stable version at once, dropping the canary and any
        pending promotion (RollbackDeployment)."""
        request = model_pb2.RollbackDeploymentRequest(name=self._name("endpoints", endpoint, field="endpoint"), actor=actor, reason=reason)
        return self.call(self.models.RollbackDeployment, request).deployment

    def approve_promotion(self, endpoint: str, *, reason: str = "", canary_version: str = "") -> model_pb2.Deployment:
        """Approves the pending promotion of `endpoint` and performs it (ApprovePromotion): the canary
        becomes stable in a new revision by the caller, who must be authenticated and not the
        requester. With `canary_version` ("churn@2" or a full version name), only if that is the
        version pending: what the approver looked at is what gets promoted."""
        request = model_pb2.ApprovePromotionRequest(**self._promotion_decision(endpoint, reason, canary_version))
        return self.call(self.models.ApprovePromotion, request).deployment

    def reject_promotion(self, endpoint: str, *, reason: str = "", canary_version: str = "") -> model_pb2.Deployment:
        """Drops the pending promotion of `endpoint` without promoting anything (RejectPromotion); the
        routing and revision stay as they are. `canary_version` as for approve_promotion."""
        request = model_pb2.RejectPromotionRequest(**self._promotion_decision(endpoint, reason, canary_version))
        return self.call(self.models.RejectPromotion, request).deployment

    def _promotion_decision(self, endpoint: str, reason: str, canary_version: str) -> dict[str, str]:
        """The fields ApprovePromotion and RejectPromotion share."""
        return {
            "name": self._name("endpoints", endpoint, field="endpoint"),
            "reason": reason,
            "canary_version": self._version_name(canary_version, "canary_version") if canary_version else "",
        }

    def predict(
        self,
        endpoint: str,
        entities: Mapping[str, Sequence[PyValue]],
        request_features: Mapping[str, Sequence[PyValue]] | None = None,
        *,
        routing_key: str = "",
        request_id: str = "",
    ) -> Prediction:
        """Predicts for entity rows given as columns ({"customer_id": [1, 3]}) at `endpoint` (an id or
        a full name): the server routes the request (stable or canary), reads the features the model's version is bound to from its
        online store, and runs the model. `request_features` gives the request-time inputs, one value
        per row. Returns a Prediction: `outputs[name].values` (row-major), `model_version`, `role`
        and `feature_statuses` ("PRESENT", "NOT_FOUND", ... per row; a missing feature reads as 0
        unless the endpoint rejects it).
        """
        request = self._predict_request(endpoint, entities, request_features, routing_key, request_id)
        return Prediction.from_proto(self.call(self.inference.Predict, request))

    # -- online learners ------------------------------------------------------------------------

    def create_learner(
        self,
        learner: str,
        *,
        kind: str | int,
        inputs: Sequence[LearnerInputLike],
        optimizer: OptimizerLike,
        classes: int = 0,
        hash_buckets: int = 0,
        l2: float = 0.0,
        intercept_learning_rate: float = 0.0,
        divergence_threshold: float = 0.0,
        checkpoint: CheckpointLike | None = None,
        metrics_window_seconds: int = 0,
        description: str = "",
    ) -> learning_pb2.Learner:
        """Creates an online learner (an id or a full name; docs/learning.md) and returns it, its
        feature inputs pinned. It owns the model of its name: its live state serves as
        "learner@live" (apply_deployment) and each publish_learner adds an ONNX version of it.

        `kind` is "logistic", "multinomial" (with `classes`) or "linear". Each input is
        {"name": "age", "type": "numeric" or "categorical", "feature": "profile:age"} (a feature
        ref; "view:feature" pins the latest version) or {..., "request": "hour"} (a value sent with
        each Predict and each label keyed by entity), or a LearnerInput. `optimizer` is exactly one
        of {"sgd": {"learning_rate": 0.05, "power": 0}}, {"adagrad": {"learning_rate": ..., "epsilon":
        ...}} or {"ftrl": {"alpha": ..., "beta": ..., "l1": ..., "l2": ...}}; `hash_buckets` is
        needed with categorical inputs; `checkpoint` is {"every_examples": n, "every_seconds": s}.
        Numbers left at 0 take the server's defaults. ALREADY_EXISTS when a learner or an uploaded
        model has the name."""
        message = learning_pb2.Learner(
            name=self._name("learners", learner, field="learner"),
            kind=learner_kind(kind),
            classes=int(number(classes, "classes", integer=True, minimum=0)),
            inputs=learner_inputs(inputs),
            hash_buckets=int(number(hash_buckets, "hash_buckets", integer=True, minimum=0)),
            l2=number(l2, "l2"),
            intercept_learning_rate=number(intercept_learning_rate, "intercept_learning_rate"),
            divergence_threshold=number(divergence_threshold, "divergence_threshold"),
            checkpoint=checkpoint_policy(checkpoint),
            metrics_window_seconds=int(number(metrics_window_seconds, "metrics_window_seconds", integer=True, minimum=0)),
            description=description,
            **optimizer_member(optimizer),
        )
        return self.call(self.learning.CreateLearner, learning_pb2.CreateLearnerRequest(learner=message)).learner

    def get_learner(self, name: str) -> learning_pb2.Learner:
        """A learner (an id or a full name) with its `status`: state (LEARNER_STATE_LEARNING, ...)
        and reason, examples_learned, entries_consumed, unmatched_labels, lag, and the prequential
        metrics (cumulative, rolling, windows). Learning runs behind the label writes: poll
        `status.examples_learned` to wait for it."""
        request = learning_pb2.GetLearnerRequest(name=self._name("learners", name))
        return self.call(self.learning.GetLearner, request).learner

    def list_learners(self, *, page_size: int = 0, project: str | None = None) -> Iterator[learning_pb2.Learner]:
        """Every learner of a project, with its status, by name, fetched page by page."""
        parent = self._project(project)
        page_token = ""
        while True:
            request = learning_pb2.ListLearnersRequest(parent=parent, page_size=page_size, page_token=page_token)
            response = self.call(self.learning.ListLearners, request)
            yield from response.learners
            page_token = response.next_page_token
            if not page_token:
                return

    def write_labels(
        self, batches: LabelBatchLike | Iterable[LabelBatchLike], *, timeout: float | None = None
    ) -> learning_pb2.WriteLabelsResponse:
        """Sends labels on one WriteLabels stream, one message per batch: a LabelBatch(learner,
        labels, write_id=) or {"learner": ..., "labels": [...], "write_id": ...}, or an iterable of
        them. A label is a Label or a dict with its keys: {"request_id": prediction.request_id,
        "row": 0, "label": 1} for the outcome of a served prediction (joined with the values it was
        served from), or {"entity": {"user_id": 7}, "event_time": datetime, "label": True,
        "request_features": {"hour": 9}} (joined with the point-in-time values).

        Each batch is appended to its learner's log whole, or refused whole (INVALID_ARGUMENT
        INVALID_LABEL, a field violation per bad label: "labels[1].label"); what was appended before
        a refusal stays. Returns the WriteLabelsResponse: `accepted`, `unmatched` (request ids that
        matched no logged prediction, kept and listed in `unmatched_labels`) and `log_position`.
        Learning follows asynchronously. A batch the client cannot encode is refused before any is
        sent when the batches are one batch or a list; from another iterable it ends the stream
        there (the batches before it are appended), then its SluiceArgumentError is raised.
        `timeout` bounds the whole stream."""
        refused: list[SluiceArgumentError] = []

        def request(batch: LabelBatchLike, index: int) -> learning_pb2.WriteLabelsRequest:
            learner, labels, write_id = label_batch(batch, f"batches[{index}]")
            name = self._name("learners", learner, field=f"batches[{index}].learner")
            return learning_pb2.WriteLabelsRequest(learner=name, labels=labels, write_id=write_id)

        def lazily(all_batches: Iterable[LabelBatchLike]) -> Iterator[learning_pb2.WriteLabelsRequest]:
            # gRPC consumes this on its own thread: an error raised here would only cancel the
            # call, so it is kept and raised to the caller once the stream has ended.
            for index, batch in enumerate(all_batches):
                try:
                    encoded = request(batch, index)
                except SluiceArgumentError as error:
                    refused.append(error)
                    return
                yield encoded

        if is_label_batch(batches):
            requests: Iterable[learning_pb2.WriteLabelsRequest] = [request(batches, 0)]  # type: ignore[arg-type]
        elif isinstance(batches, Sequence):
            requests = [request(batch, index) for index, batch in enumerate(batches)]
        else:
            requests = lazily(batches)  # type: ignore[arg-type]
        try:
            response = self.learning.WriteLabels(iter(requests), timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.RpcError as error:
            raise SluiceError.from_rpc_error(error) from None
        if refused:
            raise refused[0]
        return response

    def publish_learner(self, name: str, description: str = "") -> str:
        """Publishes a learner's current state (an id or a full name) as the next immutable ONNX
        version of its model, and returns the version's name ("projects/p/models/ctr/versions/1").
        The version's labels carry the lineage (sluice.learner, sluice.examples, sluice.log_position,
        the cumulative metrics). FAILED_PRECONDITION (LEARNER_DIVERGED) for a diverged learner."""
        request = learning_pb2.PublishLearnerRequest(name=self._name("learners", name), description=description)
        return self.call(self.learning.PublishLearner, request).model_version

    def pause_learner(self, name: str, reason: str = "") -> learning_pb2.Learner:
        """Stops a learner's learning (an id or a full name); it goes on serving, and labels still
        append to its log. Returns the learner, paused."""
        request = learning_pb2.PauseLearnerRequest(name=self._name("learners", name), reason=reason)
        return self.call(self.learning.PauseLearner, request).learner

    def resume_learner(self, name: str) -> learning_pb2.Learner:
        """Starts a paused learner learning again from where it stopped (its log position).
        FAILED_PRECONDITION (LEARNER_DIVERGED) for a diverged one: restore it first."""
        request = learning_pb2.ResumeLearnerRequest(name=self._name("learners", name))
        return self.call(self.learning.ResumeLearner, request).learner

    def restore_learner(self, name: str, model_version: str) -> learning_pb2.Learner:
        """Rolls a learner (an id or a full name) back to the state a version published from it was
        exported from ("ctr@2", or a full version name). Its log position stays: what was learned
        since is not learned again. Clears divergence; the learner is then paused until resumed."""
        request = learning_pb2.RestoreLearnerRequest(
            name=self._name("learners", name), model_version=self._version_name(model_version, "model_version")
        )
        return self.call(self.learning.RestoreLearner, request).learner

    # -- monitoring ---------------------------------------------------------------------------

    def check_served_consistency(
        self,
        feature_view: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        max_values: int = 0,
        max_examples: int = 0,
        project: str | None = None,
    ) -> monitoring_pb2.CheckServedConsistencyResponse:
        """Replays the values served from a feature view (a view ref; one with log_served_values) at
        serving times in [start, end) through the historical path, and reports per feature how many
        differ, with examples: the training/serving skew check on real traffic. max_values (0:
        100,000, newest first) and max_examples (per feature; 0: 5) bound the work and the report."""
        window = None
        if start is not None or end is not None:
            window = monitoring_pb2.TimeWindow(
                start_time=None if start is None else to_timestamp(start), end_time=None if end is None else to_timestamp(end)
            )
        request = monitoring_pb2.CheckServedConsistencyRequest(
            project=self._project(project), feature_view=feature_view, window=window, max_values=max_values, max_examples=max_examples
        )
        return self.call(self.monitoring.CheckServedConsistency, request)

    # -- access ---------------------------------------------------------------------------------

    def who_am_i(self) -> access_pb2.WhoAmIResponse:
        """The caller as the server sees it: `principal`, `authentication` (api_key, jwt, mtls or none)
        and `roles`."""
        return self.call(self.access.WhoAmI, access_pb2.WhoAmIRequest())

    def create_api_key(
        self,
        principal: str,
        roles: Sequence[str | access_pb2.RoleGrant],
        *,
        description: str = "",
        expire_time: datetime | None = None,
    ) -> access_pb2.CreateApiKeyResponse:
        """Creates an API key for `principal` with `roles` ("project:role", e.g. "default:writer", or
        "*:admin" for a server admin). The response's `secret` ("sk_...") is shown this once; the
        server keeps its SHA-256. Granting a role needs admin on its project."""
        if not principal:
            raise SluiceArgumentError.for_argument("principal", "is required (a non-empty string)", reason="MISSING_FIELD")
        api_key = access_pb2.ApiKey(
            principal=principal,
            roles=[role_grant(role, f"roles[{i}]") for i, role in enumerate(roles)],
            description=description,
            expire_time=None if expire_time is None else to_timestamp(expire_time),
        )
        return self.call(self.access.CreateApiKey, access_pb2.CreateApiKeyRequest(api_key=api_key))

    def list_api_keys(
        self, *, project: str | None = None, all_projects: bool = False, show_revoked: bool = False, page_size: int = 0
    ) -> Iterator[access_pb2.ApiKey]:
        """The keys granting a role on `project` (the client's by default), or every key of the server
        with `all_projects` (server admins only), page by page; never their secrets."""
        if all_projects and project:
            raise SluiceArgumentError.for_argument("all_projects", "cannot be set together with project")
        wanted = "" if all_projects else project_id(project, "project") if project else self.project
        page_token = ""
        while True:
            request = access_pb2.ListApiKeysRequest(project=wanted, show_revoked=show_revoked, page_size=page_size, page_token=page_token)
            response = self.call(self.access.ListApiKeys, request)
            yield from response.api_keys
            page_token = response.next_page_token
            if not page_token:
                return

    def revoke_api_key(self, key_id: str) -> access_pb2.ApiKey:
        """Revokes an API key by id (the first 16 hex digits of its SHA-256), at once, on every replica."""
        if not key_id:
            raise SluiceArgumentError.for_argument("key_id", "is required (a non-empty string)", reason="MISSING_FIELD")
        return self.call(self.access.RevokeApiKey, access_pb2.RevokeApiKeyRequest(id=key_id)).api_key

    def grant_role(self, principal: str, role: str | access_pb2.RoleGrant) -> access_pb2.RoleBinding:
        """Grants `role` ("project:role", or a RoleGrant) to `principal`, a JWT subject or certificate
        name (GrantRole). Needs admin on the role's project."""
        return self.call(self.access.GrantRole, access_pb2.GrantRoleRequest(binding=role_binding(principal, role))).binding

    def revoke_role(self, principal: str, role: str | access_pb2.RoleGrant) -> None:
        """Takes a granted role back (RevokeRole): NOT_FOUND when it was not granted;
        FAILED_PRECONDITION (CONFIG_ROLE_BINDING) for one from the server's configuration."""
        self.call(self.access.RevokeRole, access_pb2.RevokeRoleRequest(binding=role_binding(principal, role)))

    def list_role_bindings(self, *, project: str | None = None, page_size: int = 0) -> Iterator[access_pb2.RoleBinding]:
        """The role bindings on `project` (the client's by default; "*" for the server-wide grants,
        server admins only), page by page."""
        wanted = "*" if project == "*" else project_id(project, "project") if project else self.project
        page_token = ""
        while True:
            request = access_pb2.ListRoleBindingsRequest(project=wanted, page_size=page_size, page_token=page_token)
            response = self.call(self.access.ListRoleBindings, request)
            yield from response.bindings
            page_token = response.next_page_token
            if not page_token:
                return

    def list_audit_events(
        self,
        *,
        project: str | None = None,
        all_projects: bool = False,
        principal: str = "",
        method: str = "",
        outcome: str = "",
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        page_size: int = 0,
    ) -> Iterator[access_pb2.AuditEvent]:
        """The audit trail, newest first, page by page: the events of `project` (the client's by
        default), or of every project with `all_projects` (server admins only), narrowed by
        `principal`, `method` (a full method "/sluice.v1.ModelService/PromoteCanary" or a service
        prefix "/sluice.v1.ModelService/"), `outcome` (a gRPC status code name, "PERMISSION_DENIED")
        and the time range [start_time, end_time)."""
        if all_projects and project:
            raise SluiceArgumentError.for_argument("all_projects", "cannot be set together with project")
        wanted = "" if all_projects else project_id(project, "project") if project else self.project
        page_token = ""
        while True:
            request = access_pb2.ListAuditEventsRequest(
                project=wanted,
                principal=principal,
                method=method,
                outcome=outcome,
                start_time=None if start_time is None else to_timestamp(start_time),
                end_time=None if end_time is None else to_timestamp(end_time),
                page_size=page_size,
                page_token=page_token,
            )
            response = self.call(self.access.ListAuditEvents, request)
            yield from response.events
            page_token = response.next_page_token
            if not page_token:
                return

    def verify_audit_chain(self, chain_id: str = "") -> access_pb2.VerifyAuditChainResponse:
        """Recomputes the audit trail's hash chains (every chain, or the one `chain_id` names) and
        reports per chain its `records`, whether it is `intact`, and the first sequence that does not
        match; the response's `intact` is true when every chain is. Server admins only."""
        return self.call(self.access.VerifyAuditChain, access_pb2.VerifyAuditChainRequest(chain_id=chain_id))


def role_binding(principal: str, role: str | access_pb2.RoleGrant) -> access_pb2.RoleBinding:
    """The RoleBinding of GrantRole and RevokeRole; SluiceArgumentError without a principal or with a malformed role."""
    if not principal:
        raise SluiceArgumentError.for_argument("principal", "is required (a non-empty string)", reason="MISSING_FIELD")
    return access_pb2.RoleBinding(principal=principal, role=role_grant(role))


def role_grant(role: str | access_pb2.RoleGrant, argument: str = "role") -> access_pb2.RoleGrant:
    """"project:role" (split at the last colon) as a RoleGrant; a RoleGrant is returned as it is."""
    if isinstance(role, access_pb2.RoleGrant):
        return role
    if not isinstance(role, str) or ":" not in role:
        raise SluiceArgumentError.for_argument(argument, f'must be "project:role" (e.g. "default:writer", "*:admin"), not {role!r:.40}')
    project, _, name = role.rpartition(":")
    return access_pb2.RoleGrant(project=project, role=name)
