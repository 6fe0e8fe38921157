"""GET /openapi.json: an OpenAPI 3.1 document from the same bindings the router serves.

Built once at startup, so the document can never drift from the routes. Schemas
follow the proto3 JSON mapping: proto field names, enums as their names, 64-bit
integers as strings, Timestamps as date-time strings, maps as objects with
``additionalProperties``.

Summaries come from the proto comments when the descriptors carry source info; the
``_pb2`` modules protoc generates for Python strip it, so in practice the summary is
the RPC name and the operationId (``Service_Method``) carries the meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor

from edge.bindings import HttpBinding
from edge.fields import WRAPPERS, query_setters
from edge.marshalers import EVENT_STREAM, NDJSON, RAW, Offer, RouteKey, offered_by
from edge.routes import PathTemplate, SegmentKind

JsonObject = dict[str, Any]

ERROR_SCHEMA: JsonObject = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "status", "message", "details"],
            "properties": {
                "code": {"type": "integer", "description": "The HTTP status code."},
                "status": {"type": "string", "description": "The gRPC status code name, e.g. NOT_FOUND."},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "description": "google.rpc.Status details (ErrorInfo, BadRequest, ...) with their @type.",
                    "items": {
                        "type": "object",
                        "properties": {"@type": {"type": "string"}},
                        "additionalProperties": True,
                    },
                },
            },
        }
    },
}

_INTEGER_32 = {"type": "integer", "format": "int32"}
_UNSIGNED_32 = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295}
_INTEGER_64 = {"type": "string", "format": "int64", "description": "A 64-bit integer, as a decimal string."}
_UNSIGNED_64 = {"type": "string", "format": "uint64", "description": "A 64-bit unsigned integer, as a decimal string."}

_SCALAR_SCHEMAS: dict[int, JsonObject] = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT32: _INTEGER_32,
    FieldDescriptor.TYPE_SINT32: _INTEGER_32,
    FieldDescriptor.TYPE_SFIXED32: _INTEGER_32,
    FieldDescriptor.TYPE_UINT32: _UNSIGNED_32,
    FieldDescriptor.TYPE_FIXED32: _UNSIGNED_32,
    FieldDescriptor.TYPE_INT64: _INTEGER_64,
    FieldDescriptor.TYPE_SINT64: _INTEGER_64,
    FieldDescriptor.TYPE_SFIXED64: _INTEGER_64,
    FieldDescriptor.TYPE_UINT64: _UNSIGNED_64,
    FieldDescriptor.TYPE_FIXED64: _UNSIGNED_64,
}

_WELL_KNOWN_SCHEMAS: dict[str, JsonObject] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$", "examples": ["1.5s"]},
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated field paths."},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
}


class _Components:
    """Collects ``components.schemas``: one per message and enum reached from an operation."""

    def __init__(self, comments: _Comments) -> None:
        self.schemas: dict[str, JsonObject] = {"Error": ERROR_SCHEMA}
        self._comments = comments

    def message(self, descriptor: Descriptor, *, omit: frozenset[str] = frozenset()) -> JsonObject:
        """A schema for a message: a $ref, inlined when some fields are bound elsewhere."""
        special = _special_schema(descriptor, self)
        if special is not None:
            return special
        if not omit:
            self._define(descriptor)
            return {"$ref": f"#/components/schemas/{descriptor.full_name}"}
        return self._object(descriptor, omit)

    def _define(self, descriptor: Descriptor) -> None:
        if descriptor.full_name in self.schemas:
            return
        self.schemas[descriptor.full_name] = {}  # placeholder: recursive messages refer to themselves
        self.schemas[descriptor.full_name] = self._object(descriptor, frozenset())

    def _object(self, descriptor: Descriptor, omit: frozenset[str]) -> JsonObject:
        properties = {f.name: self.field(f) for f in descriptor.fields if f.name not in omit}
        schema: JsonObject = {"type": "object", "properties": properties}
        comment = self._comments.message(descriptor)
        if comment:
            schema["description"] = comment
        return schema

    def field(self, field: FieldDescriptor) -> JsonObject:
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            return {"type": "object", "additionalProperties": self.single(message.fields_by_name["value"])}
        single = self.single(field)
        schema = {"type": "array", "items": single} if field.is_repeated else dict(single)
        comment = self._comments.field(field)
        if comment:
            schema = {**schema, "description": comment}
        return schema

    def single(self, field: FieldDescriptor) -> JsonObject:
        if field.enum_type is not None:
            enum = field.enum_type
            if enum.full_name not in self.schemas:
                self.schemas[enum.full_name] = {"type": "string", "enum": [v.name for v in enum.values]}
            return {"$ref": f"#/components/schemas/{enum.full_name}"}
        if field.message_type is not None:
            return self.message(field.message_type)
        return _SCALAR_SCHEMAS[field.type]


def _special_schema(descriptor: Descriptor, components: _Components) -> JsonObject | None:
    if descriptor.full_name in _WELL_KNOWN_SCHEMAS:
        return dict(_WELL_KNOWN_SCHEMAS[descriptor.full_name])
    if descriptor.full_name in WRAPPERS:
        inner = components.single(descriptor.fields_by_name["value"])
        return {"anyOf": [inner, {"type": "null"}]}
    return None


class _Comments:
    """Leading comments from source info, when the descriptors carry it (usually not)."""

    def __init__(self) -> None:
        self._files: dict[str, dict[tuple[int, ...], str]] = {}

    def _locations(self, file: FileDescriptor) -> dict[tuple[int, ...], str]:
        found = self._files.get(file.name)
        if found is None:
            proto = descriptor_pb2.FileDescriptorProto.FromString(file.serialized_pb)
            found = {
                tuple(loc.path): loc.leading_comments.strip()
                for loc in proto.source_code_info.location
                if loc.leading_comments.strip()
            }
            self._files[file.name] = found
        return found

    def method(self, binding: HttpBinding) -> str:
        service = binding.service
        path = (6, service.index, 2, binding.method.index)
        return self._locations(service.file).get(path, "")

    def message(self, descriptor: Descriptor) -> str:
        """Top-level messages only; nested ones would need the full index path."""
        locations = self._locations(descriptor.file)
        if not locations or descriptor.containing_type is not None:
            return ""
        index = list(descriptor.file.message_types_by_name).index(descriptor.name)
        return locations.get((4, index), "")

    def field(self, field: FieldDescriptor) -> str:
        holder = field.containing_type
        if holder is None or holder.containing_type is not None:
            return ""
        locations = self._locations(holder.file)
        if not locations:
            return ""
        index = list(holder.file.message_types_by_name).index(holder.name)
        return locations.get((4, index, 2, field.index), "")


def openapi_path(template: PathTemplate) -> tuple[str, list[JsonObject]]:
    """The OpenAPI form of a template (``{name}`` per variable) and its path parameters."""
    starts = {v.start: v for v in template.variables}
    parts: list[str] = []
    parameters: list[JsonObject] = []
    index = 0
    anonymous = 0
    while index < len(template.segments):
        variable = starts.get(index)
        if variable is not None:
            parts.append("{" + variable.field_path + "}")
            parameters.append(_path_parameter(variable.field_path, variable.pattern, variable.is_deep))
            index = variable.end
            continue
        segment = template.segments[index]
        if segment.kind is SegmentKind.LITERAL:
            parts.append(segment.literal)
        else:
            anonymous += 1
            name = f"_wildcard{anonymous}"
            parts.append("{" + name + "}")
            deep = segment.kind is SegmentKind.DEEP_WILDCARD
            parameters.append(_path_parameter(name, "**" if deep else "*", deep))
        index += 1
    path = "/" + "/".join(parts)
    if template.verb is not None:
        path += ":" + template.verb
    return path, parameters


def _path_parameter(name: str, pattern: str, deep: bool) -> JsonObject:
    if deep:
        description = f"The rest of the path (template {pattern!r}): may contain '/', sent unescaped."
    elif pattern != "*":
        description = f"Matches the path template {pattern!r}; its '/' are sent unescaped."
    else:
        description = "One path segment."
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


def build_openapi(
    bindings: Sequence[HttpBinding],
    *,
    title: str,
    version: str,
    offers: Mapping[RouteKey, Offer] | None = None,
    hand_written: Mapping[RouteKey, Mapping[str, Any]] | None = None,
) -> JsonObject:
    """The whole document; operationIds are ``Service_Method`` (``_2``, ``_3`` for extra bindings).

    ``offers`` give each route's response media types (one entry per marshaler it can
    answer with, the default first) and its ``format`` query; ``hand_written`` replaces
    the request and responses derived from the RPC where a handler reads and answers
    something else (forms, redirects, pages, a raw signed body).
    """
    comments = _Comments()
    components = _Components(comments)
    paths: dict[str, JsonObject] = {}
    seen_ids: dict[str, int] = {}
    for binding in bindings:
        path, parameters = openapi_path(binding.template)
        count = seen_ids.get(binding.operation_id, 0) + 1
        seen_ids[binding.operation_id] = count
        operation_id = binding.operation_id if count == 1 else f"{binding.operation_id}_{count}"
        key = (binding.http_method, binding.template.source)
        offer = (offers or {}).get(key)
        operation = _operation(binding, operation_id, parameters, components, comments, offer)
        spec = (hand_written or {}).get(key)
        if spec is not None:
            operation = _hand_written(operation, parameters, spec)
        paths.setdefault(path, {})[binding.http_method.lower()] = operation
    paths.update(_OPERATIONAL_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearerAuth": []}, {}],
    }


def _operational(operation_id: str, summary: str, content_type: str, schema: JsonObject) -> JsonObject:
    """An operations route: open to anyone (no bearer), served by the edge itself."""
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["Operations"],
            "security": [],
            "responses": {"200": {"description": summary, "content": {content_type: {"schema": schema}}}},
        }
    }


_OPERATIONAL_PATHS: dict[str, JsonObject] = {
    "/health": _operational(
        "Edge_Health",
        "Health of the database, Redis, the object store and every backend; 503 when one is down.",
        "application/json",
        {"type": "object", "properties": {"status": {"type": "string"}, "components": {"type": "object"}}},
    ),
    "/metrics": _operational("Edge_Metrics", "Prometheus metrics of the edge.", "text/plain", {"type": "string"}),
    "/openapi.json": _operational("Edge_OpenApi", "This document.", "application/json", {"type": "object"}),
}


def _hand_written(operation: JsonObject, path_parameters: list[JsonObject], spec: Mapping[str, Any]) -> JsonObject:
    """The derived operation with the handler's own parameters, body and responses."""
    described = {**operation, **spec}
    if "requestBody" not in spec:
        described.pop("requestBody", None)
    described["parameters"] = [*path_parameters, *spec.get("parameters", [])]
    described["responses"] = {"default": operation["responses"]["default"], **spec.get("responses", {})}
    return described


def _operation(
    binding: HttpBinding,
    operation_id: str,
    parameters: list[JsonObject],
    components: _Components,
    comments: _Comments,
    offer: Offer | None = None,
) -> JsonObject:
    request = binding.method.input_type
    path_fields = frozenset(v.field_path for v in binding.template.variables)
    comment = comments.method(binding)
    operation: JsonObject = {
        "operationId": operation_id,
        "summary": comment.splitlines()[0] if comment else binding.method.name,
        "tags": [binding.service.name],
        "parameters": [*parameters, *_query_parameters(binding, path_fields, components), *_format(offer)],
        "responses": {
            "200": _success_response(binding, components, offer),
            "default": {
                "description": "An error, with the HTTP status mapped from the gRPC status code.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if comment:
        operation["description"] = comment
    if binding.body == "*":
        top_level = frozenset(p for p in path_fields if "." not in p)
        schema = components.message(request, omit=top_level)
        operation["requestBody"] = _json_body(schema, required=False)
    elif binding.body:
        operation["requestBody"] = _json_body(components.field(request.fields_by_name[binding.body]), required=False)
    return operation


def _query_parameters(binding: HttpBinding, path_fields: frozenset[str], components: _Components) -> list[JsonObject]:
    if binding.body == "*":
        return []
    excluded = path_fields | ({binding.body} if binding.body else set())
    found: list[JsonObject] = []
    for key, setter in query_setters(binding.method.input_type, frozenset(excluded)).items():
        field = _field_at(binding.method.input_type, key.split("."))
        schema = components.field(field)
        parameter: JsonObject = {"name": key, "in": "query", "required": False, "schema": schema}
        if setter.repeated:
            parameter["explode"] = True
            parameter["description"] = "Repeat the key for several values."
        found.append(parameter)
    return found


def _field_at(message: Descriptor, names: Iterable[str]) -> FieldDescriptor:
    descriptor = message
    field: FieldDescriptor | None = None
    for name in names:
        if field is not None and field.message_type is not None:
            descriptor = field.message_type
        field = descriptor.fields_by_name[name]
    assert field is not None
    return field


def _format(offer: Offer | None) -> list[JsonObject]:
    """The ``format`` query of a route whose encodings it names (it wins over Accept)."""
    if offer is None or not offer.formats:
        return []
    return [
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "The response encoding; wins over the Accept header.",
            "schema": {"type": "string", "enum": list(offer.formats)},
        }
    ]


def _success_response(binding: HttpBinding, components: _Components, offer: Offer | None = None) -> JsonObject:
    """One content entry per media type the route answers with, its default first."""
    if offer is None:
        media_types = offered_by(binding)
        produced = dict.fromkeys(media_types, binding)
    else:
        ordered = [offer.default, *(m for m in offer.produces if m != offer.default)]
        produced = {m: offer.produces[m].binding for m in ordered}
    content = {media_type: _content(media_type, source, components) for media_type, source in produced.items()}
    if list(content) == [RAW]:
        description = "The raw body, streamed in chunks." if binding.server_streaming else "The raw body."
    elif binding.server_streaming:
        description = (
            "A stream: newline-delimited JSON objects, one per message, or server-sent events "
            "(Accept: text/event-stream; a clean end is `event: end`, a failure `event: error`)."
        )
    else:
        description = "OK"
    return {"description": description, "content": content}


def _content(media_type: str, binding: HttpBinding, components: _Components) -> JsonObject:
    if binding.returns_http_body:
        return {"schema": {"type": "string", "format": "binary"}}
    output = binding.method.output_type
    if binding.response_body:
        schema = components.field(output.fields_by_name[binding.response_body])
    else:
        schema = components.message(output)
    if media_type == NDJSON:
        line = {
            "type": "object",
            "properties": {"result": schema, "error": {"$ref": "#/components/schemas/Error/properties/error"}},
        }
        return {"schema": line}
    if media_type == EVENT_STREAM:
        return {
            "schema": {
                "type": "string",
                "description": "text/event-stream; each event's data is one message's JSON (see the RPC).",
            },
            "x-event-data": schema,
        }
    return {"schema": schema}


def _json_body(schema: JsonObject, *, required: bool) -> JsonObject:
    return {"required": required, "content": {"application/json": {"schema": schema}}}
