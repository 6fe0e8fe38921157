"""Read the ``google.api.http`` rules of a service descriptor into bindings.

One RPC gives one binding per rule: the main rule and each of its
``additional_bindings``. Every field a rule names is checked here, at startup, so a
typo in a proto stops the edge with a message naming the RPC instead of failing
on the first request.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped,unused-ignore]
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor

from edge.routes import PathTemplate, TemplateError, parse_template

HTTP_BODY = "google.api.HttpBody"


class BindingError(ValueError):
    """An http rule refers to something the request or response message does not have."""


@dataclass(frozen=True)
class HttpBinding:
    """One HTTP method + path template that reaches one RPC."""

    service: ServiceDescriptor
    method: MethodDescriptor
    http_method: str
    template: PathTemplate
    body: str
    """``""`` (no body), ``"*"`` (the whole request) or a top-level request field name."""
    response_body: str
    """``""`` (the whole response) or a top-level response field name."""

    @property
    def rpc_path(self) -> str:
        """The gRPC method path, ``/package.Service/Method``."""
        return f"/{self.service.full_name}/{self.method.name}"

    @property
    def operation_id(self) -> str:
        """``Service_Method``, the OpenAPI operationId (unique per RPC, not per binding)."""
        return f"{self.service.name}_{self.method.name}"

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def http_body_field(self) -> str | None:
        """Where the raw body is: ``""`` for an HttpBody response, the field's name when
        ``response_body`` selects an HttpBody field, None for a JSON response."""
        output = self.method.output_type
        if output.full_name == HTTP_BODY:
            return ""
        field = output.fields_by_name.get(self.response_body) if self.response_body else None
        if field is not None and field.message_type is not None and field.message_type.full_name == HTTP_BODY:
            return self.response_body
        return None

    @property
    def returns_http_body(self) -> bool:
        return self.http_body_field is not None


def bindings_of(service: ServiceDescriptor) -> list[HttpBinding]:
    """Every HTTP binding of a service; RPCs without an http rule stay gRPC-only."""
    found: list[HttpBinding] = []
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        if method.client_streaming:
            raise BindingError(
                f"{service.full_name}.{method.name}: client-streaming RPCs cannot have an http rule here"
            )
        rule = options.Extensions[annotations_pb2.http]
        for each in (rule, *rule.additional_bindings):
            found.append(_binding(service, method, each))
    return found


def _binding(service: ServiceDescriptor, method: MethodDescriptor, rule: http_pb2.HttpRule) -> HttpBinding:
    where = f"{service.full_name}.{method.name}"
    pattern = rule.WhichOneof("pattern")
    if pattern is None:
        raise BindingError(f"{where}: the http rule has no method and path")
    if pattern == "custom":
        http_method, source = rule.custom.kind.upper(), rule.custom.path
    else:
        http_method, source = pattern.upper(), getattr(rule, pattern)
    try:
        template = parse_template(source)
    except TemplateError as exc:
        raise BindingError(f"{where}: {exc}") from None
    request = method.input_type
    for variable in template.variables:
        target = resolve_field_path(request, variable.field_path, where)
        if target.message_type is not None or _is_repeated(target):
            raise BindingError(f"{where}: path variable {variable.field_path!r} must be a singular scalar field")
    if rule.body not in ("", "*"):
        resolve_field_path(request, rule.body, where)
    if rule.response_body:
        resolve_field_path(method.output_type, rule.response_body, where)
    return HttpBinding(service, method, http_method, template, rule.body, rule.response_body)


def resolve_field_path(message: Descriptor, field_path: str, where: str) -> FieldDescriptor:
    """The field at a dotted path (``inner.label``), each step through a singular message."""
    descriptor = message
    target: FieldDescriptor | None = None
    for name in field_path.split("."):
        if target is not None:
            if target.message_type is None or _is_repeated(target):
                raise BindingError(f"{where}: {field_path!r} goes through a field that is not a message")
            descriptor = target.message_type
        target = descriptor.fields_by_name.get(name)
        if target is None:
            raise BindingError(f"{where}: {descriptor.full_name} has no field {name!r} (in {field_path!r})")
    assert target is not None
    return target


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)
