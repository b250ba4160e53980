"""Event streams and aggregated features in the Python client, without a server: specs given the
Python way become the messages the server expects, and malformed ones raise SluiceArgumentError
before a call.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import unittest
from datetime import datetime, timezone
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from sluice import EventBatch, SluiceArgumentError, SluiceClient
from sluice._streams import aggregation, aggregation_function, event_row, feature, features, stream_fields
from sluice._values import to_duration
from sluice.v1 import ingestion_pb2, monitoring_pb2, registry_pb2, types_pb2
from stubs import Recorder

WEEK = 7 * 86_400
AT = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)


class Mapping(unittest.TestCase):
    def refused(self, call: Any) -> SluiceArgumentError:
        with self.assertRaises(SluiceArgumentError) as caught:
            call()
        return caught.exception

    def test_aggregation_functions_by_name_or_enum(self) -> None:
        self.assertEqual(aggregation_function("sum"), registry_pb2.AGGREGATION_FUNCTION_SUM)
        self.assertEqual(aggregation_function("LAST_N"), registry_pb2.AGGREGATION_FUNCTION_LAST_N)
        self.assertEqual(aggregation_function("AGGREGATION_FUNCTION_COUNT_DISTINCT"), registry_pb2.AGGREGATION_FUNCTION_COUNT_DISTINCT)
        self.assertEqual(aggregation_function(registry_pb2.AGGREGATION_FUNCTION_MEAN), registry_pb2.AGGREGATION_FUNCTION_MEAN)
        error = self.refused(lambda: aggregation_function("avg", "features['x'].aggregation.function"))
        self.assertEqual(error.field_violations[0].field, "features['x'].aggregation.function")
        self.assertIn("'avg' is not an aggregation function; expected one of count, sum, mean", error.message)

    def test_aggregations_with_windows_in_seconds(self) -> None:
        self.assertEqual(
            aggregation({"function": "sum", "field": "amount", "window_seconds": WEEK}),
            registry_pb2.Aggregation(
                function=registry_pb2.AGGREGATION_FUNCTION_SUM, field="amount", window=duration_pb2.Duration(seconds=WEEK)
            ),
        )
        lifetime = aggregation({"function": "last_n", "field": "merchant", "k": 5, "filter": "amount > 100"})
        self.assertFalse(lifetime.HasField("window"))
        self.assertEqual((lifetime.k, lifetime.filter), (5, "amount > 100"))
        message = registry_pb2.Aggregation(function=registry_pb2.AGGREGATION_FUNCTION_COUNT)
        self.assertIs(aggregation(message), message)
        self.assertEqual(self.refused(lambda: aggregation({"field": "amount"})).field_violations[0].field, "aggregation.function")
        unknown = self.refused(lambda: aggregation({"function": "sum", "window": WEEK}))
        self.assertIn("has window; expected only function, field, window_seconds, k, filter", unknown.message)

    def test_durations_keep_fractions(self) -> None:
        self.assertEqual(to_duration(1.25), duration_pb2.Duration(seconds=1, nanos=250_000_000))
        self.assertEqual(to_duration(-1.5), duration_pb2.Duration(seconds=-1, nanos=-500_000_000))

    def test_features_plain_or_aggregated(self) -> None:
        specs = features(
            {
                "spend": "double",
                "amount_sum_7d": {"aggregation": {"function": "sum", "field": "amount", "window_seconds": WEEK}},
                "txn_count": {"type": "int64", "aggregation": {"function": "count"}, "description": "all time", "tags": {"team": "fraud"}},
            }
        )
        self.assertEqual(
            [(f.name, f.type, f.HasField("aggregation")) for f in specs],
            [
                ("spend", types_pb2.VALUE_TYPE_DOUBLE, False),
                # No type: the server fills in the aggregation's result type.
                ("amount_sum_7d", types_pb2.VALUE_TYPE_UNSPECIFIED, True),
                ("txn_count", types_pb2.VALUE_TYPE_INT64, True),
            ],
        )
        self.assertEqual((specs[2].description, dict(specs[2].tags)), ("all time", {"team": "fraud"}))
        message = registry_pb2.Feature(name="f", type=types_pb2.VALUE_TYPE_INT32)
        self.assertEqual(features([message]), [message])

    def test_malformed_features_name_the_feature(self) -> None:
        self.assertEqual(self.refused(lambda: feature("plain", {"description": "no type"})).field_violations[0].field, "features['plain'].type")
        bad_function = self.refused(lambda: feature("avg", {"aggregation": {"function": "avg", "field": "amount"}}))
        self.assertEqual(bad_function.field_violations[0].field, "features['avg'].aggregation.function")
        self.assertEqual(self.refused(lambda: feature("x", {"type": "int64", "window": 1})).field_violations[0].field, "features['x']")
        self.assertEqual(self.refused(lambda: feature("x", ["int64"])).field_violations[0].field, "features['x']")  # type: ignore[arg-type]

    def test_stream_fields_and_events(self) -> None:
        self.assertEqual(
            stream_fields({"amount": "double", "merchant": "string"}),
            [
                registry_pb2.StreamField(name="amount", type=types_pb2.VALUE_TYPE_DOUBLE),
                registry_pb2.StreamField(name="merchant", type=types_pb2.VALUE_TYPE_STRING),
            ],
        )
        row = event_row({"entity_key": {"card_id": 7}, "event_time": AT, "fields": {"amount": 12.5, "merchant": None}})
        self.assertEqual(row.entity_key["card_id"].int64_value, 7)
        self.assertEqual(row.event_time, timestamp_pb2.Timestamp(seconds=int(AT.timestamp()), nanos=6_000_000))
        self.assertEqual(row.fields["amount"].double_value, 12.5)
        self.assertIsNone(row.fields["merchant"].WhichOneof("kind"))
        self.assertFalse(row.HasField("created_time"))
        self.assertTrue(event_row({"entity_key": {"card_id": 7}, "event_time": AT, "created_time": AT}).HasField("created_time"))
        # "features" is what a feature row holds: for an event it is a mistake, not a field left out.
        typo = self.refused(lambda: event_row({"entity_key": {"card_id": 7}, "event_time": AT, "features": {"amount": 1.0}}))
        self.assertEqual(
            (typo.field_violations[0].field, typo.message),
            ("events", "events has features; expected only entity_key, event_time, fields, created_time"),
        )
        self.assertEqual(self.refused(lambda: event_row({"fields": {}})).field_violations[0].field, "events")


class Calls(unittest.TestCase):
    def setUp(self) -> None:
        # Nothing listens there; the channel connects lazily and no call gets through.
        self.client = SluiceClient("127.0.0.1:1", project="shop")
        self.addCleanup(self.client.close)

    def test_apply_event_stream(self) -> None:
        self.client.registry = Recorder(registry_pb2.ApplyEventStreamResponse())
        self.client.apply_event_stream(
            "transactions", entity="card", fields={"amount": "double"}, granularity_seconds=60, retention_seconds=90 * 86_400, owner="fraud"
        )
        self.client.apply_event_stream("projects/ml/eventStreams/clicks", entity="user", fields={}, validate_only=True)
        first, second = self.client.registry.requests
        stream = first.event_stream
        self.assertEqual((stream.name, stream.entity, stream.owner), ("projects/shop/eventStreams/transactions", "card", "fraud"))
        self.assertEqual(list(stream.fields), [registry_pb2.StreamField(name="amount", type=types_pb2.VALUE_TYPE_DOUBLE)])
        self.assertEqual((stream.granularity.seconds, stream.retention.seconds), (60, 90 * 86_400))
        # 0 leaves a duration unset: the server's default applies.
        self.assertFalse(stream.HasField("allowed_lateness"))
        self.assertEqual((second.event_stream.name, second.validate_only), ("projects/ml/eventStreams/clicks", True))
        self.assertFalse(second.event_stream.HasField("granularity"))

    def test_event_streams_by_id_or_full_name_and_page_by_page(self) -> None:
        self.client.registry = Recorder(registry_pb2.GetEventStreamResponse())
        self.client.get_event_stream("transactions")
        self.client.get_event_stream("transactions", version=2)
        self.client.get_event_stream("projects/ml/eventStreams/transactions/versions/3")
        self.assertEqual(
            [r.name for r in self.client.registry.requests],
            [
                "projects/shop/eventStreams/transactions",
                "projects/shop/eventStreams/transactions/versions/2",
                "projects/ml/eventStreams/transactions/versions/3",
            ],
        )
        with self.assertRaises(SluiceArgumentError) as caught:
            self.client.get_event_stream("projects/shop/featureViews/transactions")
        self.assertIn('an event stream id such as "transactions"', caught.exception.message)

        self.client.registry = Recorder(
            registry_pb2.ListEventStreamsResponse(event_streams=[registry_pb2.EventStream(name="a")], next_page_token="next"),
            registry_pb2.ListEventStreamsResponse(event_streams=[registry_pb2.EventStream(name="b")]),
        )
        self.assertEqual([s.name for s in self.client.list_event_streams(page_size=1, project="ml")], ["a", "b"])
        self.assertEqual(
            [(r.parent, r.page_size, r.page_token) for r in self.client.registry.requests],
            [("projects/ml", 1, ""), ("projects/ml", 1, "next")],
        )

    def test_apply_aggregation_view(self) -> None:
        self.client.registry = Recorder(registry_pb2.ApplyFeatureViewResponse())
        self.client.apply_feature_view(
            "card_stats",
            entity="card",
            stream="transactions@2",
            log_served_values=True,
            features={"amount_sum_7d": {"aggregation": {"function": "sum", "field": "amount", "window_seconds": WEEK}}},
        )
        view = self.client.registry.requests[0].feature_view
        self.assertEqual((view.name, view.stream, view.log_served_values), ("projects/shop/featureViews/card_stats", "transactions@2", True))
        self.assertEqual(view.features[0].aggregation.window.seconds, WEEK)

    def test_write_event_batch(self) -> None:
        self.client.ingestion = Recorder(
            ingestion_pb2.WriteEventBatchResponse(
                write_id="w1",
                accepted_count=2,
                too_late_count=1,
                event_stream_version=2,
                rejected_rows=[ingestion_pb2.RowRejection(row_index=2)],
            )
        )
        event = {"entity_key": {"card_id": 7}, "event_time": AT, "fields": {"amount": 12.5}}
        result = self.client.write_event_batch("transactions@2", [event, event, {"entity_key": {}, "event_time": AT}], write_id="w1", project="ml")
        request = self.client.ingestion.requests[0]
        self.assertEqual((request.project, request.event_stream, request.write_id, len(request.events)), ("projects/ml", "transactions@2", "w1", 3))
        self.assertEqual(
            (result.accepted_count, result.too_late_count, result.event_stream_version, [r.row_index for r in result.rejected_rows]),
            (2, 1, 2, [2]),
        )

    def test_a_bad_event_batch_ends_the_stream_after_the_good_ones(self) -> None:
        class Ingestion:
            def WriteEvents(self, requests: Any, **_: Any) -> Any:  # noqa: N802 (the stub's name)
                for request in requests:
                    yield ingestion_pb2.WriteEventsResponse(write_id=request.write_id, accepted_count=len(request.events))

        self.client.ingestion = Ingestion()
        event = {"entity_key": {"card_id": 1}, "event_time": AT, "fields": {"amount": 1.0}}
        batches = [
            EventBatch("transactions", [event, event], write_id="a"),
            EventBatch("transactions", [{**event, "features": {}}], write_id="b"),
            EventBatch("transactions", [event], write_id="c"),
        ]
        acks: list[tuple[str, int]] = []
        with self.assertRaises(SluiceArgumentError) as caught:
            for ack in self.client.write_events(batches):
                acks.append((ack.write_id, ack.accepted_count))
        self.assertEqual(acks, [("a", 2)])
        self.assertEqual(caught.exception.field_violations[0].field, "events")

    def test_status_and_served_consistency(self) -> None:
        self.client.ingestion = Recorder(ingestion_pb2.GetEventStreamStatusResponse())
        self.client.get_event_stream_status("transactions@2")
        self.assertEqual([(r.project, r.event_stream) for r in self.client.ingestion.requests], [("projects/shop", "transactions@2")])
        self.client.monitoring = Recorder(monitoring_pb2.CheckServedConsistencyResponse())
        self.client.check_served_consistency("card_stats@3", start=AT, max_values=1000, max_examples=2)
        self.client.check_served_consistency("card_stats", project="projects/ml")
        first, second = self.client.monitoring.requests
        self.assertEqual((first.project, first.feature_view, first.max_values, first.max_examples), ("projects/shop", "card_stats@3", 1000, 2))
        self.assertEqual(first.window.start_time.seconds, int(AT.timestamp()))
        self.assertFalse(first.window.HasField("end_time"))
        self.assertEqual((second.project, second.HasField("window")), ("projects/ml", False))


if __name__ == "__main__":
    unittest.main()
