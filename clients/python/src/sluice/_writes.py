"""Feature rows given the Python way, and the acknowledgements of writes as small result objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from sluice._errors import FieldViolation, SluiceArgumentError
from sluice._values import to_timestamp, to_value
from sluice.v1 import ingestion_pb2

FeatureRowLike = Mapping[str, Any] | ingestion_pb2.FeatureRow


def feature_row(row: FeatureRowLike) -> ingestion_pb2.FeatureRow:
    """{"entity_key": {...}, "event_time": datetime, "features": {...}} as a FeatureRow (values are
    encoded by to_value; a feature left out is null). An optional "created_time" (datetime) is when
    the source system recorded the row: it breaks ties between equal event times and is the row's
    "known since" time (docs/versioning.md); left out, the server's receipt time."""
    if isinstance(row, ingestion_pb2.FeatureRow):
        return row
    if not isinstance(row, Mapping) or "entity_key" not in row or "event_time" not in row:
        raise SluiceArgumentError.for_argument(
            "rows", f'a row is {{"entity_key": {{...}}, "event_time": datetime, "features": {{...}}}} or a FeatureRow, not {row!r:.80}'
        )
    event_time: datetime | timestamp_pb2.Timestamp = row["event_time"]
    created_time = row.get("created_time")
    return ingestion_pb2.FeatureRow(
        entity_key={k: to_value(v) for k, v in row["entity_key"].items()},
        event_time=to_timestamp(event_time),
        features={k: to_value(v) for k, v in row.get("features", {}).items()},
        created_time=None if created_time is None else to_timestamp(created_time),
    )


@dataclass(frozen=True)
class RowRejection:
    """A row the server refused, by its index in the batch, with every problem found in it."""

    row_index: int
    violations: list[FieldViolation]


@dataclass(frozen=True)
class WriteResult:
    """The acknowledgement of one batch: rows stored, rows rejected (the good rows of a batch are
    stored even when others are rejected), and `duplicate` when the write id was already applied."""

    write_id: str
    accepted_count: int
    rejected_rows: list[RowRejection]
    duplicate: bool
    feature_view_version: int

    @classmethod
    def from_proto(cls, ack: ingestion_pb2.WriteFeaturesResponse | ingestion_pb2.WriteFeatureBatchResponse) -> WriteResult:
        return cls(
            write_id=ack.write_id,
            accepted_count=ack.accepted_count,
            rejected_rows=rejections(ack),
            duplicate=ack.duplicate,
            feature_view_version=ack.feature_view_version,
        )


@dataclass(frozen=True)
class EventWriteResult:
    """The acknowledgement of one batch of events: events stored (too-late ones included), events
    rejected, `duplicate` when the write id was already applied, the stream version written to, and
    `too_late_count`: accepted events older than the stream's watermark, stored offline and counted
    but not applied to online values."""

    write_id: str
    accepted_count: int
    rejected_rows: list[RowRejection]
    duplicate: bool
    event_stream_version: int
    too_late_count: int

    @classmethod
    def from_proto(cls, ack: ingestion_pb2.WriteEventsResponse | ingestion_pb2.WriteEventBatchResponse) -> EventWriteResult:
        return cls(
            write_id=ack.write_id,
            accepted_count=ack.accepted_count,
            rejected_rows=rejections(ack),
            duplicate=ack.duplicate,
            event_stream_version=ack.event_stream_version,
            too_late_count=ack.too_late_count,
        )


def rejections(ack: Any) -> list[RowRejection]:
    """The rejected rows (or events) of a write acknowledgement."""
    return [RowRejection(r.row_index, [FieldViolation(v.field, v.description) for v in r.violations]) for r in ack.rejected_rows]
