"""GetHistoricalFeatures: the inline spine as SpineBatch messages, and the streamed answer as plain
rows, or as a pyarrow table read from the Arrow IPC stream the server sends."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Union

from sluice._errors import SluiceArgumentError
from sluice._online import _arrow_type
from sluice._values import from_value, to_timestamp, to_value
from sluice.v1 import training_pb2

# One spine row: {"entity_key": {"customer_id": 1}, "event_time": datetime,
# "extra_columns": {"label": True}}, or a SpineRow message.
SpineRowLike = Union[Mapping[str, Any], training_pb2.SpineRow]


def spine_row(row: SpineRowLike) -> training_pb2.SpineRow:
    """A spine row as a SpineRow: its entity key, the time to look back from, and the extra columns
    (labels) passed through unchanged. Values are encoded by to_value; a naive datetime is UTC."""
    if isinstance(row, training_pb2.SpineRow):
        return row
    unknown = set(row) - {"entity_key", "event_time", "extra_columns"}
    if unknown:
        raise SluiceArgumentError.for_argument(
            "spine", f"rows have entity_key, event_time and extra_columns, not {', '.join(sorted(unknown))}"
        )
    return training_pb2.SpineRow(
        entity_key={k: to_value(v) for k, v in row["entity_key"].items()},
        event_time=to_timestamp(row["event_time"]),
        extra_columns={k: to_value(v) for k, v in row.get("extra_columns", {}).items()},
    )


def spine_batches(rows: Iterable[SpineRowLike], batch_rows: int) -> list[training_pb2.SpineBatch]:
    """The spine cut into SpineBatch messages of at most batch_rows rows (encoded before the call
    starts, so a value that cannot be sent raises here rather than cancelling the stream)."""
    if batch_rows < 1:
        raise SluiceArgumentError.for_argument("batch_rows", f"must be at least 1, not {batch_rows}")
    batches: list[training_pb2.SpineBatch] = []
    current: list[training_pb2.SpineRow] = []
    for row in rows:
        current.append(spine_row(row))
        if len(current) == batch_rows:
            batches.append(training_pb2.SpineBatch(rows=current))
            current = []
    if current:
        batches.append(training_pb2.SpineBatch(rows=current))
    return batches


def historical_requests(
    query: training_pb2.HistoricalFeaturesQuery, batches: Iterable[training_pb2.SpineBatch]
) -> Iterator[training_pb2.GetHistoricalFeaturesRequest]:
    """The client side of the stream: the query, then the spine batches. The server runs the join
    once this iterator is exhausted (gRPC then closes the client's side)."""
    yield training_pb2.GetHistoricalFeaturesRequest(query=query)
    for batch in batches:
        yield training_pb2.GetHistoricalFeaturesRequest(spine_batch=batch)


def historical_rows(responses: Iterable[training_pb2.GetHistoricalFeaturesResponse]) -> list[dict[str, Any]]:
    """The ROWS answer as one dict per row, keyed by column name (timestamps are aware UTC
    datetimes, nulls None), in the order received (spine order unless emit_spine_index is set)."""
    names: list[str] = []
    rows: list[dict[str, Any]] = []
    for part in responses:
        kind = part.WhichOneof("part")
        if kind == "schema":
            names = [column.name for column in part.schema.columns]
        elif kind == "rows":
            rows.extend({name: from_value(value) for name, value in zip(names, row.values, strict=True)} for row in part.rows.rows)
    return rows


def historical_table(responses: Iterable[training_pb2.GetHistoricalFeaturesResponse]) -> Any:
    """The ARROW answer as a pyarrow.Table: the arrow_ipc pieces concatenated in order are one Arrow
    IPC stream, which pyarrow reads without parsing values one by one."""
    try:
        import pyarrow as pa
    except ImportError as error:
        raise ImportError("as_table=True needs pyarrow: pip install 'sluice-client[arrow]'") from error
    schema: training_pb2.HistoricalFeaturesSchema | None = None
    pieces: list[bytes] = []
    for part in responses:
        kind = part.WhichOneof("part")
        if kind == "schema":
            schema = part.schema
        elif kind == "arrow_ipc":
            pieces.append(part.arrow_ipc)
    if pieces:
        return pa.ipc.open_stream(pa.py_buffer(b"".join(pieces))).read_all()
    # No IPC stream at all (nothing to send): an empty table with the announced columns.
    columns = schema.columns if schema is not None else []
    return pa.schema([pa.field(c.name, _arrow_type(pa, c.type) or pa.null()) for c in columns]).empty_table()
