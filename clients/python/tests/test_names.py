"""The naming rule in the Python client, without a server: ids go into the client's project, full
resource names are used unchanged, and anything else raises SluiceArgumentError before a call.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import unittest
from datetime import datetime, timezone
from typing import Any

import grpc

from sluice import Batch, SluiceArgumentError, SluiceClient, SluiceError
from sluice.v1 import inference_pb2, ingestion_pb2, model_pb2, online_pb2, registry_pb2


class Recorder:
    """Stands in for a generated stub: every method records its request and answers `response`."""

    def __init__(self, response: Any) -> None:
        self.requests: list[Any] = []
        self.response = response

    def __getattr__(self, method: str) -> Any:
        def call(request: Any, **_: Any) -> Any:
            self.requests.append(request)
            return self.response

        return call


class NamingRule(unittest.TestCase):
    def setUp(self) -> None:
        # Nothing listens there; the channel connects lazily and no call gets through.
        self.client = SluiceClient("127.0.0.1:1", project="shop")
        self.addCleanup(self.client.close)

    def refused(self, call: Any) -> SluiceArgumentError:
        with self.assertRaises(SluiceArgumentError) as caught:
            call()
        error = caught.exception
        self.assertIsInstance(error, SluiceError)
        self.assertIsInstance(error, ValueError)
        self.assertEqual((error.code, error.code_name, error.request_id), (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", ""))
        return error

    def test_project_is_an_id_or_a_name(self) -> None:
        self.assertEqual(SluiceClient("x:1", project="projects/ml").project, "ml")
        error = self.refused(lambda: SluiceClient("x:1", project="My Project"))
        self.assertEqual(error.field_violations[0].field, "project")
        self.assertIn('"projects/{project}"', error.message)
        self.client.registry = Recorder(registry_pb2.CreateProjectResponse())
        self.client.create_project("projects/ml")
        self.client.create_project("ml")
        self.assertEqual([r.project.name for r in self.client.registry.requests], ["projects/ml", "projects/ml"])

    def test_feature_view_by_id_or_full_name(self) -> None:
        self.client.registry = Recorder(registry_pb2.GetFeatureViewResponse())
        self.client.get_feature_view("stats")
        self.client.get_feature_view("stats", version=2)
        self.client.get_feature_view("projects/ml/featureViews/stats/versions/4")
        self.client.get_feature_view("projects/ml/featureViews/stats", version=5)
        self.assertEqual(
            [r.name for r in self.client.registry.requests],
            [
                "projects/shop/featureViews/stats",
                "projects/shop/featureViews/stats/versions/2",
                "projects/ml/featureViews/stats/versions/4",
                "projects/ml/featureViews/stats/versions/5",
            ],
        )

    def test_malformed_names_show_the_expected_form(self) -> None:
        expected = 'expected a feature view id such as "customer_stats", or "projects/{project}/featureViews/{id}[/versions/{version}]"'
        for bad in ["", "Customer-Stats", "stats@2", "featureViews/stats", "projects/p/entities/stats", "projects/p/featureViews/v/versions/0"]:
            error = self.refused(lambda bad=bad: self.client.get_feature_view(bad))
            self.assertEqual(error.reason, "INVALID_RESOURCE_NAME")
            self.assertEqual(error.field_violations[0].field, "name")
            self.assertTrue(error.field_violations[0].description.endswith(expected), error.field_violations[0].description)
        conflict = self.refused(lambda: self.client.get_feature_view("projects/p/featureViews/v/versions/2", version=3))
        self.assertIn("names version 2, but version 3 was asked for", conflict.message)

    def test_endpoints_and_model_versions(self) -> None:
        self.client.models = Recorder(model_pb2.ApplyDeploymentResponse())
        self.client.apply_deployment("churn", "churn@1", canary=("projects/ml/models/churn/versions/2", 10), shadows=["other@3"])
        deployment = self.client.models.requests[0].deployment
        self.assertEqual(
            (deployment.name, deployment.stable_version, deployment.canary.model_version, list(deployment.shadow_versions)),
            (
                "projects/shop/endpoints/churn",
                "projects/shop/models/churn/versions/1",
                "projects/ml/models/churn/versions/2",
                ["projects/shop/models/other/versions/3"],
            ),
        )
        missing = self.refused(lambda: self.client.apply_deployment("churn", "churn"))
        self.assertEqual(missing.field_violations[0].field, "stable")
        self.assertIn('a model version such as "churn@3"', missing.message)
        bad_endpoint = self.refused(lambda: self.client.predict("Bad-Name", {"customer_id": [1]}))
        self.assertEqual(bad_endpoint.field_violations[0].field, "endpoint")
        self.assertIn('"projects/{project}/endpoints/{id}"', bad_endpoint.message)
        self.client.inference = Recorder(inference_pb2.PredictResponse())
        self.client.predict("projects/ml/endpoints/churn", {"customer_id": [1]})
        self.assertEqual(self.client.inference.requests[0].endpoint, "projects/ml/endpoints/churn")

    def test_a_models_live_version_names_its_learners_live_state(self) -> None:
        self.client.models = Recorder(model_pb2.ApplyDeploymentResponse())
        self.client.apply_deployment("ctr", "ctr@live", canary=("projects/ml/models/ctr/versions/live", 10), shadows=["ctr@1"])
        deployment = self.client.models.requests[0].deployment
        self.assertEqual(
            (deployment.stable_version, deployment.canary.model_version, list(deployment.shadow_versions)),
            ("projects/shop/models/ctr/versions/live", "projects/ml/models/ctr/versions/live", ["projects/shop/models/ctr/versions/1"]),
        )
        # Only a model's version may be "live", spelled so.
        for bad in ["ctr@LIVE", "ctr@live1", "projects/p/models/ctr/versions/Live"]:
            error = self.refused(lambda bad=bad: self.client.apply_deployment("ctr", bad))
            self.assertEqual((error.reason, error.field_violations[0].field), ("INVALID_RESOURCE_NAME", "stable"))
        dataset = self.refused(lambda: self.client.upload_model("ctr", b"", {}, training_dataset="data@live"))
        self.assertEqual(dataset.field_violations[0].field, "training_dataset")
        learner = self.refused(lambda: self.client.get_learner("projects/p/learners/ctr/versions/live"))
        self.assertIn('expected a learner id such as "ctr", or "projects/{project}/learners/{id}"', learner.message)

    def test_applies_leave_the_id_to_the_server_but_not_its_shape(self) -> None:
        self.client.registry = Recorder(registry_pb2.ApplyEntityResponse())
        self.client.apply_entity("Bad Name", {"id": "int64"})
        self.assertEqual(self.client.registry.requests[0].entity.name, "projects/shop/entities/Bad Name")
        self.refused(lambda: self.client.apply_entity("a/b", {"id": "int64"}))

    def test_refs_go_as_written_with_the_project_as_a_name(self) -> None:
        self.client.online = Recorder(online_pb2.GetOnlineFeaturesResponse())
        self.client.get_online_features(["projects/ml/featureViews/stats:f"], {"customer_id": [1]}, project="projects/ml")
        self.client.get_online_features(["stats@2:f"], {"customer_id": [1]})
        requests = self.client.online.requests
        self.assertEqual([(r.project, list(r.features)) for r in requests], [("projects/ml", ["projects/ml/featureViews/stats:f"]), ("projects/shop", ["stats@2:f"])])

    def test_other_bad_arguments_are_argument_errors(self) -> None:
        self.assertEqual(self.refused(lambda: self.client.apply_entity("customer", {"id": "int46"})).field_violations[0].field, "type")
        self.assertEqual(
            self.refused(lambda: self.client.apply_deployment("churn", "churn@1", missing_features="ignore")).field_violations[0].field,
            "missing_features",
        )
        self.assertEqual(self.refused(lambda: self.client.write_feature_batch("stats", [{"features": {}}])).field_violations[0].field, "rows")

    def test_a_bad_batch_ends_the_stream_after_the_good_ones(self) -> None:
        class Ingestion:
            def WriteFeatures(self, requests: Any, **_: Any) -> Any:  # noqa: N802 (the stub's name)
                for request in requests:
                    yield ingestion_pb2.WriteFeaturesResponse(write_id=request.write_id, accepted_count=len(request.rows))

        self.client.ingestion = Ingestion()
        row = {"entity_key": {"id": 1}, "event_time": datetime.now(timezone.utc), "features": {}}
        batches = [Batch("stats", [row], write_id="a"), Batch("stats", [row], write_id="b", project="Not A Project"), Batch("stats", [row])]
        acks: list[str] = []
        with self.assertRaises(SluiceArgumentError) as caught:
            for ack in self.client.write_features(batches):
                acks.append(ack.write_id)
        self.assertEqual(acks, ["a"])
        self.assertEqual(caught.exception.field_violations[0].field, "project")


if __name__ == "__main__":
    unittest.main()
