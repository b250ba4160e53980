"""The Sluice side of `npm run bench -- peers` (bench/peers.ts), through Sluice's Python client.

Subcommands, each printing one JSON object on stdout (progress goes to stderr):

  pit ADDRESS SPINE [OUT]                   client.get_historical_features over the spine, to a
                                            pandas DataFrame, timed; OUT: the frame as Parquet
  online-values ADDRESS IDS_JSON OUT        client.get_online_features for the sample ids, to OUT
  online-bench ADDRESS IDS_JSON ITERATIONS SECONDS CONCURRENCY
                                            GetOnlineFeatures: sequential latency (blocking client)
                                            and throughput (asyncio client)
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from common import FEATURE_REFS, JOIN_KEY, SPINE_TIME, concurrent_throughput, emit, sequential_latency  # noqa: E402
from sluice import SluiceClient  # noqa: E402

# Long enough for a full-size training set on a loaded machine.
TIMEOUT_SECONDS = 1800.0


def historical_frame(client: SluiceClient, spine: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The training set as a pandas DataFrame, and which spine form the client took.

    TODO(owner): the DataFrame spine and `as_frame` are being added to the Python client; once they
    have landed, keep only the first branch (the documented call) and drop the dict-rows fallback.
    """
    if "as_frame" in inspect.signature(client.get_historical_features).parameters:
        return client.get_historical_features(features=FEATURE_REFS, spine=spine, as_frame=True), "DataFrame spine, as_frame=True"
    rows = [
        {"entity_key": {JOIN_KEY: driver}, "event_time": when, "extra_columns": {"label": label}}
        for driver, when, label in zip(spine[JOIN_KEY].tolist(), spine[SPINE_TIME].tolist(), spine["label"].tolist())
    ]
    table = client.get_historical_features(features=FEATURE_REFS, spine=rows, as_table=True)
    return table.to_pandas(), "dict rows, as_table=True, then to_pandas() (fallback: no as_frame yet)"


def pit(address: str, spine_path: str, out: str | None) -> dict:
    """Timed: the spine DataFrame in, a pandas DataFrame out (every conversion on the way included)."""
    spine = pd.read_parquet(spine_path)
    with SluiceClient(address, timeout=TIMEOUT_SECONDS) as client:
        started = time.perf_counter()
        frame, form = historical_frame(client, spine)
        seconds = time.perf_counter() - started
    if out:
        frame.to_parquet(out)
    return {"seconds": round(seconds, 3), "rows": len(frame), "spineForm": form}


def online_values(address: str, ids_path: str, out: str) -> dict:
    """The client's online read of the sample ids (all features): values and statuses, as JSON columns."""
    ids = json.loads(Path(ids_path).read_text())
    with SluiceClient(address) as client:
        rows = client.get_online_features(features=FEATURE_REFS, entities={JOIN_KEY: ids})
    names = [ref.split(":")[1] for ref in FEATURE_REFS]
    values = {name: [row[name] for row in rows] for name in names}
    statuses = {name: [row[f"{name}__status"] for row in rows] for name in names}
    Path(out).write_text(json.dumps({"ids": [row[JOIN_KEY] for row in rows], "values": values, "statuses": statuses}))
    return {"entities": len(ids)}


async def async_reader(address: str) -> tuple[Any, Any, str]:
    """An async `read(driver_id)` of 1 entity x 10 features, a close(), and what it runs on.

    TODO(owner): `sluice.aio.AsyncSluiceClient` is being added; once it has landed, keep only the
    first branch. Until then the generated stub on a grpc.aio channel, decoding every value as the
    blocking client does.
    """
    try:
        from sluice.aio import AsyncSluiceClient  # type: ignore[import-not-found]

        client = AsyncSluiceClient(address)
        read = lambda i: client.get_online_features(features=FEATURE_REFS, entities={JOIN_KEY: [i]})  # noqa: E731
        await read(0)
        return read, client.close, "sluice.aio.AsyncSluiceClient"
    except ImportError as missing:
        reason = str(missing)
    import grpc

    from sluice import from_value
    from sluice.v1 import online_pb2, online_pb2_grpc, types_pb2

    channel = grpc.aio.insecure_channel(address)
    stub = online_pb2_grpc.OnlineServiceStub(channel)

    async def read(i: int) -> list[dict[str, Any]]:
        request = online_pb2.GetOnlineFeaturesRequest(
            project="projects/default",
            features=FEATURE_REFS,
            entities={JOIN_KEY: types_pb2.ValueColumn(values=[types_pb2.Value(int64_value=i)])},
        )
        response = await stub.GetOnlineFeatures(request, timeout=30)
        return [{name: from_value(column.values[0]) for name, column in zip(response.feature_names, response.columns)}]

    return read, channel.close, f"grpc.aio + OnlineServiceStub (fallback: {reason})"


def online_bench(address: str, ids_path: str, iterations: int, seconds: float, concurrency: int) -> dict:
    """GetOnlineFeatures of 1 entity x 10 features: sequential through the blocking client, then
    `concurrency` calls in flight through the asyncio client."""
    import asyncio

    ids = json.loads(Path(ids_path).read_text())
    with SluiceClient(address) as client:
        sequential = sequential_latency(lambda i: client.get_online_features(features=FEATURE_REFS, entities={JOIN_KEY: [i]}), ids, iterations)

    async def concurrent() -> tuple[dict, str]:
        read, close, kind = await async_reader(address)
        try:
            return await concurrent_throughput(read, ids, concurrency, seconds), kind
        finally:
            closed = close()
            if inspect.isawaitable(closed):
                await closed

    throughput, kind = asyncio.run(concurrent())
    return {"sequential": sequential, "concurrent": throughput, "asyncClient": kind}


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "pit":
        emit(pit(args[0], args[1], args[2] if len(args) > 2 else None))
    elif command == "online-values":
        emit(online_values(*args))
    elif command == "online-bench":
        address, ids, iterations, seconds, concurrency = args
        emit(online_bench(address, ids, int(iterations), float(seconds), int(concurrency)))
    else:
        raise SystemExit(f"unknown subcommand {command}")


if __name__ == "__main__":
    main()
