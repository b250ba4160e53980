from google.api import field_behavior_pb2 as _field_behavior_pb2
from sluice.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictRequest(_message.Message):
    __slots__ = ("endpoint", "entities", "request_features", "routing_key", "request_id")
    class EntitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.ValueColumn
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.ValueColumn, _Mapping]] = ...) -> None: ...
    class RequestFeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.ValueColumn
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.ValueColumn, _Mapping]] = ...) -> None: ...
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FEATURES_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    entities: _containers.MessageMap[str, _types_pb2.ValueColumn]
    request_features: _containers.MessageMap[str, _types_pb2.ValueColumn]
    routing_key: str
    request_id: str
    def __init__(self, endpoint: _Optional[str] = ..., entities: _Optional[_Mapping[str, _types_pb2.ValueColumn]] = ..., request_features: _Optional[_Mapping[str, _types_pb2.ValueColumn]] = ..., routing_key: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class OutputColumn(_message.Message):
    __slots__ = ("name", "element_type", "row_shape", "values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ROW_SHAPE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    element_type: str
    row_shape: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., element_type: _Optional[str] = ..., row_shape: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class UsedFeature(_message.Message):
    __slots__ = ("feature", "statuses")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    feature: _types_pb2.ResolvedFeature
    statuses: _containers.RepeatedScalarFieldContainer[_types_pb2.FeatureStatus]
    def __init__(self, feature: _Optional[_Union[_types_pb2.ResolvedFeature, _Mapping]] = ..., statuses: _Optional[_Iterable[_Union[_types_pb2.FeatureStatus, str]]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("request_id", "model_version", "outputs", "used_features", "role")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    USED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model_version: str
    outputs: _containers.RepeatedCompositeFieldContainer[OutputColumn]
    used_features: _containers.RepeatedCompositeFieldContainer[UsedFeature]
    role: str
    def __init__(self, request_id: _Optional[str] = ..., model_version: _Optional[str] = ..., outputs: _Optional[_Iterable[_Union[OutputColumn, _Mapping]]] = ..., used_features: _Optional[_Iterable[_Union[UsedFeature, _Mapping]]] = ..., role: _Optional[str] = ...) -> None: ...
