#!/usr/bin/env python3
"""The Sluice quickstart in Python: register an entity and a feature view, write rows (one batch,
then a stream), read them back online, see how errors come back, read a point-in-time training set,
and serve a model that reads its features from the store.

    python3 clients/python/examples/quickstart.py --address 127.0.0.1:50051 --project quickstart

Against a server with authentication on, give a key with admin on the project (--api-key, or set
SLUICE_API_KEY) or a JWT (--token, SLUICE_TOKEN); for TLS, --ca-file (and --cert-file/--key-file for
mutual TLS). clients/python/examples/connect.py shows just the connecting.

It checks every answer against what Sluice promises and exits 1, naming the difference, when one
differs; CI runs it against a real server (test/e2e/clients.e2e.test.ts). The Go example
(clients/go/examples/quickstart) does the same steps and prints the same lines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import grpc

from sluice import Batch, SluiceArgumentError, SluiceClient, SluiceError, Tls
from sluice.v1 import registry_pb2

FEATURES = ["customer_stats:orders_30d", "customer_stats:spend_30d", "customer_stats:segment"]

# The model the example uploads: a logistic regression of churn over orders_30d, spend_30d and
# refunds_30d, churn_probability = sigmoid(x . WEIGHTS + BIAS) (the demo's churn-v1.onnx; its
# parameters are in test/support/demo-models.ts). The example checks Predict against them.
DEFAULT_MODEL = Path(__file__).resolve().parents[3] / "src" / "cli" / "demo-models" / "churn-v1.onnx"
MODEL_FEATURES = ["orders_30d", "spend_30d", "refunds_30d"]
WEIGHTS = [-0.08, -0.01, 0.5]
BIAS = 1.0
# The latest values the example writes for customers 1 and 3 (with a segment): what the online store
# then holds for them, and what the model reads.
LATEST: dict[int, dict[str, Any]] = {
    1: {"orders_30d": 4, "spend_30d": 20.5, "refunds_30d": 1},
    3: {"orders_30d": 7, "spend_30d": 99.75, "refunds_30d": 0},
}

try:
    import pyarrow  # noqa: F401

    HAVE_PYARROW = True
except ImportError:
    HAVE_PYARROW = False


class Mismatch(Exception):
    """The server answered something other than what the example expects."""


def expect(what: str, actual: Any, expected: Any) -> None:
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def expect_close(what: str, actual: float, expected: float, tolerance: float = 1e-5) -> None:
    if not abs(actual - expected) <= tolerance:
        raise Mismatch(f"{what}: expected {expected:.6f} (within {tolerance:g}), got {actual:.6f}")


def outcome(response: Any) -> str:
    return registry_pb2.ApplyOutcome.Name(response.outcome)


def utc(day: str) -> datetime:
    """"2025-01-10" as midnight UTC."""
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_version(name: str) -> str:
    """"projects/p/models/churn/versions/1" -> "churn@1"."""
    parts = name.split("/")
    return f"{parts[3]}@{parts[5]}" if len(parts) == 6 else name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="HOST:PORT of a Sluice server")
    parser.add_argument("--project", default="quickstart", help="project to create and use")
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="the ONNX file to upload (the demo's churn-v1.onnx)")
    parser.add_argument("--api-key", default=os.environ.get("SLUICE_API_KEY", ""), help="API key (default: $SLUICE_API_KEY)")
    parser.add_argument("--token", default=os.environ.get("SLUICE_TOKEN", ""), help="bearer token, a JWT (default: $SLUICE_TOKEN)")
    parser.add_argument("--ca-file", default="", help="PEM CA bundle: connect over TLS, trusting it")
    parser.add_argument("--cert-file", default="", help="PEM client certificate, for mutual TLS (with --key-file)")
    parser.add_argument("--key-file", default="", help="PEM key of --cert-file")
    args = parser.parse_args()
    if not Path(args.model).is_file():
        parser.error(f"--model {args.model}: no such file")
    tls = Tls.from_files(args.ca_file, args.cert_file, args.key_file) if args.ca_file or args.cert_file else None

    credentials = {"api_key": args.api_key or None, "token": args.token or None}
    with SluiceClient(args.address, project=args.project, timeout=10, tls=tls, **credentials) as client:
        try:
            run(client, args.project, Path(args.model))
        except Mismatch as mismatch:
            print(f"MISMATCH {mismatch}", file=sys.stderr)
            return 1
        except SluiceError as error:
            print(f"UNEXPECTED ERROR {error} {error.field_violations}", file=sys.stderr)
            return 1
    print("ok")
    return 0


def run(client: SluiceClient, project: str, model_file: Path) -> None:
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
        "features": {"orders_30d": "int64", "spend_30d": "double", "segment": "string", "refunds_30d": "int64"},
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
                {"entity_key": {"customer_id": 1}, "event_time": ten_minutes_ago, "features": {**LATEST[1], "segment": "gold"}},
                {"entity_key": {"customer_id": 3}, "event_time": ten_minutes_ago, "features": {**LATEST[3], "segment": "silver"}},
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
    names(client, project)

    # The same read as a pyarrow table, typed from the features' declared types (when pyarrow is
    # installed; nothing here needs pandas).
    if HAVE_PYARROW:
        table = client.get_online_features(FEATURES, {"customer_id": [1, 2, 3, 4]}, as_table=True)
        types = {name: str(table.schema.field(name).type) for name in ("orders_30d", "spend_30d", "segment", "orders_30d__event_time")}
        expect("table types", types, {"orders_30d": "int64", "spend_30d": "double", "segment": "string", "orders_30d__event_time": "timestamp[us, tz=UTC]"})
        expect("table spend", table.column("spend_30d").to_pylist(), [20.5, 4.25, 99.75, None])
        print(f"pyarrow: {table.num_rows} rows, " + ", ".join(f"{k} {v}" for k, v in types.items()))
    else:
        print("pyarrow: not installed, table skipped")

    training_data(client, run_id)
    model_serving(client, model_file, view.feature_view.version)


def names(client: SluiceClient, project: str) -> None:
    """The naming rule, checked without printing: where a method names a resource, an id goes into
    the client's project and a full resource name is used as it is; the client refuses a malformed
    one before any call, showing the form it expects. Resource-name fields of raw requests take
    only full names. Refs take both forms ("customer_stats:orders_30d", or
    "projects/{project}/featureViews/customer_stats:orders_30d", in the request's project)."""
    view = f"projects/{project}/featureViews/customer_stats"
    expect("view by full name", client.get_feature_view(view), client.get_feature_view("customer_stats"))
    expect("pinned view by full name", client.get_feature_view(f"{view}/versions/1").version, 1)
    try:
        client.get_feature_view("customer-stats")
        raise Mismatch("the client accepted a malformed feature view name")
    except SluiceArgumentError as error:
        expect("malformed name", (error.code_name, error.reason, error.field_violations[0].field), ("INVALID_ARGUMENT", "INVALID_RESOURCE_NAME", "name"))
        expect("malformed name shows the full form", "projects/{project}/featureViews/{id}" in error.message, True)
    try:
        client.call(client.registry.GetFeatureView, registry_pb2.GetFeatureViewRequest(name="customer_stats"))
        raise Mismatch("the server accepted a bare id as a resource name")
    except SluiceError as error:
        expect("bare id as a name", (error.code_name, error.reason), ("INVALID_ARGUMENT", "INVALID_RESOURCE_NAME"))
        expect("bare id refusal shows the full form", "projects/" in error.field_violations[0].description, True)
    full_refs = [f"{view}:{ref.split(':', 1)[1]}" for ref in FEATURES]
    entities = {"customer_id": [1, 2, 3, 4]}
    expect("full-form refs", client.get_online_features(full_refs, entities), client.get_online_features(FEATURES, entities))


def training_data(client: SluiceClient, run_id: str) -> None:
    """A point-in-time training set (GetHistoricalFeatures) over a history the example writes
    itself. The history is on fixed dates in 2025, so the answer is the same at every run on the
    same project; the rows written above are from the last hours, after every spine time, so they
    never show here (and being older, this history never shows online)."""
    history = [
        {"entity_key": {"customer_id": 1}, "event_time": utc("2025-01-10"), "features": {"orders_30d": 2, "spend_30d": 8.5, "segment": "silver"}},
        {"entity_key": {"customer_id": 1}, "event_time": utc("2025-02-10"), "features": {"orders_30d": 5, "spend_30d": 31.25, "segment": "gold"}},
        {"entity_key": {"customer_id": 2}, "event_time": utc("2025-01-20"), "features": {"orders_30d": 1, "spend_30d": 2.75}},
    ]
    written = client.write_feature_batch("customer_stats", history, write_id=f"{run_id}-history")
    expect("history accepted", (written.accepted_count, len(written.rejected_rows)), (3, 0))
    print(f"WriteFeatureBatch: history of 2025 accepted {written.accepted_count}")

    # The spine: an entity and a time per row, with a label passed through. Each row gets the latest
    # values at its time and never later ones: before customer 1's first event nothing (nulls); on
    # 2025-01-31 the January values, not February's; on 2025-03-31 nothing again, because the
    # newest value (2025-02-10) is older than the view's 30-day TTL.
    spine = [
        (1, "2025-01-05", False, None, None, None),
        (1, "2025-01-31", False, 2, 8.5, "silver"),
        (1, "2025-02-28", False, 5, 31.25, "gold"),
        (1, "2025-03-31", True, None, None, None),
        (2, "2025-02-01", True, 1, 2.75, None),
    ]
    spine_rows = [{"entity_key": {"customer_id": c}, "event_time": utc(day), "extra_columns": {"churned": label}} for c, day, label, *_ in spine]
    rows = client.get_historical_features(FEATURES, spine_rows)
    expect("historical rows", len(rows), len(spine))
    columns = ["customer_id", "event_time", "churned", "orders_30d", "spend_30d", "segment"]
    for number, (row, (customer, day, label, orders, spend, segment)) in enumerate(zip(rows, spine), 1):
        expect(f"historical row {number} columns", list(row), columns)
        expect(
            f"historical row {number} (customer {customer} at {day})",
            tuple(row.values()),
            (customer, utc(day), label, orders, spend, segment),
        )
        shown = {**row, "event_time": iso(row["event_time"])}
        print(f"GetHistoricalFeatures: {json.dumps(shown, sort_keys=True, separators=(',', ':'))}")

    # The same training set in the Arrow format, read by pyarrow as a table.
    if HAVE_PYARROW:
        table = client.get_historical_features(FEATURES, spine_rows, as_table=True)
        types = {field.name: str(field.type) for field in table.schema}
        expected_types = {"customer_id": "int64", "event_time": "timestamp[us, tz=UTC]", "churned": "bool"}
        expect("historical table types", types, {**expected_types, "orders_30d": "int64", "spend_30d": "double", "segment": "string"})
        expect("historical table rows", table.to_pylist(), rows)
        print(f"pyarrow historical: {table.num_rows} rows, " + ", ".join(f"{k} {v}" for k, v in types.items()))
    else:
        print("pyarrow historical: not installed, table skipped")


def model_serving(client: SluiceClient, model_file: Path, view_version: int) -> None:
    """Upload an ONNX model bound to pinned features, deploy it, and Predict: the server reads the
    features of the entities from its online store and runs the model."""
    refs = [f"customer_stats@{view_version}:{name}" for name in MODEL_FEATURES]
    data = model_file.read_bytes()
    version = client.upload_model("churn", data, {"features": refs}, description="churn, from the quickstart")
    expect("uploaded sha256", version.sha256, hashlib.sha256(data).hexdigest())
    expect("uploaded bindings", [(b.input_name, list(b.features.refs)) for b in version.input_bindings], [("features", refs)])
    inputs = [(t.name, t.element_type, list(t.shape)) for t in version.inputs]
    outputs = [(t.name, t.element_type, list(t.shape)) for t in version.outputs]
    expect("model inputs", inputs, [("features", "float32", [-1, 3])])
    expect("model outputs", outputs, [("churn_probability", "float32", [-1, 1])])
    shown = [f"{name} {element_type} [{', '.join(map(str, shape))}]" for name, element_type, shape in inputs + outputs]
    print(f"UploadModel: {short_version(version.name)}, input {shown[0]} from {' '.join(refs)}, output {shown[1]}")

    deployment = client.apply_deployment("churn", version.name, reason="quickstart")
    expect("deployment stable version", deployment.stable_version, version.name)
    print(f"ApplyDeployment: endpoint churn, stable {short_version(deployment.stable_version)}, revision {deployment.revision}")

    # Predict for customers 1 and 3 in one request; the probabilities are checked against the same
    # logistic regression computed here from the values written above.
    customers = [1, 3]
    prediction = client.predict("churn", {"customer_id": customers})
    expect("served version", (prediction.model_version, prediction.role), (version.name, "stable"))
    expect("prediction outputs", [(o.name, o.row_shape, len(o.values)) for o in prediction.outputs.values()], [("churn_probability", [1], 2)])
    expect("used features", list(prediction.feature_statuses), refs)
    for row, customer in enumerate(customers):
        x = [float(LATEST[customer][name]) for name in MODEL_FEATURES]
        expected = 1 / (1 + math.exp(-(sum(w * v for w, v in zip(WEIGHTS, x)) + BIAS)))
        probability = prediction["churn_probability"][row]
        expect_close(f"customer {customer} churn_probability", probability, expected)
        statuses = [prediction.feature_statuses[ref][row] for ref in refs]
        expect(f"customer {customer} feature statuses", statuses, ["PRESENT"] * 3)
        print(
            f"Predict: customer {customer} churn_probability {probability:.4f} by {short_version(prediction.model_version)}"
            f" ({prediction.role}), features {' '.join(statuses)}"
        )


if __name__ == "__main__":
    sys.exit(main())
