"""GetHistoricalFeatures: the inline spine as SpineBatch messages (rows, or columns for a DataFrame or
a pyarrow Table), and the streamed answer as plain rows, a pyarrow table read from the Arrow IPC stream
the server sends, or a pandas DataFrame made from that table.

Nothing here does I/O. The join keys a columnar spine needs come from the registry through
`join_key_types`, a generator that yields the calls it needs and receives their answers, so that
the blocking and the asyncio client run the same steps, each with its own kind of call.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Union

from sluice._errors import SluiceArgumentError
from sluice._online import _arrow_type
from sluice._spine_columns import columnar_spine, spine_arrow_batches
from sluice._values import from_value, to_timestamp, to_value
from sluice.v1 import registry_pb2, training_pb2

# One spine row: {"entity_key": {"customer_id": 1}, "event_time": datetime,
# "extra_columns": {"label": True}}, or a SpineRow message.
SpineRowLike = Union[Mapping[str, Any], training_pb2.SpineRow]
# A whole spine: rows, or a pandas DataFrame / pyarrow Table / RecordBatch of columns.
Spine = Union[Iterable[SpineRowLike], Any]

# A call a step needs: the stub method and its request; the step receives the response.
RegistryCall = tuple[Callable[..., Any], Any]
Steps = Generator[RegistryCall, Any, Any]

ROWS, TABLE, FRAME = "rows", "table", "frame"


def spine_row(row: SpineRowLike) -> training_pb2.SpineRow:
    """A spine row as a SpineRow: its entity key, the time to look back from, and the extra columns
    (labels) passed through unchanged. Values are encoded by to_value; a naive datetime is UTC."""
    if isinstance(row, training_pb2.SpineRow):
        return row
    if not isinstance(row, Mapping):
        raise SluiceArgumentError.for_argument(
            "spine", f"must be rows (dicts or SpineRows), a pandas DataFrame or a pyarrow Table; a row is not a {type(row).__name__}"
        )
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


def _check_batch_rows(batch_rows: int) -> None:
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise SluiceArgumentError.for_argument("batch_rows", f"must be at least 1, not {batch_rows!r}")


def spine_batches(rows: Iterable[SpineRowLike], batch_rows: int) -> list[training_pb2.SpineBatch]:
    """The spine cut into SpineBatch messages of at most batch_rows rows (encoded before the call
    starts, so a value that cannot be sent raises here rather than cancelling the stream)."""
    _check_batch_rows(batch_rows)
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


def output_of(as_table: bool, as_frame: bool) -> str:
    """ROWS, TABLE or FRAME; SluiceArgumentError for both flags."""
    if as_table and as_frame:
        raise SluiceArgumentError.for_argument("as_frame", "cannot be set together with as_table: choose a pyarrow Table or a pandas DataFrame")
    return FRAME if as_frame else TABLE if as_table else ROWS


class HistoricalCall(NamedTuple):
    """What one GetHistoricalFeatures call sends (the query, then the spine batches) and the collector
    that reads its answer."""

    requests: list[training_pb2.GetHistoricalFeaturesRequest]
    answer: HistoricalAnswer


def historical_call(
    registry: Any,
    query: training_pb2.HistoricalFeaturesQuery,
    spine: Spine,
    *,
    output: str,
    batch_rows: int,
) -> Generator[RegistryCall, Any, HistoricalCall]:
    """The steps of a call: for a columnar spine, the registry calls that find the join keys
    (`join_key_types`), then the spine encoded whole, before the stream opens (a value that cannot
    be sent raises here rather than cancelling the stream)."""
    _check_batch_rows(batch_rows)
    table = columnar_spine(spine)
    if table is None:
        batches = spine_batches(spine, batch_rows)
    else:
        key_types = yield from join_key_types(registry, query.project, query.features, query.feature_service)
        batches = spine_arrow_batches(table, key_types, batch_rows)
    query.format = training_pb2.OUTPUT_FORMAT_ROWS if output == ROWS else training_pb2.OUTPUT_FORMAT_ARROW
    answer = HistoricalAnswer(output, spine_columns=None if table is None else table.column_names)
    return HistoricalCall(list(historical_requests(query, batches)), answer)


def join_key_types(registry: Any, project: str, features: Sequence[str], feature_service: str) -> Steps:
    """The join keys of the entities of the features asked for, with their declared ValueTypes, as
    the server forms the spine from them: one ResolveFeatures call, which lists them (a server from
    before `join_keys` answers without them: then each feature view version, then each entity).
    Yields (stub method, request) and receives each response."""
    resolved = yield registry.ResolveFeatures, registry_pb2.ResolveFeaturesRequest(
        project=project, features=list(features), feature_service=feature_service
    )
    keys: dict[str, int] = {}
    if len(resolved.join_keys) > 0:
        for key in resolved.join_keys:
            keys.setdefault(key.name, key.type)
        return keys
    views: set[str] = set()
    entities: set[str] = set()
    for feature in resolved.features:
        view_name = f"{feature.feature_view}/versions/{feature.version}"
        if view_name in views:
            continue
        views.add(view_name)
        view = (yield registry.GetFeatureView, registry_pb2.GetFeatureViewRequest(name=view_name)).feature_view
        # A view names its entity by id, in the view's project ("projects/{p}/featureViews/{v}").
        view_project = feature.feature_view.split("/")[1]
        entity_name = view.entity if view.entity.startswith("projects/") else f"projects/{view_project}/entities/{view.entity}"
        if entity_name in entities:
            continue
        entities.add(entity_name)
        entity = (yield registry.GetEntity, registry_pb2.GetEntityRequest(name=entity_name)).entity
        for key in entity.join_keys:
            keys.setdefault(key.name, key.type)
    return keys


def historical_requests(
    query: training_pb2.HistoricalFeaturesQuery, batches: Iterable[training_pb2.SpineBatch]
) -> Iterator[training_pb2.GetHistoricalFeaturesRequest]:
    """The client side of the stream: the query, then the spine batches. The server runs the join
    once the client's side closes (when gRPC has sent the last of these)."""
    yield training_pb2.GetHistoricalFeaturesRequest(query=query)
    for batch in batches:
        yield training_pb2.GetHistoricalFeaturesRequest(spine_batch=batch)


class HistoricalAnswer:
    """Collects the streamed answer, one response at a time (`add`), and gives it back as the caller
    asked (`result`): ROWS as one dict per row, keyed by column name (timestamps aware UTC datetimes,
    nulls None), in the order received (spine order); TABLE as a pyarrow.Table, the arrow_ipc pieces
    concatenated in order being one Arrow IPC stream that pyarrow reads without parsing values one by
    one; FRAME as that table's pandas DataFrame, timestamps aware in UTC.

    With `spine_columns` (a columnar spine's column names), the spine's columns come back in the
    spine's order: the server orders extra columns as it decodes them, which is not the order given."""

    def __init__(self, output: str, spine_columns: Sequence[str] | None = None) -> None:
        if output != ROWS:
            _import_pyarrow(output)
        self.output = output
        self.schema: training_pb2.HistoricalFeaturesSchema | None = None
        self._spine_columns = spine_columns
        self._names: list[str] = []
        self._order: list[int] | None = None
        self._rows: list[dict[str, Any]] = []
        self._pieces: list[bytes] = []

    def add(self, part: training_pb2.GetHistoricalFeaturesResponse) -> None:
        kind = part.WhichOneof("part")
        if kind == "schema":
            self.schema = part.schema
            self._names = [column.name for column in part.schema.columns]
            self._order = spine_order(part.schema.columns, self._spine_columns) if self._spine_columns else None
        elif kind == "rows":
            names, order = self._names, self._order
            if order is None:
                self._rows.extend({name: from_value(value) for name, value in zip(names, row.values, strict=True)} for row in part.rows.rows)
            else:
                for row in part.rows.rows:
                    values = row.values
                    self._rows.append({names[i]: from_value(values[i]) for i in order})
        elif kind == "arrow_ipc":
            self._pieces.append(part.arrow_ipc)

    def result(self) -> Any:
        if self.output == ROWS:
            return self._rows
        table = self._table()
        if self._order is not None and table.num_columns == len(self._order):
            table = table.select(self._order)
        return table if self.output == TABLE else frame_of(table)

    def _table(self) -> Any:
        import pyarrow as pa

        if self._pieces:
            return pa.ipc.open_stream(pa.py_buffer(b"".join(self._pieces))).read_all()
        # No IPC stream at all (nothing to send): an empty table with the announced columns.
        columns = self.schema.columns if self.schema is not None else []
        return pa.schema([pa.field(c.name, _arrow_type(pa, c.type) or pa.null()) for c in columns]).empty_table()


def spine_order(columns: Sequence[training_pb2.ColumnSchema], spine_columns: Sequence[str]) -> list[int] | None:
    """The answer's column positions with the spine's columns (those that are not features) in the
    spine's order, in the places the server gave them; None when that is already the order."""
    names = [column.name for column in columns]
    from_spine = set(spine_columns)
    places = [i for i, column in enumerate(columns) if not column.HasField("feature") and column.name in from_spine]
    present = {names[i] for i in places}
    order = list(range(len(names)))
    for place, name in zip(places, (n for n in spine_columns if n in present)):
        order[place] = names.index(name)
    return None if order == sorted(order) else order


def frame_of(table: Any) -> Any:
    """A pyarrow.Table as a pandas DataFrame, timestamps aware in UTC (a naive one is taken as UTC)."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            table = table.set_column(index, field.name, table.column(index).cast(pa.timestamp(field.type.unit, tz="UTC")))
    return table.to_pandas()


def _import_pyarrow(output: str) -> None:
    """Fails before any call when the output asked for needs a package that is not installed."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as error:
        raise ImportError(f"as_{output}=True needs pyarrow: pip install 'sluice-client[arrow]'") from error
    if output == FRAME:
        try:
            import pandas  # noqa: F401
        except ImportError as error:
            raise ImportError("as_frame=True needs pandas: pip install 'sluice-client[pandas]'") from error


def historical_rows(responses: Iterable[training_pb2.GetHistoricalFeaturesResponse]) -> list[dict[str, Any]]:
    """The ROWS answer of a whole stream as one dict per row."""
    return _collect(responses, ROWS)


def historical_table(responses: Iterable[training_pb2.GetHistoricalFeaturesResponse]) -> Any:
    """The ARROW answer of a whole stream as a pyarrow.Table."""
    return _collect(responses, TABLE)


def _collect(responses: Iterable[training_pb2.GetHistoricalFeaturesResponse], output: str) -> Any:
    answer = HistoricalAnswer(output)
    for part in responses:
        answer.add(part)
    return answer.result()
