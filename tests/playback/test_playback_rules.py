"""The playback rules as plain calls: tokens, windows, names, playlists, signers, access, cache."""

from __future__ import annotations

import asyncio
import base64
import math
import time
from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from playback_svc import domain, errors
from playback_svc.adapters import CloudFrontSigner, SigV4Presigner, canned_policy
from playback_svc.cache import ExpiringCache
from service_kit.auth import SessionClaims

SECRET = "s" * 40
VIDEO = "2b8f6a0e-4f7e-4b59-9d7e-1f0c2d3e4f50"
NOW = 1_800_000_000


def claims(user: str, *roles: str) -> SessionClaims:
    return SessionClaims(user, "org", "course", frozenset(roles), NOW, NOW + 3600)


def test_a_token_binds_its_user_video_and_expiry_and_is_url_safe() -> None:
    token = domain.mint_token(SECRET, user_id="learner:42/é", video_id=VIDEO, expires_at=NOW + 60)

    bound = domain.verify_token(SECRET, token, video_id=VIDEO, now=NOW)

    assert bound == domain.AccessToken("learner:42/é", VIDEO, NOW + 60)
    assert all(ch.isalnum() or ch in "-_." for ch in token)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: ("A" if t[0] != "A" else "B") + t[1:],
        lambda t: t.replace(".", ""),
        lambda t: t + "!",
        lambda t: t.split(".")[0] + "." + t.split(".")[0],
        lambda t: domain.mint_token("x" * 40, user_id="u", video_id=VIDEO, expires_at=NOW + 60),
    ],
)
def test_a_tampered_token_is_refused_without_saying_which_part_failed(tamper: object) -> None:
    token = domain.mint_token(SECRET, user_id="u", video_id=VIDEO, expires_at=NOW + 60)
    assert callable(tamper)

    with pytest.raises(errors.InvalidHlsToken) as refused:
        domain.verify_token(SECRET, tamper(token), video_id=VIDEO, now=NOW)

    assert refused.value.message == "the access token is not valid: request a new one"


def test_an_expired_token_and_a_token_for_another_video_are_refused_for_what_they_are() -> None:
    token = domain.mint_token(SECRET, user_id="u", video_id=VIDEO, expires_at=NOW + 60)

    with pytest.raises(errors.ExpiredHlsToken):
        domain.verify_token(SECRET, token, video_id=VIDEO, now=NOW + 60)
    with pytest.raises(errors.TokenForAnotherVideo):
        domain.verify_token(SECRET, token, video_id="another-video", now=NOW)
    with pytest.raises(errors.MissingHlsToken):
        domain.verify_token(SECRET, "", video_id=VIDEO, now=NOW)


def test_tokens_of_one_window_share_links_and_no_link_outlives_its_token() -> None:
    window = domain.window_seconds(3600)
    expiries = [NOW + 3600 + offset for offset in range(0, 900, 7)]

    links = {expiry: domain.links_expiry(expiry, NOW, window) for expiry in expiries}

    assert window == 300
    assert all(link <= expiry for expiry, link in links.items())
    assert all(expiry - link < window for expiry, link in links.items())
    assert len(set(links.values())) <= 4
    near_end = NOW + 200
    assert domain.links_expiry(near_end, NOW, window) == near_end


@pytest.mark.parametrize(
    "name",
    [
        "..", "%2e%2e", "240p/..", "240p\\..", "2400000p", "240P", "p", "240p ", "240p\x00", "../240p",
        "Audio", "AUDIO", "audio2", "audio_en", "audio/..", "aud", "240paudio", "audio ",
    ],
)  # fmt: skip
def test_rendition_names_outside_the_pattern_are_not_found(name: str) -> None:
    with pytest.raises(errors.PlaylistNotFound):
        domain.check_rendition_name(name)


@pytest.mark.parametrize("name", ["240p", "1080p", "audio"])
def test_rung_names_and_the_one_audio_rendition_are_well_formed(name: str) -> None:
    assert domain.check_rendition_name(name) == name


@pytest.mark.parametrize(
    "name", ["seg_1.ts", "seg_00001.mp4", "seg_00001.ts/..", "../seg_00001.ts", "poster.jpg", "seg_00001.ts.m3u8"]
)
def test_segment_names_outside_the_pattern_are_not_found(name: str) -> None:
    with pytest.raises(errors.PlaylistNotFound):
        domain.check_segment_name(name)


MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:3\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=320x240,CODECS="avc1.42c01e"\n240p/index.m3u8\n'
    '#EXT-X-STREAM-INF:BANDWIDTH=2,RESOLUTION=640x360,CODECS="avc1.42c01e"\n360p/index.m3u8\n'
)
VARIANT = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
    "#EXTINF:6.0,\nseg_00000.ts\n#EXTINF:6.0,\nseg_00001.ts\n"
)


def test_the_master_lists_the_whitelist_and_its_variant_uris_get_the_token() -> None:
    master = domain.parse_master(MASTER)

    text = domain.rewrite_master(master, "TOKEN")

    assert master.renditions == ("240p", "360p")
    assert "240p/index.m3u8?token=TOKEN\n" in text and "360p/index.m3u8?token=TOKEN\n" in text
    assert text.count("#EXT-X-STREAM-INF") == 2


DEMUXED_MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",'
    'URI="audio/index.m3u8"\n'
    "#EXT-X-STREAM-INF:BANDWIDTH=1012345,AVERAGE-BANDWIDTH=950000,RESOLUTION=640x360,"
    'CODECS="avc1.64001e,mp4a.40.2",FRAME-RATE=30.000,AUDIO="audio"\n360p/index.m3u8\n'
    "#EXT-X-STREAM-INF:BANDWIDTH=2512345,AVERAGE-BANDWIDTH=2400000,RESOLUTION=1280x720,"
    'CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=30.000,AUDIO="audio"\n720p/index.m3u8\n'
)
"""A demuxed video's master (issue 17): one audio rendition for every video-only rung."""


def test_a_demuxed_master_whitelists_its_audio_rendition_and_its_media_uri_gets_the_token() -> None:
    master = domain.parse_master(DEMUXED_MASTER)

    lines = domain.rewrite_master(master, "TOKEN").splitlines()

    assert master.renditions == ("audio", "360p", "720p")
    assert lines[3] == (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",'
        'URI="audio/index.m3u8?token=TOKEN"'
    )
    assert lines[5] == "360p/index.m3u8?token=TOKEN" and lines[7] == "720p/index.m3u8?token=TOKEN"
    assert lines[4].endswith(',AUDIO="audio"')


def test_a_muxed_master_has_no_audio_rendition() -> None:
    assert "audio" not in domain.parse_master(MASTER).renditions


@pytest.mark.parametrize(
    "text",
    [
        DEMUXED_MASTER.replace('URI="audio/index.m3u8"', 'URI="audio2/index.m3u8"'),
        DEMUXED_MASTER.replace('URI="audio/index.m3u8"', 'URI="360p/index.m3u8"'),
        DEMUXED_MASTER.replace('URI="audio/index.m3u8"', 'URI="../audio/index.m3u8"'),
        DEMUXED_MASTER.replace("360p/index.m3u8", "audio/index.m3u8"),
        DEMUXED_MASTER.replace("TYPE=AUDIO", "TYPE=SUBTITLES"),
        DEMUXED_MASTER + '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="audio/index.m3u8"\n',
        "#EXTM3U\n" + DEMUXED_MASTER.splitlines()[3] + "\n",
    ],
)
def test_audio_is_listed_only_by_an_audio_media_tag_and_never_alone(text: str) -> None:
    with pytest.raises(errors.StoredPlaylistUnreadable):
        domain.parse_master(text)


def test_segment_uris_are_replaced_and_a_growing_playlist_is_short_lived() -> None:
    variant = domain.parse_variant(VARIANT)

    text = domain.rewrite_variant(variant, lambda name: f"https://cdn/{name}?sig")

    assert variant.segments == {"seg_00000.ts", "seg_00001.ts"}
    assert not variant.ended
    assert text.splitlines()[-1] == "https://cdn/seg_00001.ts?sig"
    assert domain.variant_max_age(variant, NOW + 3000, NOW) == 3
    finished = domain.parse_variant(VARIANT + "#EXT-X-ENDLIST\n")
    assert domain.variant_max_age(finished, NOW + 3000, NOW) == 2940


def test_an_event_playlists_start_at_the_beginning_is_served_as_stored() -> None:
    stored = VARIANT.replace("#EXT-X-VERSION:3\n", "#EXT-X-VERSION:3\n#EXT-X-START:TIME-OFFSET=0\n")

    text = domain.rewrite_variant(domain.parse_variant(stored), lambda name: f"https://cdn/{name}?sig")

    assert text.splitlines()[2] == "#EXT-X-START:TIME-OFFSET=0"


def test_a_stored_playlist_with_a_target_duration_of_zero_is_served_with_one() -> None:
    stored = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:0\n#EXTINF:0.32,\nseg_00000.ts\n#EXT-X-ENDLIST\n"

    variant = domain.parse_variant(stored)

    assert variant.target_duration == 1
    assert "#EXT-X-TARGETDURATION:1\n" in domain.rewrite_variant(variant, lambda name: name)
    assert domain.parse_variant(VARIANT).lines == tuple(VARIANT.splitlines())


@pytest.mark.parametrize(
    "text",
    [
        MASTER.replace("360p/index.m3u8", "../../uploads/org/source"),
        MASTER.replace("360p/index.m3u8", "https://elsewhere.example/360p.m3u8"),
        MASTER + '#EXT-X-MEDIA:TYPE=AUDIO,URI="../x.m3u8"\n',
        "not a playlist",
    ],
)
def test_a_stored_master_with_a_foreign_uri_is_refused_rather_than_relayed(text: str) -> None:
    with pytest.raises(errors.StoredPlaylistUnreadable):
        domain.parse_master(text)


def test_a_stored_variant_with_a_foreign_segment_is_refused_rather_than_relayed() -> None:
    with pytest.raises(errors.StoredPlaylistUnreadable):
        domain.parse_variant(VARIANT.replace("seg_00001.ts", "../../master.m3u8"))


def test_learners_get_tokens_only_for_themselves_and_staff_for_anyone_of_their_course() -> None:
    assert domain.token_subject(claims("me", "Learner"), "") == "me"
    assert domain.token_subject(claims("me", "Learner"), "me") == "me"
    with pytest.raises(errors.MayNotWatchForOthers):
        domain.token_subject(claims("me", "Learner"), "you")
    assert domain.token_subject(claims("teacher", "Instructor"), "you") == "you"
    assert domain.token_subject(claims("admin", "Administrator"), "you") == "you"
    with pytest.raises(errors.InvalidPlaybackRequest):
        domain.token_subject(claims("teacher", "Instructor"), "you\nand-me")


def test_presigned_segment_urls_are_byte_for_byte_what_botocore_signs() -> None:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:8333",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region_name="eu-west-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    key = "hls/2b8f6a0e/720p/seg_00042.ts"
    ours = SigV4Presigner(
        endpoint_url="http://127.0.0.1:8333",
        bucket="media",
        access_key_id="AKIDEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="eu-west-1",
    )
    for _ in range(5):  # both sign "now": retry if the second turned between the two
        now = int(time.time())
        expected = client.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": key}, ExpiresIn=1234)
        signed = ours.signer(now + 1234, now)(key)
        if time.time() < now + 1:
            break

    assert signed == expected


def test_cloudfront_urls_carry_a_canned_policy_signature_the_public_key_verifies() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = CloudFrontSigner(cdn_url="https://cdn.example.edu/", key_pair_id="KID", private_key=key)

    url = signer.signer(NOW + 600, NOW)("hls/v/240p/seg_00000.ts")

    resource, _, query = url.partition("?")
    fields = dict(part.split("=", 1) for part in query.split("&"))
    assert resource == "https://cdn.example.edu/hls/v/240p/seg_00000.ts"
    assert fields["Expires"] == str(NOW + 600) and fields["Key-Pair-Id"] == "KID"
    assert not set(fields["Signature"]) & set("+=/")
    signature = base64.b64decode(fields["Signature"].translate(str.maketrans("-_~", "+=/")))
    key.public_key().verify(signature, canned_policy(resource, NOW + 600), padding.PKCS1v15(), hashes.SHA1())
    assert signer.signer(NOW + 600, NOW)("hls/v/240p/seg_00000.ts") == url


def test_cloudfront_urls_equal_botocores_cloudfront_signer_for_the_same_key_and_expiry() -> None:
    """The hand-written signer is the playlist hot path (memoized); botocore's is the reference."""
    from botocore.signers import CloudFrontSigner as BotocoreCloudFrontSigner

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ours = CloudFrontSigner(cdn_url="https://cdn.example.edu/", key_pair_id="K2JCJMDEHXQW5F", private_key=key)
    reference = BotocoreCloudFrontSigner(
        "K2JCJMDEHXQW5F", lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA1())
    )

    for object_key in ("hls/v/240p/seg_00000.ts", "hls/v 2/720p/index.m3u8", "hls/v/1080p/seg~00001.m4s"):
        url = ours.signer(NOW + 600, NOW)(object_key)
        resource = url.partition("?")[0]
        assert url == reference.generate_presigned_url(resource, date_less_than=datetime.fromtimestamp(NOW + 600, UTC))


async def test_a_cold_cache_entry_asked_for_at_once_is_filled_once() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(max_entries=10)
    fills = 0

    async def fill() -> tuple[int, float]:
        nonlocal fills
        fills += 1
        await asyncio.sleep(0.05)
        return 42, 60.0

    values = await asyncio.gather(*(cache.get_or_fill("k", fill) for _ in range(50)))

    assert values == [42] * 50
    assert fills == 1


def test_cache_entries_expire_and_the_oldest_go_first_when_full() -> None:
    now = [0.0]
    cache: ExpiringCache[str, str] = ExpiringCache(max_entries=10, max_weight=10, weigh=len, clock=lambda: now[0])
    cache.put("a", "xxxx", 5)
    cache.put("b", "yyyy", 50)
    cache.put("c", "zzzz", 50)

    assert cache.get("a") is None
    assert cache.get("b") == "yyyy"
    now[0] = 60.0
    assert cache.get("c") is None


def test_a_reported_position_beyond_the_duration_is_kept_at_the_end() -> None:
    assert domain.progress_position(130.0, 120.0) == (120.0, 120.0)
    assert domain.progress_position(42.5, 0.0) == (42.5, 0.0)  # duration unknown: kept as sent


@pytest.mark.parametrize("position, duration", [(-1.0, 10.0), (math.nan, 10.0), (5.0, math.inf), (1e9, 0.0)])
def test_a_negative_infinite_or_absurd_position_or_duration_is_refused(position: float, duration: float) -> None:
    with pytest.raises(errors.InvalidPlaybackRequest):
        domain.progress_position(position, duration)


def test_a_viewer_resumes_where_they_stopped_and_from_the_start_once_they_reached_the_end() -> None:
    assert domain.resume_at(61.0, 600.0) == 61.0
    assert domain.resume_at(596.0, 600.0) == 0.0
    assert domain.resume_at(596.0, 0.0) == 596.0
