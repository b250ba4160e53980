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

class OutputFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_FORMAT_UNSPECIFIED: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_ROWS: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_ARROW: _ClassVar[OutputFormat]

class TrainingDatasetState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_DATASET_STATE_UNSPECIFIED: _ClassVar[TrainingDatasetState]
    TRAINING_DATASET_STATE_RUNNING: _ClassVar[TrainingDatasetState]
    TRAINING_DATASET_STATE_SUCCEEDED: _ClassVar[TrainingDatasetState]
    TRAINING_DATASET_STATE_FAILED: _ClassVar[TrainingDatasetState]
OUTPUT_FORMAT_UNSPECIFIED: OutputFormat
OUTPUT_FORMAT_ROWS: OutputFormat
OUTPUT_FORMAT_ARROW: OutputFormat
TRAINING_DATASET_STATE_UNSPECIFIED: TrainingDatasetState
TRAINING_DATASET_STATE_RUNNING: TrainingDatasetState
TRAINING_DATASET_STATE_SUCCEEDED: TrainingDatasetState
TRAINING_DATASET_STATE_FAILED: TrainingDatasetState

class SpineRow(_message.Message):
    __slots__ = ("entity_key", "event_time", "extra_columns")
    class EntityKeyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    class ExtraColumnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    EXTRA_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    entity_key: _containers.MessageMap[str, _types_pb2.Value]
    event_time: _timestamp_pb2.Timestamp
    extra_columns: _containers.MessageMap[str, _types_pb2.Value]
    def __init__(self, entity_key: _Optional[_Mapping[str, _types_pb2.Value]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., extra_columns: _Optional[_Mapping[str, _types_pb2.Value]] = ...) -> None: ...

class SpineColumns(_message.Message):
    __slots__ = ("entity_key", "event_time_micros", "extra_columns")
    class EntityKeyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Column
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Column, _Mapping]] = ...) -> None: ...
    class ExtraColumnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Column
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Column, _Mapping]] = ...) -> None: ...
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MICROS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    entity_key: _containers.MessageMap[str, _types_pb2.Column]
    event_time_micros: _containers.RepeatedScalarFieldContainer[int]
    extra_columns: _containers.MessageMap[str, _types_pb2.Column]
    def __init__(self, entity_key: _Optional[_Mapping[str, _types_pb2.Column]] = ..., event_time_micros: _Optional[_Iterable[int]] = ..., extra_columns: _Optional[_Mapping[str, _types_pb2.Column]] = ...) -> None: ...

class SpineBatch(_message.Message):
    __slots__ = ("rows", "columns", "arrow_ipc")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[SpineRow]
    columns: SpineColumns
    arrow_ipc: bytes
    def __init__(self, rows: _Optional[_Iterable[_Union[SpineRow, _Mapping]]] = ..., columns: _Optional[_Union[SpineColumns, _Mapping]] = ..., arrow_ipc: _Optional[bytes] = ...) -> None: ...

class OfflineSpine(_message.Message):
    __slots__ = ("table", "sql")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    table: str
    sql: str
    def __init__(self, table: _Optional[str] = ..., sql: _Optional[str] = ...) -> None: ...

class EntityTimeRange(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HistoricalFeaturesQuery(_message.Message):
    __slots__ = ("project", "features", "feature_service", "inline_spine", "offline_spine", "entity_time_range", "full_feature_names", "exclude_late_ingested", "format", "emit_spine_index", "chunk_rows")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SERVICE_FIELD_NUMBER: _ClassVar[int]
    INLINE_SPINE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_SPINE_FIELD_NUMBER: _ClassVar[int]
    ENTITY_TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    FULL_FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_LATE_INGESTED_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    EMIT_SPINE_INDEX_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ROWS_FIELD_NUMBER: _ClassVar[int]
    project: str
    features: _containers.RepeatedScalarFieldContainer[str]
    feature_service: str
    inline_spine: bool
    offline_spine: OfflineSpine
    entity_time_range: EntityTimeRange
    full_feature_names: bool
    exclude_late_ingested: bool
    format: OutputFormat
    emit_spine_index: bool
    chunk_rows: int
    def __init__(self, project: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., feature_service: _Optional[str] = ..., inline_spine: _Optional[bool] = ..., offline_spine: _Optional[_Union[OfflineSpine, _Mapping]] = ..., entity_time_range: _Optional[_Union[EntityTimeRange, _Mapping]] = ..., full_feature_names: _Optional[bool] = ..., exclude_late_ingested: _Optional[bool] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., emit_spine_index: _Optional[bool] = ..., chunk_rows: _Optional[int] = ...) -> None: ...

class GetHistoricalFeaturesRequest(_message.Message):
    __slots__ = ("query", "spine_batch")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    SPINE_BATCH_FIELD_NUMBER: _ClassVar[int]
    query: HistoricalFeaturesQuery
    spine_batch: SpineBatch
    def __init__(self, query: _Optional[_Union[HistoricalFeaturesQuery, _Mapping]] = ..., spine_batch: _Optional[_Union[SpineBatch, _Mapping]] = ...) -> None: ...

class ColumnSchema(_message.Message):
    __slots__ = ("name", "type", "feature")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _types_pb2.ValueType
    feature: _types_pb2.ResolvedFeature
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_types_pb2.ValueType, str]] = ..., feature: _Optional[_Union[_types_pb2.ResolvedFeature, _Mapping]] = ...) -> None: ...

class HistoricalFeaturesSchema(_message.Message):
    __slots__ = ("columns", "preserves_spine_order")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PRESERVES_SPINE_ORDER_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[ColumnSchema]
    preserves_spine_order: bool
    def __init__(self, columns: _Optional[_Iterable[_Union[ColumnSchema, _Mapping]]] = ..., preserves_spine_order: _Optional[bool] = ...) -> None: ...

class RowChunk(_message.Message):
    __slots__ = ("rows",)
    class Row(_message.Message):
        __slots__ = ("values",)
        VALUES_FIELD_NUMBER: _ClassVar[int]
        values: _containers.RepeatedCompositeFieldContainer[_types_pb2.Value]
        def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.Value, _Mapping]]] = ...) -> None: ...
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[RowChunk.Row]
    def __init__(self, rows: _Optional[_Iterable[_Union[RowChunk.Row, _Mapping]]] = ...) -> None: ...

class HistoricalFeaturesSummary(_message.Message):
    __slots__ = ("row_count",)
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    row_count: int
    def __init__(self, row_count: _Optional[int] = ...) -> None: ...

class GetHistoricalFeaturesResponse(_message.Message):
    __slots__ = ("schema", "rows", "arrow_ipc", "summary")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    schema: HistoricalFeaturesSchema
    rows: RowChunk
    arrow_ipc: bytes
    summary: HistoricalFeaturesSummary
    def __init__(self, schema: _Optional[_Union[HistoricalFeaturesSchema, _Mapping]] = ..., rows: _Optional[_Union[RowChunk, _Mapping]] = ..., arrow_ipc: _Optional[bytes] = ..., summary: _Optional[_Union[HistoricalFeaturesSummary, _Mapping]] = ...) -> None: ...

class TrainingDataset(_message.Message):
    __slots__ = ("name", "version", "query", "resolved_features", "spine_sha256", "row_count", "min_event_time", "max_event_time", "offline_table", "parquet_path", "state", "error_message", "description", "create_time", "complete_time", "columns")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    SPINE_SHA256_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_TABLE_FIELD_NUMBER: _ClassVar[int]
    PARQUET_PATH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    query: HistoricalFeaturesQuery
    resolved_features: _containers.RepeatedCompositeFieldContainer[_types_pb2.ResolvedFeature]
    spine_sha256: str
    row_count: int
    min_event_time: _timestamp_pb2.Timestamp
    max_event_time: _timestamp_pb2.Timestamp
    offline_table: str
    parquet_path: str
    state: TrainingDatasetState
    error_message: str
    description: str
    create_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    columns: _containers.RepeatedCompositeFieldContainer[ColumnSchema]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., query: _Optional[_Union[HistoricalFeaturesQuery, _Mapping]] = ..., resolved_features: _Optional[_Iterable[_Union[_types_pb2.ResolvedFeature, _Mapping]]] = ..., spine_sha256: _Optional[str] = ..., row_count: _Optional[int] = ..., min_event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., offline_table: _Optional[str] = ..., parquet_path: _Optional[str] = ..., state: _Optional[_Union[TrainingDatasetState, str]] = ..., error_message: _Optional[str] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., columns: _Optional[_Iterable[_Union[ColumnSchema, _Mapping]]] = ...) -> None: ...

class CreateTrainingDatasetRequest(_message.Message):
    __slots__ = ("training_dataset",)
    TRAINING_DATASET_FIELD_NUMBER: _ClassVar[int]
    training_dataset: TrainingDataset
    def __init__(self, training_dataset: _Optional[_Union[TrainingDataset, _Mapping]] = ...) -> None: ...

class CreateTrainingDatasetResponse(_message.Message):
    __slots__ = ("training_dataset",)
    TRAINING_DATASET_FIELD_NUMBER: _ClassVar[int]
    training_dataset: TrainingDataset
    def __init__(self, training_dataset: _Optional[_Union[TrainingDataset, _Mapping]] = ...) -> None: ...

class GetTrainingDatasetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetTrainingDatasetResponse(_message.Message):
    __slots__ = ("training_dataset",)
    TRAINING_DATASET_FIELD_NUMBER: _ClassVar[int]
    training_dataset: TrainingDataset
    def __init__(self, training_dataset: _Optional[_Union[TrainingDataset, _Mapping]] = ...) -> None: ...

class ListTrainingDatasetsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTrainingDatasetsResponse(_message.Message):
    __slots__ = ("training_datasets", "next_page_token")
    TRAINING_DATASETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    training_datasets: _containers.RepeatedCompositeFieldContainer[TrainingDataset]
    next_page_token: str
    def __init__(self, training_datasets: _Optional[_Iterable[_Union[TrainingDataset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReadTrainingDatasetRequest(_message.Message):
    __slots__ = ("name", "format", "chunk_rows")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ROWS_FIELD_NUMBER: _ClassVar[int]
    name: str
    format: OutputFormat
    chunk_rows: int
    def __init__(self, name: _Optional[str] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., chunk_rows: _Optional[int] = ...) -> None: ...

class ReadTrainingDatasetResponse(_message.Message):
    __slots__ = ("schema", "rows", "arrow_ipc", "summary")
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    schema: HistoricalFeaturesSchema
    rows: RowChunk
    arrow_ipc: bytes
    summary: HistoricalFeaturesSummary
    def __init__(self, schema: _Optional[_Union[HistoricalFeaturesSchema, _Mapping]] = ..., rows: _Optional[_Union[RowChunk, _Mapping]] = ..., arrow_ipc: _Optional[bytes] = ..., summary: _Optional[_Union[HistoricalFeaturesSummary, _Mapping]] = ...) -> None: ...
