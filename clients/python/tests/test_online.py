"""Online reads without a server: the request the client builds (a template per feature selection,
copied, with the call's entities only) and the rows it makes of an answer.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import unittest
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import timestamp_pb2

from sluice import Int32, SluiceClient
from sluice._channel import MESSAGE_LIMIT_BYTES, channel_options
from sluice._errors import SluiceError
from sluice._online import OnlineRequests, check_online_answer, online_answer, online_rows, online_table
from sluice.v1 import online_pb2, types_pb2
from server import requires_dataframes
from stubs import Recorder, typed_answer

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
                layout=online_pb2.ONLINE_RESPONSE_LAYOUT_FLAT_TYPED,
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


def general_rows(entities: dict[str, list[Any]], response: online_pb2.GetOnlineFeaturesResponse, with_metadata: bool, first: int = 0, total: int | None = None) -> list[dict[str, Any]]:
    """The general reader's rows (online_answer takes a path of its own for one row)."""
    checked = check_online_answer(response, len(entities["id"]) if total is None else total)
    return online_rows(entities, checked, with_metadata, first)


class Rows(unittest.TestCase):
    def response(self) -> online_pb2.GetOnlineFeaturesResponse:
        earlier = datetime(2025, 6, 1, tzinfo=timezone.utc)
        # Feature-major: orders of rows 1 and 2, tags of rows 1 and 2, and so on.
        return typed_answer(
            [
                ("orders", types_pb2.VALUE_TYPE_INT64, [4, None]),
                ("tags", types_pb2.VALUE_TYPE_STRING_LIST, [types_pb2.Value(string_list_value=types_pb2.StringList(values=["a"])), None]),
                ("seen", types_pb2.VALUE_TYPE_TIMESTAMP, [types_pb2.Value(timestamp_value=stamp(AT)), None]),
                ("active", types_pb2.VALUE_TYPE_BOOL, [None, False]),
                ("score", types_pb2.VALUE_TYPE_FLOAT, [0.10000000149011612, -2.0]),
                ("spend", types_pb2.VALUE_TYPE_DOUBLE, [0.1, None]),
                ("segment", types_pb2.VALUE_TYPE_STRING, ["", "gold"]),
                ("level", types_pb2.VALUE_TYPE_INT32, [-3, 2**31 - 1]),
                ("blob", types_pb2.VALUE_TYPE_BYTES, [b"\x00", None]),
                ("big", types_pb2.VALUE_TYPE_INT64, [2**63 - 1, -(2**63)]),
            ],
            statuses=[
                types_pb2.FEATURE_STATUS_PRESENT,
                types_pb2.FEATURE_STATUS_NOT_FOUND,
                types_pb2.FEATURE_STATUS_OUTSIDE_MAX_AGE,
                types_pb2.FEATURE_STATUS_NULL_VALUE,
                types_pb2.FEATURE_STATUS_PRESENT,
                9,
                *[types_pb2.FEATURE_STATUS_NULL_VALUE, types_pb2.FEATURE_STATUS_PRESENT],
                *[types_pb2.FEATURE_STATUS_PRESENT] * 12,
            ],
            event_time_micros=[micros(AT), 0, micros(earlier), micros(AT), micros(AT), 0, *[micros(AT)] * 14],
        )

    def test_values_statuses_and_event_times(self) -> None:
        earlier = datetime(2025, 6, 1, tzinfo=timezone.utc)
        rows = general_rows({"id": [1, 2]}, self.response(), True)
        self.assertEqual(
            [{key: value for key, value in row.items() if key.split("__")[0] in ("id", "orders", "tags", "seen")} for row in rows],
            [
                {
                    "id": 1,
                    "orders": 4,
                    "orders__status": "PRESENT",
                    "orders__event_time": AT,
                    # A value past the view's TTL is still given, with its status.
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
                    "seen": None,
                    # A status this client does not know yet is shown by its number.
                    "seen__status": "9",
                    "seen__event_time": None,
                },
            ],
        )
        # The packed arrays' values as they were written: a null (not False, not 0) where listed null;
        # a float as its float32 value; ints at both ends of int64.
        values = general_rows({"id": [1, 2]}, self.response(), False)
        self.assertEqual(
            values,
            [
                {"id": 1, "orders": 4, "tags": ["a"], "seen": AT, "active": None, "score": 0.10000000149011612, "spend": 0.1, "segment": "", "level": -3, "blob": b"\x00", "big": 2**63 - 1},
                {"id": 2, "orders": None, "tags": None, "seen": None, "active": False, "score": -2.0, "spend": None, "segment": "gold", "level": 2**31 - 1, "blob": None, "big": -(2**63)},
            ],
        )
        self.assertEqual(list(values[0]), ["id", "orders", "tags", "seen", "active", "score", "spend", "segment", "level", "blob", "big"])

    def test_a_callers_rows_of_a_coalesced_answer(self) -> None:
        # Rows 1 and 2 of three: each feature's cells, nulls and statuses shifted by the caller's first row.
        response = typed_answer(
            [("orders", types_pb2.VALUE_TYPE_INT64, [1, None, 3]), ("seen", types_pb2.VALUE_TYPE_TIMESTAMP, [None, types_pb2.Value(timestamp_value=stamp(AT)), None])],
            statuses=[1, 2, 1, 2, 1, 2],
            event_time_micros=[5, 0, 5, 0, micros(AT), 0],
        )
        rows = general_rows({"id": [8, 9]}, response, True, first=1, total=3)
        self.assertEqual([(r["orders"], r["orders__status"], r["seen"], r["seen__event_time"]) for r in rows], [(None, "NULL_VALUE", AT, AT), (3, "PRESENT", None, None)])
        self.assertEqual(online_answer({"id": [7]}, response, False, False, 0, 3), [{"id": 7, "orders": 1, "seen": None}])
        # One row of it, with its statuses and event times.
        (last,) = general_rows({"id": [9]}, response, True, first=2, total=3)
        self.assertEqual(
            last,
            {"id": 9, "orders": 3, "orders__status": "PRESENT", "orders__event_time": datetime(1970, 1, 1, 0, 0, 0, 5, tzinfo=timezone.utc), "seen": None, "seen__status": "NULL_VALUE", "seen__event_time": None},
        )

    def test_one_entity_row_reads_as_it_does_among_others(self) -> None:
        # online_answer reads a single row on a path of its own: each row of the answer, alone (as a
        # coalesced caller's), and as the whole of a one-row answer, is the general reader's row.
        response = self.response()
        for with_metadata in (True, False):
            rows = general_rows({"id": [1, 2]}, response, with_metadata)
            for first in (0, 1):
                (row,) = online_answer({"id": [first + 1]}, response, with_metadata, False, first, 2)
                self.assertEqual((row, list(row)), (rows[first], list(rows[first])))
        single = typed_answer(
            [("orders", types_pb2.VALUE_TYPE_INT64, [None]), ("seen", types_pb2.VALUE_TYPE_TIMESTAMP, [types_pb2.Value(timestamp_value=stamp(AT))])],
            statuses=[types_pb2.FEATURE_STATUS_NOT_FOUND, 9],
            event_time_micros=[0, micros(AT)],
        )
        for with_metadata in (True, False):
            self.assertEqual(online_answer({"id": [3]}, single, with_metadata, False), general_rows({"id": [3]}, single, with_metadata))
        self.assertEqual(
            online_answer({"id": [3]}, single, True, False),
            [{"id": 3, "orders": None, "orders__status": "NOT_FOUND", "orders__event_time": None, "seen": AT, "seen__status": "9", "seen__event_time": AT}],
        )
        # A join key named like a feature keeps its place and takes the feature's value, on both paths.
        clash = typed_answer([("id", types_pb2.VALUE_TYPE_STRING, ["x"])], statuses=[1], event_time_micros=[5])
        self.assertEqual(online_answer({"id": [3]}, clash, False, False), general_rows({"id": [3]}, clash, False))

    @requires_dataframes(pa is not None)
    def test_the_same_columns_as_a_table(self) -> None:
        table = online_table({"id": [1, 2]}, check_online_answer(self.response(), 2), True)
        self.assertEqual(table.to_pylist(), general_rows({"id": [1, 2]}, self.response(), True))
        types = {name: str(table.schema.field(name).type) for name in table.column_names}
        self.assertEqual(
            [types[name] for name in ("id", "orders", "orders__status", "orders__event_time", "tags", "seen", "active", "score", "spend", "segment", "level", "blob")],
            ["int64", "int64", "string", "timestamp[us, tz=UTC]", "list<item: string>", "timestamp[us, tz=UTC]", "bool", "float", "double", "string", "int32", "binary"],
        )

    def test_an_answer_without_the_typed_layout_is_refused_not_read_as_empty(self) -> None:
        # A server older than response layouts answers in columns.
        older = online_pb2.GetOnlineFeaturesResponse(
            feature_names=["orders"], columns=[online_pb2.FeatureColumn(values=[types_pb2.Value(int64_value=4)], statuses=[1], event_times=[stamp(AT)])]
        )
        with self.assertRaises(SluiceError) as raised:
            online_answer({"id": [1]}, older, True, False)
        self.assertEqual((raised.exception.code_name, raised.exception.reason), ("UNIMPLEMENTED", "ONLINE_LAYOUT_UNSUPPORTED"))
        # A value type newer than this client: where its cells are is not known.
        newer = typed_answer([("orders", 99, [types_pb2.Value(int64_value=4)])], statuses=[1], event_time_micros=[1])
        with self.assertRaises(SluiceError) as raised:
            online_answer({"id": [1]}, newer, True, False)
        self.assertEqual((raised.exception.code_name, raised.exception.reason), ("UNIMPLEMENTED", "ONLINE_TYPE_UNSUPPORTED"))
        # No entity rows and no features: nothing to read either way.
        self.assertEqual(online_answer({"id": []}, online_pb2.GetOnlineFeaturesResponse(), True, False), [])
        self.assertEqual(online_answer({"id": [1, 2]}, online_pb2.GetOnlineFeaturesResponse(flat=online_pb2.FlatFeatureValues()), True, False), [{"id": 1}, {"id": 2}])

    def test_an_answer_whose_fields_do_not_fit_the_cells_is_refused(self) -> None:
        def without(change: Any) -> online_pb2.GetOnlineFeaturesResponse:
            response = self.response()
            change(response.flat)
            return response

        malformed = [
            (without(lambda flat: flat.event_time_micros.pop()), {"id": [1, 2]}),
            (without(lambda flat: flat.int64_values.pop()), {"id": [1, 2]}),
            (without(lambda flat: flat.values.add()), {"id": [1, 2]}),
            (without(lambda flat: flat.null_cells.append(20)), {"id": [1, 2]}),
            # Null cells out of order, or twice: found by bisection, they must ascend.
            (without(lambda flat: flat.null_cells.insert(0, 19)), {"id": [1, 2]}),
            (without(lambda flat: flat.null_cells.append(flat.null_cells[-1])), {"id": [1, 2]}),
            # An answer in the flat layout (a Value per cell, no value types), which this client did not ask for.
            (without(lambda flat: flat.ClearField("value_types")), {"id": [1, 2]}),
            (without(lambda flat: flat.value_types.append(types_pb2.VALUE_TYPE_INT64)), {"id": [1, 2]}),
            # An int64 feature's type told as a double: its cells would be sought in the wrong array.
            (without(lambda flat: flat.value_types.__setitem__(0, types_pb2.VALUE_TYPE_DOUBLE)), {"id": [1, 2]}),
            (self.response(), {"id": [1, 2, 3]}),
        ]
        for response, entities in malformed:
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
