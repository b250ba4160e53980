"""Stand-ins for the generated stubs, so that the unit tests see the requests the client builds."""

from __future__ import annotations

from typing import Any


class Recorder:
    """Stands in for a generated stub: every method records its request and answers the next response
    (the last one repeats)."""

    def __init__(self, *responses: Any) -> None:
        self.requests: list[Any] = []
        self.responses = list(responses)

    def __getattr__(self, method: str) -> Any:
        def call(request: Any, **_: Any) -> Any:
            self.requests.append(request)
            return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]

        return call


def typed_answer(features: list[tuple[str, int, list[Any]]], statuses: list[int], event_time_micros: list[int]) -> Any:
    """A GetOnlineFeaturesResponse in the typed flat layout, laid out as proto/sluice/v1/online.proto
    says (independently of the client's reader): `features` are (name, ValueType, one value per entity
    row), a value given as a sluice.v1.Value for timestamp and list features and as a Python value
    (None for null) for the others."""
    from sluice.v1 import online_pb2, types_pb2

    arrays = {
        types_pb2.VALUE_TYPE_INT32: ("int64_values", 0),
        types_pb2.VALUE_TYPE_INT64: ("int64_values", 0),
        types_pb2.VALUE_TYPE_FLOAT: ("double_values", 0.0),
        types_pb2.VALUE_TYPE_DOUBLE: ("double_values", 0.0),
        types_pb2.VALUE_TYPE_BOOL: ("bool_values", False),
        types_pb2.VALUE_TYPE_STRING: ("string_values", ""),
        types_pb2.VALUE_TYPE_BYTES: ("bytes_values", b""),
    }
    response = online_pb2.GetOnlineFeaturesResponse(feature_names=[name for name, _, _ in features])
    flat = response.flat
    cell = 0
    for _, value_type, values in features:
        flat.value_types.append(value_type)
        response.resolved_features.add(type=value_type)
        for value in values:
            if value_type in arrays:
                array, zero = arrays[value_type]
                getattr(flat, array).append(zero if value is None else value)
                if value is None:
                    flat.null_cells.append(cell)
            else:
                flat.values.append(types_pb2.Value() if value is None else value)
                if value is None:
                    flat.null_cells.append(cell)
            cell += 1
    flat.statuses.extend(statuses)
    flat.event_time_micros.extend(event_time_micros)
    return response
