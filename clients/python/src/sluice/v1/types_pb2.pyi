import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ValueType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALUE_TYPE_UNSPECIFIED: _ClassVar[ValueType]
    VALUE_TYPE_INT32: _ClassVar[ValueType]
    VALUE_TYPE_INT64: _ClassVar[ValueType]
    VALUE_TYPE_FLOAT: _ClassVar[ValueType]
    VALUE_TYPE_DOUBLE: _ClassVar[ValueType]
    VALUE_TYPE_BOOL: _ClassVar[ValueType]
    VALUE_TYPE_STRING: _ClassVar[ValueType]
    VALUE_TYPE_BYTES: _ClassVar[ValueType]
    VALUE_TYPE_TIMESTAMP: _ClassVar[ValueType]
    VALUE_TYPE_INT64_LIST: _ClassVar[ValueType]
    VALUE_TYPE_FLOAT_LIST: _ClassVar[ValueType]
    VALUE_TYPE_DOUBLE_LIST: _ClassVar[ValueType]
    VALUE_TYPE_STRING_LIST: _ClassVar[ValueType]

class FeatureStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEATURE_STATUS_UNSPECIFIED: _ClassVar[FeatureStatus]
    FEATURE_STATUS_PRESENT: _ClassVar[FeatureStatus]
    FEATURE_STATUS_NULL_VALUE: _ClassVar[FeatureStatus]
    FEATURE_STATUS_NOT_FOUND: _ClassVar[FeatureStatus]
    FEATURE_STATUS_OUTSIDE_MAX_AGE: _ClassVar[FeatureStatus]
VALUE_TYPE_UNSPECIFIED: ValueType
VALUE_TYPE_INT32: ValueType
VALUE_TYPE_INT64: ValueType
VALUE_TYPE_FLOAT: ValueType
VALUE_TYPE_DOUBLE: ValueType
VALUE_TYPE_BOOL: ValueType
VALUE_TYPE_STRING: ValueType
VALUE_TYPE_BYTES: ValueType
VALUE_TYPE_TIMESTAMP: ValueType
VALUE_TYPE_INT64_LIST: ValueType
VALUE_TYPE_FLOAT_LIST: ValueType
VALUE_TYPE_DOUBLE_LIST: ValueType
VALUE_TYPE_STRING_LIST: ValueType
FEATURE_STATUS_UNSPECIFIED: FeatureStatus
FEATURE_STATUS_PRESENT: FeatureStatus
FEATURE_STATUS_NULL_VALUE: FeatureStatus
FEATURE_STATUS_NOT_FOUND: FeatureStatus
FEATURE_STATUS_OUTSIDE_MAX_AGE: FeatureStatus

class Value(_message.Message):
    __slots__ = ("int32_value", "int64_value", "float_value", "double_value", "bool_value", "string_value", "bytes_value", "timestamp_value", "int64_list_value", "float_list_value", "double_list_value", "string_list_value")
    INT32_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT64_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    int32_value: int
    int64_value: int
    float_value: float
    double_value: float
    bool_value: bool
    string_value: str
    bytes_value: bytes
    timestamp_value: _timestamp_pb2.Timestamp
    int64_list_value: Int64List
    float_list_value: FloatList
    double_list_value: DoubleList
    string_list_value: StringList
    def __init__(self, int32_value: _Optional[int] = ..., int64_value: _Optional[int] = ..., float_value: _Optional[float] = ..., double_value: _Optional[float] = ..., bool_value: _Optional[bool] = ..., string_value: _Optional[str] = ..., bytes_value: _Optional[bytes] = ..., timestamp_value: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., int64_list_value: _Optional[_Union[Int64List, _Mapping]] = ..., float_list_value: _Optional[_Union[FloatList, _Mapping]] = ..., double_list_value: _Optional[_Union[DoubleList, _Mapping]] = ..., string_list_value: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...

class Int64List(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class FloatList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class DoubleList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class ValueColumn(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class Int32List(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class BoolList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, values: _Optional[_Iterable[bool]] = ...) -> None: ...

class BytesList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("int32_values", "int64_values", "float_values", "double_values", "bool_values", "string_values", "bytes_values", "timestamp_micros_values", "values", "null_rows")
    INT32_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUES_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUES_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUES_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUES_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MICROS_VALUES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NULL_ROWS_FIELD_NUMBER: _ClassVar[int]
    int32_values: Int32List
    int64_values: Int64List
    float_values: FloatList
    double_values: DoubleList
    bool_values: BoolList
    string_values: StringList
    bytes_values: BytesList
    timestamp_micros_values: Int64List
    values: ValueColumn
    null_rows: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, int32_values: _Optional[_Union[Int32List, _Mapping]] = ..., int64_values: _Optional[_Union[Int64List, _Mapping]] = ..., float_values: _Optional[_Union[FloatList, _Mapping]] = ..., double_values: _Optional[_Union[DoubleList, _Mapping]] = ..., bool_values: _Optional[_Union[BoolList, _Mapping]] = ..., string_values: _Optional[_Union[StringList, _Mapping]] = ..., bytes_values: _Optional[_Union[BytesList, _Mapping]] = ..., timestamp_micros_values: _Optional[_Union[Int64List, _Mapping]] = ..., values: _Optional[_Union[ValueColumn, _Mapping]] = ..., null_rows: _Optional[_Iterable[int]] = ...) -> None: ...

class ResolvedFeature(_message.Message):
    __slots__ = ("ref", "feature_view", "version", "feature", "type")
    REF_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ref: str
    feature_view: str
    version: int
    feature: str
    type: ValueType
    def __init__(self, ref: _Optional[str] = ..., feature_view: _Optional[str] = ..., version: _Optional[int] = ..., feature: _Optional[str] = ..., type: _Optional[_Union[ValueType, str]] = ...) -> None: ...
