"""Event streams and aggregated features given the Python way: stream fields and feature specs
(plain types, or aggregations by function name) as registry messages, and events as EventRow
messages. docs/streaming.md has the window rule and what each aggregation function returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Union

from google.protobuf import timestamp_pb2

from sluice._errors import SluiceArgumentError
from sluice._values import to_duration, to_timestamp, to_value, value_type
from sluice.v1 import ingestion_pb2, registry_pb2, types_pb2

# The aggregation functions by their short names, as the TypeScript SDK and docs/streaming.md spell them.
AGGREGATION_FUNCTIONS = {
    "count": registry_pb2.AGGREGATION_FUNCTION_COUNT,
    "sum": registry_pb2.AGGREGATION_FUNCTION_SUM,
    "mean": registry_pb2.AGGREGATION_FUNCTION_MEAN,
    "min": registry_pb2.AGGREGATION_FUNCTION_MIN,
    "max": registry_pb2.AGGREGATION_FUNCTION_MAX,
    "variance": registry_pb2.AGGREGATION_FUNCTION_VARIANCE,
    "stddev": registry_pb2.AGGREGATION_FUNCTION_STDDEV,
    "first": registry_pb2.AGGREGATION_FUNCTION_FIRST,
    "last": registry_pb2.AGGREGATION_FUNCTION_LAST,
    "last_n": registry_pb2.AGGREGATION_FUNCTION_LAST_N,
    "count_distinct": registry_pb2.AGGREGATION_FUNCTION_COUNT_DISTINCT,
}

_AGGREGATION_KEYS = ("function", "field", "window_seconds", "k", "filter")
_FEATURE_KEYS = ("type", "aggregation", "description", "tags")

# One aggregation: {"function": "sum", "field": "amount", "window_seconds": 7 * 86_400, "k": ..., "filter": ...}
# (only "function" is required; no window means lifetime), or an Aggregation message.
AggregationLike = Union[Mapping[str, Any], registry_pb2.Aggregation]
# One feature of a feature view: a type name ("int64"), or {"type": ..., "aggregation": ...,
# "description": ..., "tags": ...} where an aggregated feature may leave its type to the server.
FeatureSpec = Union[str, int, Mapping[str, Any]]
# One event: {"entity_key": {...}, "event_time": datetime, "fields": {...}, "created_time": datetime}, or an EventRow.
EventLike = Union[Mapping[str, Any], ingestion_pb2.EventRow]


def aggregation_function(name: str | int, field: str = "function") -> int:
    """"sum" (or "SUM", "AGGREGATION_FUNCTION_SUM", or the enum number) -> sluice.v1.AggregationFunction."""
    if isinstance(name, int) and not isinstance(name, bool):
        return name
    key = name.lower().removeprefix("aggregation_function_") if isinstance(name, str) else None
    if key not in AGGREGATION_FUNCTIONS:
        raise SluiceArgumentError.for_argument(
            field, f"{name!r} is not an aggregation function; expected one of {', '.join(AGGREGATION_FUNCTIONS)}"
        )
    return AGGREGATION_FUNCTIONS[key]


def aggregation(spec: AggregationLike, field: str = "aggregation") -> registry_pb2.Aggregation:
    """An aggregation spec as an Aggregation message; `field` names it in errors."""
    if isinstance(spec, registry_pb2.Aggregation):
        return spec
    if not isinstance(spec, Mapping):
        raise SluiceArgumentError.for_argument(field, f'must be {{"function": ..., "field": ..., "window_seconds": ...}}, not {spec!r:.80}')
    _refuse_unknown_keys(spec, _AGGREGATION_KEYS, field)
    if "function" not in spec:
        raise SluiceArgumentError.for_argument(f"{field}.function", f"is required: one of {', '.join(AGGREGATION_FUNCTIONS)}")
    window = spec.get("window_seconds") or 0
    return registry_pb2.Aggregation(
        function=aggregation_function(spec["function"], f"{field}.function"),
        field=spec.get("field", ""),
        # Unset means lifetime.
        window=to_duration(window) if window else None,
        k=spec.get("k", 0),
        filter=spec.get("filter", ""),
    )


def feature(name: str, spec: FeatureSpec | registry_pb2.Feature) -> registry_pb2.Feature:
    """One feature of a feature view from its spec: a type name, or a mapping with a type and/or an
    aggregation (an aggregated feature without a type is sent UNSPECIFIED: the server fills in the
    aggregation's result type)."""
    if isinstance(spec, registry_pb2.Feature):
        return spec
    if isinstance(spec, (str, int)):
        return registry_pb2.Feature(name=name, type=value_type(spec))
    at = f"features[{name!r}]"
    if not isinstance(spec, Mapping):
        raise SluiceArgumentError.for_argument(at, f'must be a type name or {{"type": ..., "aggregation": ...}}, not {spec!r:.80}')
    _refuse_unknown_keys(spec, _FEATURE_KEYS, at)
    if "type" not in spec and "aggregation" not in spec:
        raise SluiceArgumentError.for_argument(f"{at}.type", "is required unless the feature has an aggregation")
    return registry_pb2.Feature(
        name=name,
        type=value_type(spec["type"]) if "type" in spec else types_pb2.VALUE_TYPE_UNSPECIFIED,
        description=spec.get("description", ""),
        tags=dict(spec.get("tags") or {}),
        aggregation=aggregation(spec["aggregation"], f"{at}.aggregation") if "aggregation" in spec else None,
    )


def features(specs: Mapping[str, FeatureSpec] | Sequence[registry_pb2.Feature]) -> list[registry_pb2.Feature]:
    """A feature view's features: name -> spec (see `feature`), or Feature messages as they are."""
    if isinstance(specs, Mapping):
        return [feature(name, spec) for name, spec in specs.items()]
    return list(specs)


def stream_fields(fields: Mapping[str, str | int] | Sequence[registry_pb2.StreamField]) -> list[registry_pb2.StreamField]:
    """An event stream's fields: name -> type name ("double"), or StreamField messages as they are."""
    if isinstance(fields, Mapping):
        return [registry_pb2.StreamField(name=name, type=value_type(t)) for name, t in fields.items()]
    return list(fields)


def event_row(event: EventLike) -> ingestion_pb2.EventRow:
    """{"entity_key": {...}, "event_time": datetime, "fields": {...}} as an EventRow (values are
    encoded by to_value; a field left out is null). An optional "created_time" (datetime) is when the
    source system recorded the event; left out, the server's receipt time."""
    if isinstance(event, ingestion_pb2.EventRow):
        return event
    if not isinstance(event, Mapping) or "entity_key" not in event or "event_time" not in event:
        raise SluiceArgumentError.for_argument(
            "events", f'an event is {{"entity_key": {{...}}, "event_time": datetime, "fields": {{...}}}} or an EventRow, not {event!r:.80}'
        )
    _refuse_unknown_keys(event, ("entity_key", "event_time", "fields", "created_time"), "events")
    event_time: datetime | timestamp_pb2.Timestamp = event["event_time"]
    created_time = event.get("created_time")
    return ingestion_pb2.EventRow(
        entity_key={k: to_value(v) for k, v in event["entity_key"].items()},
        event_time=to_timestamp(event_time),
        fields={k: to_value(v) for k, v in (event.get("fields") or {}).items()},
        created_time=None if created_time is None else to_timestamp(created_time),
    )


def _refuse_unknown_keys(spec: Mapping[str, Any], known: Sequence[str], field: str) -> None:
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise SluiceArgumentError.for_argument(field, f"has {', '.join(map(str, unknown))}; expected only {', '.join(known)}")
