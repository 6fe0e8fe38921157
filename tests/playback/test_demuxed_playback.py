"""A demuxed video (issue 17) through the real edge and playback_svc, in every delivery mode.

Long videos are published as video-only rungs plus ONE audio rendition, ``audio/``, which
the master lists by ``EXT-X-MEDIA:TYPE=AUDIO,...,URI="audio/index.m3u8"``. The audio
rendition is a rendition like any rung: its playlist carries signed segment URLs (or the
edge's own, in proxy mode), it may still be growing (EVENT), and only a video whose own
master lists it has one. Short videos keep the muxed layout, whose specs are in
test_hls_playback.py and test_delivery_modes.py.
"""

from __future__ import annotations

import asyncio
import base64
import time
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from playback_svc import domain
from playback_svc.adapters import canned_policy
from tests.playback.conftest import (
    AUDIO_MEDIA_TAG,
    CDN_KEY_PAIR_ID,
    CDN_URL,
    DEMUXED_SECONDS,
    HlsLadder,
    Rig,
    publish_hls,
)
from tests.playback.test_hls_playback import ffmpeg_copy, ffprobe
from tests.support.callers import Caller


async def demuxed_video(rig: Rig, ladder: HlsLadder, instructor: Caller) -> str:
    """A video in the real catalog whose stored HLS output is the demuxed ladder."""
    video_id = await rig.client.register_video(instructor, rig.source)
    publish_hls(rig.s3, rig.bucket, video_id, ladder.files)
    return video_id


def uris_of(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


async def test_the_master_of_a_demuxed_video_carries_the_token_in_every_stream_inf_uri_and_in_its_audio_uri(
    rig: Rig, demuxed_ladder: HlsLadder
) -> None:
    instructor = rig.client.caller()
    learner = rig.client.learner_of(instructor)
    video_id = await demuxed_video(rig, demuxed_ladder, instructor)
    mine = (await rig.client.access_token(video_id, instructor)).json
    theirs = (await rig.client.access_token(video_id, learner)).json

    master = await rig.client.get(mine["master_url"])
    other = await rig.client.get(theirs["master_url"])

    assert master.status == 200, master.text
    token = mine["token"]
    media = [line for line in master.text.splitlines() if line.startswith("#EXT-X-MEDIA:")]
    assert media == [AUDIO_MEDIA_TAG.replace('URI="audio/index.m3u8"', f'URI="audio/index.m3u8?token={token}"')]
    assert uris_of(master.text) == [f"240p/index.m3u8?token={token}", f"360p/index.m3u8?token={token}"]
    assert all(line.endswith(',AUDIO="audio"') for line in master.text.splitlines() if "STREAM-INF" in line)
    assert other.text == master.text.replace(token, theirs["token"]), "each player gets its own token, cached or not"


async def test_the_audio_playlist_and_its_segments_are_served_with_urls_signed_for_no_longer_than_the_token(
    rig: Rig, demuxed_ladder: HlsLadder
) -> None:
    instructor = rig.client.caller()
    video_id = await demuxed_video(rig, demuxed_ladder, instructor)
    token = (await rig.client.access_token(video_id, instructor)).json["token"]
    token_expiry = domain.verify_token(rig.hls_secret, token, video_id=video_id, now=time.time()).expires_at

    audio = await rig.client.get(f"/api/v1/media/hls/{video_id}/audio/index.m3u8?token={token}")

    assert audio.status == 200, audio.text
    assert audio.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert "#EXT-X-ENDLIST" in audio.text
    urls = uris_of(audio.text)
    assert [urlsplit(url).path.rsplit("/", 1)[-1] for url in urls] == demuxed_ladder.segments("audio")
    for url in urls:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert parts.path.endswith(f"/hls/{video_id}/audio/" + parts.path.rsplit("/", 1)[-1])
        signed_at = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
        assert signed_at + int(query["X-Amz-Expires"][0]) <= token_expiry
    fetched = await rig.client.session.get(urls[0])
    assert fetched.status == 200
    assert await fetched.read() == demuxed_ladder.files["audio/seg_00000.ts"]
    redirected = await rig.client.get(f"/api/v1/media/hls/{video_id}/audio/seg_00001.ts?token={token}")
    assert redirected.status == 302
    assert urlsplit(redirected.headers["Location"]).path.endswith(f"/hls/{video_id}/audio/seg_00001.ts")


async def test_ffmpeg_plays_a_demuxed_video_through_the_edge_with_its_audio(
    rig: Rig, demuxed_ladder: HlsLadder
) -> None:
    instructor = rig.client.caller()
    video_id = await demuxed_video(rig, demuxed_ladder, instructor)
    url = await rig.master_url(video_id, instructor)

    report = await asyncio.to_thread(ffprobe, url)
    played = await asyncio.to_thread(ffmpeg_copy, url)

    streams = report["streams"]
    assert isinstance(streams, list)
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert audio and {(s["codec_name"], s["profile"], s["channels"]) for s in audio} == {("aac", "LC", 2)}
    assert {s["codec_type"] for s in streams} == {"video", "audio"}
    fmt = report["format"]
    assert isinstance(fmt, dict)
    assert abs(float(fmt["duration"]) - DEMUXED_SECONDS) < 0.5
    assert played.returncode == 0, played.stderr


async def test_a_still_growing_audio_rendition_is_served_as_event_and_a_segment_it_adds_later_resolves(
    rig: Rig, demuxed_ladder: HlsLadder
) -> None:
    instructor = rig.client.caller()
    video_id = await rig.client.register_video(instructor, rig.source)
    # Every segment object is stored already: only what the playlist lists may be resolved.
    growing = {path: data for path, data in demuxed_ladder.files.items() if "/seg_" in path}
    growing |= {"master.m3u8": demuxed_ladder.files["master.m3u8"]}
    growing |= {f"{name}/index.m3u8": demuxed_ladder.event_playlist(name, 1) for name in ("240p", "360p", "audio")}
    publish_hls(rig.s3, rig.bucket, video_id, growing)
    token = (await rig.client.access_token(video_id, instructor)).json["token"]
    playlist_url = f"/api/v1/media/hls/{video_id}/audio/index.m3u8?token={token}"
    later_segment = f"/api/v1/media/hls/{video_id}/audio/seg_00003.ts?token={token}"

    live = await rig.client.get(playlist_url)
    not_yet = await rig.client.get(later_segment)

    assert live.status == 200, live.text
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in live.text and "#EXT-X-ENDLIST" not in live.text
    assert live.headers["Cache-Control"] == "private, no-cache"
    assert len(uris_of(live.text)) == 1
    assert not_yet.status == 404
    publish_hls(rig.s3, rig.bucket, video_id, demuxed_ladder.files)
    deadline = time.monotonic() + 10
    while True:
        finished = await rig.client.get(playlist_url)
        if "#EXT-X-ENDLIST" in finished.text or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert len(uris_of(finished.text)) == len(demuxed_ladder.segments("audio"))
    assert finished.headers["Cache-Control"].startswith("private, max-age=")
    assert (await rig.client.get(later_segment)).status == 302


async def test_proxy_mode_relays_the_audio_rendition_with_each_players_token_and_ffmpeg_plays_it(
    proxy_rig: Rig, demuxed_ladder: HlsLadder
) -> None:
    instructor = proxy_rig.client.caller()
    video_id = await demuxed_video(proxy_rig, demuxed_ladder, instructor)
    token_reply = (await proxy_rig.client.access_token(video_id, instructor)).json
    token = token_reply["token"]
    base = f"{proxy_rig.client.base_url}/api/v1/media/hls/{video_id}/audio"

    audio = await proxy_rig.client.get(f"{base}/index.m3u8?token={token}")
    uris = uris_of(audio.text)
    segment = await proxy_rig.client.session.get(f"{base}/{uris[0]}")

    assert uris == [f"{name}?token={token}" for name in demuxed_ladder.segments("audio")]
    assert segment.status == 200
    assert segment.headers["Content-Type"] == "video/mp2t"
    assert await segment.read() == demuxed_ladder.files["audio/seg_00000.ts"]
    played = await asyncio.to_thread(ffmpeg_copy, token_reply["master_url"])
    assert played.returncode == 0, played.stderr


async def test_cdn_mode_signs_the_audio_segments_for_cloudfront(
    cdn_rig: Rig, demuxed_ladder: HlsLadder, cdn_key: rsa.RSAPrivateKey
) -> None:
    instructor = cdn_rig.client.caller()
    video_id = await demuxed_video(cdn_rig, demuxed_ladder, instructor)
    token = (await cdn_rig.client.access_token(video_id, instructor)).json["token"]

    audio = await cdn_rig.client.get(f"/api/v1/media/hls/{video_id}/audio/index.m3u8?token={token}")
    redirected = await cdn_rig.client.get(f"/api/v1/media/hls/{video_id}/audio/seg_00002.ts?token={token}")

    assert audio.status == 200, audio.text
    urls = uris_of(audio.text)
    assert len(urls) == len(demuxed_ladder.segments("audio"))
    resource, _, query_text = urls[0].partition("?")
    query = parse_qs(query_text)
    assert resource == f"{CDN_URL}/hls/{video_id}/audio/seg_00000.ts"
    assert query["Key-Pair-Id"] == [CDN_KEY_PAIR_ID]
    signature = base64.b64decode(query["Signature"][0].translate(str.maketrans("-_~", "+=/")))
    cdn_key.public_key().verify(
        signature, canned_policy(resource, int(query["Expires"][0])), padding.PKCS1v15(), hashes.SHA1()
    )
    assert redirected.status == 302
    assert redirected.headers["Location"].startswith(f"{CDN_URL}/hls/{video_id}/audio/seg_00002.ts?Expires=")


async def test_a_muxed_video_has_no_audio_rendition_and_no_other_audio_name_is_a_rendition(
    rig: Rig, demuxed_ladder: HlsLadder
) -> None:
    instructor = rig.client.caller()
    muxed = await rig.ready_video(instructor)
    demuxed = await demuxed_video(rig, demuxed_ladder, instructor)
    muxed_token = (await rig.client.access_token(muxed, instructor)).json["token"]
    demuxed_token = (await rig.client.access_token(demuxed, instructor)).json["token"]
    attempts = [
        (muxed, muxed_token, "audio/index.m3u8"),
        (muxed, muxed_token, "audio/seg_00000.ts"),
        *(
            (demuxed, demuxed_token, path)
            for path in (
                "audio2/index.m3u8",
                "Audio/index.m3u8",
                "AUDIO/index.m3u8",
                "audio_en/index.m3u8",
                "audio2/seg_00000.ts",
                "Audio/seg_00000.ts",
                "audio/seg_99999.ts",
                "audio/..%2F240p/index.m3u8",
                "audio%2F..%2F240p/index.m3u8",
                "audio/master.m3u8",
            )
        ),
    ]

    for video_id, token, path in attempts:
        reply = await rig.client.get(f"/api/v1/media/hls/{video_id}/{path}?token={token}")
        assert reply.status == 404, (path, reply.status, reply.text)
        assert reply.json["error"]["code"] == 404
        assert "X-Amz" not in reply.text
    served = await rig.client.get(f"/api/v1/media/hls/{demuxed}/audio/index.m3u8?token={demuxed_token}")
    assert served.status == 200, "the demuxed video's own audio rendition, asked for the same way, is served"


async def test_a_token_for_another_video_or_an_expired_one_opens_no_audio_rendition(
    rig: Rig, demuxed_ladder: HlsLadder
) -> None:
    instructor = rig.client.caller()
    first = await demuxed_video(rig, demuxed_ladder, instructor)
    second = await demuxed_video(rig, demuxed_ladder, instructor)
    token = (await rig.client.access_token(first, instructor)).json["token"]
    expired = domain.mint_token(
        rig.hls_secret, user_id=instructor.user_id, video_id=first, expires_at=int(time.time()) - 1
    )

    for path in ("audio/index.m3u8", "audio/seg_00000.ts"):
        other = await rig.client.get(f"/api/v1/media/hls/{second}/{path}?token={token}")
        late = await rig.client.get(f"/api/v1/media/hls/{first}/{path}?token={expired}")
        assert other.status == 403, path
        assert late.status == 401 and late.json["error"]["details"][0]["reason"] == "EXPIRED_HLS_TOKEN", path
