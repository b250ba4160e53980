"""Online learners given the Python way: a learner's kind, inputs, optimizer and checkpoint policy
as a Learner message, and labels (Label, or dicts) as LabelRecord messages. docs/learning.md and
proto/sluice/v1/learning.proto have the semantics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

from google.protobuf import timestamp_pb2

from sluice._errors import SluiceArgumentError
from sluice._values import PyValue, to_timestamp, to_value
from sluice.v1 import learning_pb2

# A learner's kind by its short name, as the TypeScript SDK spells it.
LEARNER_KINDS = {
    "logistic": learning_pb2.LEARNER_KIND_LOGISTIC_REGRESSION,
    "multinomial": learning_pb2.LEARNER_KIND_MULTINOMIAL_LOGISTIC_REGRESSION,
    "linear": learning_pb2.LEARNER_KIND_LINEAR_REGRESSION,
}
# How an input enters the model: a number (standardised) or a category (hashed).
INPUT_TYPES = {
    "numeric": learning_pb2.LEARNER_INPUT_TYPE_NUMERIC,
    "categorical": learning_pb2.LEARNER_INPUT_TYPE_CATEGORICAL,
}
# Each optimizer's parameters, required ones first.
_OPTIMIZERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sgd": (("learning_rate",), ("power",)),
    "adagrad": (("learning_rate",), ("epsilon",)),
    "ftrl": (("alpha", "beta"), ("l1", "l2")),
}
_OPTIMIZER_MESSAGES = {"sgd": learning_pb2.SgdOptimizer, "adagrad": learning_pb2.AdaGradOptimizer, "ftrl": learning_pb2.FtrlOptimizer}
_INPUT_KEYS = ("name", "type", "feature", "request")
_LABEL_KEYS = ("label", "request_id", "row", "entity", "event_time", "request_features")
_BATCH_KEYS = ("learner", "labels", "write_id")

# One input: {"name": "age", "type": "numeric", "feature": "profile:age"} (a feature ref, pinned
# at creation) or {"name": "hour", "type": "numeric", "request": "hour"} (a value sent with each
# Predict request and each label keyed by entity), or a LearnerInput message.
LearnerInputLike = Union[Mapping[str, str], learning_pb2.LearnerInput]
# Exactly one optimizer: {"sgd": {"learning_rate": 0.05, "power": 0}}, {"adagrad": {"learning_rate":
# 0.1, "epsilon": 0}}, {"ftrl": {"alpha": 0.1, "beta": 1, "l1": 0, "l2": 0}}, or its message.
OptimizerLike = Union[Mapping[str, Mapping[str, float]], learning_pb2.SgdOptimizer, learning_pb2.AdaGradOptimizer, learning_pb2.FtrlOptimizer]
# When the learner's state is checkpointed: {"every_examples": 10_000, "every_seconds": 10}, or a CheckpointPolicy.
CheckpointLike = Union[Mapping[str, int], learning_pb2.CheckpointPolicy]


@dataclass
class Label:
    """One label: the outcome of a served prediction, by its `request_id` (the Prediction's) and
    entity `row` (0 for single-row requests), or of an entity's event, by `entity` (join key ->
    value) and `event_time`, with the learner's request-time inputs in `request_features`.

    `label` is 0/1 or a bool for a logistic learner, a class index for a multinomial one, a number
    for a linear one. A dict with the same keys does as well."""

    label: bool | int | float
    request_id: str = ""
    row: int = 0
    entity: Mapping[str, PyValue] | None = None
    event_time: datetime | timestamp_pb2.Timestamp | None = None
    request_features: Mapping[str, PyValue] | None = None


@dataclass
class LabelBatch:
    """One WriteLabels message: labels for one learner (an id or a full name), appended to its log
    whole or refused whole. A retry with the same `write_id` is appended once. A dict with the same
    keys does as well."""

    learner: str
    labels: Sequence[Label | Mapping[str, Any] | learning_pb2.LabelRecord]
    write_id: str = ""


LabelBatchLike = Union[LabelBatch, Mapping[str, Any]]


def is_label_batch(value: object) -> bool:
    """Whether `value` is one batch (rather than an iterable of them)."""
    return isinstance(value, LabelBatch) or (isinstance(value, Mapping) and "learner" in value)


def learner_kind(kind: str | int, field: str = "kind") -> int:
    """"logistic", "multinomial" or "linear" (or the LearnerKind number) -> sluice.v1.LearnerKind."""
    if isinstance(kind, int) and not isinstance(kind, bool):
        return kind
    if not isinstance(kind, str) or kind not in LEARNER_KINDS:
        raise SluiceArgumentError.for_argument(field, f"{kind!r} is not a learner kind; expected one of {', '.join(LEARNER_KINDS)}")
    return LEARNER_KINDS[kind]


def learner_inputs(inputs: Sequence[LearnerInputLike], field: str = "inputs") -> list[learning_pb2.LearnerInput]:
    """A learner's inputs as LearnerInput messages (messages are used as they are)."""
    if isinstance(inputs, (str, bytes, Mapping)) or not isinstance(inputs, Sequence):
        raise SluiceArgumentError.for_argument(field, f"must be a list of inputs, not {inputs!r:.80}")
    out: list[learning_pb2.LearnerInput] = []
    for i, spec in enumerate(inputs):
        at = f"{field}[{i}]"
        if isinstance(spec, learning_pb2.LearnerInput):
            out.append(spec)
            continue
        if not isinstance(spec, Mapping):
            raise SluiceArgumentError.for_argument(at, f'must be {{"name": ..., "type": "numeric", "feature": "view:feature"}}, not {spec!r:.80}')
        refuse_unknown_keys(spec, _INPUT_KEYS, at)
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise SluiceArgumentError.for_argument(f"{at}.name", "is required (a non-empty string)", reason="MISSING_FIELD")
        kind = spec.get("type")
        if kind not in INPUT_TYPES:
            raise SluiceArgumentError.for_argument(f"{at}.type", f"must be one of {', '.join(INPUT_TYPES)}, not {kind!r}")
        sources = [key for key in ("feature", "request") if spec.get(key) is not None]
        if len(sources) != 1:
            raise SluiceArgumentError.for_argument(at, "must have one of feature (a feature ref) or request (a request value's name)")
        source = spec[sources[0]]
        if not isinstance(source, str) or not source:
            raise SluiceArgumentError.for_argument(f"{at}.{sources[0]}", f"must be a non-empty string, not {source!r:.40}")
        if sources[0] == "feature":
            out.append(learning_pb2.LearnerInput(name=name, type=INPUT_TYPES[kind], feature=source))
        else:
            out.append(learning_pb2.LearnerInput(name=name, type=INPUT_TYPES[kind], request_feature=source))
    return out


def optimizer(spec: OptimizerLike, field: str = "optimizer") -> dict[str, Any]:
    """The optimizer as the Learner's oneof member: {"sgd": SgdOptimizer(...)} and so on."""
    for key, message in _OPTIMIZER_MESSAGES.items():
        if isinstance(spec, message):
            return {key: spec}
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in _OPTIMIZERS:
        raise SluiceArgumentError.for_argument(
            field, f'must have one key, sgd, adagrad or ftrl (e.g. {{"sgd": {{"learning_rate": 0.05}}}}), not {spec!r:.80}'
        )
    key, parameters = next(iter(spec.items()))
    at = f"{field}.{key}"
    if not isinstance(parameters, Mapping):
        raise SluiceArgumentError.for_argument(at, f"must be a dict of parameters, not {parameters!r:.80}")
    required, optional = _OPTIMIZERS[key]
    refuse_unknown_keys(parameters, required + optional, at)
    for name in required:
        if name not in parameters:
            raise SluiceArgumentError.for_argument(f"{at}.{name}", "is required (a number)", reason="MISSING_FIELD")
    values = {name: number(parameters[name], f"{at}.{name}") for name in parameters}
    return {key: _OPTIMIZER_MESSAGES[key](**values)}


def checkpoint_policy(spec: CheckpointLike | None, field: str = "checkpoint") -> learning_pb2.CheckpointPolicy | None:
    """{"every_examples": n, "every_seconds": s} as a CheckpointPolicy (unset or 0: the server's defaults)."""
    if spec is None or isinstance(spec, learning_pb2.CheckpointPolicy):
        return spec
    if not isinstance(spec, Mapping):
        raise SluiceArgumentError.for_argument(field, f'must be {{"every_examples": ..., "every_seconds": ...}}, not {spec!r:.80}')
    refuse_unknown_keys(spec, ("every_examples", "every_seconds"), field)
    return learning_pb2.CheckpointPolicy(
        **{key: int(number(value, f"{field}.{key}", integer=True, minimum=0)) for key, value in spec.items()}
    )


def label_record(label: Label | Mapping[str, Any] | learning_pb2.LabelRecord, field: str) -> learning_pb2.LabelRecord:
    """One label as a LabelRecord (values are encoded by to_value); a LabelRecord is used as it is."""
    if isinstance(label, learning_pb2.LabelRecord):
        return label
    if isinstance(label, Label):
        spec: Mapping[str, Any] = vars(label)
    elif isinstance(label, Mapping):
        refuse_unknown_keys(label, _LABEL_KEYS, field)
        spec = label
    else:
        raise SluiceArgumentError.for_argument(field, f'must be a Label or {{"request_id": ..., "label": ...}}, not {label!r:.80}')
    value = spec.get("label")
    if isinstance(value, bool):
        wire = to_value(value)
    elif isinstance(value, (int, float)) and not math.isnan(value):
        wire = to_value(value)
    else:
        problem = "is required" if value is None else f"must be a number or a bool, not {value!r:.40}"
        raise SluiceArgumentError.for_argument(f"{field}.label", problem, reason="MISSING_FIELD" if value is None else "INVALID_ARGUMENT")
    request_id = spec.get("request_id") or ""
    entity = spec.get("entity")
    if bool(request_id) == bool(entity):
        raise SluiceArgumentError.for_argument(field, "must have one of request_id (a served prediction's) or entity (with event_time)")
    if not isinstance(request_id, str):
        raise SluiceArgumentError.for_argument(f"{field}.request_id", f"must be a string, not {request_id!r:.40}")
    row = number(spec.get("row") or 0, f"{field}.row", integer=True, minimum=0)
    request_features = spec.get("request_features") or {}
    if not isinstance(request_features, Mapping):
        raise SluiceArgumentError.for_argument(f"{field}.request_features", f"must be a dict of name -> value, not {request_features!r:.80}")
    record = learning_pb2.LabelRecord(label=wire, row=int(row), request_features={k: to_value(v) for k, v in request_features.items()})
    if request_id:
        record.request_id = request_id
        return record
    if not isinstance(entity, Mapping):
        raise SluiceArgumentError.for_argument(f"{field}.entity", f"must be a dict of join key -> value, not {entity!r:.80}")
    event_time = spec.get("event_time")
    if not isinstance(event_time, (datetime, timestamp_pb2.Timestamp)):
        raise SluiceArgumentError.for_argument(f"{field}.event_time", "is required with entity (a datetime)", reason="MISSING_FIELD")
    record.entity.CopyFrom(learning_pb2.LabelEntity(join_keys={k: to_value(v) for k, v in entity.items()}, event_time=to_timestamp(event_time)))
    return record


def label_batch(batch: LabelBatchLike, field: str) -> tuple[str, list[learning_pb2.LabelRecord], str]:
    """A batch as (its learner as given, its LabelRecords, its write id)."""
    if isinstance(batch, LabelBatch):
        learner, labels, write_id = batch.learner, batch.labels, batch.write_id
    elif isinstance(batch, Mapping):
        refuse_unknown_keys(batch, _BATCH_KEYS, field)
        learner, labels, write_id = batch.get("learner"), batch.get("labels"), batch.get("write_id") or ""
    else:
        raise SluiceArgumentError.for_argument(field, f'must be a LabelBatch or {{"learner": ..., "labels": [...]}}, not {batch!r:.80}')
    if isinstance(labels, (str, bytes, Mapping)) or not isinstance(labels, Sequence):
        raise SluiceArgumentError.for_argument(f"{field}.labels", f"must be a list of labels, not {labels!r:.80}")
    if not isinstance(write_id, str):
        raise SluiceArgumentError.for_argument(f"{field}.write_id", f"must be a string, not {write_id!r:.40}")
    return learner, [label_record(label, f"{field}.labels[{i}]") for i, label in enumerate(labels)], write_id


def number(value: Any, field: str, *, integer: bool = False, minimum: float | None = None) -> float:
    """`value` when it is a number (an int with `integer`; not NaN; at least `minimum`), else SluiceArgumentError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not (isinstance(value, float) and math.isnan(value))
    ok = ok and (not integer or isinstance(value, int)) and (minimum is None or value >= minimum)
    if not ok:
        what = "an integer" if integer else "a number"
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise SluiceArgumentError.for_argument(field, f"must be {what}{bound}, not {value!r:.40}")
    return value


def refuse_unknown_keys(spec: Mapping[str, Any], known: Sequence[str], field: str) -> None:
    unknown = sorted(map(str, set(spec) - set(known)))
    if unknown:
        raise SluiceArgumentError.for_argument(field, f"has {', '.join(unknown)}; expected only {', '.join(known)}")
