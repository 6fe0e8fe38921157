"""The ladder's rules, as plain calls: which rungs a source gets and what they announce."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcode_svc.domain import (
    LADDER,
    PicturePlan,
    ProbeFacts,
    Progress,
    encoded_percent,
    eta_seconds,
    event_playlist,
    failure_reason,
    finalize_variant_playlist,
    job_timeouts,
    master_playlist,
    measured_bandwidths,
    nominal,
    parse_variant_playlist,
    plan_picture,
    plan_renditions,
    retry_intervals,
    target_duration,
)
from transcode_svc.ladder import LadderOptions, build_command, filter_graph, poster_command


def facts(width: int, height: int, **extra: object) -> ProbeFacts:
    return ProbeFacts(duration_seconds=60.0, width=width, height=height, frame_rate=30.0, has_audio=True, **extra)  # type: ignore[arg-type]


def shapes(probe: ProbeFacts) -> list[tuple[str, int, int]]:
    return [(plan.name, plan.width, plan.height) for plan in plan_renditions(probe)]


def test_the_ladder_is_the_seeds_four_rungs() -> None:
    assert [(r.name, r.width, r.height, r.video_kbps) for r in LADDER] == [
        ("360p", 640, 360, 800),
        ("480p", 854, 480, 1400),
        ("720p", 1280, 720, 2800),
        ("1080p", 1920, 1080, 5000),
    ]


def test_a_1080p_source_gets_every_rung() -> None:
    assert shapes(facts(1920, 1080)) == [
        ("360p", 640, 360),
        ("480p", 854, 480),
        ("720p", 1280, 720),
        ("1080p", 1920, 1080),
    ]


def test_a_720p_source_is_never_upscaled() -> None:
    assert [name for name, _, _ in shapes(facts(1280, 720))] == ["360p", "480p", "720p"]


def test_a_portrait_source_keeps_its_orientation_and_is_chosen_by_its_short_side() -> None:
    assert shapes(facts(720, 1280)) == [("360p", 360, 640), ("480p", 480, 854), ("720p", 720, 1280)]


def test_a_rotated_source_is_planned_as_it_is_displayed() -> None:
    assert shapes(facts(1280, 720, rotation=90)) == shapes(facts(720, 1280))


@pytest.mark.parametrize(
    ("coded", "pixel_aspect", "expected"),
    [
        ((720, 576), "64:45", [("360p", 640, 360), ("480p", 854, 480)]),
        ((720, 576), "16:15", [("360p", 480, 360), ("480p", 640, 480)]),
        ((720, 480), "8:9", [("360p", 480, 360), ("480p", 640, 480)]),
        ((1440, 1080), "4:3", [("360p", 640, 360), ("480p", 854, 480), ("720p", 1280, 720), ("1080p", 1920, 1080)]),
    ],
)
def test_non_square_pixels_are_planned_from_the_displayed_picture_at_even_square_pixel_sizes(
    coded: tuple[int, int], pixel_aspect: str, expected: list[tuple[str, int, int]]
) -> None:
    assert shapes(facts(*coded, sample_aspect_ratio=pixel_aspect)) == expected


def test_a_rotated_source_with_non_square_pixels_stretches_its_coded_width_before_turning() -> None:
    probe = facts(720, 576, sample_aspect_ratio="64:45", rotation=90)
    assert probe.display_size == (576, 1024)
    assert shapes(probe)[0] == ("360p", 360, 640)


@pytest.mark.parametrize("pixel_aspect", ["", "1:1", "0:1", "nonsense", "3:0"])
def test_square_or_unknown_pixels_leave_the_coded_size(pixel_aspect: str) -> None:
    assert facts(720, 576, sample_aspect_ratio=pixel_aspect).display_size == (720, 576)


def test_a_source_smaller_than_360p_gets_one_rendition_at_its_own_even_size() -> None:
    plans = plan_renditions(facts(321, 241))
    assert [(p.name, p.width, p.height) for p in plans] == [("240p", 320, 240)]
    assert 150_000 <= plans[0].video_bitrate < 800_000


def test_odd_sizes_become_even_dimensions() -> None:
    for plan in plan_renditions(facts(1279, 719)):
        assert plan.width % 2 == 0 and plan.height % 2 == 0


def test_a_source_without_audio_gets_video_only_renditions() -> None:
    plan = plan_renditions(ProbeFacts(duration_seconds=5, width=640, height=360, has_audio=False))[0]
    assert plan.audio_bitrate == 0
    assert "mp4a" not in plan.codecs


def test_each_rung_announces_the_smallest_h264_level_that_fits() -> None:
    levels = {plan.name: plan.codecs for plan in plan_renditions(facts(1920, 1080))}
    assert levels == {
        "360p": "avc1.64001e,mp4a.40.2",
        "480p": "avc1.64001f,mp4a.40.2",
        "720p": "avc1.64001f,mp4a.40.2",
        "1080p": "avc1.640028,mp4a.40.2",
    }


def test_a_source_without_a_picture_cannot_be_planned() -> None:
    with pytest.raises(ValueError, match="no video stream"):
        plan_renditions(ProbeFacts(duration_seconds=5, width=0, height=0))


def test_the_master_playlist_carries_every_attribute_a_player_chooses_by() -> None:
    text = master_playlist([nominal(p) for p in plan_renditions(facts(1280, 720))])
    lines = [line for line in text.splitlines() if line.startswith("#EXT-X-STREAM-INF")]
    assert len(lines) == 3
    for line in lines:
        for attribute in ("BANDWIDTH=", "AVERAGE-BANDWIDTH=", "RESOLUTION=", 'CODECS="', "FRAME-RATE=30.000"):
            assert attribute in line
    assert text.splitlines()[-1] == "720p/index.m3u8"


def test_a_finished_event_playlist_becomes_vod_with_an_endlist() -> None:
    event = (
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:6.0,\nseg_00000.ts\n"
    )
    vod = finalize_variant_playlist(event + "#EXT-X-ENDLIST\n")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in vod and "EVENT" not in vod
    assert vod.count("#EXT-X-ENDLIST") == 1 and vod.endswith("#EXT-X-ENDLIST\n")
    assert parse_variant_playlist(vod).segments[0].uri == "seg_00000.ts"


SHORT_CLIP_EVENT = (
    "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:0\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:0.320000,\nseg_00000.ts\n"
)


@pytest.mark.parametrize(
    ("durations", "declared", "target"),
    [([0.32], 0, 1), ([0.5], 0, 1), ([6.006, 6.0, 2.1], 6, 6), ([6.5, 6.0], 6, 7), ([1.0, 1.0], 1, 1), ([], 0, 1)],
)
def test_the_target_duration_covers_every_segment_rounded_to_the_nearest_second_and_is_at_least_one(
    durations: list[float], declared: int, target: int
) -> None:
    assert target_duration(durations, declared) == target


def test_a_clip_shorter_than_a_second_gets_a_vod_playlist_with_a_target_duration_of_one() -> None:
    vod = finalize_variant_playlist(SHORT_CLIP_EVENT + "#EXT-X-ENDLIST\n")
    assert "#EXT-X-TARGETDURATION:1\n" in vod and "TARGETDURATION:0" not in vod
    assert "#EXT-X-START" not in vod


def test_an_event_playlist_tells_players_to_start_at_the_beginning_once() -> None:
    published = event_playlist(SHORT_CLIP_EVENT)
    lines = published.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-START:TIME-OFFSET=0"]
    assert "#EXT-X-TARGETDURATION:1" in lines and "#EXT-X-PLAYLIST-TYPE:EVENT" in lines
    assert event_playlist(published) == published
    assert parse_variant_playlist(published).segments == parse_variant_playlist(SHORT_CLIP_EVENT).segments


def test_measured_bandwidth_is_the_peak_segment_and_the_overall_average() -> None:
    assert measured_bandwidths([(2.0, 1000), (1.0, 1000)]) == (8000, 5334)


def test_progress_never_goes_backwards_and_reaches_100_only_when_done() -> None:
    progress = Progress().advanced(40, 30)
    assert progress.advanced(10, 99).percent == 40
    assert encoded_percent(60.0, 60.0) == 99
    assert progress.finished() == Progress(100, 0, True)


def test_the_eta_follows_the_pace_so_far() -> None:
    assert eta_seconds(elapsed_seconds=10, encoded_seconds=20, duration_seconds=60) == 20
    assert eta_seconds(elapsed_seconds=10, encoded_seconds=0, duration_seconds=60) == 0


def test_the_job_timeout_scales_with_the_source_and_outlives_ffmpegs() -> None:
    short, long = job_timeouts(60, 10.0), job_timeouts(7200, 10.0)
    assert long.ffmpeg_seconds > short.ffmpeg_seconds * 50
    assert short.job_seconds > short.ffmpeg_seconds


def test_retries_back_off_by_the_configured_intervals() -> None:
    assert retry_intervals(4, [10, 60]) == [10, 60, 60]
    assert retry_intervals(1, [10]) == []


def test_ffmpegs_reason_is_kept_in_words_without_paths() -> None:
    reason = failure_reason(
        "[mov,mp4] moov atom not found\n/tmp/x/source.mp4: Invalid data found when processing input\n"
    )
    assert "moov atom not found" in reason and "Invalid data found" in reason
    assert "/tmp" not in reason


# ---- the source's picture: fields and colour -----------------------------------------------


@pytest.mark.parametrize(("field_order", "deinterlace"), [("tt", True), ("bb", True), ("tb", True), ("bt", True)])
def test_an_interlaced_source_is_deinterlaced(field_order: str, deinterlace: bool) -> None:
    assert plan_picture(facts(720, 576, field_order=field_order)).deinterlace is deinterlace


@pytest.mark.parametrize("field_order", ["progressive", ""])
def test_a_progressive_or_unknown_source_is_left_as_it_is(field_order: str) -> None:
    assert plan_picture(facts(1920, 1080, field_order=field_order)) == PicturePlan()


@pytest.mark.parametrize("transfer", ["arib-std-b67", "smpte2084"])
def test_an_hdr_source_is_tone_mapped_reading_its_bt2020_colours(transfer: str) -> None:
    picture = plan_picture(facts(3840, 2160, color_transfer=transfer, color_primaries="bt2020", color_space="bt2020nc"))
    assert (picture.tone_map_from, picture.source_primaries, picture.source_matrix) == (transfer, "bt2020", "bt2020nc")


def test_an_hdr_source_with_unknown_primaries_is_read_as_bt2020() -> None:
    picture = plan_picture(facts(1920, 1080, color_transfer="arib-std-b67"))
    assert (picture.source_primaries, picture.source_matrix) == ("bt2020", "bt2020nc")


@pytest.mark.parametrize("transfer", ["bt709", "smpte170m", "bt2020-10", ""])
def test_an_sdr_source_is_not_tone_mapped(transfer: str) -> None:
    assert not plan_picture(facts(1920, 1080, color_transfer=transfer)).tone_maps


def test_the_deinterlacer_runs_on_the_decoded_source_before_any_scaler() -> None:
    plans = plan_renditions(facts(720, 576, sample_aspect_ratio="64:45"))
    graph, _ = filter_graph(plans, PicturePlan(deinterlace=True))
    assert graph.startswith("[0:v:0]bwdif=mode=send_frame:parity=auto:deint=interlaced,scale=854:480:")
    assert graph.count("bwdif") == 1
    assert "bwdif" not in filter_graph(plans)[0]


def test_tone_mapping_runs_once_at_the_largest_rungs_size_and_every_rung_declares_bt709() -> None:
    probe = facts(3840, 2160, color_transfer="smpte2084", color_primaries="bt2020", color_space="bt2020nc")
    plans, picture = plan_renditions(probe), plan_picture(probe)
    command = build_command("in.mov", Path("out"), plans, has_audio=True, options=LadderOptions(), picture=picture)
    graph = command[command.index("-filter_complex") + 1]
    head = graph.split(";")[0]
    assert head.startswith("[0:v:0]zscale=w=1920:h=1080:filter=bilinear:tin=smpte2084:pin=bt2020:min=bt2020nc")
    assert "tonemap=tonemap=hable" in head and "zscale=t=bt709:m=bt709:r=tv,format=yuv420p" in head
    assert graph.count("tonemap=tonemap=") == 1
    assert command.count("-color_trc") == len(plans) and command[command.index("-color_trc") + 1] == "bt709"
    poster = poster_command("in.mov", Path("out"), plans, 60.0, picture)
    assert "tonemap=tonemap=hable" in poster[poster.index("-vf") + 1]


def test_an_sdr_source_keeps_its_own_colour_tags() -> None:
    plans = plan_renditions(facts(1920, 1080))
    command = build_command("in.mp4", Path("out"), plans, has_audio=True, options=LadderOptions())
    assert "-color_trc" not in command and "zscale" not in " ".join(command)
