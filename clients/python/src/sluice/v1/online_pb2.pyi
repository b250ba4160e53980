import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluice.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OnlineResponseLayout(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ONLINE_RESPONSE_LAYOUT_UNSPECIFIED: _ClassVar[OnlineResponseLayout]
    ONLINE_RESPONSE_LAYOUT_COLUMNS: _ClassVar[OnlineResponseLayout]
    ONLINE_RESPONSE_LAYOUT_FLAT: _ClassVar[OnlineResponseLayout]
    ONLINE_RESPONSE_LAYOUT_FLAT_TYPED: _ClassVar[OnlineResponseLayout]
ONLINE_RESPONSE_LAYOUT_UNSPECIFIED: OnlineResponseLayout
ONLINE_RESPONSE_LAYOUT_COLUMNS: OnlineResponseLayout
ONLINE_RESPONSE_LAYOUT_FLAT: OnlineResponseLayout
ONLINE_RESPONSE_LAYOUT_FLAT_TYPED: OnlineResponseLayout

class GetOnlineFeaturesRequest(_message.Message):
    __slots__ = ("project", "features", "feature_service", "entities", "full_feature_names", "layout")
    class EntitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.ValueColumn
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.ValueColumn, _Mapping]] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SERVICE_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    FULL_FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    project: str
    features: _containers.RepeatedScalarFieldContainer[str]
    feature_service: str
    entities: _containers.MessageMap[str, _types_pb2.ValueColumn]
    full_feature_names: bool
    layout: OnlineResponseLayout
    def __init__(self, project: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., feature_service: _Optional[str] = ..., entities: _Optional[_Mapping[str, _types_pb2.ValueColumn]] = ..., full_feature_names: _Optional[bool] = ..., layout: _Optional[_Union[OnlineResponseLayout, str]] = ...) -> None: ...

class FeatureColumn(_message.Message):
    __slots__ = ("values", "statuses", "event_times")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIMES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.Value]
    statuses: _containers.RepeatedScalarFieldContainer[_types_pb2.FeatureStatus]
    event_times: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.Value, _Mapping]]] = ..., statuses: _Optional[_Iterable[_Union[_types_pb2.FeatureStatus, str]]] = ..., event_times: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ...) -> None: ...

class FlatFeatureValues(_message.Message):
    __slots__ = ("values", "statuses", "event_time_micros", "value_types", "int64_values", "double_values", "bool_values", "string_values", "bytes_values", "null_cells")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_MICROS_FIELD_NUMBER: _ClassVar[int]
    VALUE_TYPES_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUES_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUES_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUES_FIELD_NUMBER: _ClassVar[int]
    NULL_CELLS_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.Value]
    statuses: _containers.RepeatedScalarFieldContainer[_types_pb2.FeatureStatus]
    event_time_micros: _containers.RepeatedScalarFieldContainer[int]
    value_types: _containers.RepeatedScalarFieldContainer[_types_pb2.ValueType]
    int64_values: _containers.RepeatedScalarFieldContainer[int]
    double_values: _containers.RepeatedScalarFieldContainer[float]
    bool_values: _containers.RepeatedScalarFieldContainer[bool]
    string_values: _containers.RepeatedScalarFieldContainer[str]
    bytes_values: _containers.RepeatedScalarFieldContainer[bytes]
    null_cells: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.Value, _Mapping]]] = ..., statuses: _Optional[_Iterable[_Union[_types_pb2.FeatureStatus, str]]] = ..., event_time_micros: _Optional[_Iterable[int]] = ..., value_types: _Optional[_Iterable[_Union[_types_pb2.ValueType, str]]] = ..., int64_values: _Optional[_Iterable[int]] = ..., double_values: _Optional[_Iterable[float]] = ..., bool_values: _Optional[_Iterable[bool]] = ..., string_values: _Optional[_Iterable[str]] = ..., bytes_values: _Optional[_Iterable[bytes]] = ..., null_cells: _Optional[_Iterable[int]] = ...) -> None: ...

class GetOnlineFeaturesResponse(_message.Message):
    __slots__ = ("feature_names", "columns", "resolved_features", "flat")
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    FLAT_FIELD_NUMBER: _ClassVar[int]
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    columns: _containers.RepeatedCompositeFieldContainer[FeatureColumn]
    resolved_features: _containers.RepeatedCompositeFieldContainer[_types_pb2.ResolvedFeature]
    flat: FlatFeatureValues
    def __init__(self, feature_names: _Optional[_Iterable[str]] = ..., columns: _Optional[_Iterable[_Union[FeatureColumn, _Mapping]]] = ..., resolved_features: _Optional[_Iterable[_Union[_types_pb2.ResolvedFeature, _Mapping]]] = ..., flat: _Optional[_Union[FlatFeatureValues, _Mapping]] = ...) -> None: ...
