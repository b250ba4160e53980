"""The online-learner calls of the Python client, without a server: the requests they build, and
the arguments they refuse before any call.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import unittest
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import grpc

from sluice import Label, LabelBatch, SluiceArgumentError, SluiceClient
from sluice.v1 import learning_pb2


class Learning:
    """Stands in for the LearningService stub: records every request (WriteLabels consumes its
    stream) and answers with `learner`."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.learner = learning_pb2.Learner(name="projects/shop/learners/ctr")

    def WriteLabels(self, requests: Iterator[Any], **_: Any) -> Any:  # noqa: N802 (the stub's name)
        sent = list(requests)
        self.requests.extend(sent)
        return learning_pb2.WriteLabelsResponse(accepted=sum(len(r.labels) for r in sent))

    def PublishLearner(self, request: Any, **_: Any) -> Any:  # noqa: N802
        self.requests.append(request)
        return learning_pb2.PublishLearnerResponse(model_version="projects/shop/models/ctr/versions/1", learner=self.learner)

    def __getattr__(self, method: str) -> Any:
        def call(request: Any, **_: Any) -> Any:
            self.requests.append(request)
            return getattr(learning_pb2, f"{method}Response")(learner=self.learner)

        return call


class LearnerCalls(unittest.TestCase):
    def setUp(self) -> None:
        # Nothing listens there; the channel connects lazily and no call gets through.
        self.client = SluiceClient("127.0.0.1:1", project="shop")
        self.addCleanup(self.client.close)
        self.stub = Learning()
        self.client.learning = self.stub  # type: ignore[assignment]

    def refused(self, call: Any) -> SluiceArgumentError:
        with self.assertRaises(SluiceArgumentError) as caught:
            call()
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(self.stub.requests, [], "nothing is sent")
        return caught.exception

    def create(self, **changes: Any) -> learning_pb2.Learner:
        name = changes.pop("learner", "ctr")
        arguments: dict[str, Any] = {
            "kind": "logistic",
            "inputs": [
                {"name": "age", "type": "numeric", "feature": "profile:age"},
                {"name": "country", "type": "categorical", "feature": "profile:country"},
                {"name": "hour", "type": "numeric", "request": "hour"},
            ],
            "hash_buckets": 16,
            "optimizer": {"sgd": {"learning_rate": 0.05}},
            **changes,
        }
        return self.client.create_learner(name, **arguments)

    def test_create_learner_builds_the_learner(self) -> None:
        self.create(checkpoint={"every_examples": 50}, l2=0.01, description="clicks")
        learner = self.stub.requests[0].learner
        self.assertEqual(learner.name, "projects/shop/learners/ctr")
        self.assertEqual(learner.kind, learning_pb2.LEARNER_KIND_LOGISTIC_REGRESSION)
        self.assertEqual(
            [(i.name, i.type, i.WhichOneof("source"), i.feature or i.request_feature) for i in learner.inputs],
            [
                ("age", learning_pb2.LEARNER_INPUT_TYPE_NUMERIC, "feature", "profile:age"),
                ("country", learning_pb2.LEARNER_INPUT_TYPE_CATEGORICAL, "feature", "profile:country"),
                ("hour", learning_pb2.LEARNER_INPUT_TYPE_NUMERIC, "request_feature", "hour"),
            ],
        )
        self.assertEqual((learner.WhichOneof("optimizer"), learner.sgd.learning_rate), ("sgd", 0.05))
        self.assertEqual((learner.hash_buckets, learner.checkpoint.every_examples, learner.l2, learner.description), (16, 50, 0.01, "clicks"))
        self.client.create_learner(
            "projects/ml/learners/price",
            kind="linear",
            inputs=[learning_pb2.LearnerInput(name="x", type=learning_pb2.LEARNER_INPUT_TYPE_NUMERIC, request_feature="x")],
            optimizer=learning_pb2.FtrlOptimizer(alpha=0.1, beta=1),
        )
        other = self.stub.requests[1].learner
        self.assertEqual((other.name, other.WhichOneof("optimizer"), other.ftrl.alpha), ("projects/ml/learners/price", "ftrl", 0.1))

    def test_create_learner_refuses_bad_arguments(self) -> None:
        cases = [
            ({"learner": "Bad-Name"}, "learner"),
            ({"kind": "forest"}, "kind"),
            ({"inputs": [{"name": "x", "type": "numeric", "feature": "v:x", "request": "x"}]}, "inputs[0]"),
            ({"inputs": [{"name": "x", "type": "number", "request": "x"}]}, "inputs[0].type"),
            ({"inputs": [{"type": "numeric", "request": "x"}]}, "inputs[0].name"),
            ({"inputs": {"name": "x"}}, "inputs"),
            ({"optimizer": {"sgd": {"learning_rate": 0.1}, "ftrl": {"alpha": 1, "beta": 1}}}, "optimizer"),
            ({"optimizer": {"sgd": {"rate": 0.1}}}, "optimizer.sgd"),
            ({"optimizer": {"ftrl": {"alpha": 0.1}}}, "optimizer.ftrl.beta"),
            ({"optimizer": {"sgd": {"learning_rate": "fast"}}}, "optimizer.sgd.learning_rate"),
            ({"hash_buckets": -1}, "hash_buckets"),
            ({"checkpoint": {"every_examples": 1.5}}, "checkpoint.every_examples"),
        ]
        for changes, field in cases:
            with self.subTest(field=field):
                error = self.refused(lambda changes=changes: self.create(**changes))
                self.assertEqual(error.field_violations[0].field, field)

    def test_write_labels_sends_one_message_per_batch(self) -> None:
        when = datetime(2025, 1, 31, tzinfo=timezone.utc)
        response = self.client.write_labels(
            LabelBatch(
                "ctr",
                [
                    Label(True, request_id="r1", row=2),
                    {"entity": {"user_id": 7}, "event_time": when, "label": 0, "request_features": {"hour": 9}},
                ],
                write_id="w1",
            )
        )
        self.assertEqual(response.accepted, 2)
        request = self.stub.requests[0]
        self.assertEqual((request.learner, request.write_id), ("projects/shop/learners/ctr", "w1"))
        by_id, by_entity = request.labels
        self.assertEqual((by_id.request_id, by_id.row, by_id.label.bool_value), ("r1", 2, True))
        self.assertEqual(by_entity.WhichOneof("key"), "entity")
        self.assertEqual((by_entity.entity.join_keys["user_id"].int64_value, by_entity.entity.event_time.ToDatetime(tzinfo=timezone.utc)), (7, when))
        self.assertEqual((by_entity.label.int64_value, by_entity.request_features["hour"].int64_value), (0, 9))
        self.client.write_labels([{"learner": "projects/ml/learners/a", "labels": [Label(1.0, request_id="r")]}, LabelBatch("b", [])])
        self.assertEqual([r.learner for r in self.stub.requests[1:]], ["projects/ml/learners/a", "projects/shop/learners/b"])

    def test_write_labels_refuses_bad_labels_before_sending(self) -> None:
        cases = [
            (Label("yes", request_id="r"), "batches[0].labels[0].label"),
            (Label(float("nan"), request_id="r"), "batches[0].labels[0].label"),
            ({"request_id": "r"}, "batches[0].labels[0].label"),
            (Label(1), "batches[0].labels[0]"),
            (Label(1, request_id="r", entity={"user_id": 1}), "batches[0].labels[0]"),
            (Label(1, entity={"user_id": 1}), "batches[0].labels[0].event_time"),
            (Label(1, request_id="r", row=-1), "batches[0].labels[0].row"),
            ({"request_id": "r", "label": 1, "features": {}}, "batches[0].labels[0]"),
        ]
        for label, field in cases:
            with self.subTest(field=field, label=label):
                error = self.refused(lambda label=label: self.client.write_labels([LabelBatch("ctr", [label])]))
                self.assertEqual(error.field_violations[0].field, field)
        bad_name = self.refused(lambda: self.client.write_labels({"learner": "ctr@2", "labels": []}))
        self.assertEqual((bad_name.reason, bad_name.field_violations[0].field), ("INVALID_RESOURCE_NAME", "batches[0].learner"))

    def test_a_bad_batch_from_an_iterator_ends_the_stream_after_the_good_ones(self) -> None:
        def batches() -> Iterator[LabelBatch]:
            yield LabelBatch("ctr", [Label(1, request_id="a")])
            yield LabelBatch("ctr", [Label("x", request_id="b")])
            yield LabelBatch("ctr", [Label(1, request_id="c")])

        with self.assertRaises(SluiceArgumentError) as caught:
            self.client.write_labels(batches())
        self.assertEqual(caught.exception.field_violations[0].field, "batches[1].labels[0].label")
        self.assertEqual([r.labels[0].request_id for r in self.stub.requests], ["a"])

    def test_learner_names_and_versions(self) -> None:
        self.assertEqual(self.client.publish_learner("ctr", "v1"), "projects/shop/models/ctr/versions/1")
        self.client.get_learner("projects/ml/learners/ctr")
        self.client.pause_learner("ctr", reason="look")
        self.client.resume_learner("ctr")
        self.client.restore_learner("ctr", "ctr@1")
        self.client.restore_learner("ctr", "projects/shop/models/ctr/versions/2")
        requests = self.stub.requests
        self.assertEqual((requests[0].name, requests[0].description), ("projects/shop/learners/ctr", "v1"))
        self.assertEqual([r.name for r in requests[1:]], ["projects/ml/learners/ctr"] + ["projects/shop/learners/ctr"] * 4)
        self.assertEqual(requests[2].reason, "look")
        self.assertEqual([r.model_version for r in requests[4:]], ["projects/shop/models/ctr/versions/1", "projects/shop/models/ctr/versions/2"])
        self.stub.requests.clear()
        self.assertEqual(self.refused(lambda: self.client.get_learner("ctr@live")).field_violations[0].field, "name")
        self.assertEqual(self.refused(lambda: self.client.restore_learner("ctr", "ctr")).field_violations[0].field, "model_version")


if __name__ == "__main__":
    unittest.main()
