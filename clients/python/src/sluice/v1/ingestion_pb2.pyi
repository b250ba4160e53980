import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import error_details_pb2 as _error_details_pb2
from sluice.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FileFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_FORMAT_UNSPECIFIED: _ClassVar[FileFormat]
    FILE_FORMAT_PARQUET: _ClassVar[FileFormat]
    FILE_FORMAT_CSV: _ClassVar[FileFormat]
FILE_FORMAT_UNSPECIFIED: FileFormat
FILE_FORMAT_PARQUET: FileFormat
FILE_FORMAT_CSV: FileFormat

class EventRow(_message.Message):
    __slots__ = ("entity_key", "event_time", "fields", "created_time")
    class EntityKeyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    entity_key: _containers.MessageMap[str, _types_pb2.Value]
    event_time: _timestamp_pb2.Timestamp
    fields: _containers.MessageMap[str, _types_pb2.Value]
    created_time: _timestamp_pb2.Timestamp
    def __init__(self, entity_key: _Optional[_Mapping[str, _types_pb2.Value]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fields: _Optional[_Mapping[str, _types_pb2.Value]] = ..., created_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WriteEventsRequest(_message.Message):
    __slots__ = ("project", "event_stream", "events", "write_id", "columns")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    EVENT_STREAM_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    project: str
    event_stream: str
    events: _containers.RepeatedCompositeFieldContainer[EventRow]
    write_id: str
    columns: FeatureColumns
    def __init__(self, project: _Optional[str] = ..., event_stream: _Optional[str] = ..., events: _Optional[_Iterable[_Union[EventRow, _Mapping]]] = ..., write_id: _Optional[str] = ..., columns: _Optional[_Union[FeatureColumns, _Mapping]] = ...) -> None: ...

class WriteEventsResponse(_message.Message):
    __slots__ = ("write_id", "accepted_count", "rejected_rows", "duplicate", "event_stream_version", "too_late_count")
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_ROWS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    EVENT_STREAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOO_LATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    write_id: str
    accepted_count: int
    rejected_rows: _containers.RepeatedCompositeFieldContainer[RowRejection]
    duplicate: bool
    event_stream_version: int
    too_late_count: int
    def __init__(self, write_id: _Optional[str] = ..., accepted_count: _Optional[int] = ..., rejected_rows: _Optional[_Iterable[_Union[RowRejection, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., event_stream_version: _Optional[int] = ..., too_late_count: _Optional[int] = ...) -> None: ...

class WriteEventBatchRequest(_message.Message):
    __slots__ = ("project", "event_stream", "events", "write_id", "columns")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    EVENT_STREAM_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    project: str
    event_stream: str
    events: _containers.RepeatedCompositeFieldContainer[EventRow]
    write_id: str
    columns: FeatureColumns
    def __init__(self, project: _Optional[str] = ..., event_stream: _Optional[str] = ..., events: _Optional[_Iterable[_Union[EventRow, _Mapping]]] = ..., write_id: _Optional[str] = ..., columns: _Optional[_Union[FeatureColumns, _Mapping]] = ...) -> None: ...

class WriteEventBatchResponse(_message.Message):
    __slots__ = ("write_id", "accepted_count", "rejected_rows", "duplicate", "event_stream_version", "too_late_count")
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_ROWS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    EVENT_STREAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOO_LATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    write_id: str
    accepted_count: int
    rejected_rows: _containers.RepeatedCompositeFieldContainer[RowRejection]
    duplicate: bool
    event_stream_version: int
    too_late_count: int
    def __init__(self, write_id: _Optional[str] = ..., accepted_count: _Optional[int] = ..., rejected_rows: _Optional[_Iterable[_Union[RowRejection, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., event_stream_version: _Optional[int] = ..., too_late_count: _Optional[int] = ...) -> None: ...

class GetEventStreamStatusRequest(_message.Message):
    __slots__ = ("project", "event_stream")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    EVENT_STREAM_FIELD_NUMBER: _ClassVar[int]
    project: str
    event_stream: str
    def __init__(self, project: _Optional[str] = ..., event_stream: _Optional[str] = ...) -> None: ...

class EventSourceStatus(_message.Message):
    __slots__ = ("source", "max_event_time", "watermark", "event_count", "too_late_count", "last_position")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOO_LATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_POSITION_FIELD_NUMBER: _ClassVar[int]
    source: str
    max_event_time: _timestamp_pb2.Timestamp
    watermark: _timestamp_pb2.Timestamp
    event_count: int
    too_late_count: int
    last_position: int
    def __init__(self, source: _Optional[str] = ..., max_event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., watermark: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_count: _Optional[int] = ..., too_late_count: _Optional[int] = ..., last_position: _Optional[int] = ...) -> None: ...

class GetEventStreamStatusResponse(_message.Message):
    __slots__ = ("event_stream_version", "sources", "event_count", "too_late_count", "dead_lettered_count")
    EVENT_STREAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOO_LATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_COUNT_FIELD_NUMBER: _ClassVar[int]
    event_stream_version: int
    sources: _containers.RepeatedCompositeFieldContainer[EventSourceStatus]
    event_count: int
    too_late_count: int
    dead_lettered_count: int
    def __init__(self, event_stream_version: _Optional[int] = ..., sources: _Optional[_Iterable[_Union[EventSourceStatus, _Mapping]]] = ..., event_count: _Optional[int] = ..., too_late_count: _Optional[int] = ..., dead_lettered_count: _Optional[int] = ...) -> None: ...

class FeatureRow(_message.Message):
    __slots__ = ("entity_key", "event_time", "features", "created_time")
    class EntityKeyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    entity_key: _containers.MessageMap[str, _types_pb2.Value]
    event_time: _timestamp_pb2.Timestamp
    features: _containers.MessageMap[str, _types_pb2.Value]
    created_time: _timestamp_pb2.Timestamp
    def __init__(self, entity_key: _Optional[_Mapping[str, _types_pb2.Value]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., features: _Optional[_Mapping[str, _types_pb2.Value]] = ..., created_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RowRejection(_message.Message):
    __slots__ = ("row_index", "violations")
    ROW_INDEX_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    row_index: int
    violations: _containers.RepeatedCompositeFieldContainer[_error_details_pb2.BadRequest.FieldViolation]
    def __init__(self, row_index: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[_error_details_pb2.BadRequest.FieldViolation, _Mapping]]] = ...) -> None: ...

class FeatureColumns(_message.Message):
    __slots__ = ("entity_key", "event_time_micros", "features", "created_time_micros")
    class EntityKeyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Column
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Column, _Mapping]] = ...) -> None: ...
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Column
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Column, _Mapping]] = ...) -> None: ...
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MICROS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_MICROS_FIELD_NUMBER: _ClassVar[int]
    entity_key: _containers.MessageMap[str, _types_pb2.Column]
    event_time_micros: _containers.RepeatedScalarFieldContainer[int]
    features: _containers.MessageMap[str, _types_pb2.Column]
    created_time_micros: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, entity_key: _Optional[_Mapping[str, _types_pb2.Column]] = ..., event_time_micros: _Optional[_Iterable[int]] = ..., features: _Optional[_Mapping[str, _types_pb2.Column]] = ..., created_time_micros: _Optional[_Iterable[int]] = ...) -> None: ...

class WriteFeaturesRequest(_message.Message):
    __slots__ = ("project", "feature_view", "rows", "write_id", "columns")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_view: str
    rows: _containers.RepeatedCompositeFieldContainer[FeatureRow]
    write_id: str
    columns: FeatureColumns
    def __init__(self, project: _Optional[str] = ..., feature_view: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[FeatureRow, _Mapping]]] = ..., write_id: _Optional[str] = ..., columns: _Optional[_Union[FeatureColumns, _Mapping]] = ...) -> None: ...

class WriteFeaturesResponse(_message.Message):
    __slots__ = ("write_id", "accepted_count", "rejected_rows", "duplicate", "feature_view_version")
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_ROWS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    write_id: str
    accepted_count: int
    rejected_rows: _containers.RepeatedCompositeFieldContainer[RowRejection]
    duplicate: bool
    feature_view_version: int
    def __init__(self, write_id: _Optional[str] = ..., accepted_count: _Optional[int] = ..., rejected_rows: _Optional[_Iterable[_Union[RowRejection, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., feature_view_version: _Optional[int] = ...) -> None: ...

class WriteFeatureBatchRequest(_message.Message):
    __slots__ = ("project", "feature_view", "rows", "write_id", "columns")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_view: str
    rows: _containers.RepeatedCompositeFieldContainer[FeatureRow]
    write_id: str
    columns: FeatureColumns
    def __init__(self, project: _Optional[str] = ..., feature_view: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[FeatureRow, _Mapping]]] = ..., write_id: _Optional[str] = ..., columns: _Optional[_Union[FeatureColumns, _Mapping]] = ...) -> None: ...

class WriteFeatureBatchResponse(_message.Message):
    __slots__ = ("write_id", "accepted_count", "rejected_rows", "duplicate", "feature_view_version")
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_ROWS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    write_id: str
    accepted_count: int
    rejected_rows: _containers.RepeatedCompositeFieldContainer[RowRejection]
    duplicate: bool
    feature_view_version: int
    def __init__(self, write_id: _Optional[str] = ..., accepted_count: _Optional[int] = ..., rejected_rows: _Optional[_Iterable[_Union[RowRejection, _Mapping]]] = ..., duplicate: _Optional[bool] = ..., feature_view_version: _Optional[int] = ...) -> None: ...

class ImportFeaturesConfig(_message.Message):
    __slots__ = ("project", "feature_view", "format", "source_path", "column_mapping", "materialize_online", "write_id", "created_time_column", "event_stream", "feature_views")
    class ColumnMappingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    COLUMN_MAPPING_FIELD_NUMBER: _ClassVar[int]
    MATERIALIZE_ONLINE_FIELD_NUMBER: _ClassVar[int]
    WRITE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_COLUMN_FIELD_NUMBER: _ClassVar[int]
    EVENT_STREAM_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEWS_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_view: str
    format: FileFormat
    source_path: str
    column_mapping: _containers.ScalarMap[str, str]
    materialize_online: bool
    write_id: str
    created_time_column: str
    event_stream: str
    feature_views: _containers.RepeatedCompositeFieldContainer[ImportViewTarget]
    def __init__(self, project: _Optional[str] = ..., feature_view: _Optional[str] = ..., format: _Optional[_Union[FileFormat, str]] = ..., source_path: _Optional[str] = ..., column_mapping: _Optional[_Mapping[str, str]] = ..., materialize_online: _Optional[bool] = ..., write_id: _Optional[str] = ..., created_time_column: _Optional[str] = ..., event_stream: _Optional[str] = ..., feature_views: _Optional[_Iterable[_Union[ImportViewTarget, _Mapping]]] = ...) -> None: ...

class ImportViewTarget(_message.Message):
    __slots__ = ("feature_view", "column_mapping")
    class ColumnMappingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    COLUMN_MAPPING_FIELD_NUMBER: _ClassVar[int]
    feature_view: str
    column_mapping: _containers.ScalarMap[str, str]
    def __init__(self, feature_view: _Optional[str] = ..., column_mapping: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ImportViewProgress(_message.Message):
    __slots__ = ("feature_view", "rows_written", "rows_rejected")
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    ROWS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    ROWS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    feature_view: str
    rows_written: int
    rows_rejected: int
    def __init__(self, feature_view: _Optional[str] = ..., rows_written: _Optional[int] = ..., rows_rejected: _Optional[int] = ...) -> None: ...

class ImportFeaturesRequest(_message.Message):
    __slots__ = ("config", "chunk")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    config: ImportFeaturesConfig
    chunk: bytes
    def __init__(self, config: _Optional[_Union[ImportFeaturesConfig, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ImportFeaturesResponse(_message.Message):
    __slots__ = ("rows_read", "rows_written", "rows_rejected", "sample_rejections", "done", "views")
    ROWS_READ_FIELD_NUMBER: _ClassVar[int]
    ROWS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    ROWS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    rows_read: int
    rows_written: int
    rows_rejected: int
    sample_rejections: _containers.RepeatedCompositeFieldContainer[RowRejection]
    done: bool
    views: _containers.RepeatedCompositeFieldContainer[ImportViewProgress]
    def __init__(self, rows_read: _Optional[int] = ..., rows_written: _Optional[int] = ..., rows_rejected: _Optional[int] = ..., sample_rejections: _Optional[_Iterable[_Union[RowRejection, _Mapping]]] = ..., done: _Optional[bool] = ..., views: _Optional[_Iterable[_Union[ImportViewProgress, _Mapping]]] = ...) -> None: ...

class MaterializeRequest(_message.Message):
    __slots__ = ("project", "feature_view", "start_time", "end_time")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    project: str
    feature_view: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, project: _Optional[str] = ..., feature_view: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MaterializeResponse(_message.Message):
    __slots__ = ("entities_processed", "values_written", "done")
    ENTITIES_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    VALUES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    entities_processed: int
    values_written: int
    done: bool
    def __init__(self, entities_processed: _Optional[int] = ..., values_written: _Optional[int] = ..., done: _Optional[bool] = ...) -> None: ...
