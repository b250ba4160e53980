import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluice.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApplyOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPLY_OUTCOME_UNSPECIFIED: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_CREATED: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_UNCHANGED: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_NEW_VERSION: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_UPDATED: _ClassVar[ApplyOutcome]

class Compatibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPATIBILITY_UNSPECIFIED: _ClassVar[Compatibility]
    COMPATIBILITY_COMPATIBLE: _ClassVar[Compatibility]
    COMPATIBILITY_BREAKING: _ClassVar[Compatibility]

class AggregationFunction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGGREGATION_FUNCTION_UNSPECIFIED: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_COUNT: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_SUM: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_MEAN: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_MIN: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_MAX: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_VARIANCE: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_STDDEV: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_FIRST: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_LAST: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_LAST_N: _ClassVar[AggregationFunction]
    AGGREGATION_FUNCTION_COUNT_DISTINCT: _ClassVar[AggregationFunction]

class FeatureViewState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEATURE_VIEW_STATE_UNSPECIFIED: _ClassVar[FeatureViewState]
    FEATURE_VIEW_STATE_ACTIVE: _ClassVar[FeatureViewState]
    FEATURE_VIEW_STATE_DEPRECATED: _ClassVar[FeatureViewState]

class HistoryOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HISTORY_OUTCOME_UNSPECIFIED: _ClassVar[HistoryOutcome]
    HISTORY_OUTCOME_STARTS_EMPTY: _ClassVar[HistoryOutcome]
    HISTORY_OUTCOME_SHARED: _ClassVar[HistoryOutcome]
APPLY_OUTCOME_UNSPECIFIED: ApplyOutcome
APPLY_OUTCOME_CREATED: ApplyOutcome
APPLY_OUTCOME_UNCHANGED: ApplyOutcome
APPLY_OUTCOME_NEW_VERSION: ApplyOutcome
APPLY_OUTCOME_UPDATED: ApplyOutcome
COMPATIBILITY_UNSPECIFIED: Compatibility
COMPATIBILITY_COMPATIBLE: Compatibility
COMPATIBILITY_BREAKING: Compatibility
AGGREGATION_FUNCTION_UNSPECIFIED: AggregationFunction
AGGREGATION_FUNCTION_COUNT: AggregationFunction
AGGREGATION_FUNCTION_SUM: AggregationFunction
AGGREGATION_FUNCTION_MEAN: AggregationFunction
AGGREGATION_FUNCTION_MIN: AggregationFunction
AGGREGATION_FUNCTION_MAX: AggregationFunction
AGGREGATION_FUNCTION_VARIANCE: AggregationFunction
AGGREGATION_FUNCTION_STDDEV: AggregationFunction
AGGREGATION_FUNCTION_FIRST: AggregationFunction
AGGREGATION_FUNCTION_LAST: AggregationFunction
AGGREGATION_FUNCTION_LAST_N: AggregationFunction
AGGREGATION_FUNCTION_COUNT_DISTINCT: AggregationFunction
FEATURE_VIEW_STATE_UNSPECIFIED: FeatureViewState
FEATURE_VIEW_STATE_ACTIVE: FeatureViewState
FEATURE_VIEW_STATE_DEPRECATED: FeatureViewState
HISTORY_OUTCOME_UNSPECIFIED: HistoryOutcome
HISTORY_OUTCOME_STARTS_EMPTY: HistoryOutcome
HISTORY_OUTCOME_SHARED: HistoryOutcome

class Project(_message.Message):
    __slots__ = ("name", "description", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class CreateProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class GetProjectRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetProjectResponse(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProjectsResponse(_message.Message):
    __slots__ = ("projects", "next_page_token")
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    next_page_token: str
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class JoinKey(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _types_pb2.ValueType
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_types_pb2.ValueType, str]] = ...) -> None: ...

class Entity(_message.Message):
    __slots__ = ("name", "join_keys", "description", "owner", "tags", "create_time", "update_time")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    JOIN_KEYS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    join_keys: _containers.RepeatedCompositeFieldContainer[JoinKey]
    description: str
    owner: str
    tags: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., join_keys: _Optional[_Iterable[_Union[JoinKey, _Mapping]]] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApplyEntityRequest(_message.Message):
    __slots__ = ("entity", "validate_only")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    entity: Entity
    validate_only: bool
    def __init__(self, entity: _Optional[_Union[Entity, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class ApplyEntityResponse(_message.Message):
    __slots__ = ("entity", "outcome")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    entity: Entity
    outcome: ApplyOutcome
    def __init__(self, entity: _Optional[_Union[Entity, _Mapping]] = ..., outcome: _Optional[_Union[ApplyOutcome, str]] = ...) -> None: ...

class GetEntityRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetEntityResponse(_message.Message):
    __slots__ = ("entity",)
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    entity: Entity
    def __init__(self, entity: _Optional[_Union[Entity, _Mapping]] = ...) -> None: ...

class ListEntitiesRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEntitiesResponse(_message.Message):
    __slots__ = ("entities", "next_page_token")
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    next_page_token: str
    def __init__(self, entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("name", "type", "description", "tags", "aggregation")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _types_pb2.ValueType
    description: str
    tags: _containers.ScalarMap[str, str]
    aggregation: Aggregation
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_types_pb2.ValueType, str]] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., aggregation: _Optional[_Union[Aggregation, _Mapping]] = ...) -> None: ...

class Aggregation(_message.Message):
    __slots__ = ("function", "field", "window", "k", "filter")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    function: AggregationFunction
    field: str
    window: _duration_pb2.Duration
    k: int
    filter: str
    def __init__(self, function: _Optional[_Union[AggregationFunction, str]] = ..., field: _Optional[str] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., k: _Optional[int] = ..., filter: _Optional[str] = ...) -> None: ...

class FeatureView(_message.Message):
    __slots__ = ("name", "version", "entity", "features", "ttl", "description", "owner", "tags", "state", "compatibility", "changes", "create_time", "deprecate_time", "history_version", "stream", "stream_version", "log_served_values")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DEPRECATE_TIME_FIELD_NUMBER: _ClassVar[int]
    HISTORY_VERSION_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    STREAM_VERSION_FIELD_NUMBER: _ClassVar[int]
    LOG_SERVED_VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    entity: str
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    ttl: _duration_pb2.Duration
    description: str
    owner: str
    tags: _containers.ScalarMap[str, str]
    state: FeatureViewState
    compatibility: Compatibility
    changes: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    deprecate_time: _timestamp_pb2.Timestamp
    history_version: int
    stream: str
    stream_version: int
    log_served_values: bool
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., entity: _Optional[str] = ..., features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., state: _Optional[_Union[FeatureViewState, str]] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ..., changes: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deprecate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history_version: _Optional[int] = ..., stream: _Optional[str] = ..., stream_version: _Optional[int] = ..., log_served_values: _Optional[bool] = ...) -> None: ...

class ApplyFeatureViewRequest(_message.Message):
    __slots__ = ("feature_view", "validate_only")
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    feature_view: FeatureView
    validate_only: bool
    def __init__(self, feature_view: _Optional[_Union[FeatureView, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class ApplyFeatureViewResponse(_message.Message):
    __slots__ = ("feature_view", "outcome", "compatibility", "changes", "history")
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    feature_view: FeatureView
    outcome: ApplyOutcome
    compatibility: Compatibility
    changes: _containers.RepeatedScalarFieldContainer[str]
    history: HistoryOutcome
    def __init__(self, feature_view: _Optional[_Union[FeatureView, _Mapping]] = ..., outcome: _Optional[_Union[ApplyOutcome, str]] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ..., changes: _Optional[_Iterable[str]] = ..., history: _Optional[_Union[HistoryOutcome, str]] = ...) -> None: ...

class GetFeatureViewRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetFeatureViewResponse(_message.Message):
    __slots__ = ("feature_view",)
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    feature_view: FeatureView
    def __init__(self, feature_view: _Optional[_Union[FeatureView, _Mapping]] = ...) -> None: ...

class ListFeatureViewsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token", "show_deprecated")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SHOW_DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    show_deprecated: bool
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., show_deprecated: _Optional[bool] = ...) -> None: ...

class ListFeatureViewsResponse(_message.Message):
    __slots__ = ("feature_views", "next_page_token")
    FEATURE_VIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    feature_views: _containers.RepeatedCompositeFieldContainer[FeatureView]
    next_page_token: str
    def __init__(self, feature_views: _Optional[_Iterable[_Union[FeatureView, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListFeatureViewVersionsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFeatureViewVersionsResponse(_message.Message):
    __slots__ = ("feature_views", "next_page_token")
    FEATURE_VIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    feature_views: _containers.RepeatedCompositeFieldContainer[FeatureView]
    next_page_token: str
    def __init__(self, feature_views: _Optional[_Iterable[_Union[FeatureView, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteFeatureViewRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteFeatureViewResponse(_message.Message):
    __slots__ = ("feature_view",)
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    feature_view: FeatureView
    def __init__(self, feature_view: _Optional[_Union[FeatureView, _Mapping]] = ...) -> None: ...

class FeatureService(_message.Message):
    __slots__ = ("name", "version", "features", "description", "owner", "tags", "compatibility", "changes", "create_time", "request_inputs", "derived_features")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_INPUTS_FIELD_NUMBER: _ClassVar[int]
    DERIVED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    features: _containers.RepeatedScalarFieldContainer[str]
    description: str
    owner: str
    tags: _containers.ScalarMap[str, str]
    compatibility: Compatibility
    changes: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    request_inputs: _containers.RepeatedCompositeFieldContainer[RequestInput]
    derived_features: _containers.RepeatedCompositeFieldContainer[DerivedFeature]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ..., changes: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_inputs: _Optional[_Iterable[_Union[RequestInput, _Mapping]]] = ..., derived_features: _Optional[_Iterable[_Union[DerivedFeature, _Mapping]]] = ...) -> None: ...

class RequestInput(_message.Message):
    __slots__ = ("name", "type", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _types_pb2.ValueType
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_types_pb2.ValueType, str]] = ..., description: _Optional[str] = ...) -> None: ...

class DerivedFeature(_message.Message):
    __slots__ = ("name", "expression", "description", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    expression: str
    description: str
    type: _types_pb2.ValueType
    def __init__(self, name: _Optional[str] = ..., expression: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[_types_pb2.ValueType, str]] = ...) -> None: ...

class ApplyFeatureServiceRequest(_message.Message):
    __slots__ = ("feature_service", "validate_only")
    FEATURE_SERVICE_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    feature_service: FeatureService
    validate_only: bool
    def __init__(self, feature_service: _Optional[_Union[FeatureService, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class ApplyFeatureServiceResponse(_message.Message):
    __slots__ = ("feature_service", "outcome", "compatibility", "changes")
    FEATURE_SERVICE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    feature_service: FeatureService
    outcome: ApplyOutcome
    compatibility: Compatibility
    changes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, feature_service: _Optional[_Union[FeatureService, _Mapping]] = ..., outcome: _Optional[_Union[ApplyOutcome, str]] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ..., changes: _Optional[_Iterable[str]] = ...) -> None: ...

class GetFeatureServiceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetFeatureServiceResponse(_message.Message):
    __slots__ = ("feature_service",)
    FEATURE_SERVICE_FIELD_NUMBER: _ClassVar[int]
    feature_service: FeatureService
    def __init__(self, feature_service: _Optional[_Union[FeatureService, _Mapping]] = ...) -> None: ...

class ListFeatureServicesRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFeatureServicesResponse(_message.Message):
    __slots__ = ("feature_services", "next_page_token")
    FEATURE_SERVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    feature_services: _containers.RepeatedCompositeFieldContainer[FeatureService]
    next_page_token: str
    def __init__(self, feature_services: _Optional[_Iterable[_Union[FeatureService, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListFeatureServiceVersionsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFeatureServiceVersionsResponse(_message.Message):
    __slots__ = ("feature_services", "next_page_token")
    FEATURE_SERVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    feature_services: _containers.RepeatedCompositeFieldContainer[FeatureService]
    next_page_token: str
    def __init__(self, feature_services: _Optional[_Iterable[_Union[FeatureService, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ResolveFeaturesRequest(_message.Message):
    __slots__ = ("project", "features", "feature_service")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SERVICE_FIELD_NUMBER: _ClassVar[int]
    project: str
    features: _containers.RepeatedScalarFieldContainer[str]
    feature_service: str
    def __init__(self, project: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., feature_service: _Optional[str] = ...) -> None: ...

class ResolveFeaturesResponse(_message.Message):
    __slots__ = ("features", "join_keys")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    JOIN_KEYS_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[_types_pb2.ResolvedFeature]
    join_keys: _containers.RepeatedCompositeFieldContainer[JoinKey]
    def __init__(self, features: _Optional[_Iterable[_Union[_types_pb2.ResolvedFeature, _Mapping]]] = ..., join_keys: _Optional[_Iterable[_Union[JoinKey, _Mapping]]] = ...) -> None: ...

class StreamField(_message.Message):
    __slots__ = ("name", "type", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _types_pb2.ValueType
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_types_pb2.ValueType, str]] = ..., description: _Optional[str] = ...) -> None: ...

class EventStream(_message.Message):
    __slots__ = ("name", "version", "entity", "fields", "event_time_field", "granularity", "allowed_lateness", "retention", "description", "owner", "tags", "state", "compatibility", "changes", "create_time", "history_version")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_LATENESS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    HISTORY_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    entity: str
    fields: _containers.RepeatedCompositeFieldContainer[StreamField]
    event_time_field: str
    granularity: _duration_pb2.Duration
    allowed_lateness: _duration_pb2.Duration
    retention: _duration_pb2.Duration
    description: str
    owner: str
    tags: _containers.ScalarMap[str, str]
    state: FeatureViewState
    compatibility: Compatibility
    changes: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    history_version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., entity: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[StreamField, _Mapping]]] = ..., event_time_field: _Optional[str] = ..., granularity: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., allowed_lateness: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., state: _Optional[_Union[FeatureViewState, str]] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ..., changes: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history_version: _Optional[int] = ...) -> None: ...

class ApplyEventStreamRequest(_message.Message):
    __slots__ = ("event_stream", "validate_only")
    EVENT_STREAM_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    event_stream: EventStream
    validate_only: bool
    def __init__(self, event_stream: _Optional[_Union[EventStream, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class ApplyEventStreamResponse(_message.Message):
    __slots__ = ("event_stream", "outcome", "compatibility", "changes", "history")
    EVENT_STREAM_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    event_stream: EventStream
    outcome: ApplyOutcome
    compatibility: Compatibility
    changes: _containers.RepeatedScalarFieldContainer[str]
    history: HistoryOutcome
    def __init__(self, event_stream: _Optional[_Union[EventStream, _Mapping]] = ..., outcome: _Optional[_Union[ApplyOutcome, str]] = ..., compatibility: _Optional[_Union[Compatibility, str]] = ..., changes: _Optional[_Iterable[str]] = ..., history: _Optional[_Union[HistoryOutcome, str]] = ...) -> None: ...

class GetEventStreamRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetEventStreamResponse(_message.Message):
    __slots__ = ("event_stream",)
    EVENT_STREAM_FIELD_NUMBER: _ClassVar[int]
    event_stream: EventStream
    def __init__(self, event_stream: _Optional[_Union[EventStream, _Mapping]] = ...) -> None: ...

class ListEventStreamsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventStreamsResponse(_message.Message):
    __slots__ = ("event_streams", "next_page_token")
    EVENT_STREAMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    event_streams: _containers.RepeatedCompositeFieldContainer[EventStream]
    next_page_token: str
    def __init__(self, event_streams: _Optional[_Iterable[_Union[EventStream, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListEventStreamVersionsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventStreamVersionsResponse(_message.Message):
    __slots__ = ("event_streams", "next_page_token")
    EVENT_STREAMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    event_streams: _containers.RepeatedCompositeFieldContainer[EventStream]
    next_page_token: str
    def __init__(self, event_streams: _Optional[_Iterable[_Union[EventStream, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
