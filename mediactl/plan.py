"""Pure rules of an upload: which bytes make which part, what is left to send, how long to wait.

No I/O here, so the rules are tested without a server. Parts are numbered from 1 as S3
numbers them; every part has the server's ``part_size`` bytes except the last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """Part ``number`` covers bytes ``[offset, offset + size)`` of the file."""

    number: int
    offset: int
    size: int


def parts_of(file_size: int, part_size: int) -> list[Part]:
    """The parts of a ``file_size``-byte file cut every ``part_size`` bytes (one part for an empty file)."""
    if part_size <= 0:
        raise ValueError("part_size must be positive")
    if file_size <= 0:
        return [Part(1, 0, 0)]
    return [
        Part(number, offset, min(part_size, file_size - offset))
        for number, offset in enumerate(range(0, file_size, part_size), start=1)
    ]


def missing_parts(planned: Iterable[Part], stored: Mapping[int, int]) -> list[Part]:
    """The planned parts the store does not hold with the right size (``stored``: number → size)."""
    return [part for part in planned if stored.get(part.number) != part.size]


def stored_bytes(planned: Iterable[Part], stored: Mapping[int, int]) -> int:
    """Bytes already in the store, counted only for parts that are complete."""
    return sum(part.size for part in planned if stored.get(part.number) == part.size)


def backoff_delays(
    attempts: int, first_seconds: float = 1.0, factor: float = 2.0, cap_seconds: float = 30.0
) -> list[float]:
    """Waits between ``attempts`` tries of one part: 1 s, 2 s, 4 s … capped (``attempts - 1`` waits)."""
    return [min(cap_seconds, first_seconds * factor**index) for index in range(max(0, attempts - 1))]


def resume_key(path: str, size: int, mtime_ns: int) -> str:
    """What identifies a file between runs: the same path, size and modification time."""
    return f"{path}|{size}|{mtime_ns}"
