"""Playback through the real edge and playback_svc: tokens, playlists, players, refusals."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp

from playback_svc import domain
from tests.playback.conftest import Rig, publish_hls


def ffprobe(url: str) -> dict[str, object]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def ffmpeg_copy(url: str) -> subprocess.CompletedProcess[str]:
    """Read every segment of the chosen rendition as a player would, writing nothing."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", url, "-map", "0", "-c", "copy", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_learner_gets_a_token_and_ffprobe_reads_the_video_through_the_edge(rig: Rig) -> None:
    instructor = rig.client.caller()
    learner = rig.client.learner_of(instructor)
    video_id = await rig.ready_video(instructor)

    reply = await rig.client.access_token(video_id, learner)

    assert reply.status == 200, reply.text
    body = reply.json
    assert set(body) == {"token", "expires_at", "master_url"}
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", body["token"])
    assert body["master_url"] == f"{rig.client.base_url}/api/v1/media/hls/{video_id}/master.m3u8?token={body['token']}"
    report = await asyncio.to_thread(ffprobe, body["master_url"])
    streams = report["streams"]
    assert isinstance(streams, list)
    assert {s["codec_type"] for s in streams} >= {"video", "audio"}


async def test_ffmpeg_plays_every_segment_of_the_video_through_the_edge(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    url = await rig.master_url(video_id, instructor)

    done = await asyncio.to_thread(ffmpeg_copy, url)

    assert done.returncode == 0, done.stderr
    report = await asyncio.to_thread(ffprobe, url)
    fmt = report["format"]
    assert isinstance(fmt, dict)
    assert abs(float(fmt["duration"]) - 4.0) < 0.5


async def test_playlists_carry_the_type_caching_and_cors_headers_a_player_on_another_origin_needs(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    url = await rig.master_url(video_id, instructor)

    master = await rig.client.get(url, {"Origin": "https://lms.example.edu"})
    preflight = await rig.client.session.options(
        url,
        headers={
            "Origin": "https://lms.example.edu",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )

    assert master.status == 200
    assert master.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert master.headers["Cache-Control"].startswith("private")
    assert master.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.status == 204
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"].lower() == "range"
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


async def test_variant_uris_carry_the_token_and_segments_are_presigned_for_no_longer_than_the_token(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    token_reply = (await rig.client.access_token(video_id, instructor)).json
    token = token_reply["token"]
    master = await rig.client.get(token_reply["master_url"])

    variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert variants == [f"240p/index.m3u8?token={token}", f"360p/index.m3u8?token={token}"]
    variant = await rig.client.get(f"/api/v1/media/hls/{video_id}/{variants[0]}")
    assert variant.status == 200, variant.text
    assert "#EXT-X-ENDLIST" in variant.text
    segment_urls = [line for line in variant.text.splitlines() if line and not line.startswith("#")]
    assert len(segment_urls) == len(rig.ladder.segments("240p"))
    token_expiry = domain.verify_token(rig.hls_secret, token, video_id=video_id, now=time.time()).expires_at
    for url in segment_urls:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert parts.path.endswith(f"/hls/{video_id}/240p/" + parts.path.rsplit("/", 1)[-1])
        signed_at = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
        assert signed_at + int(query["X-Amz-Expires"][0]) <= token_expiry
    fetched = await rig.client.get(segment_urls[0])
    assert fetched.status == 200
    assert fetched.headers["Content-Type"] == "video/mp2t"


async def test_a_variant_playlist_goes_gzipped_to_players_that_accept_it_and_plain_to_others(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    token = (await rig.client.access_token(video_id, instructor)).json["token"]
    variant_url = f"{rig.client.base_url}/api/v1/media/hls/{video_id}/240p/index.m3u8?token={token}"
    master_url = f"{rig.client.base_url}/api/v1/media/hls/{video_id}/master.m3u8?token={token}"

    async with aiohttp.ClientSession(auto_decompress=False) as raw_session:

        async def fetch(url: str, accept_encoding: str) -> tuple[dict[str, str], bytes]:
            async with raw_session.get(url, headers={"Accept-Encoding": accept_encoding}) as reply:
                assert reply.status == 200
                return dict(reply.headers), await reply.read()

        plain_headers, plain = await fetch(variant_url, "identity")
        gzip_headers, compressed = await fetch(variant_url, "br, gzip, deflate")
        refused_headers, refused = await fetch(variant_url, "gzip;q=0")
        master_headers, _ = await fetch(master_url, "gzip")

    assert "Content-Encoding" not in plain_headers and b"#EXT-X-ENDLIST" in plain
    assert gzip_headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed) == plain
    assert len(compressed) < len(plain) * 0.7
    assert "Accept-Encoding" in gzip_headers["Vary"] and "Accept-Encoding" in plain_headers["Vary"]
    assert "Content-Encoding" not in refused_headers and refused == plain
    assert "Content-Encoding" not in master_headers  # small, and it carries each caller's token


async def test_the_segment_route_redirects_to_a_presigned_url_object_storage_honours(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    token = (await rig.client.access_token(video_id, instructor)).json["token"]

    reply = await rig.client.get(f"/api/v1/media/hls/{video_id}/240p/seg_00001.ts?token={token}")

    assert reply.status == 302
    followed = await rig.client.get(reply.headers["Location"])
    assert followed.status == 200
    assert len(followed.text) > 0


async def test_a_video_still_transcoding_serves_its_growing_event_playlist_then_the_vod_one(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.client.register_video(instructor, rig.source)
    files = dict(rig.ladder.files)
    growing = {path: data for path, data in files.items() if "seg_00000" in path or path == "master.m3u8"}
    growing |= {f"{name}/index.m3u8": rig.ladder.event_playlist(name, 1) for name in ("240p", "360p")}
    publish_hls(rig.s3, rig.bucket, video_id, growing)
    token = (await rig.client.access_token(video_id, instructor)).json["token"]
    variant_url = f"/api/v1/media/hls/{video_id}/240p/index.m3u8?token={token}"

    live = await rig.client.get(variant_url)
    assert live.status == 200, live.text
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in live.text
    assert "#EXT-X-ENDLIST" not in live.text
    assert live.headers["Cache-Control"] == "private, no-cache"
    assert sum(1 for line in live.text.splitlines() if line.startswith("http")) == 1

    publish_hls(rig.s3, rig.bucket, video_id, files)
    deadline = time.monotonic() + 10
    while True:
        finished = await rig.client.get(variant_url)
        if "#EXT-X-ENDLIST" in finished.text or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert "#EXT-X-ENDLIST" in finished.text
    assert sum(1 for line in finished.text.splitlines() if line.startswith("http")) == len(rig.ladder.segments("240p"))
    assert finished.headers["Cache-Control"].startswith("private, max-age=")


async def test_tampered_tokens_are_refused_alike_whatever_part_was_changed(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    token = (await rig.client.access_token(video_id, instructor)).json["token"]
    payload, signature = token.split(".")
    flipped = "A" if signature[5] != "A" else "B"
    forged = domain.mint_token("x" * 40, user_id=instructor.user_id, video_id=video_id, expires_at=2_000_000_000)
    tampered = [
        payload + "." + signature[:5] + flipped + signature[6:],
        payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature,
        payload + "." + signature[:-4],
        payload,
        forged,
        "not-a-token",
    ]
    answers = []
    for candidate in tampered:
        reply = await rig.client.get(f"/api/v1/media/hls/{video_id}/master.m3u8?token={candidate}")
        answers.append((reply.status, reply.json["error"]["message"], reply.json["error"]["details"][0]["reason"]))
    missing = await rig.client.get(f"/api/v1/media/hls/{video_id}/master.m3u8")

    assert set(answers) == {(401, "the access token is not valid: request a new one", "INVALID_HLS_TOKEN")}
    assert missing.status == 401
    assert missing.json["error"]["details"][0]["reason"] == "MISSING_HLS_TOKEN"


async def test_an_expired_token_is_refused(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    expired = domain.mint_token(
        rig.hls_secret, user_id=instructor.user_id, video_id=video_id, expires_at=int(time.time()) - 1
    )

    for path in ("master.m3u8", "240p/index.m3u8", "240p/seg_00000.ts"):
        reply = await rig.client.get(f"/api/v1/media/hls/{video_id}/{path}?token={expired}")
        assert reply.status == 401, path
        assert reply.json["error"]["details"][0]["reason"] == "EXPIRED_HLS_TOKEN"


async def test_a_token_for_one_video_never_opens_another(rig: Rig) -> None:
    instructor = rig.client.caller()
    first = await rig.ready_video(instructor)
    second = await rig.ready_video(instructor)
    token = (await rig.client.access_token(first, instructor)).json["token"]

    for path in ("master.m3u8", "240p/index.m3u8", "240p/seg_00000.ts"):
        reply = await rig.client.get(f"/api/v1/media/hls/{second}/{path}?token={token}")
        assert reply.status == 403, path
        assert reply.json["error"]["message"] == "the access token does not open this video"


async def test_another_organizations_video_looks_exactly_like_a_missing_one(rig: Rig) -> None:
    owner = rig.client.caller()
    video_id = await rig.ready_video(owner)
    stranger = rig.client.caller(roles=("Administrator",))

    theirs = await rig.client.access_token(video_id, stranger)
    nobodys = await rig.client.access_token("5f0c4b47-0000-4000-8000-000000000000", stranger)

    assert theirs.status == nobodys.status == 404
    assert theirs.json["error"] == nobodys.json["error"]


async def test_learners_may_not_watch_unpublished_videos_or_videos_of_other_courses(rig: Rig) -> None:
    instructor = rig.client.caller()
    draft = await rig.ready_video(instructor, published=False)
    published = await rig.ready_video(instructor)
    learner = rig.client.learner_of(instructor)
    other_course = rig.client.caller(roles=("Learner",), organization_id=instructor.organization_id)
    administrator = rig.client.caller(roles=("Administrator",), organization_id=instructor.organization_id)

    assert (await rig.client.access_token(draft, learner)).status == 404
    assert (await rig.client.access_token(published, other_course)).status == 404
    assert (await rig.client.access_token(draft, instructor)).status == 200
    assert (await rig.client.access_token(draft, administrator)).status == 200


async def test_only_course_staff_may_ask_for_a_token_in_another_users_name(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    learner = rig.client.learner_of(instructor)

    own = await rig.client.access_token(video_id, learner, user_id=learner.user_id)
    for_other = await rig.client.access_token(video_id, learner, user_id="someone-else")
    by_staff = await rig.client.access_token(video_id, instructor, user_id=learner.user_id)

    assert own.status == 200
    assert for_other.status == 403
    assert by_staff.status == 200
    bound = domain.verify_token(rig.hls_secret, by_staff.json["token"], video_id=video_id, now=time.time())
    assert bound.user_id == learner.user_id


async def test_a_video_whose_first_segments_are_not_out_yet_cannot_be_watched(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.client.register_video(instructor, rig.source)

    reply = await rig.client.access_token(video_id, instructor)

    assert reply.status == 400
    assert reply.json["error"]["status"] == "FAILED_PRECONDITION"
    assert "not playable yet" in reply.json["error"]["message"]


async def test_names_outside_the_videos_own_renditions_and_segments_are_not_found_in_any_encoding(rig: Rig) -> None:
    instructor = rig.client.caller()
    video_id = await rig.ready_video(instructor)
    token = (await rig.client.access_token(video_id, instructor)).json["token"]
    base = f"/api/v1/media/hls/{video_id}"
    attempts = [
        "1080p/index.m3u8",
        "..%2F..%2Fuploads/index.m3u8",
        "%2e%2e/index.m3u8",
        "%252e%252e/index.m3u8",
        "240p%2F..%2F360p/index.m3u8",
        "240p/..%2Findex.m3u8",
        "240p/%2e%2e%2fmaster.m3u8",
        "240p/seg_00000.ts%00.m3u8",
        "240p/seg_99999.ts",
        "240p/poster.jpg",
        "240p/index.m3u8.bak",
        "240p/SEG_00000.TS",
        "..%5c..%5csecret/index.m3u8",
        "240p/%C0%AE%C0%AE%2Fsource",
    ]
    for attempt in attempts:
        reply = await rig.client.get(f"{base}/{attempt}?token={token}")
        assert reply.status == 404, (attempt, reply.status, reply.text)
        assert reply.json["error"]["code"] == 404
        assert "X-Amz" not in reply.text
