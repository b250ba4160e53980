#!/usr/bin/env python3
"""What the Python client adds to an online read: `get_online_features` of one entity and ~10 features
through `SluiceClient` and `sluice.aio.AsyncSluiceClient`, against the generated stub called with a
prebuilt request (the floor), on the same server. Prints one JSON object.

    python3 bench/python/online_overhead.py 127.0.0.1:50051 --setup
    python3 bench/python/online_overhead.py ADDRESS --project shop \\
        --features customer_stats:orders_30d,customer_stats:spend_30d --entity customer_id=1

`--setup` applies an entity and a 10-feature view in the project (`bench` by default) and writes one row,
and reads those features unless `--features` names others. The project, refs and entity can also come
from ONLINE_OVERHEAD_PROJECT, ONLINE_OVERHEAD_FEATURES and ONLINE_OVERHEAD_ENTITY (not SLUICE_*, which the
server refuses in its environment when it does not know them). Latencies are of sequential calls, the floor and the
client measured alternately (floor, client, floor, ...) so that load drifting on a shared machine
affects both alike; `in_flight` is the asyncio client's throughput with that many calls outstanding, beside the raw
stub's and the coalescing client's (`coalesce_online_reads=True`).
Run it with the client of this checkout: PYTHONPATH=clients/python/src.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import grpc

from sluice import SluiceClient, SluiceError
from sluice.aio import AsyncSluiceClient
from sluice.v1 import online_pb2, online_pb2_grpc, types_pb2

VIEW = "overhead_stats"
SETUP_FEATURES = {
    "orders_7d": "int64",
    "orders_30d": "int64",
    "orders_90d": "int64",
    "spend_7d": "double",
    "spend_30d": "double",
    "spend_90d": "double",
    "refunds_30d": "int64",
    "segment": "string",
    "country": "string",
    "active": "bool",
}
SETUP_VALUES = {
    "orders_7d": 1,
    "orders_30d": 4,
    "orders_90d": 9,
    "spend_7d": 5.5,
    "spend_30d": 20.5,
    "spend_90d": 80.25,
    "refunds_30d": 1,
    "segment": "gold",
    "country": "NZ",
    "active": True,
}


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address", help="the server's host:port")
    parser.add_argument("--project", default=os.environ.get("ONLINE_OVERHEAD_PROJECT", "bench"))
    parser.add_argument("--features", default=os.environ.get("ONLINE_OVERHEAD_FEATURES", ""), help="comma-separated feature refs")
    parser.add_argument("--entity", default=os.environ.get("ONLINE_OVERHEAD_ENTITY", "customer_id=1"), help="join_key=value (an int or a string)")
    parser.add_argument("--setup", action="store_true", help="apply the entity and view and write one row first")
    parser.add_argument("--calls", type=int, default=2000, help="sequential calls of each kind measured")
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of the in-flight runs (each, in rounds of a second)")
    return parser.parse_args()


def entity_of(text: str) -> dict[str, list[Any]]:
    key, _, value = text.partition("=")
    return {key: [int(value) if value.lstrip("-").isdigit() else value]}


def set_up(client: SluiceClient, entity: dict[str, list[Any]]) -> None:
    ((key, [value]),) = entity.items()
    try:
        client.create_project(client.project)
    except SluiceError as error:
        if error.code_name != "ALREADY_EXISTS":  # from an earlier run
            raise
    client.apply_entity("overhead_entity", {key: "int64" if isinstance(value, int) else "string"})
    client.apply_feature_view(VIEW, entity="overhead_entity", features=SETUP_FEATURES)
    row = {"entity_key": {key: value}, "event_time": datetime.now(timezone.utc), "features": SETUP_VALUES}
    result = client.write_feature_batch(VIEW, [row])
    if result.rejected_rows:
        raise SystemExit(f"setup write rejected: {result.rejected_rows}")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_us": round(percentile(samples, 0.5), 1),
        "p90_us": round(percentile(samples, 0.9), 1),
        "mean_us": round(statistics.fmean(samples), 1),
        "calls": len(samples),
    }


def paired(floor: Callable[[], Any], measured: Callable[[], Any], calls: int) -> tuple[list[float], list[float]]:
    """Sequential latencies (µs) of two calls measured alternately, after a warmup."""
    for _ in range(max(50, calls // 5)):
        floor()
        measured()
    a: list[float] = []
    b: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        started = clock()
        floor()
        middle = clock()
        measured()
        ended = clock()
        a.append((middle - started) / 1000)
        b.append((ended - middle) / 1000)
    return a, b


async def paired_async(floor: Callable[[], Awaitable[Any]], measured: Callable[[], Awaitable[Any]], calls: int) -> tuple[list[float], list[float]]:
    for _ in range(max(50, calls // 5)):
        await floor()
        await measured()
    a: list[float] = []
    b: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        started = clock()
        await floor()
        middle = clock()
        await measured()
        ended = clock()
        a.append((middle - started) / 1000)
        b.append((ended - middle) / 1000)
    return a, b


async def throughput(call: Callable[[], Awaitable[Any]], in_flight: int, seconds: float) -> tuple[float, float]:
    """Calls per second with `in_flight` calls outstanding at every moment, and this process's CPU
    time per call in microseconds (the client side's cost: near 1e6 / rate, the client is the limit)."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return done / (time.perf_counter() - started), 1e6 * (time.process_time() - cpu) / max(done, 1)


async def alternating_throughput(calls: dict[str, Callable[[], Awaitable[Any]]], in_flight: int, seconds: float) -> dict[str, float]:
    """throughput() of each call, in alternating rounds of a second (so drifting load affects all alike)."""
    rounds = max(1, round(seconds))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    for call in calls.values():
        await throughput(call, in_flight, 0.3)
    for _ in range(rounds):
        for name, call in calls.items():
            results[name].append(await throughput(call, in_flight, seconds / rounds))
    summary: dict[str, float] = {"calls_in_flight": in_flight}
    for name, runs in results.items():
        summary[f"{name}_calls_per_s"] = round(statistics.median(rate for rate, _ in runs))
        summary[f"{name}_cpu_us_per_call"] = round(statistics.median(cpu for _, cpu in runs), 1)
    return summary


def overhead(floor: list[float], measured: list[float]) -> float:
    return round(100 * (percentile(measured, 0.5) / percentile(floor, 0.5) - 1), 1)


async def measure_async(args: argparse.Namespace, features: list[str], entity: dict[str, list[Any]], request: Any) -> dict[str, Any]:
    async with (
        AsyncSluiceClient(args.address, project=args.project) as client,
        AsyncSluiceClient(args.address, project=args.project, coalesce_online_reads=True) as coalescing,
    ):
        # The floor on a plain channel of its own, as a user of the generated stubs would have it.
        async with grpc.aio.insecure_channel(args.address) as channel:
            stub = online_pb2_grpc.OnlineServiceStub(channel)

            async def raw() -> Any:
                return await stub.GetOnlineFeatures(request, timeout=30)

            async def wrapped() -> Any:
                return await client.get_online_features(features, entity)

            async def coalesced() -> Any:
                return await coalescing.get_online_features(features, entity)

            floor, measured = await paired_async(raw, wrapped, args.calls)
            # The coalescing client sends the reads started in one turn as one call (sluice._coalesce).
            in_flight = await alternating_throughput(
                {"raw_stub": raw, "client": wrapped, "coalescing_client": coalesced}, args.in_flight, args.seconds
            )
    return {
        "raw_stub": summary(floor),
        "client": summary(measured),
        "overhead_pct_p50": overhead(floor, measured),
        "in_flight": in_flight,
    }


def main() -> None:
    args = parse_arguments()
    entity = entity_of(args.entity)
    with SluiceClient(args.address, project=args.project) as client:
        if args.setup:
            set_up(client, entity)
        features = [f for f in args.features.split(",") if f] or [f"{VIEW}:{name}" for name in SETUP_FEATURES]
        # The request the wrapper builds (the typed flat layout included), prebuilt once for the floor:
        # the server does the same work for both, and the difference is the wrapper's own.
        def prebuilt(entities: dict[str, list[Any]]) -> online_pb2.GetOnlineFeaturesRequest:
            return online_pb2.GetOnlineFeaturesRequest(
                project=f"projects/{client.project}",
                features=features,
                entities={k: types_pb2.ValueColumn(values=[client_value(v) for v in vs]) for k, vs in entities.items()},
                layout=online_pb2.ONLINE_RESPONSE_LAYOUT_FLAT_TYPED,
            )

        request = prebuilt(entity)
        # A batch read: the entity's row asked for 100 times, where turning the answer into rows weighs more.
        batch = {key: values * 100 for key, values in entity.items()}
        batch_request = prebuilt(batch)
        answer = client.get_online_features(features, entity)
        if not answer or any(answer[0].get(f"{ref.rsplit(':', 1)[-1]}__status") != "PRESENT" for ref in features):
            raise SystemExit(f"the entity has no values for every feature: {answer}")
        with grpc.insecure_channel(args.address) as channel:
            stub = online_pb2_grpc.OnlineServiceStub(channel)
            floor, measured = paired(lambda: stub.GetOnlineFeatures(request, timeout=30), lambda: client.get_online_features(features, entity), args.calls)
            # The client's channel (retries on, 64 MiB limits) against a plain one: the same floor.
            same_channel, _ = paired(
                lambda: client.online.GetOnlineFeatures(request, timeout=30), lambda: client.get_online_features(features, entity), args.calls // 2
            )
            # Without the status and event time of each feature: two thirds of the values to convert.
            bare_floor, bare = paired(
                lambda: stub.GetOnlineFeatures(request, timeout=30),
                lambda: client.get_online_features(features, entity, with_metadata=False),
                args.calls // 2,
            )
            batch_floor, batch_measured = paired(
                lambda: stub.GetOnlineFeatures(batch_request, timeout=30), lambda: client.get_online_features(features, batch), args.calls // 4
            )
    sync = {
        "raw_stub": summary(floor),
        "raw_stub_on_client_channel": summary(same_channel),
        "client": summary(measured),
        "overhead_pct_p50": overhead(floor, measured),
        "client_with_metadata_false": {**summary(bare), "raw_stub_p50_us": summary(bare_floor)["p50_us"], "overhead_pct_p50": overhead(bare_floor, bare)},
        "entity_rows_100": {
            "raw_stub": summary(batch_floor),
            "client": summary(batch_measured),
            "overhead_pct_p50": overhead(batch_floor, batch_measured),
        },
    }
    result = {
        "benchmark": "python client online read overhead",
        "address": args.address,
        "features": len(features),
        "entity_rows": len(next(iter(entity.values()))),
        "python": sys.version.split()[0],
        "grpcio": grpc.__version__,
        "sync": sync,
        "asyncio": asyncio.run(measure_async(args, features, entity, request)),
    }
    print(json.dumps(result, indent=2))


def client_value(value: Any) -> types_pb2.Value:
    return types_pb2.Value(int64_value=value) if isinstance(value, int) else types_pb2.Value(string_value=value)


if __name__ == "__main__":
    main()
