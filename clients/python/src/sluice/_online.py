"""GetOnlineFeatures requests, and their answers as plain rows or as a pyarrow table (when pyarrow is installed).

The client asks for the flat layout (ONLINE_RESPONSE_LAYOUT_FLAT): every value in one repeated field,
statuses and event times packed. Python's protobuf runtime pays per message it hands out, so the
columns layout (a FeatureColumn and a Timestamp per value) cost about twice as much to turn into rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import grpc

from sluice._errors import SluiceError
from sluice._values import _DECODERS, _EPOCH, from_value, to_value
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
                layout=online_pb2.ONLINE_RESPONSE_LAYOUT_FLAT,
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
) -> Any:
    """The answer as get_online_features returns it: rows, or a pyarrow.Table with as_table. `columns`
    are the entity rows `first` on of a response to `total` rows (all of it by default): a coalesced
    read (sluice._coalesce) answers each of its calls from its own rows of one response."""
    if not response.HasField("flat") and len(response.columns):
        # A server older than the flat layout ignores the request's layout: its columns would read as no values.
        raise SluiceError(
            code=grpc.StatusCode.UNIMPLEMENTED,
            message="the server answered GetOnlineFeatures without the flat layout this client asks for "
            "(ONLINE_RESPONSE_LAYOUT_FLAT): it is older than this client; upgrade the server",
            reason="ONLINE_LAYOUT_UNSUPPORTED",
        )
    if total is None:
        total = len(next(iter(columns.values()), []))
    flat, cells = response.flat, len(response.feature_names) * total
    if not len(flat.values) == len(flat.statuses) == len(flat.event_time_micros) == cells:
        # Feature-major cells are found by position: a short field would shift values into other features.
        raise SluiceError(
            code=grpc.StatusCode.INTERNAL,
            message=f"the server's answer holds {len(flat.values)} values, {len(flat.statuses)} statuses and "
            f"{len(flat.event_time_micros)} event times for {cells} cells (features × entity rows)",
            reason="ONLINE_ANSWER_MALFORMED",
        )
    answer = online_table if as_table else online_rows
    return answer(columns, response, with_metadata, first, total)


def online_rows(
    entities: Mapping[str, Sequence[Any]],
    response: online_pb2.GetOnlineFeaturesResponse,
    with_metadata: bool,
    first: int = 0,
    total: int | None = None,
) -> list[dict[str, Any]]:
    """One dict per entity row: its join keys, then each feature's value, and (with_metadata) the
    feature's status as `{name}__status` ("PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE")
    and its event time as `{name}__event_time` (None where nothing was ever written). The rows are
    the response's rows `first` on, of `total` (online_answer)."""
    # The hot path of every online read: from_value and the suffixed names are inlined or cached,
    # and an event time equal to the one before (the features of a row were mostly written together)
    # is not decoded again.
    count = len(next(iter(entities.values()), []))
    if total is None:
        total = count
    rows: list[dict[str, Any]] = [{key: values[i] for key, values in entities.items()} for i in range(count)]
    flat = response.flat
    values = flat.values
    if with_metadata:
        # As lists (faster to index than the repeated fields), of this caller's cells only: each
        # caller of a coalesced read copies its own, not the whole response's.
        if total == count:
            statuses, event_times = list(flat.statuses), list(flat.event_time_micros)
        else:
            starts = [feature * total + first for feature in range(len(response.feature_names))]
            statuses = [s for start in starts for s in flat.statuses[start : start + count]]
            event_times = [t for start in starts for t in flat.event_time_micros[start : start + count]]
        last_micros, last_time = 0, None
    # Feature-major: k walks the features in order, and each feature's rows in order (in the
    # response's values); m the same cells in this caller's statuses and event times.
    for feature, name in enumerate(response.feature_names):
        k, m = feature * total + first, feature * count
        if with_metadata:
            status_key, time_key = _METADATA_NAMES.get(name) or _metadata_names(name)
        for row in rows:
            value = values[k]
            kind = value.WhichOneof("kind")
            row[name] = getattr(value, kind) if kind in _SCALAR_KINDS else None if kind is None else _DECODERS[kind](value)
            if with_metadata:
                status = statuses[m]
                row[status_key] = _STATUS_NAMES.get(status) or status_name(status)
                micros = event_times[m]
                if micros != last_micros:
                    # 0 (the epoch) means nothing was ever written.
                    last_micros, last_time = micros, None if micros == 0 else _EPOCH + timedelta(microseconds=micros)
                row[time_key] = last_time
            k += 1
            m += 1
    return rows


_SCALAR_KINDS = frozenset({"int32_value", "int64_value", "float_value", "double_value", "bool_value", "string_value", "bytes_value"})
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


def online_table(
    entities: Mapping[str, Sequence[Any]],
    response: online_pb2.GetOnlineFeaturesResponse,
    with_metadata: bool,
    first: int = 0,
    total: int | None = None,
) -> Any:
    """The same columns as online_rows, as a pyarrow.Table typed from the features' declared types."""
    try:
        import pyarrow as pa
    except ImportError as error:
        raise ImportError("as_table=True needs pyarrow: pip install 'sluice-client[arrow]'") from error
    count = len(next(iter(entities.values()), []))
    if total is None:
        total = count
    flat = response.flat
    columns: dict[str, Any] = {key: pa.array(list(values)) for key, values in entities.items()}
    for feature, (name, resolved) in enumerate(zip(response.feature_names, response.resolved_features)):
        cells = slice(feature * total + first, feature * total + first + count)
        columns[name] = pa.array([from_value(v) for v in flat.values[cells]], type=_arrow_type(pa, resolved.type))
        if with_metadata:
            columns[name + STATUS_SUFFIX] = pa.array([status_name(s) for s in flat.statuses[cells]], type=pa.string())
            # Microseconds since the epoch are Arrow's timestamp("us") as they are; 0 (never written) is null.
            columns[name + EVENT_TIME_SUFFIX] = pa.array(
                [None if micros == 0 else micros for micros in flat.event_time_micros[cells]], type=pa.timestamp("us", tz="UTC")
            )
    return pa.table(columns)
