"""The value checks of `npm run bench -- peers`: do Feast and Sluice return the same values?

  pit FEAST_PARQUET SLUICE_PARQUET HISTORY SPINE
      Both training sets joined on (driver_id, event_time, label); every feature cell compared
      (null, None and NaN are one value; doubles equal within 1e-9 relative). Each side is also held to a
      plain pandas reference: merge_asof (the newest event at or before the spine time) per view,
      nulled where the spine time is more than the view's TTL after it (so an event exactly one TTL
      old still counts, as in both systems). The reference also counts the cells the TTL decided.
  online FEAST_JSON SLUICE_JSON HISTORY
      The online values of the sample entities compared, and both held to the newest event of each
      entity in the file (what both load paths write online); both sides' statuses are counted too.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from common import FEATURES, JOIN_KEY, SPINE_TIME, TIMESTAMP, VIEWS, answer_on_stdout_only, emit  # noqa: E402

KEYS = [JOIN_KEY, SPINE_TIME, "label"]
MAX_EXAMPLES = 5


def micros(column: pd.Series) -> np.ndarray:
    """Timestamps of any unit and zone as int64 microseconds since the epoch (UTC)."""
    return pd.to_datetime(column, utc=True).astype("datetime64[us, UTC]").astype("int64").to_numpy()


def normalized(frame: pd.DataFrame) -> pd.DataFrame:
    """Keys as plain int64 columns, features as float64 with NaN for null."""
    out = pd.DataFrame(
        {
            JOIN_KEY: frame[JOIN_KEY].astype("int64").to_numpy(),
            SPINE_TIME: micros(frame[SPINE_TIME]),
            "label": frame["label"].astype("int64").to_numpy(),
        }
    )
    for feature in FEATURES:
        out[feature] = pd.to_numeric(frame[feature], errors="raise").astype("float64").to_numpy()
    return out


def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cell-wise equality: both null, or both values within 1e-9 relative."""
    both_null = np.isnan(a) & np.isnan(b)
    close = np.abs(a - b) <= 1e-9 * np.maximum(1.0, np.abs(b))
    return both_null | (~np.isnan(a) & ~np.isnan(b) & close)


def reference(history: pd.DataFrame, spine: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The training set by plain pandas, and per view how many non-null answers the TTL took away."""
    events = history.rename(columns={TIMESTAMP: "_t"}).assign(_t=lambda f: micros(f["_t"])).sort_values("_t", kind="stable")
    ordered = spine.assign(_s=micros(spine[SPINE_TIME])).sort_values("_s", kind="stable")
    out = ordered[KEYS + ["_s"]].copy()
    expired: dict[str, int] = {}
    for view, spec in VIEWS.items():
        joined = pd.merge_asof(
            ordered[["_s", JOIN_KEY]],
            events[[JOIN_KEY, "_t", *spec["features"]]],
            left_on="_s",
            right_on="_t",
            by=JOIN_KEY,
            direction="backward",
        )
        too_old = (joined["_s"] - joined["_t"]) > spec["ttl_days"] * 86_400 * 1_000_000
        expired[view] = int(too_old.sum())
        for feature in spec["features"]:
            out[feature] = joined[feature].where(~too_old).to_numpy()
    return normalized(out.drop(columns="_s")), expired


def compare(left: pd.DataFrame, right: pd.DataFrame, names: tuple[str, str]) -> dict[str, Any]:
    """Rows of each side missing from the other, and cells that differ, with a few examples."""
    joined = left.merge(right, on=KEYS, how="outer", suffixes=("_l", "_r"), indicator=True)
    both = joined[joined["_merge"] == "both"]
    mismatched_cells = 0
    bad_rows = np.zeros(len(both), dtype=bool)
    examples: list[dict[str, Any]] = []
    for feature in FEATURES:
        ok = same(both[f"{feature}_l"].to_numpy(), both[f"{feature}_r"].to_numpy())
        mismatched_cells += int((~ok).sum())
        bad_rows |= ~ok
        for _, row in both[~ok].head(MAX_EXAMPLES - len(examples)).iterrows():
            examples.append(
                {
                    JOIN_KEY: int(row[JOIN_KEY]),
                    SPINE_TIME: pd.Timestamp(int(row[SPINE_TIME]), unit="us", tz="UTC").isoformat(),
                    "feature": feature,
                    names[0]: None if math.isnan(row[f"{feature}_l"]) else row[f"{feature}_l"],
                    names[1]: None if math.isnan(row[f"{feature}_r"]) else row[f"{feature}_r"],
                }
            )
    return {
        "rowsCompared": len(both),
        f"rowsOnlyIn{names[0].capitalize()}": int((joined["_merge"] == "left_only").sum()),
        f"rowsOnlyIn{names[1].capitalize()}": int((joined["_merge"] == "right_only").sum()),
        "mismatchedCells": mismatched_cells,
        "mismatchedRows": int(bad_rows.sum()),
        "examples": examples,
    }


def check_pit(feast_path: str, sluice_path: str, history_path: str, spine_path: str) -> dict[str, Any]:
    feast = normalized(pd.read_parquet(feast_path))
    sluice = normalized(pd.read_parquet(sluice_path))
    spine = pd.read_parquet(spine_path)
    expected, expired = reference(pd.read_parquet(history_path), spine)
    feast_vs_sluice = compare(feast, sluice, ("feast", "sluice"))
    null_cells = {view: int(expected[spec["features"]].isna().to_numpy().sum()) for view, spec in VIEWS.items()}
    mismatches = feast_vs_sluice["mismatchedCells"] + feast_vs_sluice["rowsOnlyInFeast"] + feast_vs_sluice["rowsOnlyInSluice"]
    return {
        "spineRows": len(spine),
        "rows": {"feast": len(feast), "sluice": len(sluice)},
        "cellsCompared": feast_vs_sluice["rowsCompared"] * len(FEATURES),
        "feastVsSluice": feast_vs_sluice,
        "mismatches": mismatches,
        "feastVsReference": compare(feast, expected, ("feast", "reference")),
        "sluiceVsReference": compare(sluice, expected, ("sluice", "reference")),
        "reference": {"nullCells": null_cells, "valuesRemovedByTtl": expired},
    }


def check_online(feast_path: str, sluice_path: str, history_path: str) -> dict[str, Any]:
    feast = json.loads(Path(feast_path).read_text())
    sluice = json.loads(Path(sluice_path).read_text())
    history = pd.read_parquet(history_path)
    latest = history.sort_values(TIMESTAMP, kind="stable").groupby(JOIN_KEY).tail(1).set_index(JOIN_KEY)
    as_float = lambda values: np.array([math.nan if v is None else float(v) for v in values])  # noqa: E731
    ids = feast["ids"]
    if ids != sluice["ids"]:
        raise SystemExit("the two online reads were not of the same entities")
    known = np.array([i in latest.index for i in ids])
    mismatches = {"feastVsSluice": 0, "feastVsFile": 0, "sluiceVsFile": 0}
    examples: list[dict[str, Any]] = []
    for feature in FEATURES:
        f = as_float(feast["values"][feature])
        s = as_float(sluice["values"][feature])
        expected = np.array([latest.at[i, feature] if k else math.nan for i, k in zip(ids, known)], dtype="float64")
        for name, ok in (("feastVsSluice", same(f, s)), ("feastVsFile", same(f, expected)), ("sluiceVsFile", same(s, expected))):
            mismatches[name] += int((~ok).sum())
            for index in np.flatnonzero(~ok)[: MAX_EXAMPLES - len(examples)]:
                examples.append(
                    {"check": name, JOIN_KEY: ids[index], "feature": feature, "feast": f[index], "sluice": s[index], "file": expected[index]}
                )
    def tally(answer: dict[str, Any]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for feature in FEATURES:
            for status in answer["statuses"][feature]:
                counts[status] = counts.get(status, 0) + 1
        return counts

    return {
        "entities": len(ids),
        "entitiesWithoutHistory": int((~known).sum()),
        "cellsCompared": len(ids) * len(FEATURES),
        "mismatches": mismatches,
        "feastStatuses": tally(feast),
        "sluiceStatuses": tally(sluice),
        "examples": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in e.items()} for e in examples],
    }


def main() -> None:
    answer_on_stdout_only()
    command, *args = sys.argv[1:]
    if command == "pit":
        emit(check_pit(*args))
    elif command == "online":
        emit(check_online(*args))
    else:
        raise SystemExit(f"unknown subcommand {command}")


if __name__ == "__main__":
    main()
