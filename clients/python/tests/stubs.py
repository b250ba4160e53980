"""Stand-ins for the generated stubs, so that the unit tests see the requests the client builds."""

from __future__ import annotations

from typing import Any


class Recorder:
    """Stands in for a generated stub: every method records its request and answers the next response
    (the last one repeats)."""

    def __init__(self, *responses: Any) -> None:
        self.requests: list[Any] = []
        self.responses = list(responses)

    def __getattr__(self, method: str) -> Any:
        def call(request: Any, **_: Any) -> Any:
            self.requests.append(request)
            return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]

        return call
