import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluice.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LearnerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEARNER_KIND_UNSPECIFIED: _ClassVar[LearnerKind]
    LEARNER_KIND_LOGISTIC_REGRESSION: _ClassVar[LearnerKind]
    LEARNER_KIND_MULTINOMIAL_LOGISTIC_REGRESSION: _ClassVar[LearnerKind]
    LEARNER_KIND_LINEAR_REGRESSION: _ClassVar[LearnerKind]

class LearnerInputType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEARNER_INPUT_TYPE_UNSPECIFIED: _ClassVar[LearnerInputType]
    LEARNER_INPUT_TYPE_NUMERIC: _ClassVar[LearnerInputType]
    LEARNER_INPUT_TYPE_CATEGORICAL: _ClassVar[LearnerInputType]

class LearnerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEARNER_STATE_UNSPECIFIED: _ClassVar[LearnerState]
    LEARNER_STATE_LEARNING: _ClassVar[LearnerState]
    LEARNER_STATE_PAUSED: _ClassVar[LearnerState]
    LEARNER_STATE_DIVERGED: _ClassVar[LearnerState]
    LEARNER_STATE_STANDBY: _ClassVar[LearnerState]
LEARNER_KIND_UNSPECIFIED: LearnerKind
LEARNER_KIND_LOGISTIC_REGRESSION: LearnerKind
LEARNER_KIND_MULTINOMIAL_LOGISTIC_REGRESSION: LearnerKind
LEARNER_KIND_LINEAR_REGRESSION: LearnerKind
LEARNER_INPUT_TYPE_UNSPECIFIED: LearnerInputType
LEARNER_INPUT_TYPE_NUMERIC: LearnerInputType
LEARNER_INPUT_TYPE_CATEGORICAL: LearnerInputType
LEARNER_STATE_UNSPECIFIED: LearnerState
LEARNER_STATE_LEARNING: LearnerState
LEARNER_STATE_PAUSED: LearnerState
LEARNER_STATE_DIVERGED: LearnerState
LEARNER_STATE_STANDBY: LearnerState

class LearnerInput(_message.Message):
    __slots__ = ("name", "type", "feature", "request_feature")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FEATURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: LearnerInputType
    feature: str
    request_feature: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[LearnerInputType, str]] = ..., feature: _Optional[str] = ..., request_feature: _Optional[str] = ...) -> None: ...

class SgdOptimizer(_message.Message):
    __slots__ = ("learning_rate", "power")
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    learning_rate: float
    power: float
    def __init__(self, learning_rate: _Optional[float] = ..., power: _Optional[float] = ...) -> None: ...

class AdaGradOptimizer(_message.Message):
    __slots__ = ("learning_rate", "epsilon")
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    learning_rate: float
    epsilon: float
    def __init__(self, learning_rate: _Optional[float] = ..., epsilon: _Optional[float] = ...) -> None: ...

class FtrlOptimizer(_message.Message):
    __slots__ = ("alpha", "beta", "l1", "l2")
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    L1_FIELD_NUMBER: _ClassVar[int]
    L2_FIELD_NUMBER: _ClassVar[int]
    alpha: float
    beta: float
    l1: float
    l2: float
    def __init__(self, alpha: _Optional[float] = ..., beta: _Optional[float] = ..., l1: _Optional[float] = ..., l2: _Optional[float] = ...) -> None: ...

class CheckpointPolicy(_message.Message):
    __slots__ = ("every_examples", "every_seconds")
    EVERY_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    EVERY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    every_examples: int
    every_seconds: int
    def __init__(self, every_examples: _Optional[int] = ..., every_seconds: _Optional[int] = ...) -> None: ...

class Learner(_message.Message):
    __slots__ = ("name", "kind", "classes", "inputs", "hash_buckets", "sgd", "adagrad", "ftrl", "l2", "intercept_learning_rate", "divergence_threshold", "checkpoint", "metrics_window_seconds", "description", "status", "create_time", "created_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    HASH_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    SGD_FIELD_NUMBER: _ClassVar[int]
    ADAGRAD_FIELD_NUMBER: _ClassVar[int]
    FTRL_FIELD_NUMBER: _ClassVar[int]
    L2_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    DIVERGENCE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    METRICS_WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: LearnerKind
    classes: int
    inputs: _containers.RepeatedCompositeFieldContainer[LearnerInput]
    hash_buckets: int
    sgd: SgdOptimizer
    adagrad: AdaGradOptimizer
    ftrl: FtrlOptimizer
    l2: float
    intercept_learning_rate: float
    divergence_threshold: float
    checkpoint: CheckpointPolicy
    metrics_window_seconds: int
    description: str
    status: LearnerStatus
    create_time: _timestamp_pb2.Timestamp
    created_by: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[LearnerKind, str]] = ..., classes: _Optional[int] = ..., inputs: _Optional[_Iterable[_Union[LearnerInput, _Mapping]]] = ..., hash_buckets: _Optional[int] = ..., sgd: _Optional[_Union[SgdOptimizer, _Mapping]] = ..., adagrad: _Optional[_Union[AdaGradOptimizer, _Mapping]] = ..., ftrl: _Optional[_Union[FtrlOptimizer, _Mapping]] = ..., l2: _Optional[float] = ..., intercept_learning_rate: _Optional[float] = ..., divergence_threshold: _Optional[float] = ..., checkpoint: _Optional[_Union[CheckpointPolicy, _Mapping]] = ..., metrics_window_seconds: _Optional[int] = ..., description: _Optional[str] = ..., status: _Optional[_Union[LearnerStatus, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ...) -> None: ...

class PrequentialMetrics(_message.Message):
    __slots__ = ("examples", "log_loss", "accuracy", "auc", "rmse", "mae")
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    LOG_LOSS_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    AUC_FIELD_NUMBER: _ClassVar[int]
    RMSE_FIELD_NUMBER: _ClassVar[int]
    MAE_FIELD_NUMBER: _ClassVar[int]
    examples: int
    log_loss: float
    accuracy: float
    auc: float
    rmse: float
    mae: float
    def __init__(self, examples: _Optional[int] = ..., log_loss: _Optional[float] = ..., accuracy: _Optional[float] = ..., auc: _Optional[float] = ..., rmse: _Optional[float] = ..., mae: _Optional[float] = ...) -> None: ...

class WindowMetrics(_message.Message):
    __slots__ = ("start_time", "end_time", "metrics")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    metrics: PrequentialMetrics
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metrics: _Optional[_Union[PrequentialMetrics, _Mapping]] = ...) -> None: ...

class LearnerStatus(_message.Message):
    __slots__ = ("state", "reason", "examples_learned", "entries_consumed", "unmatched_labels", "refused_examples", "log_position", "lag", "cumulative", "rolling", "windows", "last_checkpoint_time", "last_checkpoint_examples", "leader", "watermark")
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_LEARNED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_CONSUMED_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_LABELS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    LOG_POSITION_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_FIELD_NUMBER: _ClassVar[int]
    ROLLING_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    state: LearnerState
    reason: str
    examples_learned: int
    entries_consumed: int
    unmatched_labels: int
    refused_examples: int
    log_position: str
    lag: int
    cumulative: PrequentialMetrics
    rolling: PrequentialMetrics
    windows: _containers.RepeatedCompositeFieldContainer[WindowMetrics]
    last_checkpoint_time: _timestamp_pb2.Timestamp
    last_checkpoint_examples: int
    leader: str
    watermark: _timestamp_pb2.Timestamp
    def __init__(self, state: _Optional[_Union[LearnerState, str]] = ..., reason: _Optional[str] = ..., examples_learned: _Optional[int] = ..., entries_consumed: _Optional[int] = ..., unmatched_labels: _Optional[int] = ..., refused_examples: _Optional[int] = ..., log_position: _Optional[str] = ..., lag: _Optional[int] = ..., cumulative: _Optional[_Union[PrequentialMetrics, _Mapping]] = ..., rolling: _Optional[_Union[PrequentialMetrics, _Mapping]] = ..., windows: _Optional[_Iterable[_Union[WindowMetrics, _Mapping]]] = ..., last_checkpoint_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_checkpoint_examples: _Optional[int] = ..., leader: _Optional[str] = ..., watermark: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateLearnerRequest(_message.Message):
    __slots__ = ("learner",)
    LEARNER_FIELD_NUMBER: _ClassVar[int]
    learner: Learner
    def __init__(self, learner: _Optional[_Union[Learner, _Mapping]] = ...) -> None: ...

class CreateLearnerResponse(_message.Message):
    __slots__ = ("learner",)
    LEARNER_FIELD_NUMBER: _ClassVar[int]
    learner: Learner
    def __init__(self, learner: _Optional[_Union[Learner, _Mapping]] = ...) -> None: ...

class GetLearnerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetLearnerResponse(_message.Message):
    __slots__ = ("learner",)
    LEARNER_FIELD_NUMBER: _ClassVar[int]
    learner: Learner
    def __init__(self, learner: _Optional[_Union[Learner, _Mapping]] = ...) -> None: ...

class ListLearnersRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLearnersResponse(_message.Message):
    __slots__ = ("learners", "next_page_token")
    LEARNERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    learners: _containers.RepeatedCompositeFieldContainer[Learner]
    next_page_token: str
    def __init__(self, learners: _Optional[_Iterable[_Union[Learner, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LabelEntity(_message.Message):
    __slots__ = ("join_keys", "event_time")
    class JoinKeysEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    JOIN_KEYS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    join_keys: _containers.MessageMap[str, _types_pb2.Value]
    event_time: _timestamp_pb2.Timestamp
    def __init__(self, join_keys: _Optional[_Mapping[str, _types_pb2.Value]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LabelRecord(_message.Message):
    __slots__ = ("request_id", "entity", "row", "label", "request_features")
    class RequestFeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FEATURES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    entity: LabelEntity
    row: int
    label: _types_pb2.Value
    request_features: _containers.MessageMap[str, _types_pb2.Value]
    def __init__(self, request_id: _Optional[str] = ..., entity: _Optional[_Union[LabelEntity, _Mapping]] = ..., row: _Optional[int] = ..., label: _Optional[_Union[_types_pb2.Value, _Mapping]] = ..., request_features: _Optional[_Mapping[str, _types_pb2.Value]] = ...) -> None: ...

class WriteLabelsRequest(_message.Message):
    __slots__ = ("learner", "labels", "write_id")
    LEARNER_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    learner: str
    labels: _containers.RepeatedCompositeFieldContainer[LabelRecord]
    write_id: str
    def __init__(self, learner: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[LabelRecord, _Mapping]]] = ..., write_id: _Optional[str] = ...) -> None: ...

class UnmatchedLabel(_message.Message):
    __slots__ = ("index", "request_id", "reason")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    index: int
    request_id: str
    reason: str
    def __init__(self, index: _Optional[int] = ..., request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class WriteLabelsResponse(_message.Message):
    __slots__ = ("accepted", "unmatched", "unmatched_labels", "log_position")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_LABELS_FIELD_NUMBER: _ClassVar[int]
    LOG_POSITION_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    unmatched: int
    unmatched_labels: _containers.RepeatedCompositeFieldContainer[UnmatchedLabel]
    log_position: str
    def __init__(self, accepted: _Optional[int] = ..., unmatched: _Optional[int] = ..., unmatched_labels: _Optional[_Iterable[_Union[UnmatchedLabel, _Mapping]]] = ..., log_position: _Optional[str] = ...) -> None: ...

class PublishLearnerRequest(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class PublishLearnerResponse(_message.Message):
    __slots__ = ("model_version", "learner")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    LEARNER_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    learner: Learner
    def __init__(self, model_version: _Optional[str] = ..., learner: _Optional[_Union[Learner, _Mapping]] = ...) -> None: ...

class PauseLearnerRequest(_message.Message):
    __slots__ = ("name", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PauseLearnerResponse(_message.Message):
    __slots__ = ("learner",)
    LEARNER_FIELD_NUMBER: _ClassVar[int]
    learner: Learner
    def __init__(self, learner: _Optional[_Union[Learner, _Mapping]] = ...) -> None: ...

class ResumeLearnerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResumeLearnerResponse(_message.Message):
    __slots__ = ("learner",)
    LEARNER_FIELD_NUMBER: _ClassVar[int]
    learner: Learner
    def __init__(self, learner: _Optional[_Union[Learner, _Mapping]] = ...) -> None: ...

class RestoreLearnerRequest(_message.Message):
    __slots__ = ("name", "model_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_version: str
    def __init__(self, name: _Optional[str] = ..., model_version: _Optional[str] = ...) -> None: ...

class RestoreLearnerResponse(_message.Message):
    __slots__ = ("learner",)
    LEARNER_FIELD_NUMBER: _ClassVar[int]
    learner: Learner
    def __init__(self, learner: _Optional[_Union[Learner, _Mapping]] = ...) -> None: ...
