"""SluiceError: a failed call, with the google.rpc.Status details the server puts in its trailers."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"
REQUEST_ID_KEY = "x-request-id"


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one request field, e.g. `rows[2].features["spend_30d"]`."""

    field: str
    description: str


@dataclass
class SluiceError(Exception):
    """A call that failed: the gRPC code, the message, and the decoded google.rpc.Status details.

    `reason` is the ErrorInfo reason (UPPER_SNAKE_CASE, for programs to match on), `metadata` its
    metadata (for example `resource_name`), and `field_violations` the BadRequest violations of an
    INVALID_ARGUMENT. `request_id` is the server's `x-request-id` trailer, which its logs carry.
    """

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    request_id: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def code_name(self) -> str:
        """The code as the gRPC spec spells it: "NOT_FOUND", "INVALID_ARGUMENT", ..."""
        return self.code.name

    def __str__(self) -> str:
        text = f"{self.code_name}: {self.message}"
        if self.reason:
            text += f" [{self.reason}]"
        return text

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> SluiceError:
        """Decodes a failed call (a grpc.RpcError that is also a grpc.Call) into a SluiceError."""
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = error.details() if hasattr(error, "details") else str(error)
        trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        result = cls(code=code or grpc.StatusCode.UNKNOWN, message=message or "")
        for key, value in trailers or ():
            if key == REQUEST_ID_KEY:
                result.request_id = value if isinstance(value, str) else value.decode()
            elif key == STATUS_DETAILS_KEY:
                result._read_details(status_pb2.Status.FromString(value))
        return result

    def _read_details(self, status: status_pb2.Status) -> None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(info):
                self.reason, self.domain, self.metadata = info.reason, info.domain, dict(info.metadata)
            elif detail.Unpack(bad_request):
                self.field_violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)


class SluiceArgumentError(SluiceError, ValueError):
    """An argument the client refuses before sending anything (a malformed resource name, an
    unknown type name, ...): code INVALID_ARGUMENT, `reason` INVALID_RESOURCE_NAME for names and
    INVALID_ARGUMENT otherwise, one field violation naming the argument, and no request id. It is
    a SluiceError, so one `except SluiceError` handles every failure, and a ValueError."""

    @classmethod
    def for_argument(cls, field: str, description: str, *, reason: str = "INVALID_ARGUMENT") -> SluiceArgumentError:
        """The error for one bad argument, e.g. ("endpoint", "'Bad-Name' is not valid; expected ...")."""
        return cls(
            code=grpc.StatusCode.INVALID_ARGUMENT,
            message=f"{field} {description}",
            reason=reason,
            field_violations=[FieldViolation(field, description)],
        )
