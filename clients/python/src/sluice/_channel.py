"""The gRPC options both clients open their channel with: message limits and the retry policy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# gRPC's 4 MiB default would refuse a large training set or model listing (RESOURCE_EXHAUSTED);
# 64 MiB each way, as the TypeScript client.
MESSAGE_LIMIT_BYTES = 64 * 1024 * 1024

# Retry idempotent calls (registry applies and reads, online reads, Predict, health) when the server
# is briefly unreachable, or for Predict when a model's queue is full (INFERENCE_OVERLOADED, where
# backing off helps); writes are retried by the caller with the same write id instead.
# CreateProject is not idempotent (a repeat is ALREADY_EXISTS): its own entry, without a retry
# policy, overrides the service's.
SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [
                    {"service": "sluice.v1.RegistryService"},
                    {"service": "sluice.v1.OnlineService"},
                    {"service": "sluice.v1.InferenceService"},
                    {"service": "grpc.health.v1.Health"},
                ],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            },
            {"name": [{"service": "sluice.v1.RegistryService", "method": "CreateProject"}]},
        ]
    }
)

_DEFAULTS: list[tuple[str, Any]] = [
    ("grpc.enable_retries", 1),
    ("grpc.service_config", SERVICE_CONFIG),
    ("grpc.max_receive_message_length", MESSAGE_LIMIT_BYTES),
    ("grpc.max_send_message_length", MESSAGE_LIMIT_BYTES),
]


def channel_options(options: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The client's defaults (retries, 64 MiB messages each way) that the caller's `options` do not
    set, then the caller's own: an option the caller gives always wins."""
    given = {name for name, _ in options}
    return [*(option for option in _DEFAULTS if option[0] not in given), *options]
