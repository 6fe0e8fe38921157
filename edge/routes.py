"""Path templates of ``google.api.http`` rules: parse once, match many times.

The grammar is the one of google/api/http.proto (and grpc-gateway)::

    Template = "/" [ Segments ] [ ":" Verb ]
    Segment  = "*" | "**" | LITERAL | "{" FieldPath [ "=" Segments ] "}"

``{x}`` is ``{x=*}``: one segment. ``**`` matches zero or more segments and must come
last (before the verb). A literal may hold dots (``master.m3u8``). A variable's value is
the matched text, sub-template literals included (``{name=rooms/*}`` gives ``rooms/7``).

Precedence, so that the winner never depends on the order protos were loaded in:
among the templates that match a path, compare their segments from the left; at the
first position where they differ, a literal beats ``*``, which beats ``**``; a template
that has run out of segments beats one that has not (only possible when ``**`` matched
nothing); when the segments tie, a template with a verb beats one without. Two
templates that still tie have the same shape (``/a/{x}`` and ``/a/{y}``) and are refused
at startup when they share an HTTP method, so the rule is total.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import unquote

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

T = TypeVar("T")


class TemplateError(ValueError):
    """A path template does not follow the google.api.http grammar."""


class SegmentKind(enum.IntEnum):
    """What one template segment matches; the values order precedence (lower wins)."""

    LITERAL = 0
    WILDCARD = 1
    DEEP_WILDCARD = 2


@dataclass(frozen=True)
class Segment:
    """One ``/``-separated piece of a template."""

    kind: SegmentKind
    literal: str = ""


@dataclass(frozen=True)
class Variable:
    """A field bound by the template: segments ``[start, end)`` of the template give its value."""

    field_path: str
    start: int
    end: int
    pattern: str
    """The sub-template as written (``*``, ``**``, ``rooms/*/notes/*``)."""

    @property
    def is_deep(self) -> bool:
        """Whether the value may span several path segments (the variable ends in ``**``)."""
        return self.pattern.split("/")[-1] == "**"


@dataclass(frozen=True)
class PathTemplate:
    """A compiled template: its segments, variables and verb."""

    source: str
    segments: tuple[Segment, ...]
    variables: tuple[Variable, ...]
    verb: str | None

    @functools.cached_property
    def has_deep_wildcard(self) -> bool:
        """Whether the last segment is ``**`` (asked on every match, so computed once)."""
        return bool(self.segments) and self.segments[-1].kind is SegmentKind.DEEP_WILDCARD

    def fits_length(self, components: int) -> bool:
        """Whether a path of this many components can match at all: the router's index."""
        count = len(self.segments)
        return components >= count - 1 if self.has_deep_wildcard else components == count

    @property
    def precedence(self) -> tuple[tuple[int, ...], int]:
        """Sort key: the template that sorts first wins among those that match (see module doc)."""
        return tuple(int(s.kind) for s in self.segments), 0 if self.verb is not None else 1

    @property
    def shape(self) -> tuple[tuple[tuple[int, str], ...], str | None]:
        """What the template matches, without variable names: equal shapes are ambiguous."""
        return tuple((int(s.kind), s.literal) for s in self.segments), self.verb

    def match(self, components: Sequence[str]) -> dict[str, str] | None:
        """Bind this template's variables against decoded path components, or None.

        ``components`` is the request path split on ``/`` and percent-decoded, the verb
        (if any) still attached to the last one.
        """
        if self.verb is not None:
            if not components:
                return None
            last = components[-1]
            suffix = ":" + self.verb
            if not last.endswith(suffix):
                return None
            components = [*components[:-1], last[: -len(suffix)]]
        segments = self.segments
        count = len(segments)
        if self.has_deep_wildcard:
            if len(components) < count - 1:
                return None
            fixed = count - 1
        else:
            if len(components) != count:
                return None
            fixed = count
        for index in range(fixed):
            segment = segments[index]
            component = components[index]
            if segment.kind is SegmentKind.LITERAL:
                if component != segment.literal:
                    return None
            elif not component:
                return None
        values: dict[str, str] = {}
        for variable in self.variables:
            stop = len(components) if (variable.end == count and self.has_deep_wildcard) else variable.end
            values[variable.field_path] = "/".join(components[variable.start : stop])
        return values


def parse_template(source: str) -> PathTemplate:
    """Compile a template, raising :class:`TemplateError` that names the problem."""
    if not source.startswith("/"):
        raise TemplateError(f"path template {source!r} must start with '/'")
    path, verb = _split_verb(source[1:], source)
    segments: list[Segment] = []
    variables: list[Variable] = []
    for part in _split_top_level(path, source) if path else []:
        if part.startswith("{"):
            if not part.endswith("}"):
                raise TemplateError(f"path template {source!r}: unterminated variable {part!r}")
            name, _, pattern = part[1:-1].partition("=")
            _check_field_path(name, source)
            if any(v.field_path == name for v in variables):
                raise TemplateError(f"path template {source!r} binds {name!r} twice")
            pattern = pattern or "*"
            start = len(segments)
            segments.extend(_plain_segment(piece, source) for piece in pattern.split("/"))
            variables.append(Variable(name, start, len(segments), pattern))
        else:
            segments.append(_plain_segment(part, source))
    for index, segment in enumerate(segments):
        if segment.kind is SegmentKind.DEEP_WILDCARD and index != len(segments) - 1:
            raise TemplateError(f"path template {source!r}: '**' must be the last segment")
    return PathTemplate(source, tuple(segments), tuple(variables), verb)


def _split_verb(path: str, source: str) -> tuple[str, str | None]:
    """Separate ``:verb`` from the last segment; colons inside ``{...}`` do not count."""
    depth = 0
    colon = -1
    for index, char in enumerate(path):
        if char == "{":
            depth += 1
            if depth > 1:
                raise TemplateError(f"path template {source!r}: variables cannot nest")
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise TemplateError(f"path template {source!r}: unbalanced '}}'")
        elif depth == 0 and char == "/":
            colon = -1
        elif depth == 0 and char == ":" and colon < 0:
            colon = index
    if depth != 0:
        raise TemplateError(f"path template {source!r}: unbalanced '{{'")
    if colon < 0:
        return path, None
    verb = path[colon + 1 :]
    if not verb or "/" in verb or "{" in verb:
        raise TemplateError(f"path template {source!r}: the verb after ':' must be a literal")
    return path[:colon], verb


def _split_top_level(path: str, source: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in path:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "/" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _plain_segment(text: str, source: str) -> Segment:
    if text == "*":
        return Segment(SegmentKind.WILDCARD)
    if text == "**":
        return Segment(SegmentKind.DEEP_WILDCARD)
    if not text or any(c in text for c in "{}*"):
        raise TemplateError(f"path template {source!r}: bad segment {text!r}")
    return Segment(SegmentKind.LITERAL, text)


def _check_field_path(name: str, source: str) -> None:
    if not name or not all(_IDENT.fullmatch(part) for part in name.split(".")):
        raise TemplateError(f"path template {source!r}: {name!r} is not a field path")


def split_path(raw_path: str) -> list[str]:
    """Split a raw (still percent-encoded) URL path into decoded components.

    Splitting before decoding keeps an encoded ``%2F`` inside one component.
    """
    if raw_path in ("", "/"):
        return []
    return [unquote(part) for part in raw_path[1:].split("/")]


@dataclass(frozen=True)
class Match(Generic[T]):
    """The route that serves a request, with its path variables."""

    template: PathTemplate
    target: T
    params: Mapping[str, str]


@dataclass(frozen=True)
class NotFound:
    """No template matches the path."""


@dataclass(frozen=True)
class MethodNotAllowed:
    """Some template matches the path, but none for this method."""

    allowed: tuple[str, ...]


MAX_INDEXED_COMPONENTS = 32
"""Paths longer than this are matched without being remembered, so odd URLs cannot grow the index."""


@dataclass
class _Entry(Generic[T]):
    template: PathTemplate
    targets: dict[str, T] = field(default_factory=dict)


class Router(Generic[T]):
    """Method + path → target, built once at startup and read-only afterwards.

    Templates are kept sorted by precedence, so resolving walks them once and stops at
    the first that matches both the path and the method.
    """

    def __init__(self) -> None:
        self._entries: list[_Entry[T]] = []
        self._by_source: dict[str, _Entry[T]] = {}
        self._by_length: dict[int, tuple[_Entry[T], ...]] = {}
        """The entries a path of n components can match, in precedence order, filled as paths arrive:
        a request tries the few templates of its length, not all of them."""

    def add(self, method: str, template: PathTemplate, target: T) -> None:
        """Register ``target``; refuses a (method, shape) pair already taken."""
        method = method.upper()
        for entry in self._entries:
            if entry.template.shape == template.shape and method in entry.targets:
                raise TemplateError(f"{method} {template.source} is ambiguous with {method} {entry.template.source}")
        same = self._by_source.get(template.source)
        if same is None:
            same = _Entry(template)
            self._by_source[template.source] = same
            self._entries.append(same)
            self._entries.sort(key=lambda e: e.template.precedence)
            self._by_length.clear()
        same.targets[method] = target

    def routes(self) -> Iterable[tuple[str, PathTemplate, T]]:
        """Every (method, template, target), in precedence order."""
        for entry in self._entries:
            for method, target in entry.targets.items():
                yield method, entry.template, target

    def resolve(self, method: str, raw_path: str) -> Match[T] | NotFound | MethodNotAllowed:
        """Find the route for a request; see the module doc for the precedence rule."""
        components = split_path(raw_path)
        allowed: set[str] = set()
        for entry in self._candidates(len(components)):
            params = entry.template.match(components)
            if params is None:
                continue
            target = entry.targets.get(method)
            if target is not None:
                return Match(entry.template, target, params)
            allowed.update(entry.targets)
        if allowed:
            return MethodNotAllowed(tuple(sorted(allowed)))
        return NotFound()

    def _candidates(self, length: int) -> tuple[_Entry[T], ...]:
        """The entries that can match a path of ``length`` components; longer paths than any route are not kept."""
        found = self._by_length.get(length)
        if found is None:
            found = tuple(entry for entry in self._entries if entry.template.fits_length(length))
            if length <= MAX_INDEXED_COMPONENTS:
                self._by_length[length] = found
        return found
