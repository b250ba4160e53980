"""UploadModel requests (a header with the file's SHA-256, then chunks), input bindings given the
Python way, and Predict answers as a small result object."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

from sluice._errors import SluiceArgumentError
from sluice._online import status_name
from sluice.v1 import inference_pb2, model_pb2, types_pb2

# Bytes per UploadModel chunk message (as the TypeScript SDK sends them).
UPLOAD_CHUNK_BYTES = 1024 * 1024

# Where one ONNX input gets its values: pinned feature refs (a list, in order along the input's last
# dimension), {"feature_service": "name@2"}, or {"request_feature": "basket_value"} (a value sent
# with each Predict request).
BindingSource = Union[Sequence[str], Mapping[str, str]]
Bindings = Union[Mapping[str, BindingSource], Sequence[model_pb2.ModelInputBinding]]


def input_bindings(bindings: Bindings) -> list[model_pb2.ModelInputBinding]:
    """{"features": ["stats@1:orders", "stats@1:spend"]} (input name -> source) as ModelInputBinding
    messages; a sequence of ModelInputBinding messages is used as it is."""
    if not isinstance(bindings, Mapping):
        return list(bindings)
    out: list[model_pb2.ModelInputBinding] = []
    for input_name, source in bindings.items():
        if isinstance(source, str):
            raise TypeError(
                f"binding of input {input_name!r}: give a list of feature refs, {{'feature_service': ...}} or"
                f" {{'request_feature': ...}}, not the string {source!r}"
            )
        if isinstance(source, Mapping):
            if len(source) != 1 or next(iter(source)) not in ("feature_service", "request_feature"):
                raise SluiceArgumentError.for_argument(
                    f"bindings[{input_name!r}]", f"must have one key, feature_service or request_feature, not {dict(source)!r}"
                )
            if "feature_service" in source:
                out.append(model_pb2.ModelInputBinding(input_name=input_name, feature_service=source["feature_service"]))
            else:
                out.append(model_pb2.ModelInputBinding(input_name=input_name, request_feature=source["request_feature"]))
        else:
            out.append(model_pb2.ModelInputBinding(input_name=input_name, features=model_pb2.FeatureRefList(refs=list(source))))
    return out


def read_model(model_file: str | os.PathLike[str] | bytes) -> bytes:
    """The bytes of an ONNX file given as a path, or as bytes."""
    if isinstance(model_file, (bytes, bytearray, memoryview)):
        return bytes(model_file)
    with open(model_file, "rb") as file:
        return file.read()


def upload_requests(header: model_pb2.ModelUploadHeader, data: bytes, chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> Iterator[model_pb2.UploadModelRequest]:
    """The client side of UploadModel: the header (its sha256 set from the bytes when empty), then
    the file in chunks of chunk_bytes."""
    if not header.sha256:
        header.sha256 = hashlib.sha256(data).hexdigest()
    yield model_pb2.UploadModelRequest(header=header)
    view = memoryview(data)
    for offset in range(0, len(data), chunk_bytes):
        yield model_pb2.UploadModelRequest(chunk=bytes(view[offset : offset + chunk_bytes]))


@dataclass(frozen=True)
class PredictionOutput:
    """One model output for every entity row: `values` row-major (rows concatenated), `row_shape`
    the shape of one row's output (empty, or [1], for one number per row)."""

    name: str
    element_type: str
    row_shape: list[int]
    values: list[float]

    def rows(self) -> list[list[float]]:
        """The values cut into one flat list per entity row."""
        width = 1
        for size in self.row_shape:
            width *= size
        return [self.values[i : i + width] for i in range(0, len(self.values), width)] if width else []


@dataclass(frozen=True)
class Prediction:
    """A Predict answer: the outputs by name, the model version that served
    ("projects/p/models/churn/versions/3") and its role ("stable" or "canary"), the request id, and
    the status of every feature the model read, per entity row, by pinned ref ("view@1:feature")."""

    request_id: str
    model_version: str
    role: str
    outputs: dict[str, PredictionOutput]
    feature_statuses: dict[str, list[str]]

    @classmethod
    def from_proto(cls, response: inference_pb2.PredictResponse) -> Prediction:
        return cls(
            request_id=response.request_id,
            model_version=response.model_version,
            role=response.role,
            outputs={
                o.name: PredictionOutput(o.name, o.element_type, [int(d) for d in o.row_shape], list(o.values)) for o in response.outputs
            },
            feature_statuses={_pinned_ref(u.feature): [status_name(s) for s in u.statuses] for u in response.used_features},
        )

    def __getitem__(self, output: str) -> list[float]:
        """prediction["churn_probability"]: that output's values, row-major."""
        return self.outputs[output].values


def _pinned_ref(feature: types_pb2.ResolvedFeature) -> str:
    """"customer_stats@1:orders_30d" (the view's short name, its version, the feature)."""
    return f"{feature.feature_view.rsplit('/', 1)[-1]}@{feature.version}:{feature.feature}"


def missing_feature_policy(policy: str) -> model_pb2.MissingFeaturePolicy:
    """"use_default" or "reject" as a MissingFeaturePolicy."""
    policies = {
        "use_default": model_pb2.MISSING_FEATURE_POLICY_USE_DEFAULT,
        "reject": model_pb2.MISSING_FEATURE_POLICY_REJECT,
    }
    if policy not in policies:
        raise SluiceArgumentError.for_argument("missing_features", f"must be 'use_default' or 'reject', not {policy!r}")
    return policies[policy]
