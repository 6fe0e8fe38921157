"""HTTP request ⇄ proto message, with grpc-gateway's mapping rules.

Request: the body is read first (``body: "*"`` onto the whole message, ``body: "f"``
onto field ``f``), then path variables are set, overriding what the body said for the
same field (grpc-gateway populates path parameters after decoding the body), then the
query string sets what neither bound. Unlike grpc-gateway, unknown JSON fields and
unknown query parameters are refused with 400, so a typo is reported rather than
silently ignored.

Response: proto JSON with the proto field names and every field without presence
printed, zero values included (grpc-gateway's default marshaler sets EmitUnpopulated,
so clients never have to guess a default). Python's json_format does not print unset
message fields and unset ``optional`` scalars: they have presence and are left out, as
null would be in Go. ``response_body`` selects one field; a ``google.api.HttpBody``
response is written raw with its content type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from multidict import MultiMapping

from edge.bindings import HttpBinding, resolve_field_path
from edge.errors import JSON_CONTENT_TYPE, InvalidRequest
from edge.fields import WRAPPERS, FieldSetter, ValueTextError, make_setter, query_setters


def dumps(document: object) -> bytes:
    """Compact UTF-8 JSON, the one serializer of every JSON body the edge writes."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def message_to_json(message: Message) -> dict[str, Any]:
    """Proto JSON with proto field names and zero values printed (see module doc)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


@dataclass(frozen=True)
class RequestDecoder:
    """Builds one RPC's request message from path variables, query and body."""

    descriptor: Descriptor
    message_class: type[Message]
    path_setters: tuple[FieldSetter, ...]
    body: str
    query: Mapping[str, FieldSetter]
    query_refusals: Mapping[str, str]
    """Field paths that exist but are bound elsewhere → why the query may not set them."""

    def decode(self, params: Mapping[str, str], query: MultiMapping[str], body: bytes) -> Message:
        request = self.message_class()
        if self.body and body.strip():
            self._read_body(request, body)
        for setter in self.path_setters:
            try:
                setter.apply(request, params[setter.key])
            except ValueTextError as exc:
                raise InvalidRequest(setter.key, f"path value {params[setter.key]!r}: {exc}") from None
        if query:
            self._read_query(request, query)
        return request

    def _read_query(self, request: Message, query: MultiMapping[str]) -> None:
        done: set[str] = set()
        for key in query:
            if key in done:
                continue
            done.add(key)
            setter = self.query.get(key)
            if setter is None:
                raise InvalidRequest(key, self._refusal(key))
            values = query.getall(key)
            if len(values) > 1 and not setter.repeated:
                raise InvalidRequest(key, "expected one value; only repeated fields take the key more than once")
            for value in values:
                try:
                    setter.apply(request, value)
                except ValueTextError as exc:
                    raise InvalidRequest(key, f"query value {value!r}: {exc}") from None

    def _refusal(self, key: str) -> str:
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            reason = self.query_refusals.get(".".join(parts[:end]))
            if reason is not None:
                return reason
        if self.body == "*":
            return "unknown query parameter: this route takes its fields from the JSON body"
        return "unknown query parameter (query keys are proto field names, dotted for nested fields)"

    def _read_body(self, request: Message, body: bytes) -> None:
        try:
            document = json.loads(body)
        except UnicodeDecodeError:
            raise InvalidRequest("body", "expected UTF-8 encoded JSON") from None
        except json.JSONDecodeError as exc:
            raise InvalidRequest("body", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        if self.body == "*":
            if not isinstance(document, dict):
                raise InvalidRequest("body", f"expected a JSON object, got {_json_kind(document)}")
            wrapped = document
        else:
            wrapped = {self.body: document}
        try:
            json_format.ParseDict(wrapped, request, ignore_unknown_fields=False)
        except json_format.ParseError as exc:
            field, description = describe_parse_error(str(exc), self.descriptor, wrapped)
            raise InvalidRequest(field, description) from None


@dataclass(frozen=True)
class ResponseEncoder:
    """Turns one RPC's response message into an HTTP body."""

    http_body_field: str | None
    response_body: str
    response_body_is_message: bool

    def http_body(self, message: Message) -> Message:
        """The google.api.HttpBody of a raw response (the message itself, or its selected field)."""
        return getattr(message, self.http_body_field) if self.http_body_field else message

    def jsonable(self, message: Message) -> object:
        """The JSON value of the response (or of its ``response_body`` field)."""
        if not self.response_body:
            return message_to_json(message)
        if self.response_body_is_message:
            return message_to_json(getattr(message, self.response_body))
        return message_to_json(message).get(self.response_body)

    def encode(self, message: Message) -> tuple[bytes, str]:
        """Body bytes and Content-Type."""
        if self.http_body_field is not None:
            return _http_body_bytes(self.http_body(message))
        return dumps(self.jsonable(message)), JSON_CONTENT_TYPE

    def encode_stream_item(self, message: Message) -> bytes:
        """One newline-delimited JSON line, ``{"result": ...}``, as grpc-gateway streams."""
        return dumps({"result": self.jsonable(message)}) + b"\n"


def _http_body_bytes(message: Message) -> tuple[bytes, str]:
    data, content_type = http_body_chunk(message)
    return data, content_type or "application/octet-stream"


def http_body_chunk(message: Message) -> tuple[bytes, str]:
    """Data and content type of one google.api.HttpBody (content type may be empty).

    The message is typed as any Message: its class comes from the descriptor pool.
    """
    body: Any = message
    return bytes(body.data), str(body.content_type)


def request_decoder(binding: HttpBinding) -> RequestDecoder:
    """Compile the request side of a binding: setters for the path, the query's keys."""
    descriptor = binding.method.input_type
    where = binding.rpc_path
    path_setters = tuple(
        make_setter(v.field_path, _field_chain(descriptor, v.field_path, where)) for v in binding.template.variables
    )
    refusals: dict[str, str] = {
        v.field_path: "this field is bound by the URL path, not the query" for v in binding.template.variables
    }
    if binding.body == "*":
        query: dict[str, FieldSetter] = {}
    else:
        if binding.body:
            refusals[binding.body] = "this field is bound by the request body, not the query"
        query = query_setters(descriptor, frozenset(refusals))
    return RequestDecoder(descriptor, GetMessageClass(descriptor), path_setters, binding.body, query, refusals)


def response_encoder(binding: HttpBinding) -> ResponseEncoder:
    """Compile the response side of a binding."""
    is_message = False
    if binding.response_body:
        field = resolve_field_path(binding.method.output_type, binding.response_body, binding.rpc_path)
        is_message = (
            field.message_type is not None and not field.is_repeated and field.message_type.full_name not in WRAPPERS
        )
    return ResponseEncoder(binding.http_body_field, binding.response_body, is_message)


def _field_chain(descriptor: Descriptor, field_path: str, where: str) -> tuple[FieldDescriptor, ...]:
    """The fields walked by a dotted path; bindings.py has already checked that it exists."""
    chain: list[FieldDescriptor] = []
    current = descriptor
    for name in field_path.split("."):
        field = resolve_field_path(current, name, where)
        chain.append(field)
        if field.message_type is not None:
            current = field.message_type
    return tuple(chain)


# --- turning json_format's error text into "which field, what was expected" -----------

_NESTED = re.compile(r"Failed to parse (\w+) field: ")
_UNKNOWN = re.compile(r'has no field named "([^"]+)"')


def describe_parse_error(text: str, descriptor: Descriptor, document: object) -> tuple[str, str]:
    """The dotted field and a sentence saying what it expects, from a json_format error.

    This runs only on the error path, so walking descriptors here is fine.
    """
    names = _NESTED.findall(text)
    unknown = _UNKNOWN.search(text)
    fields, value, found = _walk(descriptor, document, names)
    if unknown is not None:
        path = ".".join([*names, unknown.group(1)])
        holder: Descriptor | None = descriptor
        if names:
            complete = len(fields) == len(names)
            holder = fields[-1].message_type if complete else None
        if holder is None:
            return path, "unknown field"
        expected = ", ".join(f.name for f in holder.fields)
        return path, f"unknown field; {holder.full_name} has: {expected}"
    path = ".".join(names) or "body"
    if not fields or len(fields) != len(names):
        return path, _NESTED.sub("", text).rstrip(".")
    got = f", got {_preview(value)}" if found else ""
    return path, f"expected {expected_json(fields[-1])}{got}"


def _walk(descriptor: Descriptor, document: object, names: list[str]) -> tuple[list[FieldDescriptor], object, bool]:
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = descriptor
    value = document
    found = True
    for name in names:
        if current is None:
            break
        field = current.fields_by_name.get(name) or current.fields_by_camelcase_name.get(name)
        if field is None:
            break
        fields.append(field)
        if found and isinstance(value, dict) and name in value:
            value = value[name]
        else:
            found = False
        current = field.message_type if not field.is_repeated else None
    return fields, value, found


def expected_json(field: FieldDescriptor) -> str:
    """What a JSON value for this field looks like, in words."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return f"a JSON object whose values are {_expected_single(field.message_type.fields_by_name['value'])}"
    if field.is_repeated:
        return f"a JSON array of {_expected_single(field)}"
    return _expected_single(field)


_SCALAR_WORDS: dict[int, str] = {
    FieldDescriptor.TYPE_STRING: "a string",
    FieldDescriptor.TYPE_BOOL: "true or false",
    FieldDescriptor.TYPE_BYTES: "a base64 string",
    FieldDescriptor.TYPE_DOUBLE: "a number",
    FieldDescriptor.TYPE_FLOAT: "a number",
    FieldDescriptor.TYPE_INT32: "a 32-bit integer",
    FieldDescriptor.TYPE_SINT32: "a 32-bit integer",
    FieldDescriptor.TYPE_SFIXED32: "a 32-bit integer",
    FieldDescriptor.TYPE_UINT32: "an unsigned 32-bit integer",
    FieldDescriptor.TYPE_FIXED32: "an unsigned 32-bit integer",
    FieldDescriptor.TYPE_INT64: "a 64-bit integer (a number or a decimal string)",
    FieldDescriptor.TYPE_SINT64: "a 64-bit integer (a number or a decimal string)",
    FieldDescriptor.TYPE_SFIXED64: "a 64-bit integer (a number or a decimal string)",
    FieldDescriptor.TYPE_UINT64: "an unsigned 64-bit integer (a number or a decimal string)",
    FieldDescriptor.TYPE_FIXED64: "an unsigned 64-bit integer (a number or a decimal string)",
}

_WELL_KNOWN_WORDS: dict[str, str] = {
    "google.protobuf.Timestamp": 'an RFC 3339 timestamp string such as "2024-01-31T09:00:00Z"',
    "google.protobuf.Duration": 'a duration string such as "1.5s"',
    "google.protobuf.FieldMask": "a string of comma-separated lowerCamel field paths",
    "google.protobuf.Struct": "a JSON object",
    "google.protobuf.ListValue": "a JSON array",
    "google.protobuf.Value": "any JSON value",
}


def _expected_single(field: FieldDescriptor) -> str:
    if field.enum_type is not None:
        return "one of " + ", ".join(v.name for v in field.enum_type.values) + " (or its number)"
    message = field.message_type
    if message is None:
        return _SCALAR_WORDS.get(field.type, "a value")
    if message.full_name in _WELL_KNOWN_WORDS:
        return _WELL_KNOWN_WORDS[message.full_name]
    if message.full_name in WRAPPERS:
        return _expected_single(message.fields_by_name["value"])
    return f"a JSON object ({message.full_name})"


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"


def _preview(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
