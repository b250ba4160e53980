"""GetOnlineFeatures requests, and their answers as plain rows or as a pyarrow table (when pyarrow is installed).

The client asks for the typed flat layout (ONLINE_RESPONSE_LAYOUT_FLAT_TYPED): the values of each
scalar type in one packed array, a Value message only for timestamps and lists, statuses and event
times packed. Python's protobuf runtime pays per message it hands out: the columns layout (a
FeatureColumn and a Timestamp per value) cost about twice as much to turn into rows as the flat
layout (a Value per cell), and an answer of 100 entity rows × 10 features takes about a third of
the time typed that it took flat (docs/benchmarks.md has the figures)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, NamedTuple

import grpc

from sluice._errors import SluiceError
from sluice._values import _EPOCH, from_value, to_value
from sluice.v1 import online_pb2, types_pb2

STATUS_SUFFIX = "__status"
EVENT_TIME_SUFFIX = "__event_time"


# "PRESENT", "NULL_VALUE", ... by FeatureStatus number, computed once rather than per value.
_STATUS_NAMES = {status.number: status.name.removeprefix("FEATURE_STATUS_") for status in types_pb2.FeatureStatus.DESCRIPTOR.values}


def status_name(status: int) -> str:
    """FEATURE_STATUS_PRESENT -> "PRESENT"; a status newer than this client, as its number ("9")."""
    name = _STATUS_NAMES.get(status)
    return name if name is not None else str(status)


class OnlineRequests:
    """Builds GetOnlineFeatures requests. The part a service repeats on every call (project, feature
    refs, options) is built once per selection and copied; only the entity columns are encoded per
    call. Building the whole message anew costs about twice as much, which on a 1-entity read is a
    few percent of the call."""

    #: Selections kept; more are dropped all at once (a service reads a handful of selections).
    CAPACITY = 256

    def __init__(self) -> None:
        self._templates: dict[tuple[str, tuple[str, ...], str, bool], online_pb2.GetOnlineFeaturesRequest] = {}

    def build(
        self,
        project: str,
        features: Sequence[str],
        entities: Mapping[str, Sequence[Any]] | None,
        feature_service: str,
        full_feature_names: bool,
    ) -> tuple[online_pb2.GetOnlineFeaturesRequest, dict[str, list[Any]]]:
        """The request for entity rows given as columns ({"customer_id": [1, 2]}), and those columns
        as lists (the answer's rows start with them)."""
        refs = features if type(features) is tuple else tuple(features)
        key = (project, refs, feature_service, full_feature_names)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= self.CAPACITY:
                self._templates.clear()
            template = self._templates[key] = online_pb2.GetOnlineFeaturesRequest(
                project=project,
                features=refs,
                feature_service=feature_service,
                full_feature_names=full_feature_names,
                layout=online_pb2.ONLINE_RESPONSE_LAYOUT_FLAT_TYPED,
            )
        request = online_pb2.GetOnlineFeaturesRequest()
        request.CopyFrom(template)
        columns: dict[str, list[Any]] = {}
        for name, values in (entities or {}).items():
            values = columns[name] = list(values)
            add = request.entities[name].values.add
            for value in values:
                # Ints and strings, the usual join keys, are set in place; anything else as to_value encodes it.
                kind = type(value)
                if kind is int:
                    add(int64_value=value)
                elif kind is str:
                    add(string_value=value)
                else:
                    add().CopyFrom(to_value(value))
        return request, columns


def online_answer(
    columns: Mapping[str, Sequence[Any]],
    response: online_pb2.GetOnlineFeaturesResponse,
    with_metadata: bool,
    as_table: bool,
    first: int = 0,
    total: int | None = None,
    checked: CheckedAnswer | None = None,
) -> Any:
    """The answer as get_online_features returns it: rows, or a pyarrow.Table with as_table. `columns`
    are the entity rows `first` on of a response to `total` rows (all of it by default): a coalesced
    read (sluice._coalesce) answers each of its calls from its own rows of one response, checked once
    (`checked`, from check_online_answer)."""
    count = len(next(iter(columns.values()), []))
    answer = checked or check_online_answer(response, count if total is None else total)
    if count == 1 and not as_table:
        return [_one_row(columns, answer, with_metadata, first)]
    return (online_table if as_table else online_rows)(columns, answer, with_metadata, first)


class CheckedAnswer(NamedTuple):
    """A GetOnlineFeaturesResponse whose fields fit its cells (check_online_answer), with what reading
    it needs: FlatFeatureValues' arrays in _ARRAYS order, where each feature's cells are (_plan), its
    null cells and its number of entity rows."""

    response: online_pb2.GetOnlineFeaturesResponse
    arrays: tuple[Any, ...]
    places: tuple[tuple[int, int], ...]
    nulls: list[int]
    total: int


def check_online_answer(response: online_pb2.GetOnlineFeaturesResponse, total: int) -> CheckedAnswer:
    """The response to `total` entity rows, checked: SluiceError UNIMPLEMENTED from a server older
    than the layouts (or with a value type newer than this client), INTERNAL/ONLINE_ANSWER_MALFORMED
    when a field does not fit the cells (they are found by position: a short field would shift values
    into other features or rows)."""
    if not response.HasField("flat") and len(response.columns):
        # A server older than response layouts answers in columns: its values would read as none.
        raise SluiceError(
            code=grpc.StatusCode.UNIMPLEMENTED,
            message="the server answered GetOnlineFeatures without the typed flat layout this client asks for "
            "(ONLINE_RESPONSE_LAYOUT_FLAT_TYPED): it is older than this client; upgrade the server",
            reason="ONLINE_LAYOUT_UNSUPPORTED",
        )
    flat = response.flat
    features, value_types = len(response.feature_names), flat.value_types
    places, stored = _plan(value_types)
    arrays = (flat.values, flat.int64_values, flat.double_values, flat.bool_values, flat.string_values, flat.bytes_values)
    held = tuple(map(len, arrays))
    nulls = list(flat.null_cells)
    cells = features * total
    if (
        len(value_types) != features
        or held != tuple(features_stored * total for features_stored in stored)
        or not len(flat.statuses) == len(flat.event_time_micros) == cells
        or (nulls and (nulls[-1] >= cells or any(later <= earlier for earlier, later in zip(nulls, nulls[1:]))))
    ):
        raise SluiceError(
            code=grpc.StatusCode.INTERNAL,
            message=f"the server's answer does not fit its {cells} cells ({features} features × {total} entity rows): "
            f"{len(value_types)} value types {list(value_types)[:20]}, arrays of {dict(zip(_ARRAYS, held))}, "
            f"{len(flat.statuses)} statuses, {len(flat.event_time_micros)} event times, and {len(nulls)} null cells "
            "(ascending, below the number of cells)",
            reason="ONLINE_ANSWER_MALFORMED",
        )
    return CheckedAnswer(response, arrays, places, nulls, total)


# FlatFeatureValues' arrays (proto/sluice/v1/online.proto), and the one of each scalar type; other types' cells are in `values`.
_ARRAYS = ("values", "int64_values", "double_values", "bool_values", "string_values", "bytes_values")
_ARRAY_OF_TYPE = {
    types_pb2.VALUE_TYPE_INT32: "int64_values",
    types_pb2.VALUE_TYPE_INT64: "int64_values",
    types_pb2.VALUE_TYPE_FLOAT: "double_values",
    types_pb2.VALUE_TYPE_DOUBLE: "double_values",
    types_pb2.VALUE_TYPE_BOOL: "bool_values",
    types_pb2.VALUE_TYPE_STRING: "string_values",
    types_pb2.VALUE_TYPE_BYTES: "bytes_values",
}
_ARRAY_INDEX = {value_type: _ARRAYS.index(array) for value_type, array in _ARRAY_OF_TYPE.items()}
_KNOWN_TYPES = frozenset(types_pb2.ValueType.values()) - {types_pb2.VALUE_TYPE_UNSPECIFIED}
_PLANS: dict[tuple[int, ...], tuple[tuple[tuple[int, int], ...], tuple[int, ...]]] = {}


def _plan(value_types: Sequence[int]) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Where the cells of features of these types are: for each feature, its array's index in _ARRAYS
    and how many features of that array come before it; and how many features each array stores.
    Made once per list of types."""
    key = tuple(value_types)
    plan = _PLANS.get(key)
    if plan is None:
        unknown = sorted(set(key) - _KNOWN_TYPES)
        if unknown:
            # A type newer than this client: where its cells are is not known here.
            raise SluiceError(
                code=grpc.StatusCode.UNIMPLEMENTED,
                message=f"the server answered with value types {unknown} this client does not know: upgrade the client",
                reason="ONLINE_TYPE_UNSUPPORTED",
            )
        stored = [0] * len(_ARRAYS)
        places = []
        for value_type in key:
            array = _ARRAY_INDEX.get(value_type, 0)
            places.append((array, stored[array]))
            stored[array] += 1
        if len(_PLANS) >= 1_000:
            _PLANS.clear()
        plan = _PLANS[key] = (tuple(places), tuple(stored))
    return plan


def feature_cells(answer: CheckedAnswer, first: int, count: int) -> list[list[Any]]:
    """Each feature's values (None where null) for the answer's entity rows `first` to `first + count`,
    as the typed flat layout places them: the k-th feature (from 0) stored in an array has its cells at
    k × total on, and null cells are listed by number, ascending (found by bisection, so that each
    caller of a coalesced read finds its own without going through every other's)."""
    arrays, total, nulls = answer.arrays, answer.total, answer.nulls
    cells: list[list[Any]] = []
    for array, before in answer.places:
        start = before * total + first
        part = arrays[array][start : start + count]
        # Timestamps and lists are still Values; the packed arrays' slices are lists of plain values.
        cells.append([from_value(value) for value in part] if array == 0 else part)
    if nulls:
        for feature, values in enumerate(cells):
            start = feature * total + first
            low = bisect_left(nulls, start)
            for index in range(low, bisect_left(nulls, start + count, low)):
                values[nulls[index] - start] = None
    return cells


# Each answer's row, with every key and no value: (join keys, feature names, with_metadata) -> (the
# row, the keys after the join keys in order). A copy of it takes one allocation, where a dict filled
# key by key grows four times; its keys are hashed once, not once per call.
_ROW_TEMPLATES: dict[tuple[tuple[str, ...], tuple[str, ...], bool], tuple[dict[str, Any], tuple[str, ...]]] = {}


def _one_row(entities: Mapping[str, Sequence[Any]], answer: CheckedAnswer, with_metadata: bool, first: int) -> dict[str, Any]:
    """online_rows of a single entity row (row `first` of the answer), the usual online read, made
    with as few objects as it can: a copy of the row's template and one list of its values. Right
    after a call, with the caches cold, every object made counts: a one-row answer of 10 features
    takes 30-34 µs here and 40-45 on the general path (12 and 20 in a loop; 2026-11-28)."""
    response, arrays, total, nulls = answer.response, answer.arrays, answer.total, answer.nulls
    names = tuple(response.feature_names)
    key = (tuple(entities), names, with_metadata)
    template = _ROW_TEMPLATES.get(key)
    if template is None:
        keys = [part for name in names for part in ((name, *_metadata_names(name)) if with_metadata else (name,))]
        if len(_ROW_TEMPLATES) >= 1_000:
            _ROW_TEMPLATES.clear()
        template = _ROW_TEMPLATES[key] = (dict.fromkeys([*entities, *keys]), tuple(keys))
    row = template[0].copy()
    for join_key, values in entities.items():
        row[join_key] = values[0]
    values = [arrays[array][before * total + first] if array else from_value(arrays[0][before * total + first]) for array, before in answer.places]
    if nulls:
        for feature in range(len(values)):
            cell = feature * total + first
            index = bisect_left(nulls, cell)
            if index < len(nulls) and nulls[index] == cell:
                values[feature] = None
    if not with_metadata:
        row.update(zip(template[1], values))
        return row
    flat = response.flat
    statuses, event_times = (flat.statuses, flat.event_time_micros) if total == 1 else (flat.statuses[first::total], flat.event_time_micros[first::total])
    cells: list[Any] = []
    last_micros, last_time = 0, None
    for value, status, micros in zip(values, statuses, event_times):
        if micros != last_micros:
            # 0 (the epoch) means nothing was ever written.
            last_micros, last_time = micros, None if micros == 0 else _EPOCH + timedelta(microseconds=micros)
        cells += (value, _STATUS_NAMES.get(status) or status_name(status), last_time)
    row.update(zip(template[1], cells))
    return row


def online_rows(entities: Mapping[str, Sequence[Any]], answer: CheckedAnswer, with_metadata: bool, first: int = 0) -> list[dict[str, Any]]:
    """One dict per entity row: its join keys, then each feature's value, and (with_metadata) the
    feature's status as `{name}__status` ("PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE")
    and its event time as `{name}__event_time` (None where nothing was ever written). The rows are
    the answer's rows `first` on, as many as `entities` has (online_answer)."""
    # An event time equal to the one before (the features of a row were mostly written together) is
    # not decoded again; the suffixed names are made once.
    count = len(next(iter(entities.values()), []))
    rows: list[dict[str, Any]] = [{key: values[i] for key, values in entities.items()} for i in range(count)]
    cells = feature_cells(answer, first, count)
    names = answer.response.feature_names
    if not with_metadata:
        for name, values in zip(names, cells):
            for row, value in zip(rows, values):
                row[name] = value
        return rows
    flat, total = answer.response.flat, answer.total
    last_micros, last_time = 0, None
    for feature, (name, values) in enumerate(zip(names, cells)):
        status_key, time_key = _METADATA_NAMES.get(name) or _metadata_names(name)
        # This caller's cells of the feature only: each caller of a coalesced read reads its own.
        start = feature * total + first
        for row, value, status, micros in zip(rows, values, flat.statuses[start : start + count], flat.event_time_micros[start : start + count]):
            row[name] = value
            row[status_key] = _STATUS_NAMES.get(status) or status_name(status)
            if micros != last_micros:
                last_micros, last_time = micros, None if micros == 0 else _EPOCH + timedelta(microseconds=micros)
            row[time_key] = last_time
    return rows


_METADATA_NAMES: dict[str, tuple[str, str]] = {}


def _metadata_names(name: str) -> tuple[str, str]:
    """("{name}__status", "{name}__event_time"), made once per feature name."""
    names = _METADATA_NAMES.get(name)
    if names is None:
        if len(_METADATA_NAMES) >= 10_000:
            _METADATA_NAMES.clear()
        names = _METADATA_NAMES[name] = (name + STATUS_SUFFIX, name + EVENT_TIME_SUFFIX)
    return names


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


def online_table(entities: Mapping[str, Sequence[Any]], answer: CheckedAnswer, with_metadata: bool, first: int = 0) -> Any:
    """The same columns as online_rows, as a pyarrow.Table typed from the features' declared types."""
    try:
        import pyarrow as pa
    except ImportError as error:
        raise ImportError("as_table=True needs pyarrow: pip install 'sluice-client[arrow]'") from error
    count = len(next(iter(entities.values()), []))
    flat, total = answer.response.flat, answer.total
    cells = feature_cells(answer, first, count)
    columns: dict[str, Any] = {key: pa.array(list(values)) for key, values in entities.items()}
    for feature, (name, value_type) in enumerate(zip(answer.response.feature_names, flat.value_types)):
        columns[name] = pa.array(cells[feature], type=_arrow_type(pa, value_type))
        if with_metadata:
            part = slice(feature * total + first, feature * total + first + count)
            columns[name + STATUS_SUFFIX] = pa.array([status_name(s) for s in flat.statuses[part]], type=pa.string())
            # Microseconds since the epoch are Arrow's timestamp("us") as they are; 0 (never written) is null.
            columns[name + EVENT_TIME_SUFFIX] = pa.array(
                [None if micros == 0 else micros for micros in flat.event_time_micros[part]], type=pa.timestamp("us", tz="UTC")
            )
    return pa.table(columns)
