"""Spines as pandas DataFrames and pyarrow Tables, without a server: the Arrow IPC streams the client
sends (columns in the types the server reads, NaN as null, event times as given, batches), the
registry reads that find the join keys, the answer as rows, a Table or a DataFrame, and the refusal
of spines that cannot be sent, before any call.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import unittest
from datetime import datetime
from typing import Any

from sluice import SluiceArgumentError, SluiceClient
from sluice.v1 import registry_pb2, training_pb2, types_pb2
from server import requires_dataframes
from stubs import Recorder

try:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
except ImportError:  # pragma: no cover - CI installs them (requirements-dev.txt)
    pd = None

FEATURES = ["stats:orders", "stats:spend"]
JAN_1 = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z in microseconds


def registry(join_keys: dict[str, int], listed: bool = False) -> Recorder:
    """A registry that resolves FEATURES to one view of an entity with `join_keys`: listed in the
    ResolveFeatures answer, or (as a server from before `join_keys` answers) only in the entity."""
    return Recorder(
        registry_pb2.ResolveFeaturesResponse(
            features=[
                types_pb2.ResolvedFeature(ref=ref, feature_view="projects/shop/featureViews/stats", version=3, feature=ref.split(":")[1])
                for ref in FEATURES
            ],
            join_keys=[registry_pb2.JoinKey(name=k, type=t) for k, t in join_keys.items()] if listed else [],
        ),
        registry_pb2.GetFeatureViewResponse(feature_view=registry_pb2.FeatureView(name="projects/shop/featureViews/stats", entity="customer")),
        registry_pb2.GetEntityResponse(
            entity=registry_pb2.Entity(name="projects/shop/entities/customer", join_keys=[registry_pb2.JoinKey(name=k, type=t) for k, t in join_keys.items()])
        ),
    )


class Training:
    """Stands in for TrainingService: records the requests of GetHistoricalFeatures and answers with
    `responses` (by default, a schema and no rows)."""

    def __init__(self, *responses: training_pb2.GetHistoricalFeaturesResponse) -> None:
        self.requests: list[training_pb2.GetHistoricalFeaturesRequest] = []
        self.responses = list(responses) or [training_pb2.GetHistoricalFeaturesResponse(schema=training_pb2.HistoricalFeaturesSchema())]

    def GetHistoricalFeatures(self, requests: Any, **_: Any) -> list[training_pb2.GetHistoricalFeaturesResponse]:  # noqa: N802 - a stub's name
        self.requests.extend(requests)
        return self.responses

    @property
    def batches(self) -> list[Any]:
        """Each spine batch's Arrow IPC stream, read back as a pyarrow.Table."""
        return [pa.ipc.open_stream(r.spine_batch.arrow_ipc).read_all() for r in self.requests if r.HasField("spine_batch")]


def client(join_keys: dict[str, int] | None = None, *responses: training_pb2.GetHistoricalFeaturesResponse) -> SluiceClient:
    client = SluiceClient("127.0.0.1:1", project="shop")
    client.registry = registry(join_keys or {"customer_id": types_pb2.VALUE_TYPE_INT64})  # type: ignore[assignment]
    client.training = Training(*responses)  # type: ignore[assignment]
    return client


def sent(table: Any) -> dict[str, tuple[str, list[Any]]]:
    """Each column of a sent batch: its Arrow type, and its values (None where null)."""
    return {name: (str(table.schema.field(name).type), table.column(name).to_pylist()) for name in table.column_names}


@requires_dataframes(pd is not None)
class ColumnarSpines(unittest.TestCase):
    def frame(self) -> Any:
        return pd.DataFrame(
            {
                "customer_id": [1, 2, 3],
                "event_time": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"], utc=True),
                "churned": [True, False, None],
                "weight": [0.5, np.nan, 2.0],
                "note": ["a", None, "c"],
                "count": pd.array([7, None, 9], dtype="Int64"),
                "small": np.array([1.5, 2.5, 3.5], dtype=np.float32),
                "seen": pd.to_datetime(["2024-12-31", None, "2024-12-30"], utc=True),
                "segment": pd.Categorical(["gold", "silver", None]),
            }
        )

    def test_a_frame_goes_as_one_arrow_stream_in_the_types_the_server_reads(self) -> None:
        fake = client()
        fake.get_historical_features(FEATURES, self.frame())
        self.assertEqual([r.WhichOneof("part") for r in fake.training.requests], ["query", "spine_batch"])
        spine_batch = fake.training.requests[1].spine_batch
        self.assertEqual((len(spine_batch.rows), spine_batch.HasField("columns")), (0, False))
        [table] = fake.training.batches
        as_sent = sent(table)
        # Timestamps go as they are (pandas' unit and zone): the server reads any.
        source = sent(pa.Table.from_pandas(self.frame(), preserve_index=False))
        self.assertEqual((as_sent.pop("event_time"), as_sent.pop("seen")), (source["event_time"], source["seen"]))
        self.assertEqual(source["seen"][1][1], None)
        self.assertEqual(
            as_sent,
            {
                "customer_id": ("int64", [1, 2, 3]),
                "churned": ("bool", [True, False, None]),
                # NaN is pandas' missing value: it goes as a null, which the server keeps; NaN it refuses.
                "weight": ("double", [0.5, None, 2.0]),
                "note": ("string", ["a", None, "c"]),
                "count": ("int64", [7, None, 9]),
                "small": ("float", [1.5, 2.5, 3.5]),
                # A categorical goes as its values.
                "segment": ("string", ["gold", "silver", None]),
            },
        )

    def test_the_join_keys_come_from_the_registry(self) -> None:
        fake = client()
        fake.get_historical_features(FEATURES, self.frame())
        self.assertEqual(
            fake.registry.requests,
            [
                registry_pb2.ResolveFeaturesRequest(project="projects/shop", features=FEATURES),
                registry_pb2.GetFeatureViewRequest(name="projects/shop/featureViews/stats/versions/3"),
                registry_pb2.GetEntityRequest(name="projects/shop/entities/customer"),
            ],
        )
        query = fake.training.requests[0].query
        self.assertEqual((query.inline_spine, query.format), (True, training_pb2.OUTPUT_FORMAT_ROWS))

    def test_one_registry_read_when_the_server_lists_the_join_keys(self) -> None:
        fake = client()
        fake.registry = registry({"customer_id": types_pb2.VALUE_TYPE_INT64}, listed=True)  # type: ignore[assignment]
        fake.get_historical_features(FEATURES, self.frame())
        self.assertEqual(fake.registry.requests, [registry_pb2.ResolveFeaturesRequest(project="projects/shop", features=FEATURES)])
        [table] = fake.training.batches
        self.assertEqual(sent(table)["customer_id"], ("int64", [1, 2, 3]))

    def test_rows_need_no_registry_read(self) -> None:
        fake = client()
        fake.get_historical_features(FEATURES, [{"entity_key": {"customer_id": 1}, "event_time": datetime(2025, 1, 1)}])
        self.assertEqual(fake.registry.requests, [])
        self.assertEqual(len(fake.training.requests[1].spine_batch.rows), 1)

    def test_key_columns_take_the_declared_key_types(self) -> None:
        keys = {"shop_id": types_pb2.VALUE_TYPE_INT32, "country": types_pb2.VALUE_TYPE_STRING, "tag": types_pb2.VALUE_TYPE_BYTES}
        fake = client(keys)
        table = pa.table(
            {
                "shop_id": pa.array([1, 2], pa.int64()),
                "country": pa.array(["NZ", "FR"]).dictionary_encode(),
                "tag": pa.array([b"x", b"y"]),
                "event_time": pa.array([JAN_1, JAN_1], pa.timestamp("us")),
            }
        )
        fake.get_historical_features(FEATURES, table)
        [batch] = fake.training.batches
        self.assertEqual(
            sent(batch),
            {
                "shop_id": ("int32", [1, 2]),
                "country": ("string", ["NZ", "FR"]),
                "tag": ("binary", [b"x", b"y"]),
                "event_time": ("timestamp[us]", [datetime(2025, 1, 1), datetime(2025, 1, 1)]),
            },
        )

    def test_the_other_arrow_types(self) -> None:
        fake = client()
        table = pa.table(
            {
                "customer_id": pa.array([1, 2], pa.uint32()),
                "event_time": pa.array([0, 1], pa.timestamp("s")),
                "u8": pa.array([1, None], pa.uint8()),
                "half": pa.array(np.array([1.5, np.nan], dtype=np.float16)),
                "big_text": pa.array(["x", None], pa.large_string()),
                "text_view": pa.array(["x", None], pa.string_view()),
                "fixed": pa.array([b"ab", None], pa.binary(2)),
                "bytes_view": pa.array([b"x", None], pa.binary_view()),
            }
        )
        fake.get_historical_features(FEATURES, table)
        [batch] = fake.training.batches
        self.assertEqual(
            sent(batch),
            {
                "customer_id": ("int64", [1, 2]),
                # Any unit: the server reads it.
                "event_time": ("timestamp[s]", [datetime(1970, 1, 1), datetime(1970, 1, 1, 0, 0, 1)]),
                "u8": ("int64", [1, None]),
                "half": ("float", [1.5, None]),
                "big_text": ("string", ["x", None]),
                "text_view": ("string", ["x", None]),
                "fixed": ("binary", [b"ab", None]),
                "bytes_view": ("binary", [b"x", None]),
            },
        )

    def test_event_times_go_in_their_own_unit_and_zone(self) -> None:
        # The stored integer is the instant (UTC; a naive time is read as UTC); the server floors
        # nanoseconds to microseconds (a nanosecond before 1970 is the microsecond before it).
        instants = ["1969-12-31T23:59:59.999999999", "2025-01-01T00:00:00.000001"]
        for label, column in {
            "naive ns": pd.to_datetime(instants),
            "utc ns": pd.to_datetime(instants).tz_localize("UTC"),
            "Paris": pd.to_datetime(instants).tz_localize("UTC").tz_convert("Europe/Paris"),
            "arrow us": pa.array([-1, JAN_1 + 1], pa.timestamp("us", tz="Asia/Tokyo")),
            "arrow s": pa.array([-2, 3], pa.timestamp("s")),
        }.items():
            with self.subTest(label):
                fake = client()
                spine = pa.table({"customer_id": [1, 2], "event_time": column})
                fake.get_historical_features(FEATURES, spine)
                self.assertTrue(fake.training.batches[0].column("event_time").equals(spine.column("event_time")))

    def test_batches_of_batch_rows_with_their_own_null_rows(self) -> None:
        fake = client()
        frame = pd.DataFrame(
            {"customer_id": range(5), "event_time": pd.to_datetime([JAN_1] * 5, unit="us", utc=True), "label": [None, 1.0, None, 3.0, None]}
        )
        fake.get_historical_features(FEATURES, frame, batch_rows=2)
        batches = fake.training.batches
        self.assertEqual([b.column("customer_id").to_pylist() for b in batches], [[0, 1], [2, 3], [4]])
        self.assertEqual([b.column("label").to_pylist() for b in batches], [[None, 1.0], [None, 3.0], [None]])
        # Each batch is a whole stream, schema included.
        self.assertEqual({b.schema.names[2] for b in batches}, {"label"})

    def test_a_record_batch_and_an_empty_table(self) -> None:
        fake = client()
        table = pa.Table.from_pandas(self.frame(), preserve_index=False)
        fake.get_historical_features(FEATURES, table.to_batches()[0])
        self.assertEqual(len(fake.training.batches), 1)
        empty = client()
        empty.get_historical_features(FEATURES, table.slice(0, 0))
        self.assertEqual(empty.training.batches, [])

    def test_the_answer_as_rows_a_table_or_a_frame(self) -> None:
        schema = pa.schema([("customer_id", pa.int64()), ("event_time", pa.timestamp("us")), ("orders", pa.int64())])
        table = pa.table({"customer_id": [1, 2], "event_time": pa.array([JAN_1, JAN_1], pa.timestamp("us")), "orders": [4, None]}, schema=schema)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as writer:
            writer.write_table(table)
        ipc = sink.getvalue().to_pybytes()
        parts = [
            training_pb2.GetHistoricalFeaturesResponse(schema=training_pb2.HistoricalFeaturesSchema()),
            training_pb2.GetHistoricalFeaturesResponse(arrow_ipc=ipc[:10]),
            training_pb2.GetHistoricalFeaturesResponse(arrow_ipc=ipc[10:]),
        ]
        spine = self.frame()[["customer_id", "event_time"]]
        self.assertTrue(client(None, *parts).get_historical_features(FEATURES, spine, as_table=True).equals(table))
        fake = client(None, *parts)
        frame = fake.get_historical_features(FEATURES, spine, as_frame=True)
        self.assertIsInstance(frame, pd.DataFrame)
        self.assertEqual(fake.training.requests[0].query.format, training_pb2.OUTPUT_FORMAT_ARROW)
        self.assertEqual(str(frame["event_time"].dtype), "datetime64[us, UTC]")
        self.assertEqual(frame["event_time"][0], pd.Timestamp("2025-01-01", tz="UTC"))
        self.assertEqual(frame["orders"].tolist()[0], 4)
        self.assertTrue(pd.isna(frame["orders"][1]))


    def test_the_spines_columns_come_back_in_its_order(self) -> None:
        def column(name: str, feature: bool = False) -> training_pb2.ColumnSchema:
            return training_pb2.ColumnSchema(name=name, feature=types_pb2.ResolvedFeature(feature=name) if feature else None)

        # The server orders extra columns as it decodes them (here "b" before "a"), keys first.
        schema = training_pb2.HistoricalFeaturesSchema(columns=[column("customer_id"), column("event_time"), column("b"), column("a"), column("orders", True)])
        row = training_pb2.RowChunk.Row(values=[types_pb2.Value(int64_value=n) for n in range(5)])
        fake = client(
            None,
            training_pb2.GetHistoricalFeaturesResponse(schema=schema),
            training_pb2.GetHistoricalFeaturesResponse(rows=training_pb2.RowChunk(rows=[row])),
        )
        spine = pd.DataFrame({"event_time": pd.to_datetime(["2025-01-01"]), "a": [1], "customer_id": [7], "b": [2]})
        [answer] = fake.get_historical_features(FEATURES, spine)
        self.assertEqual(list(answer.items()), [("event_time", 1), ("a", 3), ("customer_id", 0), ("b", 2), ("orders", 4)])
        # A spine of rows keeps the server's order.
        [as_sent] = client(None, *fake.training.responses).get_historical_features(FEATURES, [{"entity_key": {"customer_id": 7}, "event_time": datetime(2025, 1, 1)}])
        self.assertEqual(list(as_sent), ["customer_id", "event_time", "b", "a", "orders"])


@requires_dataframes(pd is not None)
class RefusedSpines(unittest.TestCase):
    """Spines that cannot be sent raise SluiceArgumentError naming the column; nothing is streamed."""

    def refused(self, spine: Any, join_keys: dict[str, int] | None = None, **options: Any) -> SluiceArgumentError:
        fake = client(join_keys)
        with self.assertRaises(SluiceArgumentError) as caught:
            fake.get_historical_features(FEATURES, spine, **options)
        self.assertEqual(fake.training.requests, [])
        return caught.exception

    def spine(self, **columns: Any) -> Any:
        base = {"customer_id": [1, 2], "event_time": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True)}
        return pd.DataFrame({**base, **columns})

    def field_and_message(self, error: SluiceArgumentError) -> tuple[str, str]:
        return error.field_violations[0].field, error.field_violations[0].description

    def test_event_time_must_be_a_timestamp(self) -> None:
        field, message = self.field_and_message(self.refused(self.spine(event_time=[JAN_1, JAN_1])))
        self.assertEqual(field, "spine['event_time']")
        self.assertIn("must be a timestamp column (pandas datetime64, pyarrow timestamp), not int64", message)
        self.assertIn("pandas.to_datetime(frame['event_time'], unit='us', utc=True)", message)
        self.assertRegex(self.refused(self.spine(event_time=["2025-01-01", "2025-01-02"])).message, "not (large_)?string: convert it first")
        self.assertIn("has 1 null values", self.refused(self.spine(event_time=pd.to_datetime(["2025-01-01", None]))).message)
        missing = self.refused(pd.DataFrame({"customer_id": [1]}))
        self.assertIn("has no column 'event_time'", missing.message)

    def test_join_keys_present_typed_and_not_null(self) -> None:
        missing = self.refused(pd.DataFrame({"id": [1], "event_time": pd.to_datetime(["2025-01-01"])}))
        self.assertIn("has no column 'customer_id': the join keys of the features asked for are customer_id", missing.message)
        with_nan = self.field_and_message(self.refused(self.spine(customer_id=[1, None])))
        self.assertEqual(with_nan[0], "spine['customer_id']")
        self.assertIn("is double, but the join key 'customer_id' is int64 (a pandas integer column with missing values is float64", with_nan[1])
        self.assertIn("has 1 null values; every spine row needs its join keys", self.refused(self.spine(customer_id=pd.array([1, None], dtype="Int64"))).message)
        self.assertRegex(self.refused(self.spine(customer_id=["1", "2"])).message, "is (large_)?string, but the join key 'customer_id' is int64$")
        self.assertIn("is int64, but the join key 'country' is string", self.refused(self.spine(country=[1, 2]), {"country": types_pb2.VALUE_TYPE_STRING}).message)
        self.assertIn("has a value outside int32", self.refused(self.spine(customer_id=[1, 2**40]), {"customer_id": types_pb2.VALUE_TYPE_INT32}).message)

    def test_unsupported_column_types_name_the_column(self) -> None:
        lists = self.field_and_message(self.refused(self.spine(tags=[[1], [2]])))
        self.assertEqual(lists[0], "spine['tags']")
        self.assertIn("is list<item: int64>, which a spine column cannot be", lists[1])
        self.assertIn("is uint64", self.refused(self.spine(big=np.array([1, 2], dtype=np.uint64))).message)
        self.assertIn("has no type (every value is null)", self.refused(self.spine(empty=[None, None])).message)
        self.assertIn("is decimal128", self.refused(pa.table({"customer_id": [1], "event_time": pa.array([0], pa.timestamp("us")), "d": pa.array([1], pa.decimal128(5, 2))})).message)
        mixed = self.refused(self.spine(mixed=[1, "two"]))
        self.assertEqual(mixed.field_violations[0].field, "spine")
        self.assertIn("cannot be read as typed columns", mixed.message)
        twice = pa.table([pa.array([1]), pa.array([0], pa.timestamp("us")), pa.array([1])], names=["customer_id", "event_time", "customer_id"])
        self.assertIn("has more than one column named 'customer_id'", self.refused(twice).message)

    def test_options(self) -> None:
        both = self.refused(self.spine(), as_table=True, as_frame=True)
        self.assertEqual(self.field_and_message(both)[0], "as_frame")
        self.assertIn("must be at least 1, not 0", self.refused(self.spine(), batch_rows=0).message)
        self.assertIn("a row is not a str", self.refused(["customer_id"]).message)


if __name__ == "__main__":
    unittest.main()
