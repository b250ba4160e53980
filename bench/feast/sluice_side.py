"""The Sluice side of `npm run bench -- peers` (bench/peers.ts), through Sluice's Python client.

Subcommands, each printing one JSON object on stdout (progress goes to stderr):

  pit ADDRESS SPINE [OUT]                   client.get_historical_features over the spine, to a
                                            pandas DataFrame, timed; OUT: the frame as Parquet
  online-values ADDRESS IDS_JSON OUT        client.get_online_features for the sample ids, to OUT
  online-bench ADDRESS IDS_JSON ITERATIONS SECONDS CONCURRENCY
                                            GetOnlineFeatures: sequential latency (blocking client)
                                            and throughput (sluice.aio.AsyncSluiceClient, then
                                            with coalesce_online_reads=True)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from common import FEATURE_REFS, JOIN_KEY, answer_on_stdout_only, concurrent_throughput, emit, sequential_latency  # noqa: E402
from sluice import SluiceClient  # noqa: E402
from sluice.aio import AsyncSluiceClient  # noqa: E402

# Long enough for a full-size training set on a loaded machine.
TIMEOUT_SECONDS = 1800.0


def pit(address: str, spine_path: str, out: str | None) -> dict:
    """Timed: the spine DataFrame in, a pandas DataFrame out (every conversion on the way included)."""
    spine = pd.read_parquet(spine_path)
    with SluiceClient(address, timeout=TIMEOUT_SECONDS) as client:
        started = time.perf_counter()
        frame = client.get_historical_features(features=FEATURE_REFS, spine=spine, as_frame=True)
        seconds = time.perf_counter() - started
    if out:
        frame.to_parquet(out)
    return {"seconds": round(seconds, 3), "rows": len(frame)}


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


def online_bench(address: str, ids_path: str, iterations: int, seconds: float, concurrency: int) -> dict:
    """GetOnlineFeatures of 1 entity x 10 features: sequential through the blocking client, then
    `concurrency` calls in flight through the asyncio client."""
    import asyncio

    ids = json.loads(Path(ids_path).read_text())
    with SluiceClient(address) as client:
        read = lambda i: client.get_online_features(features=FEATURE_REFS, entities={JOIN_KEY: [i]})  # noqa: E731
        sequential = sequential_latency(read, ids, iterations)

    async def concurrent(coalesce: bool) -> dict:
        async with AsyncSluiceClient(address, coalesce_online_reads=coalesce) as client:
            read = lambda i: client.get_online_features(features=FEATURE_REFS, entities={JOIN_KEY: [i]})  # noqa: E731
            return await concurrent_throughput(read, ids, concurrency, seconds)

    # Each caller's read is still one entity; the coalescing client sends those started in one turn as one call.
    return {"sequential": sequential, "concurrent": asyncio.run(concurrent(False)), "concurrentCoalesced": asyncio.run(concurrent(True))}


def main() -> None:
    answer_on_stdout_only()
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
