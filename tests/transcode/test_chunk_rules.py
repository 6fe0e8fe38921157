"""The rules of chunked transcoding as plain functions: where a source is cut, what players may see.

No FFmpeg and no server: these are the decisions :mod:`transcode_svc.chunked` acts on.
"""

from __future__ import annotations

import itertools
import random

import pytest

from service_kit.settings import SettingsError, load_transcode_settings
from transcode_svc import domain, ladder
from transcode_svc.domain import ChunkPlan, ChunkProgress, PublishedSegment, SegmentGrid

SHIPPED_GRID = SegmentGrid(6.0, 2.0, 3)
"""The defaults: three 2-second opening segments, then 6 seconds."""


def segment(number: int, seconds: float = 6.0, size: int = 1000) -> PublishedSegment:
    return PublishedSegment(f"seg_{number:05d}.ts", seconds, size)


def test_sources_longer_than_the_threshold_are_chunked_and_zero_turns_chunking_off() -> None:
    assert domain.chunks_wanted(301, 300) and not domain.chunks_wanted(300, 300)
    assert not domain.chunks_wanted(5400, 0)


def test_a_ten_minute_lecture_is_ten_one_minute_chunks_starting_on_the_segment_grid() -> None:
    chunks = domain.plan_chunks(600, SHIPPED_GRID, 60)
    assert [(c.start_seconds, c.end_seconds) for c in chunks] == [(60.0 * i, 60.0 * (i + 1)) for i in range(10)]
    # Chunk 0 holds the opening (3 x 2 s, then 9 x 6 s): 12 segments; the others 10 each.
    assert [c.first_segment for c in chunks] == [0, 12, 22, 32, 42, 52, 62, 72, 82, 92]
    assert [c.opening for c in chunks] == [True] + [False] * 9
    for chunk in chunks:
        assert SHIPPED_GRID.boundary(chunk.first_segment) == chunk.start_seconds, "a chunk starts where a segment does"


def test_chunks_cover_the_source_exactly_once_whatever_its_length() -> None:
    for duration in (7.0, 61.5, 95.04, 599.96, 5400.0, 5423.7):
        chunks = domain.plan_chunks(duration, SHIPPED_GRID, 60)
        assert chunks[0].start_seconds == 0 and chunks[-1].end_seconds == duration
        assert all(a.end_seconds == b.start_seconds for a, b in itertools.pairwise(chunks))
        assert [c.index for c in chunks] == list(range(len(chunks)))


def test_a_short_remainder_joins_the_chunk_before_it_rather_than_standing_alone() -> None:
    chunks = domain.plan_chunks(125, SHIPPED_GRID, 60)
    assert [(c.start_seconds, c.end_seconds) for c in chunks] == [(0, 60), (60, 125)]
    assert [(c.start_seconds, c.end_seconds) for c in domain.plan_chunks(155, SHIPPED_GRID, 60)] == [
        (0, 60),
        (60, 120),
        (120, 155),
    ]


def test_chunks_are_whole_segments_even_when_the_chunk_length_is_not() -> None:
    chunks = domain.plan_chunks(100, SHIPPED_GRID, 50)
    assert [c.start_seconds for c in chunks] == [0, 54]


def test_the_first_chunk_alone_gets_the_opening_keyframes_the_rest_a_plain_grid_from_their_start() -> None:
    first, later = domain.plan_chunks(600, SHIPPED_GRID, 60)[:2]
    assert domain.chunk_keyframe_expression(SHIPPED_GRID, first) == SHIPPED_GRID.keyframe_expression()
    assert domain.chunk_keyframe_expression(SHIPPED_GRID, later) == "expr:gte(t,n_forced*6)"


def test_a_chunk_command_cuts_its_window_keeps_source_time_and_numbers_segments_on(tmp_path: object) -> None:
    from pathlib import Path

    plans = domain.plan_renditions(domain.ProbeFacts(duration_seconds=600, width=1920, height=1080, frame_rate=30))
    chunk = ChunkPlan(3, 180.0, 240.0, 32)
    command = ladder.chunk_command("https://s3/source", Path("/w"), plans, chunk, options=ladder.LadderOptions())
    window = command.index("-ss")
    assert command[window : window + 4] == ["-ss", "180.000000", "-t", "60.000000"]
    assert window < command.index("-i"), "input seeking: decoded from the keyframe before, exact to the frame"
    assert command.count("-an") == len(plans) and "0:a:0" not in command, "no audio in a chunk"
    assert command.count("-output_ts_offset") == len(plans) and "180.000000" in command
    assert command.count("disabled") == len(plans), "-avoid_negative_ts disabled on every output"
    assert command[command.index("-start_number") + 1] == "32"
    assert "-hls_init_time" not in command


def _progress(index: int, done: bool, numbers: list[int]) -> ChunkProgress:
    return ChunkProgress(index, done, 0.0, {"720p": tuple(segment(n) for n in numbers)})


def test_players_see_done_chunks_in_order_and_the_next_ones_progress_never_a_later_chunk() -> None:
    chunks = [
        _progress(0, True, [0, 1, 2]),
        _progress(1, False, [3]),
        _progress(2, True, [6, 7, 8]),
    ]
    assert [s.uri for s in domain.published_segments("720p", chunks)] == [
        "seg_00000.ts",
        "seg_00001.ts",
        "seg_00002.ts",
        "seg_00003.ts",
    ]
    assert domain.published_segments("720p", [_progress(0, False, [])]) == []


def test_the_joined_playlist_is_the_same_whatever_order_the_chunks_finish_in() -> None:
    done = [_progress(i, True, [3 * i, 3 * i + 1, 3 * i + 2]) for i in range(5)]
    expected = domain.published_segments("720p", done)
    order = list(range(5))
    random.Random(17).shuffle(order)
    finished: list[ChunkProgress] = []
    seen: list[list[PublishedSegment]] = []
    for index in order:
        finished.append(done[index])
        seen.append(domain.published_segments("720p", finished))
    assert seen[-1] == expected and len(expected) == 15
    for earlier, later in itertools.pairwise(seen):
        assert later[: len(earlier)] == earlier, "a published playlist only grows at its end"


def test_an_empty_chunk_before_full_ones_is_a_hole_an_empty_tail_is_a_shorter_source() -> None:
    hole = [_progress(0, True, [0, 1]), _progress(1, True, []), _progress(2, True, [4])]
    assert domain.hole_in("720p", hole) == 1
    tail = [_progress(0, True, [0, 1]), _progress(1, True, []), _progress(2, True, [])]
    assert domain.hole_in("720p", tail) is None


def test_a_joined_playlist_is_vod_with_the_grids_target_and_an_event_one_starts_players_at_zero() -> None:
    segments = [segment(0, 2.0), segment(1, 2.0), segment(2, 6.006)]
    vod = domain.variant_playlist(segments, 6, ended=True).splitlines()
    assert vod[:6] == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:6",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    assert vod[-1] == "#EXT-X-ENDLIST" and "#EXTINF:6.006000," in vod
    event = domain.variant_playlist(segments[:1], 6, ended=False).splitlines()
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in event and "#EXT-X-START:TIME-OFFSET=0" in event
    assert "#EXT-X-ENDLIST" not in event and "#EXT-X-TARGETDURATION:6" in event


def test_a_segment_longer_than_the_grid_raises_the_target_rfc_8216_4_3_3_1() -> None:
    assert "#EXT-X-TARGETDURATION:8" in domain.variant_playlist([segment(0, 7.6)], 6, ended=True)


def test_a_chunked_master_names_the_audio_rendition_once_and_counts_it_in_every_variant() -> None:
    plans = domain.plan_renditions(domain.ProbeFacts(duration_seconds=600, width=1280, height=720, has_audio=True))
    master = domain.master_playlist([domain.nominal(plan) for plan in plans], separate_audio=True).splitlines()
    media = [line for line in master if line.startswith("#EXT-X-MEDIA:")]
    assert media == [
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",'
        'URI="audio/index.m3u8"'
    ]
    variants = [line for line in master if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(variants) == len(plans) and all(line.endswith(',AUDIO="audio"') for line in variants)
    assert all("mp4a.40.2" in line for line in variants), "CODECS lists the audio the variant plays with"
    assert "#EXT-X-MEDIA" not in domain.master_playlist([domain.nominal(plan) for plan in plans])


def test_progress_counts_done_chunks_whole_and_running_ones_as_far_as_they_got() -> None:
    plans = domain.plan_chunks(240, SHIPPED_GRID, 60)
    progress = [ChunkProgress(0, True), ChunkProgress(1, False, 30.0), ChunkProgress(3, False, 90.0)]
    assert domain.encoded_seconds(progress, plans) == pytest.approx(60 + 30 + 60)


def test_a_published_segment_round_trips_through_the_chunk_tables_json() -> None:
    original = PublishedSegment("seg_00012.ts", 6.006, 812345)
    assert PublishedSegment.of_record(original.as_record()) == original


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TRANSCODE_CHUNK_THRESHOLD_SECONDS", "-1", "0 or more (0: never chunk)"),
        ("TRANSCODE_CHUNK_THRESHOLD_SECONDS", "five minutes", "0 or more (0: never chunk)"),
        ("TRANSCODE_CHUNK_SECONDS", "0", "a positive number of seconds"),
    ],
)
def test_a_chunk_setting_out_of_range_is_refused_with_what_to_write_instead(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError, match=variable) as refused:
        load_transcode_settings({variable: value})
    assert expected in str(refused.value)


def test_chunking_is_on_for_sources_over_five_minutes_in_one_minute_chunks_by_default() -> None:
    settings = load_transcode_settings({})
    assert (settings.chunk_threshold_seconds, settings.chunk_seconds) == (300.0, 60.0)
