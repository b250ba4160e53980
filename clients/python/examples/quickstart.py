#!/usr/bin/env python3
"""The Sluice quickstart in Python: register an entity and a feature view, write rows (one batch,
then a stream), read them back online, and see how errors come back.

    python3 clients/python/examples/quickstart.py --address 127.0.0.1:50051 --project quickstart

It checks every answer against what Sluice promises and exits 1, naming the difference, when one
differs; CI runs it against a real server (test/e2e/clients.e2e.test.ts). The Go example
(clients/go/examples/quickstart) does the same steps and prints the same lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc

from sluice import Batch, SluiceClient, SluiceError
from sluice.v1 import registry_pb2

FEATURES = ["customer_stats:orders_30d", "customer_stats:spend_30d", "customer_stats:segment"]


class Mismatch(Exception):
    """The server answered something other than what the example expects."""


def expect(what: str, actual: Any, expected: Any) -> None:
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def outcome(response: Any) -> str:
    return registry_pb2.ApplyOutcome.Name(response.outcome)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="HOST:PORT of a Sluice server")
    parser.add_argument("--project", default="quickstart", help="project to create and use")
    args = parser.parse_args()

    with SluiceClient(args.address, project=args.project, timeout=10) as client:
        try:
            run(client, args.project)
        except Mismatch as mismatch:
            print(f"MISMATCH {mismatch}", file=sys.stderr)
            return 1
        except SluiceError as error:
            print(f"UNEXPECTED ERROR {error} {error.field_violations}", file=sys.stderr)
            return 1
    print("ok")
    return 0


def run(client: SluiceClient, project: str) -> None:
    status = client.health_check()
    expect("health", status, "SERVING")
    print(f"health: {status}")

    try:
        client.create_project(project)
        print(f"project {project}: created")
    except SluiceError as error:
        expect("create an existing project", (error.code, error.reason), (grpc.StatusCode.ALREADY_EXISTS, "PROJECT_ALREADY_EXISTS"))
        print(f"project {project}: already exists")

    # Definitions. Applying the same definition again is a no-op (UNCHANGED).
    entity = client.apply_entity("customer", {"customer_id": "int64"}, description="a paying customer")
    expect("entity outcome", outcome(entity) in ("APPLY_OUTCOME_CREATED", "APPLY_OUTCOME_UNCHANGED"), True)
    print(f"entity customer: {outcome(entity)}")
    view_spec: dict[str, Any] = {
        "entity": "customer",
        "features": {"orders_30d": "int64", "spend_30d": "double", "segment": "string"},
        "ttl_seconds": 30 * 86_400,
    }
    view = client.apply_feature_view("customer_stats", **view_spec)
    print(f"feature view customer_stats: {outcome(view)}, version {view.feature_view.version}")
    again = client.apply_feature_view("customer_stats", **view_spec)
    expect("re-applied view", (outcome(again), again.feature_view.version), ("APPLY_OUTCOME_UNCHANGED", view.feature_view.version))
    print(f"feature view customer_stats again: {outcome(again)}, version {again.feature_view.version}")

    # One batch (WriteFeatureBatch). The third row has a string where a double belongs: it is
    # rejected with a field path, and the good rows are stored all the same.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    hour_ago, ten_minutes_ago, two_hours_ago = now - timedelta(hours=1), now - timedelta(minutes=10), now - timedelta(hours=2)
    batch_rows = [
        {"entity_key": {"customer_id": 1}, "event_time": hour_ago, "features": {"orders_30d": 3, "spend_30d": 12.5, "segment": "gold"}},
        {"entity_key": {"customer_id": 2}, "event_time": hour_ago, "features": {"orders_30d": 1, "spend_30d": 4.25}},
        {"entity_key": {"customer_id": 9}, "event_time": hour_ago, "features": {"spend_30d": "lots"}},
    ]
    # Write ids make retries apply once; a fresh prefix per run keeps re-runs from being duplicates.
    run_id = uuid.uuid4().hex[:12]
    write_id = f"{run_id}-batch-1"
    written = client.write_feature_batch("customer_stats", batch_rows, write_id=write_id)
    rejected = [(r.row_index, [v.field for v in r.violations]) for r in written.rejected_rows]
    expect("batch accepted", written.accepted_count, 2)
    expect("batch rejections", rejected, [(2, ['rows[2].features["spend_30d"]'])])
    print(f"WriteFeatureBatch: accepted {written.accepted_count}, rejected row 2 at {rejected[0][1][0]}")
    retried = client.write_feature_batch("customer_stats", batch_rows, write_id=write_id)
    expect("retried batch", (retried.duplicate, retried.accepted_count), (True, 2))
    print(f"WriteFeatureBatch retried with the same write id: duplicate {str(retried.duplicate).lower()}")

    # A stream of batches (WriteFeatures), one acknowledgement per batch, in order. The second
    # batch holds an older event for customer 2: it is stored in the history, but online the
    # newer value stays.
    batches = [
        Batch(
            "customer_stats",
            [
                {"entity_key": {"customer_id": 1}, "event_time": ten_minutes_ago, "features": {"orders_30d": 4, "spend_30d": 20.5, "segment": "gold"}},
                {"entity_key": {"customer_id": 3}, "event_time": ten_minutes_ago, "features": {"orders_30d": 7, "spend_30d": 99.75, "segment": "silver"}},
            ],
            write_id=f"{run_id}-stream-1",
        ),
        Batch(
            "customer_stats",
            [{"entity_key": {"customer_id": 2}, "event_time": two_hours_ago, "features": {"orders_30d": 0, "spend_30d": 0.5}}],
            write_id=f"{run_id}-stream-2",
        ),
    ]
    acks = list(client.write_features(batches))
    expect("stream acks", [(a.write_id, a.accepted_count, len(a.rejected_rows)) for a in acks], [(b.write_id, len(b.rows), 0) for b in batches])
    for number, ack in enumerate(acks, 1):
        print(f"WriteFeatures: ack {number} accepted {ack.accepted_count}")

    # Online reads: the newest event wins; a feature written as null is NULL_VALUE; an entity
    # never written is NOT_FOUND.
    rows = client.get_online_features(FEATURES, {"customer_id": [1, 2, 3, 4]})
    expected_rows = [
        (1, 4, 20.5, "gold", ["PRESENT"] * 3, ten_minutes_ago),
        (2, 1, 4.25, None, ["PRESENT", "PRESENT", "NULL_VALUE"], hour_ago),
        (3, 7, 99.75, "silver", ["PRESENT"] * 3, ten_minutes_ago),
        (4, None, None, None, ["NOT_FOUND"] * 3, None),
    ]
    for row, (customer, orders, spend, segment, statuses, event_time) in zip(rows, expected_rows):
        expect(f"customer {customer} values", (row["customer_id"], row["orders_30d"], row["spend_30d"], row["segment"]), (customer, orders, spend, segment))
        expect(f"customer {customer} statuses", [row[f"{n}__status"] for n in ("orders_30d", "spend_30d", "segment")], statuses)
        expect(f"customer {customer} event time", row["orders_30d__event_time"], event_time)
        shown = {k: v for k, v in row.items() if not k.endswith("__event_time")}
        print(f"GetOnlineFeatures: {json.dumps(shown, sort_keys=True, separators=(',', ':'))}")
    expect("online rows", len(rows), 4)

    # Errors carry a google.rpc.Status: ErrorInfo (reason, metadata) and, for INVALID_ARGUMENT,
    # BadRequest field violations.
    try:
        client.write_feature_batch("no_such_view", batch_rows[:1])
        raise Mismatch("a write to an unknown view succeeded")
    except SluiceError as error:
        expect("unknown view", (error.code_name, error.reason), ("NOT_FOUND", "FEATURE_VIEW_NOT_FOUND"))
        print(f"unknown view: {error.code_name} {error.reason} {error.metadata.get('resource_name')}")
    try:
        client.apply_feature_view("bad_view", entity="customer", features={"1st": "int64", "event_time": "double"})
        raise Mismatch("an invalid feature view was accepted")
    except SluiceError as error:
        fields = [v.field for v in error.field_violations]
        expect("invalid view", (error.code_name, error.reason), ("INVALID_ARGUMENT", "INVALID_FEATURE_VIEW"))
        expect("invalid view fields", fields, ["feature_view.features[0].name", "feature_view.features[1].name"])
        print(f"invalid view: {error.code_name} {error.reason} {' '.join(fields)}")

    # The same read as a pyarrow table, typed from the features' declared types (when pyarrow is
    # installed; nothing here needs pandas).
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        print("pyarrow: not installed, table skipped")
        return
    table = client.get_online_features(FEATURES, {"customer_id": [1, 2, 3, 4]}, as_table=True)
    types = {name: str(table.schema.field(name).type) for name in ("orders_30d", "spend_30d", "segment", "orders_30d__event_time")}
    expect("table types", types, {"orders_30d": "int64", "spend_30d": "double", "segment": "string", "orders_30d__event_time": "timestamp[us, tz=UTC]"})
    expect("table spend", table.column("spend_30d").to_pylist(), [20.5, 4.25, 99.75, None])
    print(f"pyarrow: {table.num_rows} rows, " + ", ".join(f"{k} {v}" for k, v in types.items()))

    # Next steps, not taken yet (both answered UNIMPLEMENTED when this was written):
    # GetHistoricalFeatures (a point-in-time training set) and Predict (model outputs from features
    # the server fetches itself).


if __name__ == "__main__":
    sys.exit(main())
