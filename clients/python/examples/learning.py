#!/usr/bin/env python3
"""Online learning in Python: a logistic learner over two stored features and a request value serves
live from an endpoint, learns from the outcomes of its own predictions, is paused and published as
an ONNX version, and that version predicts what the live learner predicts.

    python3 clients/python/examples/learning.py --address 127.0.0.1:50051 --project learning

Each run needs a fresh project (the learner and its endpoints are created, not applied): pass a
new --project. Against a server with authentication on, give a key with admin on the project
(--api-key, or set SLUICE_API_KEY) or a JWT (--token, SLUICE_TOKEN); for TLS, --ca-file (and
--cert-file/--key-file for mutual TLS).

It checks every answer against what Sluice promises and exits 1, naming the difference, when one
differs; CI runs it against a real server (test/e2e/clients-learning.e2e.test.ts). The Go example
(clients/go/examples/learning) does the same steps and prints the same lines.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc

from sluice import Label, LabelBatch, SluiceClient, SluiceError, Tls
from sluice.v1 import learning_pb2, model_pb2, registry_pb2

USERS = list(range(1, 13))
ROUNDS = 4
# How long to wait for the learner to learn what was sent (it learns behind the label writes).
LEARN_TIMEOUT_SECONDS = 30


def age_of(user: int) -> float:
    return float(20 + user * 7 % 30)


def country_of(user: int) -> str:
    return "fr" if user % 2 == 0 else "de"


def hour_of(round_: int, user: int) -> int:
    return (user * 5 + round_ * 7) % 24


def clicks(user: int, hour: int) -> bool:
    """The rule the outcomes follow: users in "fr" click, and everyone late in the evening."""
    return country_of(user) == "fr" or hour >= 21


class Mismatch(Exception):
    """The server answered something other than what the example expects."""


def expect(what: str, actual: Any, expected: Any) -> None:
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def short_version(name: str) -> str:
    """"projects/p/models/ctr/versions/live" -> "ctr@live"."""
    parts = name.split("/")
    return f"{parts[3]}@{parts[5]}" if len(parts) == 6 else name


def state_name(learner: learning_pb2.Learner) -> str:
    return learning_pb2.LearnerState.Name(learner.status.state).removeprefix("LEARNER_STATE_")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="HOST:PORT of a Sluice server")
    parser.add_argument("--project", default="learning", help="project to create and use (a fresh one each run)")
    parser.add_argument("--api-key", default=os.environ.get("SLUICE_API_KEY", ""), help="API key (default: $SLUICE_API_KEY)")
    parser.add_argument("--token", default=os.environ.get("SLUICE_TOKEN", ""), help="bearer token, a JWT (default: $SLUICE_TOKEN)")
    parser.add_argument("--ca-file", default="", help="PEM CA bundle: connect over TLS, trusting it")
    parser.add_argument("--cert-file", default="", help="PEM client certificate, for mutual TLS (with --key-file)")
    parser.add_argument("--key-file", default="", help="PEM key of --cert-file")
    args = parser.parse_args()
    tls = Tls.from_files(args.ca_file, args.cert_file, args.key_file) if args.ca_file or args.cert_file else None

    credentials = {"api_key": args.api_key or None, "token": args.token or None}
    with SluiceClient(args.address, project=args.project, timeout=10, tls=tls, **credentials) as client:
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
    except SluiceError as error:
        if error.code != grpc.StatusCode.ALREADY_EXISTS:
            raise
        raise Mismatch(f"project {project} already exists: the example needs a fresh project, pass a new --project") from None
    print(f"project {project}: created")

    # The features the learner reads: a number and a string per user.
    entity = client.apply_entity("user", {"user_id": "int64"})
    expect("entity outcome", registry_pb2.ApplyOutcome.Name(entity.outcome), "APPLY_OUTCOME_CREATED")
    print(f"entity user: {registry_pb2.ApplyOutcome.Name(entity.outcome)}")
    view = client.apply_feature_view("profile", entity="user", features={"age": "double", "country": "string"})
    expect("feature view", (registry_pb2.ApplyOutcome.Name(view.outcome), view.feature_view.version), ("APPLY_OUTCOME_CREATED", 1))
    print(f"feature view profile: {registry_pb2.ApplyOutcome.Name(view.outcome)}, version {view.feature_view.version}")
    written_at = datetime.now(timezone.utc) - timedelta(hours=1)
    rows = [
        {"entity_key": {"user_id": u}, "event_time": written_at, "features": {"age": age_of(u), "country": country_of(u)}} for u in USERS
    ]
    written = client.write_feature_batch("profile", rows)
    expect("features accepted", (written.accepted_count, len(written.rejected_rows)), (len(USERS), 0))
    print(f"WriteFeatureBatch: accepted {written.accepted_count}")

    # A logistic learner on a numeric feature, a categorical feature and a numeric request value.
    # Feature refs are pinned at creation ("profile:age" -> "profile@1:age").
    learner = client.create_learner(
        "ctr",
        kind="logistic",
        inputs=[
            {"name": "age", "type": "numeric", "feature": "profile:age"},
            {"name": "country", "type": "categorical", "feature": "profile:country"},
            {"name": "hour", "type": "numeric", "request": "hour"},
        ],
        hash_buckets=16,
        optimizer={"sgd": {"learning_rate": 0.1}},
        checkpoint={"every_examples": 20},
        description="clicks, from the learning example",
    )
    inputs = [f"{i.name}={i.feature or 'request:' + i.request_feature}" for i in learner.inputs]
    expect("learner name", learner.name, f"projects/{project}/learners/ctr")
    expect("learner inputs", inputs, ["age=profile@1:age", "country=profile@1:country", "hour=request:hour"])
    expect("new learner", (state_name(learner), learner.status.examples_learned), ("LEARNING", 0))
    kind = learning_pb2.LearnerKind.Name(learner.kind).removeprefix("LEARNER_KIND_")
    print(f"CreateLearner: ctr {kind}, inputs {' '.join(inputs)}, {state_name(learner)}")

    # Its live state is the version "ctr@live" of the model "ctr": an endpoint serves it as it learns.
    live = f"projects/{project}/models/ctr/versions/live"
    deployment = client.apply_deployment("ctr", "ctr@live", reason="learning example")
    expect("live deployment", deployment.stable_version, live)
    print(f"ApplyDeployment: endpoint ctr, stable {short_version(deployment.stable_version)}, revision {deployment.revision}")

    # Predictions to learn from: one request of every user per round. Nothing is learned yet, so
    # each probability is the untrained 0.5.
    served = []
    for round_ in range(ROUNDS):
        prediction = client.predict("ctr", {"user_id": USERS}, {"hour": [hour_of(round_, u) for u in USERS]})
        expect(f"round {round_} served by", (prediction.model_version, prediction.role), (live, "stable"))
        expect(f"round {round_} probabilities", prediction["probability"], [0.5] * len(USERS))
        served.append(prediction.request_id)
    print(f"Predict: {ROUNDS} requests of {len(USERS)} rows by ctr@live (stable), every probability 0.5000")

    # A batch is appended whole or refused whole: a logistic learner takes 0, 1 or a bool, so the
    # second label refuses the batch, and its first label is not appended either.
    try:
        client.write_labels(LabelBatch("ctr", [Label(1, request_id=served[0], row=0), Label(2, request_id=served[0], row=1)]))
        raise Mismatch("a label of 2 for a logistic learner was accepted")
    except SluiceError as error:
        fields = [v.field for v in error.field_violations]
        expect("refused label", (error.code, error.reason, fields), (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_LABEL", ["labels[1].label"]))
        print(f"WriteLabels refused: {error.code_name} {error.reason} {' '.join(fields)}")

    # The outcomes, by the request id and row of each prediction: two batches on one stream.
    batches = [
        LabelBatch(
            "ctr",
            [Label(clicks(u, hour_of(r, u)), request_id=served[r], row=row) for r in rounds for row, u in enumerate(USERS)],
            write_id=f"labels-{number}",
        )
        for number, rounds in enumerate([range(0, ROUNDS // 2), range(ROUNDS // 2, ROUNDS)], 1)
    ]
    total = ROUNDS * len(USERS)
    response = client.write_labels(batches)
    expect("labels written", (response.accepted, response.unmatched), (total, 0))
    print(f"WriteLabels: {len(batches)} batches, accepted {response.accepted}, unmatched {response.unmatched}")

    # Learning runs behind the writes: wait until every label is learned.
    learner = learned(client, total)
    status = learner.status
    expect("learner status", (status.lag, status.cumulative.examples, status.unmatched_labels, status.refused_examples), (0, total, 0, 0))
    print(
        f"GetLearner: {state_name(learner)}, examples_learned {status.examples_learned}, lag {status.lag},"
        f" accuracy {status.cumulative.accuracy:.4f}, log_loss {status.cumulative.log_loss:.4f}"
    )

    # Pause it (it goes on serving, and learns no more), then see what it learned.
    paused = client.pause_learner("ctr", reason="publish")
    expect("paused", state_name(paused), "PAUSED")
    print(f"PauseLearner: {state_name(paused)}")
    likely = client.predict("ctr", {"user_id": [2]}, {"hour": [22]})["probability"][0]
    unlikely = client.predict("ctr", {"user_id": [3]}, {"hour": [3]})["probability"][0]
    expect("a likely click scores above an unlikely one", likely > unlikely, True)
    print(f"Predict: user 2 at 22h {likely:.4f}, user 3 at 3h {unlikely:.4f} by ctr@live")

    # Publish the paused state as an immutable ONNX version of the model "ctr", with its lineage.
    version = client.publish_learner("ctr", description="published by the learning example")
    expect("published version", version, f"projects/{project}/models/ctr/versions/1")
    published = client.call(client.models.GetModelVersion, model_pb2.GetModelVersionRequest(name=version)).model_version
    lineage = (published.labels["sluice.learner"], published.labels["sluice.examples"])
    expect("published lineage", lineage, (f"projects/{project}/learners/ctr", str(total)))
    print(f"PublishLearner: {short_version(version)}, sluice.examples {published.labels['sluice.examples']}")
    deployment = client.apply_deployment("ctr_published", "ctr@1", reason="learning example")
    expect("published deployment", deployment.stable_version, version)
    print(f"ApplyDeployment: endpoint ctr_published, stable {short_version(deployment.stable_version)}, revision {deployment.revision}")

    # The published version predicts what the live learner predicts, user 99 (no stored features) included.
    users = [*USERS, 99]
    compared = 0
    for hour in (3, 12, 22):
        hours = {"hour": [hour] * len(users)}
        from_live = client.predict("ctr", {"user_id": users}, hours)
        from_published = client.predict("ctr_published", {"user_id": users}, hours)
        expect("served by", (from_live.model_version, from_published.model_version), (live, version))
        for user, a, b in zip(users, from_live["probability"], from_published["probability"]):
            if not abs(a - b) < 1e-6:
                raise Mismatch(f"user {user} at {hour}h: live {a:.9f}, published {b:.9f}")
            compared += 1
    print(f"Predict: {compared} rows, ctr@live and ctr@1 agree within 1e-6")

    # The refused batch appended nothing: every log entry is one of the outcomes.
    final = client.get_learner("ctr")
    expect("final status", (state_name(final), final.status.examples_learned, final.status.entries_consumed), ("PAUSED", total, total))
    print(f"GetLearner: {state_name(final)}, examples_learned {final.status.examples_learned}, entries_consumed {final.status.entries_consumed}")


def learned(client: SluiceClient, count: int) -> learning_pb2.Learner:
    """The learner once it has learned `count` examples (polling)."""
    deadline = time.monotonic() + LEARN_TIMEOUT_SECONDS
    while True:
        learner = client.get_learner("ctr")
        if learner.status.examples_learned >= count or time.monotonic() > deadline:
            expect("examples learned", learner.status.examples_learned, count)
            return learner
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
