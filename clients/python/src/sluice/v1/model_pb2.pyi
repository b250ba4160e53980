import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MissingFeaturePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSING_FEATURE_POLICY_UNSPECIFIED: _ClassVar[MissingFeaturePolicy]
    MISSING_FEATURE_POLICY_USE_DEFAULT: _ClassVar[MissingFeaturePolicy]
    MISSING_FEATURE_POLICY_REJECT: _ClassVar[MissingFeaturePolicy]
MISSING_FEATURE_POLICY_UNSPECIFIED: MissingFeaturePolicy
MISSING_FEATURE_POLICY_USE_DEFAULT: MissingFeaturePolicy
MISSING_FEATURE_POLICY_REJECT: MissingFeaturePolicy

class Model(_message.Message):
    __slots__ = ("name", "description", "latest_version", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    latest_version: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., latest_version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FeatureRefList(_message.Message):
    __slots__ = ("refs",)
    REFS_FIELD_NUMBER: _ClassVar[int]
    refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, refs: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelInputBinding(_message.Message):
    __slots__ = ("input_name", "features", "feature_service", "request_feature")
    INPUT_NAME_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SERVICE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FEATURE_FIELD_NUMBER: _ClassVar[int]
    input_name: str
    features: FeatureRefList
    feature_service: str
    request_feature: str
    def __init__(self, input_name: _Optional[str] = ..., features: _Optional[_Union[FeatureRefList, _Mapping]] = ..., feature_service: _Optional[str] = ..., request_feature: _Optional[str] = ...) -> None: ...

class TensorSpec(_message.Message):
    __slots__ = ("name", "element_type", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    element_type: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., element_type: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("name", "version", "input_bindings", "sha256", "size_bytes", "inputs", "outputs", "training_dataset", "description", "labels", "create_time", "uploaded_by")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INPUT_BINDINGS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATASET_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPLOADED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    input_bindings: _containers.RepeatedCompositeFieldContainer[ModelInputBinding]
    sha256: str
    size_bytes: int
    inputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    outputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    training_dataset: str
    description: str
    labels: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    uploaded_by: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., input_bindings: _Optional[_Iterable[_Union[ModelInputBinding, _Mapping]]] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., inputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., training_dataset: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uploaded_by: _Optional[str] = ...) -> None: ...

class ModelUploadHeader(_message.Message):
    __slots__ = ("model", "input_bindings", "sha256", "training_dataset", "description", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_BINDINGS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATASET_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    model: str
    input_bindings: _containers.RepeatedCompositeFieldContainer[ModelInputBinding]
    sha256: str
    training_dataset: str
    description: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, model: _Optional[str] = ..., input_bindings: _Optional[_Iterable[_Union[ModelInputBinding, _Mapping]]] = ..., sha256: _Optional[str] = ..., training_dataset: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UploadModelRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ModelUploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ModelUploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadModelResponse(_message.Message):
    __slots__ = ("model_version",)
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_version: ModelVersion
    def __init__(self, model_version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetModelVersionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetModelVersionResponse(_message.Message):
    __slots__ = ("model_version",)
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_version: ModelVersion
    def __init__(self, model_version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class ListModelVersionsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelVersionsResponse(_message.Message):
    __slots__ = ("model_versions", "next_page_token")
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model_versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    next_page_token: str
    def __init__(self, model_versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CanarySpec(_message.Message):
    __slots__ = ("model_version", "traffic_percent")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_PERCENT_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    traffic_percent: float
    def __init__(self, model_version: _Optional[str] = ..., traffic_percent: _Optional[float] = ...) -> None: ...

class CanaryGuard(_message.Message):
    __slots__ = ("min_requests", "max_error_rate_increase", "max_p99_latency_ratio")
    MIN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MAX_ERROR_RATE_INCREASE_FIELD_NUMBER: _ClassVar[int]
    MAX_P99_LATENCY_RATIO_FIELD_NUMBER: _ClassVar[int]
    min_requests: int
    max_error_rate_increase: float
    max_p99_latency_ratio: float
    def __init__(self, min_requests: _Optional[int] = ..., max_error_rate_increase: _Optional[float] = ..., max_p99_latency_ratio: _Optional[float] = ...) -> None: ...

class Deployment(_message.Message):
    __slots__ = ("name", "stable_version", "canary", "shadow_versions", "routing_key", "missing_feature_policy", "canary_guard", "revision", "previous_stable_version", "updated_by", "change_reason", "update_time", "require_promotion_approval", "pending_promotion", "approved_promotion")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANARY_FIELD_NUMBER: _ClassVar[int]
    SHADOW_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    MISSING_FEATURE_POLICY_FIELD_NUMBER: _ClassVar[int]
    CANARY_GUARD_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    CHANGE_REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_PROMOTION_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    PENDING_PROMOTION_FIELD_NUMBER: _ClassVar[int]
    APPROVED_PROMOTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    stable_version: str
    canary: CanarySpec
    shadow_versions: _containers.RepeatedScalarFieldContainer[str]
    routing_key: str
    missing_feature_policy: MissingFeaturePolicy
    canary_guard: CanaryGuard
    revision: int
    previous_stable_version: str
    updated_by: str
    change_reason: str
    update_time: _timestamp_pb2.Timestamp
    require_promotion_approval: bool
    pending_promotion: PromotionRequest
    approved_promotion: PromotionRequest
    def __init__(self, name: _Optional[str] = ..., stable_version: _Optional[str] = ..., canary: _Optional[_Union[CanarySpec, _Mapping]] = ..., shadow_versions: _Optional[_Iterable[str]] = ..., routing_key: _Optional[str] = ..., missing_feature_policy: _Optional[_Union[MissingFeaturePolicy, str]] = ..., canary_guard: _Optional[_Union[CanaryGuard, _Mapping]] = ..., revision: _Optional[int] = ..., previous_stable_version: _Optional[str] = ..., updated_by: _Optional[str] = ..., change_reason: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., require_promotion_approval: _Optional[bool] = ..., pending_promotion: _Optional[_Union[PromotionRequest, _Mapping]] = ..., approved_promotion: _Optional[_Union[PromotionRequest, _Mapping]] = ...) -> None: ...

class PromotionRequest(_message.Message):
    __slots__ = ("canary_version", "requested_by", "reason", "request_time", "revision")
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    canary_version: str
    requested_by: str
    reason: str
    request_time: _timestamp_pb2.Timestamp
    revision: int
    def __init__(self, canary_version: _Optional[str] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ..., request_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class ApplyDeploymentRequest(_message.Message):
    __slots__ = ("deployment", "actor", "reason")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    actor: str
    reason: str
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ApplyDeploymentResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ...) -> None: ...

class GetDeploymentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetDeploymentResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ...) -> None: ...

class ListDeploymentsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeploymentsResponse(_message.Message):
    __slots__ = ("deployments", "next_page_token")
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deployments: _containers.RepeatedCompositeFieldContainer[Deployment]
    next_page_token: str
    def __init__(self, deployments: _Optional[_Iterable[_Union[Deployment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListDeploymentRevisionsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDeploymentRevisionsResponse(_message.Message):
    __slots__ = ("deployments", "next_page_token")
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deployments: _containers.RepeatedCompositeFieldContainer[Deployment]
    next_page_token: str
    def __init__(self, deployments: _Optional[_Iterable[_Union[Deployment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PromoteCanaryRequest(_message.Message):
    __slots__ = ("name", "actor", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    actor: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PromoteCanaryResponse(_message.Message):
    __slots__ = ("deployment", "pending_promotion")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    PENDING_PROMOTION_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    pending_promotion: PromotionRequest
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ..., pending_promotion: _Optional[_Union[PromotionRequest, _Mapping]] = ...) -> None: ...

class RollbackDeploymentRequest(_message.Message):
    __slots__ = ("name", "actor", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    actor: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RollbackDeploymentResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ...) -> None: ...

class ApprovePromotionRequest(_message.Message):
    __slots__ = ("name", "reason", "canary_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    canary_version: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., canary_version: _Optional[str] = ...) -> None: ...

class ApprovePromotionResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ...) -> None: ...

class RejectPromotionRequest(_message.Message):
    __slots__ = ("name", "reason", "canary_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CANARY_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    canary_version: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., canary_version: _Optional[str] = ...) -> None: ...

class RejectPromotionResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ...) -> None: ...
