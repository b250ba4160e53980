import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluice.v1 import learning_pb2 as _learning_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DriftSubject(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DRIFT_SUBJECT_UNSPECIFIED: _ClassVar[DriftSubject]
    DRIFT_SUBJECT_FEATURES: _ClassVar[DriftSubject]
    DRIFT_SUBJECT_PREDICTIONS: _ClassVar[DriftSubject]
    DRIFT_SUBJECT_LABELS: _ClassVar[DriftSubject]
DRIFT_SUBJECT_UNSPECIFIED: DriftSubject
DRIFT_SUBJECT_FEATURES: DriftSubject
DRIFT_SUBJECT_PREDICTIONS: DriftSubject
DRIFT_SUBJECT_LABELS: DriftSubject

class TimeWindow(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FeatureStatistics(_message.Message):
    __slots__ = ("feature", "count", "null_count", "mean", "stddev", "min", "max", "quantiles", "distinct_count")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NULL_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STDDEV_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    QUANTILES_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_COUNT_FIELD_NUMBER: _ClassVar[int]
    feature: str
    count: int
    null_count: int
    mean: float
    stddev: float
    min: float
    max: float
    quantiles: _containers.RepeatedScalarFieldContainer[float]
    distinct_count: int
    def __init__(self, feature: _Optional[str] = ..., count: _Optional[int] = ..., null_count: _Optional[int] = ..., mean: _Optional[float] = ..., stddev: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., quantiles: _Optional[_Iterable[float]] = ..., distinct_count: _Optional[int] = ...) -> None: ...

class GetFeatureStatisticsRequest(_message.Message):
    __slots__ = ("project", "feature_view", "window")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_view: str
    window: TimeWindow
    def __init__(self, project: _Optional[str] = ..., feature_view: _Optional[str] = ..., window: _Optional[_Union[TimeWindow, _Mapping]] = ...) -> None: ...

class GetFeatureStatisticsResponse(_message.Message):
    __slots__ = ("statistics",)
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    statistics: _containers.RepeatedCompositeFieldContainer[FeatureStatistics]
    def __init__(self, statistics: _Optional[_Iterable[_Union[FeatureStatistics, _Mapping]]] = ...) -> None: ...

class ColumnDrift(_message.Message):
    __slots__ = ("column", "psi", "ks_statistic", "ks_p_value", "drifted")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    PSI_FIELD_NUMBER: _ClassVar[int]
    KS_STATISTIC_FIELD_NUMBER: _ClassVar[int]
    KS_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_FIELD_NUMBER: _ClassVar[int]
    column: str
    psi: float
    ks_statistic: float
    ks_p_value: float
    drifted: bool
    def __init__(self, column: _Optional[str] = ..., psi: _Optional[float] = ..., ks_statistic: _Optional[float] = ..., ks_p_value: _Optional[float] = ..., drifted: _Optional[bool] = ...) -> None: ...

class GetDriftReportRequest(_message.Message):
    __slots__ = ("project", "subject", "target", "baseline_window", "baseline_training_dataset", "current_window", "psi_threshold")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    BASELINE_WINDOW_FIELD_NUMBER: _ClassVar[int]
    BASELINE_TRAINING_DATASET_FIELD_NUMBER: _ClassVar[int]
    CURRENT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    PSI_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    project: str
    subject: DriftSubject
    target: str
    baseline_window: TimeWindow
    baseline_training_dataset: str
    current_window: TimeWindow
    psi_threshold: float
    def __init__(self, project: _Optional[str] = ..., subject: _Optional[_Union[DriftSubject, str]] = ..., target: _Optional[str] = ..., baseline_window: _Optional[_Union[TimeWindow, _Mapping]] = ..., baseline_training_dataset: _Optional[str] = ..., current_window: _Optional[_Union[TimeWindow, _Mapping]] = ..., psi_threshold: _Optional[float] = ...) -> None: ...

class GetDriftReportResponse(_message.Message):
    __slots__ = ("columns", "any_drifted")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ANY_DRIFTED_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[ColumnDrift]
    any_drifted: bool
    def __init__(self, columns: _Optional[_Iterable[_Union[ColumnDrift, _Mapping]]] = ..., any_drifted: _Optional[bool] = ...) -> None: ...

class VersionReport(_message.Message):
    __slots__ = ("model_version", "role", "request_count", "error_count", "latency_p50", "latency_p99", "agreement_rate", "mean_absolute_difference", "shed_count", "learner_rolling", "learner_cumulative")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_RATE_FIELD_NUMBER: _ClassVar[int]
    MEAN_ABSOLUTE_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    SHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    LEARNER_ROLLING_FIELD_NUMBER: _ClassVar[int]
    LEARNER_CUMULATIVE_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    role: str
    request_count: int
    error_count: int
    latency_p50: _duration_pb2.Duration
    latency_p99: _duration_pb2.Duration
    agreement_rate: float
    mean_absolute_difference: float
    shed_count: int
    learner_rolling: _learning_pb2.PrequentialMetrics
    learner_cumulative: _learning_pb2.PrequentialMetrics
    def __init__(self, model_version: _Optional[str] = ..., role: _Optional[str] = ..., request_count: _Optional[int] = ..., error_count: _Optional[int] = ..., latency_p50: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., latency_p99: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., agreement_rate: _Optional[float] = ..., mean_absolute_difference: _Optional[float] = ..., shed_count: _Optional[int] = ..., learner_rolling: _Optional[_Union[_learning_pb2.PrequentialMetrics, _Mapping]] = ..., learner_cumulative: _Optional[_Union[_learning_pb2.PrequentialMetrics, _Mapping]] = ...) -> None: ...

class GetDeploymentReportRequest(_message.Message):
    __slots__ = ("endpoint", "window")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    window: TimeWindow
    def __init__(self, endpoint: _Optional[str] = ..., window: _Optional[_Union[TimeWindow, _Mapping]] = ...) -> None: ...

class GetDeploymentReportResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[VersionReport]
    def __init__(self, versions: _Optional[_Iterable[_Union[VersionReport, _Mapping]]] = ...) -> None: ...

class CheckServedConsistencyRequest(_message.Message):
    __slots__ = ("project", "feature_view", "window", "max_values", "max_examples")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUES_FIELD_NUMBER: _ClassVar[int]
    MAX_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_view: str
    window: TimeWindow
    max_values: int
    max_examples: int
    def __init__(self, project: _Optional[str] = ..., feature_view: _Optional[str] = ..., window: _Optional[_Union[TimeWindow, _Mapping]] = ..., max_values: _Optional[int] = ..., max_examples: _Optional[int] = ...) -> None: ...

class ConsistencyMismatch(_message.Message):
    __slots__ = ("entity_key", "served_time", "served_value", "historical_value")
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    SERVED_TIME_FIELD_NUMBER: _ClassVar[int]
    SERVED_VALUE_FIELD_NUMBER: _ClassVar[int]
    HISTORICAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    entity_key: str
    served_time: _timestamp_pb2.Timestamp
    served_value: str
    historical_value: str
    def __init__(self, entity_key: _Optional[str] = ..., served_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., served_value: _Optional[str] = ..., historical_value: _Optional[str] = ...) -> None: ...

class FeatureConsistency(_message.Message):
    __slots__ = ("feature", "compared", "mismatches", "mismatch_rate", "examples")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    COMPARED_FIELD_NUMBER: _ClassVar[int]
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_RATE_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    feature: str
    compared: int
    mismatches: int
    mismatch_rate: float
    examples: _containers.RepeatedCompositeFieldContainer[ConsistencyMismatch]
    def __init__(self, feature: _Optional[str] = ..., compared: _Optional[int] = ..., mismatches: _Optional[int] = ..., mismatch_rate: _Optional[float] = ..., examples: _Optional[_Iterable[_Union[ConsistencyMismatch, _Mapping]]] = ...) -> None: ...

class CheckServedConsistencyResponse(_message.Message):
    __slots__ = ("features", "served_values", "comparison")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SERVED_VALUES_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[FeatureConsistency]
    served_values: int
    comparison: str
    def __init__(self, features: _Optional[_Iterable[_Union[FeatureConsistency, _Mapping]]] = ..., served_values: _Optional[int] = ..., comparison: _Optional[str] = ...) -> None: ...
