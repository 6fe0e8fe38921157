"""The ladder's and the poster's FFmpeg command lines, argument for argument.

Every other ladder test looks at one part of the argv; these pin all of it, in order
(global options, input, graph and its labels, then each rung's map, encoder and HLS
muxer), so a change in how the command is built that changes one argument fails here.
No argument contains a space, so each expected line is written as FFmpeg reads it.
"""

from __future__ import annotations

from pathlib import Path

from transcode_svc.domain import ProbeFacts, plan_picture, plan_renditions
from transcode_svc.ladder import LadderOptions, build_command, poster_command

URL = "https://store/src?X-Amz-Signature=abc"
SDR = ProbeFacts(duration_seconds=60.0, width=854, height=480, frame_rate=30.0, has_audio=True)
DVD = ProbeFacts(
    duration_seconds=3.0,
    width=720,
    height=576,
    frame_rate=25.0,
    sample_aspect_ratio="64:45",
    field_order="tt",
)
HDR = ProbeFacts(
    duration_seconds=20.0,
    width=854,
    height=480,
    frame_rate=25.0,
    has_audio=True,
    color_transfer="smpte2084",
    color_primaries="bt2020",
    color_space="bt2020nc",
)

HLS_EVENT = "-hls_list_size 0 -hls_playlist_type event -hls_flags independent_segments+temp_file -start_number 0"
TONE_MAP_TO_480 = (
    "zscale=w=854:h=480:filter=bilinear:tin=smpte2084:pin=bt2020:min=bt2020nc:t=linear:npl=100,"
    "format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p,"
)
BT709 = "-color_primaries bt709 -color_trc bt709 -colorspace bt709 -color_range tv"
OPENING_KEYFRAMES = "-force_key_frames expr:if(lte(n_forced,3),gte(t,n_forced*2),gte(t,6+(n_forced-3)*6))"
"""The default grid: keyframes at 0, 2, 4, 6 s (three 2-second opening segments), then every 6 s."""
HLS_OPENING = "-hls_time 6 -hls_init_time 2"


def argv(*lines: str) -> list[str]:
    return " ".join(lines).split()


def test_an_sdr_source_read_over_a_url_gets_one_command_with_a_scaler_chain_and_an_hls_muxer_per_rung() -> None:
    command = build_command(URL, Path("/w/out"), plan_renditions(SDR), has_audio=True, options=LadderOptions())
    assert command == argv(
        "ffmpeg -nostdin -hide_banner -loglevel error -nostats -progress pipe:1 -y",
        f"-rw_timeout 30000000 -i {URL}",
        "-filter_complex [0:v:0]scale=854:480:flags=bilinear,setsar=1,format=yuv420p,split=2[r1][n1];"
        "[n1]scale=640:360:flags=bilinear,setsar=1[r0]",
        "-map [r0] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v high -level:v 3.0",
        "-b:v 800000 -maxrate 880000 -bufsize 1200000 -g 180 -keyint_min 180 -sc_threshold 0",
        f"{OPENING_KEYFRAMES} -c:a aac -b:a 128000 -ac 2",
        f"-f hls {HLS_OPENING} {HLS_EVENT} -hls_segment_filename /w/out/360p/seg_%05d.ts /w/out/360p/index.m3u8",
        "-map [r1] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v high -level:v 3.1",
        "-b:v 1400000 -maxrate 1540000 -bufsize 2100000 -g 180 -keyint_min 180 -sc_threshold 0",
        f"{OPENING_KEYFRAMES} -c:a aac -b:a 128000 -ac 2",
        f"-f hls {HLS_OPENING} {HLS_EVENT} -hls_segment_filename /w/out/480p/seg_%05d.ts /w/out/480p/index.m3u8",
    )


def test_without_opening_segments_keyframes_and_segments_keep_one_grid() -> None:
    options = LadderOptions(opening_segments=0)
    command = build_command(URL, Path("/w/out"), plan_renditions(SDR)[:1], has_audio=True, options=options)
    assert command[command.index("-map") :] == argv(
        "-map [r0] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v high -level:v 3.0",
        "-b:v 800000 -maxrate 880000 -bufsize 1200000 -g 180 -keyint_min 180 -sc_threshold 0",
        "-force_key_frames expr:gte(t,n_forced*6) -c:a aac -b:a 128000 -ac 2",
        f"-f hls -hls_time 6 {HLS_EVENT} -hls_segment_filename /w/out/360p/seg_%05d.ts /w/out/360p/index.m3u8",
    )


def test_a_silent_interlaced_dvd_picture_is_deinterlaced_first_and_gets_video_only_rungs() -> None:
    # 1-second segments: the 2-second opening is not shorter, so the grid is plain.
    options = LadderOptions(preset="ultrafast", segment_seconds=1)
    command = build_command(
        "in.vob", Path("out"), plan_renditions(DVD), has_audio=False, options=options, picture=plan_picture(DVD)
    )
    assert command == argv(
        "ffmpeg -nostdin -hide_banner -loglevel error -nostats -progress pipe:1 -y -i in.vob",
        "-filter_complex [0:v:0]bwdif=mode=send_frame:parity=auto:deint=interlaced,"
        "scale=854:480:flags=bilinear,setsar=1,format=yuv420p,split=2[r1][n1];"
        "[n1]scale=640:360:flags=bilinear,setsar=1[r0]",
        "-map [r0] -c:v libx264 -preset ultrafast -profile:v high -level:v 3.0",
        "-b:v 800000 -maxrate 880000 -bufsize 1200000 -g 25 -keyint_min 25 -sc_threshold 0",
        "-force_key_frames expr:gte(t,n_forced*1)",
        f"-f hls -hls_time 1 {HLS_EVENT} -hls_segment_filename out/360p/seg_%05d.ts out/360p/index.m3u8",
        "-map [r1] -c:v libx264 -preset ultrafast -profile:v high -level:v 3.0",
        "-b:v 1400000 -maxrate 1540000 -bufsize 2100000 -g 25 -keyint_min 25 -sc_threshold 0",
        "-force_key_frames expr:gte(t,n_forced*1)",
        f"-f hls -hls_time 1 {HLS_EVENT} -hls_segment_filename out/480p/seg_%05d.ts out/480p/index.m3u8",
    )


def test_an_hdr_source_is_tone_mapped_once_and_every_rung_declares_bt709() -> None:
    command = build_command(
        "in.mov", Path("out"), plan_renditions(HDR), has_audio=True, options=LadderOptions(), picture=plan_picture(HDR)
    )
    assert command == argv(
        "ffmpeg -nostdin -hide_banner -loglevel error -nostats -progress pipe:1 -y -i in.mov",
        f"-filter_complex [0:v:0]{TONE_MAP_TO_480}scale=854:480:flags=bilinear,setsar=1,format=yuv420p,split=2[r1][n1];"
        "[n1]scale=640:360:flags=bilinear,setsar=1[r0]",
        "-map [r0] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v high -level:v 3.0",
        "-b:v 800000 -maxrate 880000 -bufsize 1200000 -g 150 -keyint_min 150 -sc_threshold 0",
        f"{OPENING_KEYFRAMES} {BT709} -c:a aac -b:a 128000 -ac 2",
        f"-f hls {HLS_OPENING} {HLS_EVENT} -hls_segment_filename out/360p/seg_%05d.ts out/360p/index.m3u8",
        "-map [r1] -map 0:a:0 -c:v libx264 -preset veryfast -profile:v high -level:v 3.0",
        "-b:v 1400000 -maxrate 1540000 -bufsize 2100000 -g 150 -keyint_min 150 -sc_threshold 0",
        f"{OPENING_KEYFRAMES} {BT709} -c:a aac -b:a 128000 -ac 2",
        f"-f hls {HLS_OPENING} {HLS_EVENT} -hls_segment_filename out/480p/seg_%05d.ts out/480p/index.m3u8",
    )


def test_the_poster_seeks_a_tenth_in_at_most_five_seconds_and_writes_one_jpeg_at_the_largest_fitting_rung() -> None:
    assert poster_command(URL, Path("/w/out"), plan_renditions(SDR), 60.0) == argv(
        f"ffmpeg -nostdin -hide_banner -loglevel error -y -ss 5.000 -rw_timeout 30000000 -i {URL}",
        "-map 0:v:0 -frames:v 1 -vf scale=854:480,setsar=1 -q:v 3 /w/out/poster.jpg",
    )


def test_an_hdr_poster_gets_the_renditions_tone_mapping() -> None:
    assert poster_command("in.mov", Path("out"), plan_renditions(HDR), 2.0, plan_picture(HDR)) == argv(
        "ffmpeg -nostdin -hide_banner -loglevel error -y -ss 0.200 -i in.mov",
        f"-map 0:v:0 -frames:v 1 -vf {TONE_MAP_TO_480}scale=854:480,setsar=1 -q:v 3 out/poster.jpg",
    )
