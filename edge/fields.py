"""Text → proto field values, for path variables and query parameters.

Each settable field gets a :class:`FieldSetter` at startup: the chain of field names to
walk and a parser chosen from the field's type. Per request the edge only looks a key
up in a dict and calls the setter; no descriptor is consulted.

Query text follows grpc-gateway: enums by name or number, bools as true/false (or
1/0), 64-bit integers as decimal text, Timestamps in RFC 3339, Durations as ``1.5s``,
FieldMasks comma separated (snake_case paths), wrappers as their inner value, bytes
in base64 (standard or URL-safe, padding optional).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

Parser = Callable[[str], object]
"""Turns query/path text into a Python value for one field; raises :class:`ValueTextError`."""

WRAPPERS = frozenset(
    f"google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)
TEXT_WELL_KNOWN = frozenset({"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"})
MAX_QUERY_DEPTH = 8
"""How deep query keys reach into nested messages (recursive types stop here)."""


class ValueTextError(ValueError):
    """A text value does not fit its field; the message says what was expected."""


def _integer(bits: int, signed: bool) -> Parser:
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    kind = f"{'a' if signed else 'an unsigned'} {bits}-bit integer"

    def parse(text: str) -> object:
        try:
            value = int(text, 10)
        except ValueError:
            raise ValueTextError(f"expected {kind}") from None
        if not low <= value <= high:
            raise ValueTextError(f"expected {kind} (from {low} to {high})")
        return value

    return parse


def _floating(text: str) -> object:
    try:
        value = float(text)
    except ValueError:
        raise ValueTextError("expected a number") from None
    if math.isnan(value) and text not in ("NaN", "nan"):
        raise ValueTextError("expected a number")
    return value


def _boolean(text: str) -> object:
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueTextError("expected true or false")


def _string(text: str) -> object:
    return text


def _bytes(text: str) -> object:
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueTextError("expected base64 bytes") from None


def _enum(enum: EnumDescriptor) -> Parser:
    by_name = {value.name: value.number for value in enum.values}
    numbers = set(by_name.values())
    names = ", ".join(by_name)

    def parse(text: str) -> object:
        if text in by_name:
            return by_name[text]
        try:
            number = int(text, 10)
        except ValueError:
            number = None
        if number is not None and number in numbers:
            return number
        raise ValueTextError(f"expected one of {names} (or its number)")

    return parse


_SCALARS: dict[int, Parser] = {
    FieldDescriptor.TYPE_STRING: _string,
    FieldDescriptor.TYPE_BOOL: _boolean,
    FieldDescriptor.TYPE_BYTES: _bytes,
    FieldDescriptor.TYPE_DOUBLE: _floating,
    FieldDescriptor.TYPE_FLOAT: _floating,
    FieldDescriptor.TYPE_INT32: _integer(32, True),
    FieldDescriptor.TYPE_SINT32: _integer(32, True),
    FieldDescriptor.TYPE_SFIXED32: _integer(32, True),
    FieldDescriptor.TYPE_UINT32: _integer(32, False),
    FieldDescriptor.TYPE_FIXED32: _integer(32, False),
    FieldDescriptor.TYPE_INT64: _integer(64, True),
    FieldDescriptor.TYPE_SINT64: _integer(64, True),
    FieldDescriptor.TYPE_SFIXED64: _integer(64, True),
    FieldDescriptor.TYPE_UINT64: _integer(64, False),
    FieldDescriptor.TYPE_FIXED64: _integer(64, False),
}


def _fill_timestamp(target: Message, text: str) -> None:
    assert isinstance(target, timestamp_pb2.Timestamp)
    try:
        target.FromJsonString(text)
    except ValueError:
        raise ValueTextError("expected an RFC 3339 timestamp such as 2024-01-31T09:00:00Z") from None


def _fill_duration(target: Message, text: str) -> None:
    assert isinstance(target, duration_pb2.Duration)
    try:
        target.FromJsonString(text)
    except ValueError:
        raise ValueTextError("expected a duration in seconds with an 's' suffix, such as 1.5s") from None


def _fill_field_mask(target: Message, text: str) -> None:
    assert isinstance(target, field_mask_pb2.FieldMask)
    target.Clear()
    target.paths.extend(path.strip() for path in text.split(",") if path.strip())


_WELL_KNOWN_FILLERS: dict[str, Callable[[Message, str], None]] = {
    "google.protobuf.Timestamp": _fill_timestamp,
    "google.protobuf.Duration": _fill_duration,
    "google.protobuf.FieldMask": _fill_field_mask,
}


def is_text_settable(field: FieldDescriptor) -> bool:
    """Whether one text value can set this field (scalars, enums, text-shaped well-known types)."""
    if field.message_type is None:
        return True
    if field.message_type.GetOptions().map_entry:
        return False
    name = field.message_type.full_name
    return name in TEXT_WELL_KNOWN or (name in WRAPPERS and not field.is_repeated)


@dataclass(frozen=True)
class FieldSetter:
    """Sets one (possibly nested) field of a request from text."""

    key: str
    """The dotted field path, as written in a query or a path variable."""
    steps: tuple[str, ...]
    """Singular message fields to walk through before the target."""
    name: str
    repeated: bool
    parse: Parser | None
    fill: Callable[[Message, str], None] | None
    wrapper: bool

    def apply(self, request: Message, text: str) -> None:
        """Parse ``text`` and store it; raises :class:`ValueTextError` when it does not fit."""
        holder = request
        for step in self.steps:
            holder = getattr(holder, step)
        if self.fill is not None:
            target = getattr(holder, self.name).add() if self.repeated else getattr(holder, self.name)
            self.fill(target, text)
            return
        assert self.parse is not None
        value = self.parse(text)
        if self.wrapper:
            getattr(holder, self.name).value = value
        elif self.repeated:
            getattr(holder, self.name).append(value)
        else:
            setattr(holder, self.name, value)


def make_setter(key: str, chain: tuple[FieldDescriptor, ...]) -> FieldSetter:
    """A setter for the last field of ``chain``; the others are the messages walked through."""
    target = chain[-1]
    steps = tuple(field.name for field in chain[:-1])
    message_type = target.message_type
    if message_type is None:
        parse = _enum(target.enum_type) if target.enum_type is not None else _SCALARS[target.type]
        return FieldSetter(key, steps, target.name, bool(target.is_repeated), parse, None, False)
    full_name = message_type.full_name
    if full_name in _WELL_KNOWN_FILLERS:
        return FieldSetter(
            key, steps, target.name, bool(target.is_repeated), None, _WELL_KNOWN_FILLERS[full_name], False
        )
    if full_name in WRAPPERS:
        inner = message_type.fields_by_name["value"]
        return FieldSetter(key, steps, target.name, False, _SCALARS[inner.type], None, True)
    raise ValueError(f"{key}: {full_name} cannot be set from text")


def query_setters(message: Descriptor, excluded: frozenset[str]) -> dict[str, FieldSetter]:
    """Every dotted key a query string may set on ``message``, minus ``excluded`` subtrees.

    ``excluded`` holds field paths bound by the path or the body: neither they nor
    anything below them may come from the query.
    """
    found: dict[str, FieldSetter] = {}

    def walk(descriptor: Descriptor, prefix: tuple[FieldDescriptor, ...], seen: tuple[str, ...]) -> None:
        for field in descriptor.fields:
            chain = (*prefix, field)
            key = ".".join(f.name for f in chain)
            if key in excluded:
                continue
            if is_text_settable(field):
                found[key] = make_setter(key, chain)
            elif (
                field.message_type is not None
                and not field.is_repeated
                and field.message_type.full_name not in seen
                and not field.message_type.full_name.startswith("google.protobuf.")
                and len(chain) < MAX_QUERY_DEPTH
            ):
                walk(field.message_type, chain, (*seen, field.message_type.full_name))

    walk(message, (), (message.full_name,))
    return found
