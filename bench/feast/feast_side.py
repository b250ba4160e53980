"""The Feast side of `npm run bench -- peers` (bench/peers.ts), and the data both sides read.

Subcommands, each printing one JSON object on stdout (progress goes to stderr):

  generate DIR ENTITIES ROWS SPINE SEED   history.parquet and spine.parquet in DIR
  load REPO HISTORY                       a fresh Feast repo: `feast apply` (timed apart), then
                                          store.materialize(start, end) into SQLite (timed)
  pit REPO SPINE [OUT]                    get_historical_features(...).to_df(), timed; OUT: the
                                          frame as Parquet (written after the clock stops)
  online-values REPO IDS_JSON OUT         store.get_online_features for the sample ids, to OUT
  serve-bench URL IDS_JSON ITERATIONS SECONDS CONCURRENCY
                                          POST /get-online-features of `feast serve`: sequential
                                          latency (http.client) and throughput (aiohttp)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(__file__))
from common import (  # noqa: E402
    answer_on_stdout_only,
    ENTITY,
    FEATURE_REFS,
    JOIN_KEY,
    SPINE_TIME,
    TIMESTAMP,
    VIEWS,
    concurrent_throughput,
    emit,
    sample_ids,
    sequential_latency,
)

DAY = 86_400
HISTORY_DAYS = 90
ROW_GROUP = 100_000


# -- data ---------------------------------------------------------------------------------------


def generate(directory: str, entities: int, rows: int, spine_rows: int, seed: int) -> dict:
    """History: `rows` events of `entities` drivers over 90 days ending at the current hour, whole
    seconds, no two events of a driver at the same second (so no tie rule is needed), sorted by
    time; 10 doubles each, 1% of g4 null. Spine: drivers and times drawn so that the boundaries
    matter: half at random times (1% of drivers without history), the rest exactly at an event,
    exactly 7 days after one (driver_b's TTL edge), one second past that, and exactly 30 days
    after one (driver_a's edge); a 0/1 label; no repeated (driver, time)."""
    rng = np.random.default_rng(seed)
    end = int(datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0).timestamp())
    start = end - HISTORY_DAYS * DAY
    drivers = rng.integers(0, entities, size=rows)
    seconds = end - rng.integers(0, HISTORY_DAYS * DAY, size=rows)
    history = pd.DataFrame({JOIN_KEY: drivers, "t": seconds}).drop_duplicates([JOIN_KEY, "t"]).sort_values("t", kind="stable")
    n = len(history)
    columns: dict[str, pa.Array] = {
        JOIN_KEY: pa.array(history[JOIN_KEY].to_numpy(), pa.int64()),
        TIMESTAMP: pa.array(history["t"].to_numpy() * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
    }
    for feature in [f for spec in VIEWS.values() for f in spec["features"]]:
        values = rng.normal(size=n)
        mask = rng.random(n) < 0.01 if feature == "g4" else None
        columns[feature] = pa.array(values, pa.float64(), mask=mask)
    history_path = os.path.join(directory, "history.parquet")
    pq.write_table(pa.table(columns), history_path, row_group_size=ROW_GROUP)

    half = spine_rows // 2
    eighth = (spine_rows - half) // 4
    picked = rng.integers(0, n, size=spine_rows - half)
    at_event = history.iloc[picked]
    offsets = np.concatenate(
        [np.zeros(eighth), np.full(eighth, 7 * DAY), np.full(eighth, 7 * DAY + 1), np.full(len(picked) - 3 * eighth, 30 * DAY)]
    ).astype(np.int64)
    spine = pd.DataFrame(
        {
            JOIN_KEY: np.concatenate([rng.integers(0, int(entities * 1.01), size=half), at_event[JOIN_KEY].to_numpy()]),
            "t": np.concatenate([rng.integers(start + 5 * DAY, end + 1, size=half), at_event["t"].to_numpy() + offsets]),
        }
    ).drop_duplicates([JOIN_KEY, "t"])
    spine = spine.sample(frac=1, random_state=seed).reset_index(drop=True)
    spine_table = pa.table(
        {
            JOIN_KEY: pa.array(spine[JOIN_KEY].to_numpy(), pa.int64()),
            SPINE_TIME: pa.array(spine["t"].to_numpy() * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "label": pa.array(rng.integers(0, 2, size=len(spine)), pa.int64()),
        }
    )
    spine_path = os.path.join(directory, "spine.parquet")
    pq.write_table(spine_table, spine_path)
    # The entities of the online value check and of the online read benchmark, the same on both sides.
    check_ids = os.path.join(directory, "check-ids.json")
    Path(check_ids).write_text(json.dumps(sample_ids(entities, 1000, seed + 1)))
    bench_ids = os.path.join(directory, "bench-ids.json")
    Path(bench_ids).write_text(json.dumps(sample_ids(entities, 10_000, seed + 2)))
    return {
        "history": history_path,
        "spine": spine_path,
        "checkIds": check_ids,
        "benchIds": bench_ids,
        "historyRows": n,
        "spineRows": len(spine),
        "entities": entities,
        "historyDays": HISTORY_DAYS,
        "start": start,
        "end": end,
        "views": VIEWS,
        "entity": ENTITY,
        "joinKey": JOIN_KEY,
        "timestampColumn": TIMESTAMP,
    }


# -- the Feast repo ------------------------------------------------------------------------------

FEATURE_STORE_YAML = """project: sluice_bench
registry: {repo}/data/registry.db
provider: local
online_store:
  type: sqlite
  path: {repo}/data/online_store.db
offline_store:
  type: duckdb
entity_key_serialization_version: 3
"""


def features_py(history: str) -> str:
    """The repo's definitions: the entity, one FileSource on the Parquet file, a view per VIEWS entry."""
    lines = [
        "from datetime import timedelta",
        "from feast import Entity, FeatureView, Field, FileSource, ValueType",
        "from feast.types import Float64, Int64",
        f"driver = Entity(name={ENTITY!r}, join_keys=[{JOIN_KEY!r}], value_type=ValueType.INT64)",
        f"history = FileSource(name='driver_history', path={history!r}, timestamp_field={TIMESTAMP!r})",
    ]
    for name, spec in VIEWS.items():
        fields = ", ".join([f"Field(name={JOIN_KEY!r}, dtype=Int64)", *(f"Field(name={f!r}, dtype=Float64)" for f in spec["features"])])
        lines.append(
            f"{name} = FeatureView(name={name!r}, entities=[driver], ttl=timedelta(days={spec['ttl_days']}), "
            f"schema=[{fields}], source=history, online=True)"
        )
    return "\n".join(lines) + "\n"


def setup(repo: str, history: str) -> dict:
    """Writes a fresh repo over the history file and runs `feast apply` in it (timed)."""
    Path(repo, "data").mkdir(parents=True, exist_ok=False)
    Path(repo, "feature_store.yaml").write_text(FEATURE_STORE_YAML.format(repo=repo))
    Path(repo, "features.py").write_text(features_py(history))
    feast = str(Path(sys.executable).parent / "feast")
    started = time.perf_counter()
    subprocess.run([feast, "apply"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    return {"applySeconds": round(time.perf_counter() - started, 3)}


def load(repo: str, history: str) -> dict:
    """A fresh repo (see setup), then the whole history materialized online."""
    apply_seconds = setup(repo, history)["applySeconds"]
    from feast import FeatureStore

    store = FeatureStore(repo_path=repo)
    times = pq.read_table(history, columns=[TIMESTAMP])[TIMESTAMP]
    first = times.to_pandas().min().to_pydatetime()
    last = times.to_pandas().max().to_pydatetime()
    started = time.perf_counter()
    store.materialize(first - timedelta(seconds=1), last + timedelta(seconds=1))
    materialize_seconds = time.perf_counter() - started
    return {"applySeconds": apply_seconds, "materializeSeconds": round(materialize_seconds, 3)}


# -- point-in-time retrieval ----------------------------------------------------------------------


def pit(repo: str, spine_path: str, out: str | None) -> dict:
    """Timed: get_historical_features over the spine DataFrame, to a pandas DataFrame."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=repo)
    spine = pd.read_parquet(spine_path)
    started = time.perf_counter()
    frame = store.get_historical_features(entity_df=spine, features=FEATURE_REFS).to_df()
    seconds = time.perf_counter() - started
    if out:
        frame.to_parquet(out)
    return {"seconds": round(seconds, 3), "rows": len(frame)}


# -- online reads -----------------------------------------------------------------------------------


def online_values(repo: str, ids_path: str, out: str) -> dict:
    """The SDK's online read of the sample ids (all features): values and statuses, as JSON columns."""
    from feast import FeatureStore

    ids = json.loads(Path(ids_path).read_text())
    from feast.protos.feast.serving.ServingService_pb2 import FieldStatus

    store = FeatureStore(repo_path=repo)
    response = store.get_online_features(features=FEATURE_REFS, entity_rows=[{JOIN_KEY: i} for i in ids])
    answer = response.to_dict()
    names = [ref.split(":")[1] for ref in FEATURE_REFS]
    values = {name: answer[name] for name in names}
    columns = list(response.proto.metadata.feature_names.val)
    statuses = {name: [FieldStatus.Name(s) for s in response.proto.results[columns.index(name)].statuses] for name in names}
    Path(out).write_text(json.dumps({"ids": answer[JOIN_KEY], "values": values, "statuses": statuses}))
    return {"entities": len(ids)}


def serve_bench(url: str, ids_path: str, iterations: int, seconds: float, concurrency: int) -> dict:
    """`feast serve`'s HTTP API, 1 entity x 10 features a call, the JSON answer decoded: sequential
    latency on one keep-alive connection (http.client, the leanest client), then throughput with
    `concurrency` requests in flight (aiohttp, one connection per request in flight)."""
    import asyncio
    import http.client
    from urllib.parse import urlparse

    import aiohttp

    ids = json.loads(Path(ids_path).read_text())
    body = lambda i: json.dumps({"features": FEATURE_REFS, "entities": {JOIN_KEY: [i]}}).encode()  # noqa: E731
    target = urlparse(url)
    connection = http.client.HTTPConnection(target.hostname, target.port)
    headers = {"Content-Type": "application/json"}

    def call(i: int) -> dict:
        connection.request("POST", "/get-online-features", body=body(i), headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"feast serve answered {response.status}: {payload[:300]!r}")
        return json.loads(payload)

    answered = call(ids[0])["metadata"]["feature_names"]
    if len(answered) != 1 + len(FEATURE_REFS):
        raise RuntimeError(f"feast serve answered with columns {answered}, not driver_id and the 10 features")
    sequential = sequential_latency(call, ids, iterations)
    connection.close()

    async def concurrent() -> dict:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(f"{target.scheme}://{target.netloc}", connector=connector, headers=headers) as session:

            async def request(i: int) -> dict:
                async with session.post("/get-online-features", data=body(i)) as response:
                    if response.status != 200:
                        raise RuntimeError(f"feast serve answered {response.status}: {(await response.text())[:300]}")
                    return await response.json()

            return await concurrent_throughput(request, ids, concurrency, seconds)

    return {"sequential": sequential, "concurrent": asyncio.run(concurrent())}


def main() -> None:
    answer_on_stdout_only()
    command, *args = sys.argv[1:]
    if command == "generate":
        directory, entities, rows, spine, seed = args
        emit(generate(directory, int(entities), int(rows), int(spine), int(seed)))
    elif command == "setup":
        emit(setup(*args))
    elif command == "load":
        emit(load(*args))
    elif command == "pit":
        emit(pit(args[0], args[1], args[2] if len(args) > 2 else None))
    elif command == "online-values":
        emit(online_values(*args))
    elif command == "serve-bench":
        url, ids, iterations, seconds, concurrency = args
        emit(serve_bench(url, ids, int(iterations), float(seconds), int(concurrency)))
    else:
        raise SystemExit(f"unknown subcommand {command}")


if __name__ == "__main__":
    main()
