"""The River side of `npm run bench -- learning` (bench/learning.ts runs it; nothing else does).

    compare.py DATASET.csv 'MODEL_CONFIG_JSON'   run River test-then-train over a CSV, print JSON
    compare.py --export NAME OUT.csv              write a dataset River ships (Phishing, TrumpApproval)

The model mirrors a Sluice learner exactly: a TransformerUnion of a StandardScaler over the numeric
features and the categorical features hashed the way Sluice hashes them (MurmurHash3 x86 32-bit of
the UTF-8 "name=value", seed 0, unsigned, mod buckets, colliding values adding 1.0 each, no sign
flip), feeding linear_model.LogisticRegression or LinearRegression with the same optimizer and
intercept_lr. Hashing is part of the pipeline, so it is part of River's timed work, as it is of
Sluice's.

The timed loop, per example: predict_proba_one (or predict_one), the metric updates, learn_one.
Reading the CSV and the warm-up pass over the first `warmup` examples (a model thrown away, as
the Sluice side does for its JIT) are not timed. The predicted label for accuracy is p >= 0.5, Sluice's rule
(River's predict_one would say False at exactly 0.5, which only the first, all-zero model gives).
"""

from __future__ import annotations

import csv
import json
import sys
import time

import mmh3
import river
from river import compose, datasets, linear_model, metrics, optim, preprocessing


def read_examples(path: str, config: dict) -> list[tuple[dict, object]]:
    """The CSV's rows as (features, label): numeric columns as floats, categorical as strings."""
    numeric, categorical, label = config["numeric"], config["categorical"], config["label"]
    binary = config["task"] == "binary"
    examples = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            x = {name: float(row[name]) for name in numeric}
            for name in categorical:
                if row[name] != "":
                    x[name] = row[name]
            y = row[label]
            examples.append((x, float(y) == 1.0 if binary else float(y)))
    return examples


def hasher(categorical: list[str], buckets: int):
    """Sluice's categorical encoding as a River function: {"b<bucket>": count}."""

    def hash_categoricals(x: dict) -> dict:
        out: dict[str, float] = {}
        for name in categorical:
            value = x.get(name)
            if value is None:
                continue
            key = f"b{mmh3.hash(f'{name}={value}', 0, signed=False) % buckets}"
            out[key] = out.get(key, 0.0) + 1.0
        return out

    return hash_categoricals


def optimizer(spec: dict):
    """River's counterpart of a Sluice OptimizerSpec."""
    kind = spec["kind"]
    if kind == "sgd":
        if spec.get("schedule", "constant") == "constant":
            return optim.SGD(spec["learningRate"])
        return optim.SGD(optim.schedulers.InverseScaling(spec["learningRate"], spec["power"]))
    if kind == "adagrad":
        return optim.AdaGrad(spec["learningRate"], eps=spec["epsilon"])
    if kind == "ftrl":
        return optim.FTRLProximal(alpha=spec["alpha"], beta=spec["beta"], l1=spec["l1"], l2=spec["l2"])
    raise ValueError(f"unknown optimizer {kind}")


def model(config: dict):
    """StandardScaler on the numeric features (+ hashed categoricals) | a linear model."""
    scaled = compose.Select(*config["numeric"]) | preprocessing.StandardScaler()
    if config["categorical"]:
        scaled = compose.TransformerUnion(scaled, compose.FuncTransformer(hasher(config["categorical"], config["buckets"])))
    kind = linear_model.LogisticRegression if config["task"] == "binary" else linear_model.LinearRegression
    return scaled | kind(optimizer=optimizer(config["optimizer"]), intercept_lr=config.get("interceptLearningRate", 0.01))


def run_binary(examples, pipeline):
    """Test-then-train over a binary stream; returns (seconds, metrics)."""
    log_loss, accuracy = metrics.LogLoss(), metrics.Accuracy()
    started = time.perf_counter()
    for x, y in examples:
        p = pipeline.predict_proba_one(x)[True]
        log_loss.update(y, p)
        accuracy.update(y, p >= 0.5)
        pipeline.learn_one(x, y)
    seconds = time.perf_counter() - started
    return seconds, {"logLoss": log_loss.get(), "accuracy": accuracy.get()}


def run_regression(examples, pipeline):
    """Test-then-train over a regression stream; returns (seconds, metrics)."""
    rmse, mae = metrics.RMSE(), metrics.MAE()
    started = time.perf_counter()
    for x, y in examples:
        prediction = pipeline.predict_one(x)
        rmse.update(y, prediction)
        mae.update(y, prediction)
        pipeline.learn_one(x, y)
    seconds = time.perf_counter() - started
    return seconds, {"rmse": rmse.get(), "mae": mae.get()}


def compare(path: str, config: dict) -> dict:
    """`repeats` fresh models over the same examples; every run's rate and the last run's metrics."""
    examples = read_examples(path, config)
    run = run_binary if config["task"] == "binary" else run_regression
    if config.get("warmup"):
        run(examples[: config["warmup"]], model(config))
    runs, result = [], {}
    for _ in range(config.get("repeats", 1)):
        seconds, result = run(examples, model(config))
        runs.append({"seconds": seconds, "examplesPerSecond": len(examples) / seconds})
    return {"river": river.__version__, "python": sys.version.split()[0], "examples": len(examples), "runs": runs, "metrics": result}


def export(name: str, path: str) -> dict:
    """Writes a dataset bundled in River's package as CSV (label column "y"); no download."""
    dataset = {"Phishing": datasets.Phishing, "TrumpApproval": datasets.TrumpApproval}[name]()
    if not isinstance(dataset, datasets.base.FileDataset) or isinstance(dataset, datasets.base.RemoteDataset):
        raise ValueError(f"{name} is not a dataset bundled in River's package")
    rows = [(x, y) for x, y in dataset]
    names = list(rows[0][0])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*names, "y"])
        for x, y in rows:
            writer.writerow([*(repr(float(x[n])) for n in names), int(y) if isinstance(y, bool) else repr(float(y))])
    return {"dataset": name, "examples": len(rows), "numeric": names, "source": str(dataset.path)}


if __name__ == "__main__":
    if sys.argv[1] == "--export":
        print(json.dumps(export(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(compare(sys.argv[1], json.loads(sys.argv[2]))))
