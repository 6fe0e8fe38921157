"""Segment delivery other than S3 presigning: CloudFront signed URLs, and bytes through the edge."""

from __future__ import annotations

import asyncio
import base64
import time
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from playback_svc import domain
from playback_svc.adapters import canned_policy
from tests.playback.conftest import CDN_KEY_PAIR_ID, CDN_URL, Rig
from tests.playback.test_hls_playback import ffmpeg_copy


async def test_cdn_mode_segments_are_cloudfront_urls_whose_signatures_verify_with_the_public_key(
    cdn_rig: Rig, cdn_key: rsa.RSAPrivateKey
) -> None:
    instructor = cdn_rig.client.caller()
    video_id = await cdn_rig.ready_video(instructor)
    token = (await cdn_rig.client.access_token(video_id, instructor)).json["token"]
    expiry = domain.verify_token(cdn_rig.hls_secret, token, video_id=video_id, now=time.time()).expires_at

    variant = await cdn_rig.client.get(f"/api/v1/media/hls/{video_id}/360p/index.m3u8?token={token}")

    assert variant.status == 200, variant.text
    urls = [line for line in variant.text.splitlines() if line and not line.startswith("#")]
    assert len(urls) == len(cdn_rig.ladder.segments("360p"))
    public_key = cdn_key.public_key()
    for url in urls:
        resource, _, query_text = url.partition("?")
        query = parse_qs(query_text)
        assert resource.startswith(f"{CDN_URL}/hls/{video_id}/360p/seg_")
        assert query["Key-Pair-Id"] == [CDN_KEY_PAIR_ID]
        expires = int(query["Expires"][0])
        assert time.time() < expires <= expiry
        signature = base64.b64decode(query["Signature"][0].translate(str.maketrans("-_~", "+=/")))
        public_key.verify(signature, canned_policy(resource, expires), padding.PKCS1v15(), hashes.SHA1())


async def test_cdn_mode_segment_route_redirects_to_the_signed_cdn_url(cdn_rig: Rig) -> None:
    instructor = cdn_rig.client.caller()
    video_id = await cdn_rig.ready_video(instructor)
    token = (await cdn_rig.client.access_token(video_id, instructor)).json["token"]

    reply = await cdn_rig.client.get(f"/api/v1/media/hls/{video_id}/240p/seg_00002.ts?token={token}")

    assert reply.status == 302
    assert reply.headers["Location"].startswith(f"{CDN_URL}/hls/{video_id}/240p/seg_00002.ts?Expires=")


async def test_proxy_mode_streams_segments_through_the_edge_and_ffmpeg_plays_them(proxy_rig: Rig) -> None:
    instructor = proxy_rig.client.caller()
    video_id = await proxy_rig.ready_video(instructor)
    token_reply = (await proxy_rig.client.access_token(video_id, instructor)).json
    token = token_reply["token"]

    variant = await proxy_rig.client.get(f"/api/v1/media/hls/{video_id}/240p/index.m3u8?token={token}")
    uris = [line for line in variant.text.splitlines() if line and not line.startswith("#")]
    assert uris == [f"{name}?token={token}" for name in proxy_rig.ladder.segments("240p")]
    segment = await proxy_rig.client.session.get(
        f"{proxy_rig.client.base_url}/api/v1/media/hls/{video_id}/240p/{uris[0]}"
    )
    data = await segment.read()
    assert segment.status == 200
    assert segment.headers["Content-Type"] == "video/mp2t"
    assert data == proxy_rig.ladder.files["240p/seg_00000.ts"]
    ranged = await proxy_rig.client.session.get(
        f"{proxy_rig.client.base_url}/api/v1/media/hls/{video_id}/240p/{uris[0]}", headers={"Range": "bytes=0-187"}
    )
    assert ranged.status == 206
    assert await ranged.read() == data[:188]
    played = await asyncio.to_thread(ffmpeg_copy, token_reply["master_url"])
    assert played.returncode == 0, played.stderr


async def test_proxy_mode_playlists_splice_each_players_own_token_into_the_cached_text(proxy_rig: Rig) -> None:
    instructor = proxy_rig.client.caller()
    learner = proxy_rig.client.learner_of(instructor)
    video_id = await proxy_rig.ready_video(instructor)
    first = (await proxy_rig.client.access_token(video_id, instructor)).json["token"]
    second = (await proxy_rig.client.access_token(video_id, learner)).json["token"]
    assert first != second

    texts = [
        (await proxy_rig.client.get(f"/api/v1/media/hls/{video_id}/240p/index.m3u8?token={token}")).text
        for token in (first, second)
    ]

    assert f"?token={first}" in texts[0] and second not in texts[0]
    assert f"?token={second}" in texts[1] and first not in texts[1]
    assert texts[0].replace(first, "T") == texts[1].replace(second, "T")
