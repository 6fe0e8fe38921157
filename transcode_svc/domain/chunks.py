"""Chunked transcoding's rules: where a long source is cut, and how the pieces become one rendition.

A source longer than TRANSCODE_CHUNK_THRESHOLD_SECONDS is encoded in chunks of about
TRANSCODE_CHUNK_SECONDS, each by whichever worker is free (:mod:`transcode_svc.chunked`).
The traps others reported, and the rule here that avoids each:

- *Timestamps that restart at 0 in each chunk*: a chunk begins on the segment grid, its
  frames keep their time in the source (FFmpeg's ``-output_ts_offset`` of the chunk's
  start, with no automatic shift), and its segments are numbered on from the segments
  before it (:attr:`ChunkPlan.first_segment`). The joined rung is one timeline with no
  EXT-X-DISCONTINUITY.
- *Audio clicks at the joins*: audio is never cut into chunks. It is encoded once, for
  the whole source, into its own rendition (RFC 8216 4.3.4.1, EXT-X-MEDIA TYPE=AUDIO;
  Apple's HLS authoring specification prefers demuxed audio), so there is no join in it.
- *Chunks joined out of order*: a playlist lists chunks by index, and only a prefix of
  them: chunk n's segments appear once every chunk before it has all of its own
  (:func:`published_segments`), so a player never sees a hole.
- *The join run several times at once*: one process joins (the job's own worker), under
  the job's row lock, and only once every chunk is done.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from transcode_svc.domain.playlists import START_AT_BEGINNING, SegmentGrid, measured_bandwidths

MIN_CHUNK_SEGMENTS = 2
"""A chunk spans at least this many segments: shorter ones cost a seek and an encoder start each."""


def chunks_wanted(duration_seconds: float, threshold_seconds: float) -> bool:
    """Whether a source of this length is transcoded in chunks (longer than the threshold, 0 = never)."""
    return threshold_seconds > 0 and duration_seconds > threshold_seconds


@dataclass(frozen=True)
class ChunkPlan:
    """One chunk: ``[start_seconds, end_seconds)`` of the source, its first segment's number.

    ``opening`` is True for the chunk that holds the grid's short opening segments
    (chunk 0): it alone gets the opening keyframe pattern and ``-hls_init_time``.
    """

    index: int
    start_seconds: float
    end_seconds: float
    first_segment: int
    opening: bool = False

    @property
    def seconds(self) -> float:
        return self.end_seconds - self.start_seconds


def plan_chunks(duration_seconds: float, grid: SegmentGrid, chunk_seconds: float) -> list[ChunkPlan]:
    """Cut ``[0, duration_seconds)`` into chunks on segment boundaries, each about ``chunk_seconds`` long.

    Every chunk starts where a segment of the single-pass grid starts, so chunked and
    single-pass outputs cut at the same instants. The first chunk holds the whole
    opening (the short segments) and at least :data:`MIN_CHUNK_SEGMENTS`; a remainder
    shorter than half a chunk joins the chunk before it rather than standing alone.
    A source the grid does not cut at all is one chunk.
    """
    boundaries = grid.boundaries(duration_seconds)
    if len(boundaries) <= MIN_CHUNK_SEGMENTS:
        return [ChunkPlan(0, 0.0, duration_seconds, 0, opening=grid.opens_short)]
    starts = [0]
    opening_end = grid.opening_segments if grid.opens_short else 0
    for index in range(1, len(boundaries)):
        previous = starts[-1]
        long_enough = boundaries[index] - boundaries[previous] >= chunk_seconds - 1e-9
        if index - previous >= MIN_CHUNK_SEGMENTS and index >= opening_end and long_enough:
            starts.append(index)
    if len(starts) > 1 and duration_seconds - boundaries[starts[-1]] < chunk_seconds / 2:
        starts.pop()
    ends = [boundaries[index] for index in starts[1:]] + [duration_seconds]
    return [
        ChunkPlan(number, boundaries[first], end, first, opening=number == 0 and grid.opens_short)
        for number, (first, end) in enumerate(zip(starts, ends, strict=True))
    ]


def chunk_keyframe_expression(grid: SegmentGrid, chunk: ChunkPlan) -> str:
    """``-force_key_frames`` for a chunk, whose frame times count from its own start.

    Chunk 0 keeps the grid's expression (opening segments first). Every later chunk
    starts at or after the opening, on the grid, so its keyframes fall every
    ``grid.seconds`` from its start.
    """
    if chunk.opening:
        return grid.keyframe_expression()
    return f"expr:gte(t,n_forced*{grid.seconds:g})"


# ---- what chunks publish ---------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedSegment:
    """A segment in the bucket: its name, duration (seconds) and size (bytes)."""

    uri: str
    duration: float
    size: int

    def as_record(self) -> list[object]:
        """The compact JSON form the chunk table stores: ``[uri, duration, size]``."""
        return [self.uri, self.duration, self.size]

    @classmethod
    def of_record(cls, record: Sequence[object]) -> PublishedSegment:
        uri, duration, size = record
        return cls(str(uri), float(str(duration)), int(str(size)))


@dataclass(frozen=True)
class ChunkProgress:
    """What one chunk has done: segments in the bucket per rung, seconds encoded, whether it is done."""

    index: int
    done: bool
    encoded_seconds: float = 0.0
    segments: Mapping[str, tuple[PublishedSegment, ...]] = field(default_factory=dict)


def published_segments(rung: str, chunks: Sequence[ChunkProgress]) -> list[PublishedSegment]:
    """The segments of ``rung`` players may see: every done chunk in order, then what the next one has.

    Stops at the first chunk that is not done (after its segments so far), or missing, so the
    playlist only ever grows at its end, as an EVENT playlist must (RFC 8216 6.2.1),
    whatever order the chunks finish in.
    """
    listed: list[PublishedSegment] = []
    for position, chunk in enumerate(sorted(chunks, key=lambda c: c.index)):
        if chunk.index != position:
            break  # a chunk not heard of yet: nothing after it may show
        listed.extend(chunk.segments.get(rung, ()))
        if not chunk.done:
            break
    return listed


def hole_in(rung: str, chunks: Sequence[ChunkProgress]) -> int | None:
    """The index of a done chunk with no segment of ``rung`` that a later chunk follows with some; None if none.

    A source that ends before its declared duration leaves its last chunks empty, and
    the video is simply shorter (as a single pass would make it); an empty chunk
    *before* a full one would be a hole in the timeline, and the join refuses it.
    """
    empty: int | None = None
    for chunk in sorted(chunks, key=lambda c: c.index):
        if not chunk.segments.get(rung):
            empty = chunk.index if empty is None else empty
        elif empty is not None:
            return empty
    return None


def encoded_seconds(chunks: Sequence[ChunkProgress], plans: Sequence[ChunkPlan]) -> float:
    """Seconds of source encoded over all chunks (a done chunk counts whole)."""
    lengths = {plan.index: plan.seconds for plan in plans}
    return sum(
        lengths.get(chunk.index, 0.0) if chunk.done else min(chunk.encoded_seconds, lengths.get(chunk.index, 0.0))
        for chunk in chunks
    )


def variant_playlist(segments: Sequence[PublishedSegment], target_duration: int, *, ended: bool) -> str:
    """A variant playlist assembled from chunks: EVENT while chunks run, VOD once joined.

    The media sequence starts at 0 and never changes (every segment stays listed); the
    target duration is the grid's, covering every EXTINF (RFC 8216 4.3.3.1), declared
    from the first version on (6.2.1). The EVENT form begins players at the start
    (EXT-X-START, as :func:`transcode_svc.domain.event_playlist` explains).
    """
    longest = max((math.floor(segment.duration + 0.5) for segment in segments), default=0)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{max(1, target_duration, longest)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:" + ("VOD" if ended else "EVENT"),
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    if not ended:
        lines.append(START_AT_BEGINNING)
    for segment in segments:
        lines += [f"#EXTINF:{segment.duration:.6f},", segment.uri]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def segment_bandwidths(segments: Sequence[PublishedSegment]) -> tuple[int, int]:
    """(peak, average) bits per second of a rendition from its segments (RFC 8216 4.3.4.2)."""
    return measured_bandwidths([(segment.duration, segment.size) for segment in segments])
