"""The one table from error categories to gRPC status codes, and the rich status they carry.

Services raise :class:`service_kit.errors.ServiceError` subclasses; the interceptor turns
each into a ``google.rpc.Status`` whose details hold an ``ErrorInfo`` (a stable reason
clients can branch on) and, for invalid input, a ``BadRequest`` listing every bad field.
The edge renders those details in its JSON error body.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from service_kit import errors

STATUS_BY_CATEGORY: dict[type[errors.ServiceError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def status_code_for(error: errors.ServiceError) -> grpc.StatusCode:
    """The code of the nearest category in the error's class hierarchy (UNKNOWN if none)."""
    for cls in type(error).__mro__:
        code = STATUS_BY_CATEGORY.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.UNKNOWN


def to_rpc_status(error: errors.ServiceError, domain: str) -> tuple[grpc.StatusCode, status_pb2.Status]:
    """Build the google.rpc.Status (with ErrorInfo and, if any, BadRequest) for an error."""
    code = status_code_for(error)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=error.metadata)
    details = [_pack(info)]
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        details.append(_pack(bad_request))
    status = status_pb2.Status(code=_rpc_code(code), message=error.message, details=details)
    return code, status


def _pack(message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _rpc_code(code: grpc.StatusCode) -> int:
    value: int = code.value[0]
    assert code_pb2.Code.Name(value)  # the grpc enum and google.rpc.Code agree on numbers
    return value
