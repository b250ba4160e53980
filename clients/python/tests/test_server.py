"""The Python client against a real Sluice server (tests/server.py starts the built one): a spine given
as a pandas DataFrame or a pyarrow Table gets the same training set as the same spine given as rows,
whatever its time zone; the answer comes as a DataFrame; and the asyncio client reads online, reads a
training set, writes and predicts as the blocking one does.

    npm run build && PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import asyncio
import math
import unittest
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from server import REPOSITORY, RunningServer, requires_dataframes

from sluice import SluiceArgumentError, SluiceClient, SluiceError
from sluice.aio import AsyncSluiceClient

try:
    import pandas as pd
    import pyarrow as pa
except ImportError:  # pragma: no cover - CI installs them (requirements-dev.txt)
    pd = None

SERVER: RunningServer | None = None
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
FEATURES = ["stats:orders_30d", "stats:spend_30d", "stats:refunds_30d", "stats:segment"]
MODEL = REPOSITORY / "src" / "cli" / "demo-models" / "churn-v1.onnx"


def setUpModule() -> None:  # noqa: N802 - unittest's name
    global SERVER
    SERVER = RunningServer()


def tearDownModule() -> None:  # noqa: N802 - unittest's name
    if SERVER is not None:
        SERVER.stop()


def fresh_project(client: SluiceClient) -> str:
    """A project of its own, with a customer entity and a `stats` view written at two times."""
    project = f"py_{uuid.uuid4().hex[:12]}"
    client.create_project(project)
    client.project = project
    client.apply_entity("customer", {"customer_id": "int64"})
    client.apply_feature_view(
        "stats", entity="customer", features={"orders_30d": "int64", "spend_30d": "double", "refunds_30d": "int64", "segment": "string"}
    )
    rows = [
        {
            "entity_key": {"customer_id": customer},
            "event_time": T0 + timedelta(days=day),
            "features": {"orders_30d": customer * 10 + day, "spend_30d": customer + day / 4, "refunds_30d": day % 2, "segment": f"s{day}"},
        }
        for customer in (1, 2, 3)
        for day in (0, 10)
    ]
    result = client.write_feature_batch("stats", rows)
    assert not result.rejected_rows, result.rejected_rows
    return project


def spine_rows() -> list[dict[str, Any]]:
    """Before, between and after the writes, for customers with values and one without."""
    times = [T0 - timedelta(days=1), T0 + timedelta(days=3), T0 + timedelta(days=12), T0 + timedelta(days=12)]
    labels: list[Any] = [True, None, False, True]
    weights: list[Any] = [0.5, 1.5, None, 2.0]
    notes: list[Any] = ["a", "b", "c", None]
    return [
        {
            "entity_key": {"customer_id": customer},
            "event_time": when,
            "extra_columns": {k: v for k, v in {"churned": label, "weight": weight, "note": note}.items() if v is not None},
        }
        for customer, when, label, weight, note in zip([1, 2, 3, 4], times, labels, weights, notes)
    ]


def frame_of(rows: list[dict[str, Any]]) -> Any:
    """The same spine as a DataFrame: a column per key and extra column, nulls where a row has none."""
    return pd.DataFrame(
        {
            "customer_id": [r["entity_key"]["customer_id"] for r in rows],
            "event_time": pd.to_datetime([r["event_time"] for r in rows], utc=True),
            "churned": pd.array([r["extra_columns"].get("churned") for r in rows], dtype="boolean"),
            "weight": [r["extra_columns"].get("weight", math.nan) for r in rows],
            "note": [r["extra_columns"].get("note") for r in rows],
        }
    )


@requires_dataframes(pd is not None)
class ColumnarSpines(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        assert SERVER is not None
        cls.client = SluiceClient(SERVER.address, timeout=30)
        cls.project = fresh_project(cls.client)
        cls.expected = cls.client.get_historical_features(FEATURES, spine_rows())

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def test_the_rows_spine_gets_point_in_time_values(self) -> None:
        self.assertEqual(
            [(r["customer_id"], r["orders_30d"], r["segment"], r.get("churned"), r.get("weight")) for r in self.expected],
            [(1, None, None, True, 0.5), (2, 20, "s0", None, 1.5), (3, 40, "s10", False, None), (4, None, None, True, 2.0)],
        )

    def test_a_frame_and_a_table_get_what_the_rows_get(self) -> None:
        frame = frame_of(spine_rows())
        for label, spine in {"DataFrame": frame, "Table": pa.Table.from_pandas(frame), "RecordBatch": pa.RecordBatch.from_pandas(frame)}.items():
            with self.subTest(label):
                # The rows spine leaves a missing extra value out; the columns one has it null.
                answer = self.client.get_historical_features(FEATURES, spine, batch_rows=3)
                self.assertEqual(answer, [{k: r.get(k) for k in answer[0]} for r in self.expected])

    def test_naive_aware_and_other_zones_are_the_same_instants(self) -> None:
        frame = frame_of(spine_rows())
        utc = self.client.get_historical_features(FEATURES, frame)
        for label, times in {
            "naive (UTC)": frame["event_time"].dt.tz_localize(None),
            "Pacific/Auckland": frame["event_time"].dt.tz_convert("Pacific/Auckland"),
            "milliseconds": frame["event_time"].astype("datetime64[ms, UTC]"),
        }.items():
            with self.subTest(label):
                self.assertEqual(self.client.get_historical_features(FEATURES, frame.assign(event_time=times)), utc)

    def test_the_answer_as_a_frame(self) -> None:
        answer = self.client.get_historical_features(FEATURES, frame_of(spine_rows()), as_frame=True)
        self.assertIsInstance(answer, pd.DataFrame)
        self.assertEqual(list(answer.columns), ["customer_id", "event_time", "churned", "weight", "note", *[f.split(":")[1] for f in FEATURES]])
        self.assertEqual(str(answer["event_time"].dtype), "datetime64[us, UTC]")
        self.assertEqual(answer["event_time"].tolist(), [pd.Timestamp(r["event_time"]) for r in spine_rows()])
        self.assertEqual(answer["segment"].tolist()[1:3], ["s0", "s10"])
        self.assertTrue(pd.isna(answer["orders_30d"][0]) and pd.isna(answer["weight"][2]))
        self.assertEqual(answer["orders_30d"].tolist()[1:3], [20, 40])

    def test_spines_the_server_would_refuse_are_refused_before_it(self) -> None:
        frame = frame_of(spine_rows())
        with self.assertRaises(SluiceArgumentError) as wrong_key:
            self.client.get_historical_features(FEATURES, frame.assign(customer_id=frame["customer_id"].astype(str)))
        self.assertRegex(wrong_key.exception.message, "spine\\['customer_id'\\] is (large_)?string, but the join key 'customer_id' is int64")
        with self.assertRaises(SluiceArgumentError) as epoch:
            self.client.get_historical_features(FEATURES, frame.assign(event_time=frame["event_time"].astype("int64")))
        self.assertEqual(epoch.exception.field_violations[0].field, "spine['event_time']")

    def test_the_servers_own_refusals(self) -> None:
        with self.assertRaises(SluiceError) as unknown:
            self.client.get_historical_features(["stats:nope"], frame_of(spine_rows()))
        self.assertEqual(unknown.exception.code_name, "NOT_FOUND")
        self.assertTrue(unknown.exception.request_id)
        # An extra column named like a spine column of the server's own.
        with self.assertRaises(SluiceError) as clash:
            self.client.get_historical_features(FEATURES, frame_of(spine_rows()).assign(spine_index=1))
        self.assertEqual((clash.exception.code_name, clash.exception.reason), ("INVALID_ARGUMENT", "INVALID_SPINE_ROWS"))


class AsyncClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        assert SERVER is not None
        cls.client = SluiceClient(SERVER.address, timeout=30)
        cls.project = fresh_project(cls.client)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def run_async(self, test: Any) -> Any:
        async def main() -> Any:
            assert SERVER is not None
            async with AsyncSluiceClient(SERVER.address, project=self.project, timeout=30) as client:
                return await test(client)

        return asyncio.run(main())

    def test_health_and_definitions(self) -> None:
        async def test(client: AsyncSluiceClient) -> None:
            self.assertEqual(await client.health_check(), "SERVING")
            view = await client.get_feature_view("stats")
            self.assertEqual((view.name, view.version), (f"projects/{self.project}/featureViews/stats", 1))
            with self.assertRaises(SluiceError) as missing:
                await client.get_feature_view("nope")
            self.assertEqual((missing.exception.code_name, missing.exception.reason), ("NOT_FOUND", "FEATURE_VIEW_NOT_FOUND"))
            self.assertTrue(missing.exception.request_id)

        self.run_async(test)

    def test_online_reads_as_the_blocking_client_reads(self) -> None:
        entities = {"customer_id": [1, 2, 9]}

        async def test(client: AsyncSluiceClient) -> Any:
            many = await asyncio.gather(*(client.get_online_features(FEATURES, entities) for _ in range(16)))
            table = await client.get_online_features(FEATURES, entities, as_table=True, with_metadata=False)
            return many, table

        many, table = self.run_async(test)
        expected = self.client.get_online_features(FEATURES, entities)
        self.assertEqual(many, [expected] * 16)
        self.assertEqual(expected[0]["orders_30d"], 20)
        self.assertEqual(expected[2]["orders_30d__status"], "NOT_FOUND")
        self.assertEqual(table.column("spend_30d").to_pylist(), [3.5, 4.5, None])

    def run_coalescing(self, test: Any, max_rows: int | None = None) -> tuple[Any, list[int]]:
        """Runs `test` with a coalescing client; also gives the entity rows of each call it sent."""
        sent: list[int] = []

        async def main() -> Any:
            assert SERVER is not None
            async with AsyncSluiceClient(SERVER.address, project=self.project, timeout=30, coalesce_online_reads=True) as client:
                coalescer = client._coalescer
                assert coalescer is not None
                send = coalescer._send

                def counted(request: Any) -> Any:
                    sent.append(len(request.entities["customer_id"].values))
                    return send(request)

                coalescer._send = counted
                if max_rows is not None:
                    coalescer._max_rows = max_rows
                return await test(client)

        return asyncio.run(main()), sent

    def test_coalesced_reads_answer_each_caller_as_alone(self) -> None:
        reads = [{"customer_id": ids} for ids in ([1], [2, 9], [3, 3, 1], [9], [2])]

        async def test(client: AsyncSluiceClient) -> Any:
            rows = [client.get_online_features(FEATURES, entities) for entities in reads]
            bare = [client.get_online_features(FEATURES, entities, with_metadata=False) for entities in reads]
            tables = [client.get_online_features(FEATURES, entities, as_table=True) for entities in reads]
            other = client.get_online_features(FEATURES[:1], reads[1])
            return await asyncio.gather(*rows, *bare, *tables, other)

        answers, sent = self.run_coalescing(test)
        n = len(reads)
        self.assertEqual(answers[:n], [self.client.get_online_features(FEATURES, e) for e in reads])
        self.assertEqual(answers[n : 2 * n], [self.client.get_online_features(FEATURES, e, with_metadata=False) for e in reads])
        for table, entities in zip(answers[2 * n : 3 * n], reads):
            self.assertTrue(table.equals(self.client.get_online_features(FEATURES, entities, as_table=True)))
        self.assertEqual(answers[-1], self.client.get_online_features(FEATURES[:1], reads[1]))
        # One call for the 15 reads of the same features (3 × 8 rows), one for the other selection.
        self.assertEqual(sorted(sent), [2, 24])

    def test_coalesced_read_with_a_bad_entity_fails_alone(self) -> None:
        async def test(client: AsyncSluiceClient) -> Any:
            reads = [client.get_online_features(FEATURES, {"customer_id": ids}) for ids in ([1], ["not a number"], [2])]
            return await asyncio.gather(*reads, return_exceptions=True)

        (first, bad, last), sent = self.run_coalescing(test)
        self.assertEqual([first, last], [self.client.get_online_features(FEATURES, {"customer_id": ids}) for ids in ([1], [2])])
        assert isinstance(bad, SluiceError)
        with self.assertRaises(SluiceError) as alone:
            self.client.get_online_features(FEATURES, {"customer_id": ["not a number"]})
        self.assertEqual((bad.code_name, bad.reason), (alone.exception.code_name, alone.exception.reason))
        self.assertEqual(bad.code_name, "INVALID_ARGUMENT")
        # The coalesced call failed for its content, so each read went again alone.
        self.assertEqual(sent, [3, 1, 1, 1])

    def test_coalesced_calls_hold_at_most_max_rows_and_callers_may_give_up(self) -> None:
        async def test(client: AsyncSluiceClient) -> Any:
            reads = [asyncio.ensure_future(client.get_online_features(FEATURES, {"customer_id": [i, i + 1]})) for i in range(4)]
            await asyncio.sleep(0)  # every read is waiting in a group now, none sent
            reads[1].cancel()
            return [await read for read in (reads[0], reads[2], reads[3])], reads[1].cancelled()

        (answers, cancelled), sent = self.run_coalescing(test, max_rows=5)
        self.assertTrue(cancelled)
        self.assertEqual(answers, [self.client.get_online_features(FEATURES, {"customer_id": [i, i + 1]}) for i in (0, 2, 3)])
        # Groups of two reads (4 rows: a third would pass 5); the cancelled read was not sent, so its partner went alone.
        self.assertEqual(sent, [2, 4])

    def test_training_sets_as_the_blocking_client_gets_them(self) -> None:
        async def test(client: AsyncSluiceClient) -> Any:
            rows = await client.get_historical_features(FEATURES, spine_rows())
            frame = await client.get_historical_features(FEATURES, frame_of(spine_rows()), as_frame=True) if pd is not None else None
            with self.assertRaises(SluiceArgumentError):
                await client.get_historical_features(FEATURES, spine_rows(), batch_rows=0)
            return rows, frame

        rows, frame = self.run_async(test)
        self.assertEqual(rows, self.client.get_historical_features(FEATURES, spine_rows()))
        if frame is not None:
            self.assertTrue(frame.equals(self.client.get_historical_features(FEATURES, frame_of(spine_rows()), as_frame=True)))

    def test_writes_then_predicts(self) -> None:
        pinned = [f"stats@1:{name}" for name in ("orders_30d", "spend_30d", "refunds_30d")]
        version = self.client.upload_model("churn", MODEL, {"features": pinned})
        self.client.apply_deployment("churn", version.name)

        async def test(client: AsyncSluiceClient) -> Any:
            row = {"entity_key": {"customer_id": 5}, "event_time": T0, "features": {"orders_30d": 3, "spend_30d": 9.5, "refunds_30d": 1}}
            written = await client.write_feature_batch("stats", [row, {"entity_key": {"customer_id": 6}, "event_time": T0, "features": {"orders_30d": "x"}}])
            prediction = await client.predict("churn", {"customer_id": [1, 5]})
            with self.assertRaises(SluiceError) as unknown:
                await client.predict("nowhere", {"customer_id": [1]})
            self.assertEqual(unknown.exception.code_name, "NOT_FOUND")
            return written, prediction

        written, prediction = self.run_async(test)
        self.assertEqual((written.accepted_count, [r.row_index for r in written.rejected_rows]), (1, [1]))
        self.assertEqual(prediction.model_version, version.name)
        blocking = self.client.predict("churn", {"customer_id": [1, 5]})
        self.assertEqual(prediction.outputs, blocking.outputs)
        self.assertEqual(prediction.feature_statuses, {ref: ["PRESENT", "PRESENT"] for ref in pinned})
        x = [3.0, 9.5, 1.0]  # customer 5, as written above: the demo model's logistic regression
        expected = 1 / (1 + math.exp(-(sum(w * v for w, v in zip([-0.08, -0.01, 0.5], x)) + 1.0)))
        self.assertAlmostEqual(prediction["churn_probability"][1], expected, places=5)


if __name__ == "__main__":
    unittest.main()
