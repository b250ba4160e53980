"""Online reads without a server: the request the client builds (a template per feature selection,
copied, with the call's entities only) and the rows it makes of an answer.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import unittest
from datetime import datetime, timedelta, timezone

from google.protobuf import timestamp_pb2

from sluice import Int32, SluiceClient
from sluice._channel import MESSAGE_LIMIT_BYTES, channel_options
from sluice._errors import SluiceError
from sluice._online import OnlineRequests, online_answer, online_rows, online_table
from sluice.v1 import online_pb2, types_pb2
from server import requires_dataframes
from stubs import Recorder

try:
    import pyarrow as pa
except ImportError:
    pa = None

AT = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)


def micros(when: datetime) -> int:
    """Microseconds since the epoch, as the flat layout carries event times."""
    return (when - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def stamp(when: datetime | None) -> timestamp_pb2.Timestamp:
    if when is None:
        return timestamp_pb2.Timestamp()
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(when)
    return result


class Requests(unittest.TestCase):
    def test_each_call_has_only_its_own_entities(self) -> None:
        requests = OnlineRequests()
        first, columns = requests.build("projects/shop", ["v:a", "v:b"], {"id": [1, 2]}, "", False)
        second, _ = requests.build("projects/shop", ("v:a", "v:b"), {"id": [3], "region": ["eu"]}, "", False)
        self.assertEqual(columns, {"id": [1, 2]})
        self.assertEqual(
            first,
            online_pb2.GetOnlineFeaturesRequest(
                project="projects/shop",
                features=["v:a", "v:b"],
                entities={"id": types_pb2.ValueColumn(values=[types_pb2.Value(int64_value=1), types_pb2.Value(int64_value=2)])},
                layout=online_pb2.ONLINE_RESPONSE_LAYOUT_FLAT,
            ),
        )
        self.assertEqual(sorted(second.entities), ["id", "region"])
        self.assertEqual([v.int64_value for v in second.entities["id"].values], [3])
        self.assertEqual(second.entities["region"].values[0].string_value, "eu")
        # One template served both (a list and a tuple of the same refs), and was not changed by them.
        self.assertEqual(len(requests._templates), 1)
        self.assertEqual(len(next(iter(requests._templates.values())).entities), 0)

    def test_selections_and_options_are_kept_apart(self) -> None:
        requests = OnlineRequests()
        plain, _ = requests.build("projects/shop", ["v:a"], {"id": [Int32(1)]}, "", False)
        full, _ = requests.build("projects/shop", ["v:a"], {"id": [1]}, "", True)
        service, _ = requests.build("projects/other", [], {"id": [1]}, "svc", False)
        self.assertEqual((plain.full_feature_names, full.full_feature_names), (False, True))
        self.assertEqual(plain.entities["id"].values[0].int32_value, 1)
        self.assertEqual((service.project, service.feature_service, list(service.features)), ("projects/other", "svc", []))
        requests.CAPACITY = 3
        requests.build("projects/shop", ["v:b"], None, "", False)
        self.assertEqual(len(requests._templates), 1)

    def test_the_client_sends_the_built_request(self) -> None:
        client = SluiceClient("127.0.0.1:1", project="shop")
        client.online = Recorder(online_pb2.GetOnlineFeaturesResponse())  # type: ignore[assignment]
        self.assertEqual(client.get_online_features(["v:a"], {"id": [1]}), [{"id": 1}])
        client.get_online_features(["v:a"], {"id": [2]}, project="projects/other")
        self.assertEqual([(r.project, r.entities["id"].values[0].int64_value) for r in client.online.requests], [("projects/shop", 1), ("projects/other", 2)])


class Rows(unittest.TestCase):
    def response(self) -> online_pb2.GetOnlineFeaturesResponse:
        earlier = datetime(2025, 6, 1, tzinfo=timezone.utc)
        # Feature-major: orders of rows 1 and 2, tags of rows 1 and 2, seen of rows 1 and 2.
        return online_pb2.GetOnlineFeaturesResponse(
            feature_names=["orders", "tags", "seen"],
            flat=online_pb2.FlatFeatureValues(
                values=[
                    types_pb2.Value(int64_value=4),
                    types_pb2.Value(),
                    types_pb2.Value(string_list_value=types_pb2.StringList(values=["a"])),
                    types_pb2.Value(),
                    types_pb2.Value(timestamp_value=stamp(AT)),
                    types_pb2.Value(bool_value=False),
                ],
                statuses=[
                    types_pb2.FEATURE_STATUS_PRESENT,
                    types_pb2.FEATURE_STATUS_NOT_FOUND,
                    types_pb2.FEATURE_STATUS_OUTSIDE_MAX_AGE,
                    types_pb2.FEATURE_STATUS_NULL_VALUE,
                    types_pb2.FEATURE_STATUS_PRESENT,
                    9,
                ],
                event_time_micros=[micros(AT), 0, micros(earlier), micros(AT), micros(AT), 0],
            ),
        )

    def test_values_statuses_and_event_times(self) -> None:
        earlier = datetime(2025, 6, 1, tzinfo=timezone.utc)
        rows = online_rows({"id": [1, 2]}, self.response(), True)
        self.assertEqual(
            rows,
            [
                {
                    "id": 1,
                    "orders": 4,
                    "orders__status": "PRESENT",
                    "orders__event_time": AT,
                    "tags": ["a"],
                    "tags__status": "OUTSIDE_MAX_AGE",
                    "tags__event_time": earlier,
                    "seen": AT,
                    "seen__status": "PRESENT",
                    "seen__event_time": AT,
                },
                {
                    "id": 2,
                    "orders": None,
                    "orders__status": "NOT_FOUND",
                    # Never written (0, the epoch), even right after a row with a time.
                    "orders__event_time": None,
                    "tags": None,
                    "tags__status": "NULL_VALUE",
                    "tags__event_time": AT,
                    "seen": False,
                    # A status this client does not know yet is shown by its number.
                    "seen__status": "9",
                    "seen__event_time": None,
                },
            ],
        )
        self.assertEqual(online_rows({"id": [1, 2]}, self.response(), False), [{"id": 1, "orders": 4, "tags": ["a"], "seen": AT}, {"id": 2, "orders": None, "tags": None, "seen": False}])


    @requires_dataframes(pa is not None)
    def test_the_same_columns_as_a_table(self) -> None:
        earlier = datetime(2025, 6, 1, tzinfo=timezone.utc)
        response = online_pb2.GetOnlineFeaturesResponse(
            feature_names=["spend", "tags"],
            resolved_features=[types_pb2.ResolvedFeature(type=types_pb2.VALUE_TYPE_DOUBLE), types_pb2.ResolvedFeature(type=types_pb2.VALUE_TYPE_STRING_LIST)],
            flat=online_pb2.FlatFeatureValues(
                values=[types_pb2.Value(double_value=1.5), types_pb2.Value(), types_pb2.Value(string_list_value=types_pb2.StringList(values=["a"])), types_pb2.Value()],
                statuses=[types_pb2.FEATURE_STATUS_PRESENT, types_pb2.FEATURE_STATUS_NOT_FOUND, types_pb2.FEATURE_STATUS_OUTSIDE_MAX_AGE, types_pb2.FEATURE_STATUS_NULL_VALUE],
                event_time_micros=[micros(AT), 0, micros(earlier), micros(AT)],
            ),
        )
        table = online_table({"id": [1, 2]}, response, True)
        self.assertEqual(table.to_pylist(), online_rows({"id": [1, 2]}, response, True))
        self.assertEqual([str(t) for t in table.schema.types], ["int64", "double", "string", "timestamp[us, tz=UTC]", "list<item: string>", "string", "timestamp[us, tz=UTC]"])

    def test_an_answer_without_the_flat_layout_is_refused_not_read_as_empty(self) -> None:
        older = online_pb2.GetOnlineFeaturesResponse(
            feature_names=["orders"], columns=[online_pb2.FeatureColumn(values=[types_pb2.Value(int64_value=4)], statuses=[1], event_times=[stamp(AT)])]
        )
        with self.assertRaises(SluiceError) as raised:
            online_answer({"id": [1]}, older, True, False)
        self.assertEqual((raised.exception.code_name, raised.exception.reason), ("UNIMPLEMENTED", "ONLINE_LAYOUT_UNSUPPORTED"))
        # No entity rows and no features: nothing to read either way.
        self.assertEqual(online_answer({"id": []}, online_pb2.GetOnlineFeaturesResponse(), True, False), [])

    def test_an_answer_whose_fields_do_not_fit_the_cells_is_refused(self) -> None:
        short = self.response()
        del short.flat.event_time_micros[-1]
        for response, entities in ((short, {"id": [1, 2]}), (self.response(), {"id": [1, 2, 3]})):
            with self.assertRaises(SluiceError) as raised:
                online_answer(entities, response, False, False)
            self.assertEqual((raised.exception.code_name, raised.exception.reason), ("INTERNAL", "ONLINE_ANSWER_MALFORMED"))
        self.assertEqual(len(online_answer({"id": [1, 2]}, self.response(), False, False)), 2)

class ChannelOptions(unittest.TestCase):
    def test_defaults_under_the_callers_options(self) -> None:
        defaults = dict(channel_options([]))
        self.assertEqual(defaults["grpc.max_receive_message_length"], MESSAGE_LIMIT_BYTES)
        self.assertEqual(defaults["grpc.max_send_message_length"], 64 * 1024 * 1024)
        self.assertEqual(defaults["grpc.enable_retries"], 1)
        mine = channel_options([("grpc.max_receive_message_length", 1024), ("grpc.keepalive_time_ms", 10_000)])
        self.assertEqual([value for name, value in mine if name == "grpc.max_receive_message_length"], [1024])
        self.assertEqual(mine[-2:], [("grpc.max_receive_message_length", 1024), ("grpc.keepalive_time_ms", 10_000)])


if __name__ == "__main__":
    unittest.main()
