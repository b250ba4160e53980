"""GetOnlineFeatures answers as plain rows, or as a pyarrow table when pyarrow is installed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sluice._values import _EPOCH, from_timestamp, from_value
from sluice.v1 import online_pb2, types_pb2

STATUS_SUFFIX = "__status"
EVENT_TIME_SUFFIX = "__event_time"


def status_name(status: int) -> str:
    """FEATURE_STATUS_PRESENT -> "PRESENT"."""
    return types_pb2.FeatureStatus.Name(status).removeprefix("FEATURE_STATUS_")


def online_rows(
    entities: Mapping[str, Sequence[Any]], response: online_pb2.GetOnlineFeaturesResponse, with_metadata: bool
) -> list[dict[str, Any]]:
    """One dict per entity row: its join keys, then each feature's value, and (with_metadata) the
    feature's status as `{name}__status` ("PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE")
    and its event time as `{name}__event_time` (None where nothing was ever written)."""
    count = len(next(iter(entities.values()), []))
    rows: list[dict[str, Any]] = [{key: values[i] for key, values in entities.items()} for i in range(count)]
    for name, column in zip(response.feature_names, response.columns):
        for i, row in enumerate(rows):
            row[name] = from_value(column.values[i])
            if with_metadata:
                row[name + STATUS_SUFFIX] = status_name(column.statuses[i])
                event_time = from_timestamp(column.event_times[i])
                row[name + EVENT_TIME_SUFFIX] = None if event_time == _EPOCH else event_time
    return rows


def _arrow_type(pa: Any, value_type: int) -> Any:
    scalar = {
        types_pb2.VALUE_TYPE_INT32: pa.int32(),
        types_pb2.VALUE_TYPE_INT64: pa.int64(),
        types_pb2.VALUE_TYPE_FLOAT: pa.float32(),
        types_pb2.VALUE_TYPE_DOUBLE: pa.float64(),
        types_pb2.VALUE_TYPE_BOOL: pa.bool_(),
        types_pb2.VALUE_TYPE_STRING: pa.string(),
        types_pb2.VALUE_TYPE_BYTES: pa.binary(),
        types_pb2.VALUE_TYPE_TIMESTAMP: pa.timestamp("us", tz="UTC"),
        types_pb2.VALUE_TYPE_INT64_LIST: pa.list_(pa.int64()),
        types_pb2.VALUE_TYPE_FLOAT_LIST: pa.list_(pa.float32()),
        types_pb2.VALUE_TYPE_DOUBLE_LIST: pa.list_(pa.float64()),
        types_pb2.VALUE_TYPE_STRING_LIST: pa.list_(pa.string()),
    }
    return scalar.get(value_type)


def online_table(
    entities: Mapping[str, Sequence[Any]], response: online_pb2.GetOnlineFeaturesResponse, with_metadata: bool
) -> Any:
    """The same columns as online_rows, as a pyarrow.Table typed from the features' declared types."""
    try:
        import pyarrow as pa
    except ImportError as error:
        raise ImportError("as_table=True needs pyarrow: pip install 'sluice-client[arrow]'") from error
    columns: dict[str, Any] = {key: pa.array(list(values)) for key, values in entities.items()}
    for name, column, resolved in zip(response.feature_names, response.columns, response.resolved_features):
        columns[name] = pa.array([from_value(v) for v in column.values], type=_arrow_type(pa, resolved.type))
        if with_metadata:
            columns[name + STATUS_SUFFIX] = pa.array([status_name(s) for s in column.statuses], type=pa.string())
            times = [from_timestamp(t) for t in column.event_times]
            columns[name + EVENT_TIME_SUFFIX] = pa.array(
                [None if t == _EPOCH else t for t in times], type=pa.timestamp("us", tz="UTC")
            )
    return pa.table(columns)
