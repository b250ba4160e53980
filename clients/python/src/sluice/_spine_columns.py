"""A spine given as a pandas DataFrame or a pyarrow Table (or RecordBatch), sent as Arrow IPC streams
(`SpineBatch.arrow_ipc`): each column is checked and cast once with pyarrow, and cut into batches, with
no Python loop over rows.

The columns are the join keys (their types matched to the entities' declared key types), `event_time`
(a timestamp of any unit; naive is UTC), and any other column, passed through as an extra column.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any

from sluice._errors import SluiceArgumentError
from sluice.v1 import training_pb2, types_pb2

EVENT_TIME = "event_time"

_TIMESTAMP_HINT = (
    "convert it first, e.g. pandas.to_datetime(frame['event_time'], unit='us', utc=True) for epoch microseconds, "
    "or pyarrow.compute.cast(column, pyarrow.timestamp('us', tz='UTC'))"
)


def columnar_spine(spine: object) -> Any:
    """The spine as a pyarrow.Table when it is a pandas DataFrame, a pyarrow Table or a RecordBatch;
    None for anything else (an iterable of rows). pandas and pyarrow are imported only when a spine
    is one of theirs: a DataFrame cannot exist unless pandas was imported."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(spine, pandas.DataFrame):
        pa = _columnar_packages("a DataFrame spine", "pandas")
        try:
            # The index is not a column: reset_index() first to send it.
            return pa.Table.from_pandas(spine, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            raise SluiceArgumentError.for_argument("spine", f"cannot be read as typed columns: {error}") from None
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None and isinstance(spine, (pyarrow.Table, pyarrow.RecordBatch)):
        _columnar_packages("a pyarrow spine", "arrow")
        return spine if isinstance(spine, pyarrow.Table) else pyarrow.Table.from_batches([spine])
    return None


def _columnar_packages(what: str, extra: str) -> Any:
    """pyarrow, once pyarrow and NumPy are known to be importable; ImportError saying what to install."""
    try:
        import numpy  # noqa: F401
        import pyarrow
    except ImportError as error:
        raise ImportError(f"{what} needs pyarrow and numpy: pip install 'sluice-client[{extra}]'") from error
    return pyarrow


def spine_arrow_batches(table: Any, key_types: Mapping[str, int], batch_rows: int) -> list[training_pb2.SpineBatch]:
    """The table as SpineBatch messages of at most batch_rows rows, each one Arrow IPC stream
    (`arrow_ipc`). `key_types` maps each join key the features need to its declared ValueType; every
    other column but `event_time` is an extra column. Columns go in the types the server reads
    (join keys in their declared type, integers as int64, NaN as null, dictionaries as their values).
    Raises SluiceArgumentError, naming the column, for a missing join key or event time, a null join
    key or event time, or a type that cannot be sent."""
    import pyarrow as pa

    names = list(table.column_names)
    duplicated = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicated:
        raise SluiceArgumentError.for_argument("spine", f"has more than one column named {', '.join(map(repr, duplicated))}")
    missing = [key for key in key_types if key not in names]
    if missing:
        raise SluiceArgumentError.for_argument(
            "spine", f"has no column {', '.join(map(repr, missing))}: the join keys of the features asked for are {', '.join(key_types)}"
        )
    if EVENT_TIME not in names:
        raise SluiceArgumentError.for_argument("spine", f"has no column '{EVENT_TIME}' (the time to look back from, a timestamp)")
    columns = [
        _event_time(table.column(name)) if name == EVENT_TIME else _normalized(name, table.column(name), key_types.get(name))
        for name in names
    ]
    sent = pa.Table.from_arrays(columns, names=names)
    batches: list[training_pb2.SpineBatch] = []
    for start in range(0, sent.num_rows, batch_rows):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, sent.schema) as writer:
            writer.write_table(sent.slice(start, batch_rows))
        batches.append(training_pb2.SpineBatch(arrow_ipc=sink.getvalue().to_pybytes()))
    return batches


def _argument_error(name: str, description: str) -> SluiceArgumentError:
    return SluiceArgumentError.for_argument(f"spine[{name!r}]", description)


def _event_time(column: Any) -> Any:
    """The event time column as it is sent: a timestamp of any unit without nulls (the server floors
    nanoseconds to microseconds and reads a naive time as UTC, as Arrow keeps it)."""
    import pyarrow as pa

    if not pa.types.is_timestamp(column.type):
        raise _argument_error(EVENT_TIME, f"must be a timestamp column (pandas datetime64, pyarrow timestamp), not {column.type}: {_TIMESTAMP_HINT}")
    if column.null_count:
        raise _argument_error(EVENT_TIME, f"has {column.null_count} null values; every spine row needs an event time")
    return column


def _is_view(types: Any, kind: str, arrow_type: Any) -> bool:
    """pyarrow.types.is_string_view / is_binary_view, which pyarrow before 16 does not have."""
    check = getattr(types, f"is_{kind}_view", None)
    return bool(check and check(arrow_type))


def _sent_type(name: str, arrow_type: Any, declared: int | None) -> Any:
    """The Arrow type a column is sent as (None: a timestamp, sent in its own unit and zone): for a
    join key, its declared type's (INT32 keys take integers that fit; INT64 keys any integer but
    uint64); for an extra column, its own type's."""
    import pyarrow as pa

    types = pa.types
    is_string = types.is_string(arrow_type) or types.is_large_string(arrow_type) or _is_view(types, "string", arrow_type)
    is_binary = types.is_binary(arrow_type) or types.is_large_binary(arrow_type) or _is_view(types, "binary", arrow_type)
    if types.is_dictionary(arrow_type):
        value_type = arrow_type.value_type
        is_string = types.is_string(value_type) or types.is_large_string(value_type)
    integer = types.is_integer(arrow_type)
    if declared is not None:
        wanted = {
            types_pb2.VALUE_TYPE_INT64: (pa.int64(), integer and arrow_type != pa.uint64()),
            types_pb2.VALUE_TYPE_INT32: (pa.int32(), integer),
            types_pb2.VALUE_TYPE_STRING: (pa.string(), is_string),
            types_pb2.VALUE_TYPE_BYTES: (pa.binary(), is_binary),
        }.get(declared)
        if wanted is not None:
            sent, fits = wanted
            if not fits:
                type_name = types_pb2.ValueType.Name(declared).removeprefix("VALUE_TYPE_").lower()
                hint = " (a pandas integer column with missing values is float64; join keys may not be null)" if types.is_floating(arrow_type) else ""
                raise _argument_error(name, f"is {arrow_type}, but the join key {name!r} is {type_name}{hint}")
            return sent
    if types.is_boolean(arrow_type):
        return pa.bool_()
    if integer:
        if arrow_type == pa.uint64():
            raise _argument_error(name, "is uint64, which int64 cannot hold whole; cast it to int64 first")
        return pa.int64()
    if types.is_float32(arrow_type) or types.is_float16(arrow_type):
        return pa.float32()
    if types.is_float64(arrow_type):
        return pa.float64()
    if is_string:
        return pa.string()
    if is_binary or types.is_fixed_size_binary(arrow_type):
        return pa.binary()
    if types.is_timestamp(arrow_type):
        return None
    if types.is_null(arrow_type):
        raise _argument_error(name, "has no type (every value is null); give the column a dtype")
    raise _argument_error(
        name, f"is {arrow_type}, which a spine column cannot be: integers, floats, bools, strings, bytes and timestamps can"
    )


def _normalized(name: str, column: Any, declared: int | None) -> Any:
    """A join key (`declared` its ValueType) or extra column in the type it is sent as."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = _sent_type(name, column.type, declared)
    if declared is not None and column.null_count:
        raise _argument_error(name, f"has {column.null_count} null values; every spine row needs its join keys")
    if target is None:
        return column
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if column.type != target:
        try:
            column = column.cast(target)
        except pa.ArrowInvalid:
            raise _argument_error(name, f"has a value outside {target}") from None
    if pa.types.is_floating(target):
        # NaN is pandas' missing value, and the server refuses NaN: it goes as a null.
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, target), column)
    return column
