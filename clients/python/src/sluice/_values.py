"""Python values <-> sluice.v1.Value, and the friendly type names the client accepts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Union

from google.protobuf import duration_pb2, timestamp_pb2

from sluice._errors import SluiceArgumentError
from sluice.v1 import types_pb2

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

VALUE_TYPES = {
    "int32": types_pb2.VALUE_TYPE_INT32,
    "int64": types_pb2.VALUE_TYPE_INT64,
    "float": types_pb2.VALUE_TYPE_FLOAT,
    "double": types_pb2.VALUE_TYPE_DOUBLE,
    "bool": types_pb2.VALUE_TYPE_BOOL,
    "string": types_pb2.VALUE_TYPE_STRING,
    "bytes": types_pb2.VALUE_TYPE_BYTES,
    "timestamp": types_pb2.VALUE_TYPE_TIMESTAMP,
    "int64_list": types_pb2.VALUE_TYPE_INT64_LIST,
    "float_list": types_pb2.VALUE_TYPE_FLOAT_LIST,
    "double_list": types_pb2.VALUE_TYPE_DOUBLE_LIST,
    "string_list": types_pb2.VALUE_TYPE_STRING_LIST,
}


def value_type(name: str | int) -> int:
    """"int64" (or "INT64", "VALUE_TYPE_INT64", or the enum number) -> sluice.v1.ValueType."""
    if isinstance(name, int):
        return name
    key = name.lower().removeprefix("value_type_")
    if key not in VALUE_TYPES:
        raise SluiceArgumentError.for_argument("type", f"{name!r} is not a value type; expected one of {', '.join(VALUE_TYPES)}")
    return VALUE_TYPES[key]


@dataclass(frozen=True)
class Int32:
    """An int sent as int32 (a plain int is sent as int64, which an INT32 feature does not accept)."""

    value: int


@dataclass(frozen=True)
class Float:
    """A float sent as a 32-bit float (a plain float is sent as a double; FLOAT features accept both)."""

    value: float


@dataclass(frozen=True)
class FloatList:
    """A list sent as a list of 32-bit floats (embeddings)."""

    values: Sequence[float]


Scalar = Union[None, bool, int, float, str, bytes, datetime]
PyValue = Union[Scalar, Sequence[Any], Int32, Float, FloatList, types_pb2.Value]


def to_timestamp(when: datetime | timestamp_pb2.Timestamp) -> timestamp_pb2.Timestamp:
    """A datetime (naive ones are taken as UTC) as a protobuf Timestamp."""
    if isinstance(when, timestamp_pb2.Timestamp):
        return when
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return timestamp_pb2.Timestamp(seconds=micros // 1_000_000, nanos=(micros % 1_000_000) * 1000)


def to_duration(seconds: float) -> duration_pb2.Duration:
    """Seconds (fractions included) as a protobuf Duration."""
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


def from_timestamp(ts: timestamp_pb2.Timestamp) -> datetime:
    """A protobuf Timestamp as an aware UTC datetime (to the microsecond, rounded down)."""
    # Arithmetic rather than Timestamp.ToDatetime, which costs several times more: online reads
    # decode an event time per feature.
    return _EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


def to_value(value: PyValue) -> types_pb2.Value:
    """Encodes a Python value: None is null; bool, int (int64), float (double), str, bytes and
    datetime map to their kinds; lists of ints, floats or strings to the list kinds. Wrap a value
    in Int32, Float or FloatList for those types, or pass a sluice.v1.Value as it is."""
    if isinstance(value, types_pb2.Value):
        return value
    if value is None:
        return types_pb2.Value()
    if isinstance(value, bool):
        return types_pb2.Value(bool_value=value)
    if isinstance(value, int):
        return types_pb2.Value(int64_value=value)
    if isinstance(value, float):
        return types_pb2.Value(double_value=value)
    if isinstance(value, str):
        return types_pb2.Value(string_value=value)
    if isinstance(value, (bytes, bytearray)):
        return types_pb2.Value(bytes_value=bytes(value))
    if isinstance(value, datetime):
        return types_pb2.Value(timestamp_value=to_timestamp(value))
    if isinstance(value, Int32):
        return types_pb2.Value(int32_value=value.value)
    if isinstance(value, Float):
        return types_pb2.Value(float_value=value.value)
    if isinstance(value, FloatList):
        return types_pb2.Value(float_list_value=types_pb2.FloatList(values=list(value.values)))
    if isinstance(value, (list, tuple)):
        items = list(value)
        if all(isinstance(v, str) for v in items) and items:
            return types_pb2.Value(string_list_value=types_pb2.StringList(values=items))
        if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return types_pb2.Value(int64_list_value=types_pb2.Int64List(values=items))
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            return types_pb2.Value(double_list_value=types_pb2.DoubleList(values=[float(v) for v in items]))
        raise TypeError(f"a list value must hold only ints, only numbers or only strings: {value!r}")
    raise TypeError(f"cannot send a {type(value).__name__} as a Sluice value: {value!r}")


# How a Value's kind decodes when it is not the member itself: timestamps and lists.
_DECODERS: dict[str, Any] = {
    "timestamp_value": lambda value: from_timestamp(value.timestamp_value),
    "int64_list_value": lambda value: list(value.int64_list_value.values),
    "float_list_value": lambda value: list(value.float_list_value.values),
    "double_list_value": lambda value: list(value.double_list_value.values),
    "string_list_value": lambda value: list(value.string_list_value.values),
}


def from_value(value: types_pb2.Value) -> Any:
    """Decodes a sluice.v1.Value: null is None, timestamps are aware UTC datetimes, lists are lists."""
    kind = value.WhichOneof("kind")
    if kind is None:
        return None
    decode = _DECODERS.get(kind)
    return getattr(value, kind) if decode is None else decode(value)
