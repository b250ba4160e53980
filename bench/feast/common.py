"""What both sides of the Feast comparison share: the two feature views, the sample entities of
the online reads, and the way figures are measured and printed (one JSON object on stdout)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

# The two feature views, both on entity `driver` (int64 join key `driver_id`), read from one
# Parquet file: 5 double features each, and TTLs short enough against the gaps between a driver's
# events (about 9 days on average) that they decide many rows.
ENTITY = "driver"
JOIN_KEY = "driver_id"
TIMESTAMP = "event_timestamp"
SPINE_TIME = "event_time"
VIEWS: dict[str, dict[str, Any]] = {
    "driver_a": {"features": [f"f{i}" for i in range(5)], "ttl_days": 30},
    "driver_b": {"features": [f"g{i}" for i in range(5)], "ttl_days": 7},
}
FEATURE_REFS = [f"{view}:{feature}" for view, spec in VIEWS.items() for feature in spec["features"]]
FEATURES = [feature for spec in VIEWS.values() for feature in spec["features"]]


def sample_ids(entities: int, count: int, seed: int) -> list[int]:
    """Driver ids the online reads ask for, the same on both sides: mostly known, 1% unknown."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(0, entities, size=count)
    unknown = rng.random(count) < 0.01
    ids[unknown] = entities + rng.integers(0, 1000, size=int(unknown.sum()))
    return [int(i) for i in ids]


def latency_summary(nanos: list[int]) -> dict[str, Any]:
    """p50 / p99 / mean in microseconds of call latencies given in nanoseconds."""
    ordered = sorted(nanos)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] // 1000  # noqa: E731
    return {"p50Us": at(0.5), "p99Us": at(0.99), "meanUs": round(sum(ordered) / max(1, len(ordered)) / 1000), "calls": len(ordered)}


def sequential_latency(call: Callable[[int], Any], ids: list[int], iterations: int) -> dict[str, Any]:
    """Calls `call` with one id at a time, after a warm-up of a fifth as many calls."""
    for i in range(max(1, iterations // 5)):
        call(ids[i % len(ids)])
    nanos = []
    for i in range(iterations):
        started = time.perf_counter_ns()
        call(ids[i % len(ids)])
        nanos.append(time.perf_counter_ns() - started)
    return latency_summary(nanos)


async def concurrent_throughput(call: Callable[[int], Any], ids: list[int], concurrency: int, seconds: float) -> dict[str, Any]:
    """Keeps `concurrency` calls of the coroutine function `call` in flight for `seconds` (after a
    one-second warm-up); completed calls per second, their latencies, and the client's CPU use."""
    import asyncio

    async def worker(offset: int, deadline: float, nanos: list[int]) -> None:
        i = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter_ns()
            await call(ids[i % len(ids)])
            nanos.append(time.perf_counter_ns() - started)
            i += concurrency

    warm: list[int] = []
    warm_deadline = time.perf_counter() + 1
    await asyncio.gather(*(worker(w, warm_deadline, warm) for w in range(concurrency)))
    nanos: list[int] = []
    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(w, started + seconds, nanos) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    # The client's own share of a core: near 100, the client rather than the server may set the pace.
    client_cpu = round(100 * (time.process_time() - cpu) / elapsed)
    return {
        "callsPerSecond": round(len(nanos) / elapsed),
        "concurrency": concurrency,
        "clientCpuPercent": client_cpu,
        **latency_summary(nanos),
    }


def answer_on_stdout_only() -> None:
    """Sends whatever else is printed (Feast prints progress on stdout) to stderr, for the rest of the script."""
    sys.stdout = sys.stderr


def emit(result: dict[str, Any]) -> None:
    """The script's answer: one JSON object on the real stdout."""
    json.dump(result, sys.__stdout__)
    sys.__stdout__.write("\n")
    sys.__stdout__.flush()
