"""The player page's CSP origins: where playback_svc's segment URLs point, per delivery mode."""

from __future__ import annotations

from dataclasses import replace

from edge.player_origins import segment_origins
from service_kit.settings import PlaybackSettings, load_settings
from tests.conftest import NO_DOTENV
from web.render import Policy

BASE = load_settings(
    {
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "JWT_SECRET_KEY": "j" * 40,
        "HLS_PROXY_SECRET": "h" * 40,
        "ZOOM_WEBHOOK_SECRET": "z" * 24,
    },
    dotenv_path=NO_DOTENV,
)


def test_presigned_segments_come_from_the_object_stores_public_endpoint() -> None:
    settings = replace(
        BASE, s3_endpoint_url="http://seaweed:8333/", s3_public_endpoint_url="https://media.example.edu/s3"
    )
    assert segment_origins(settings, PlaybackSettings()) == ("https://media.example.edu",)


def test_without_a_public_endpoint_segments_come_from_the_internal_one() -> None:
    settings = replace(BASE, s3_endpoint_url="http://127.0.0.1:8333", s3_public_endpoint_url=None)
    assert segment_origins(settings, PlaybackSettings()) == ("http://127.0.0.1:8333",)


def test_without_any_endpoint_segments_come_from_aws_in_the_configured_region() -> None:
    settings = replace(BASE, s3_endpoint_url=None, s3_public_endpoint_url=None, aws_region="eu-west-1")
    assert segment_origins(settings, PlaybackSettings()) == ("https://s3.eu-west-1.amazonaws.com",)


def test_cdn_segments_come_from_the_distribution_and_proxied_ones_from_the_edge_alone() -> None:
    cdn = PlaybackSettings(segment_delivery="cdn", cdn_url="https://d111.cloudfront.net/")
    assert segment_origins(BASE, cdn) == ("https://d111.cloudfront.net",)
    assert segment_origins(BASE, PlaybackSettings(segment_delivery="proxy")) == ()


def test_a_policy_with_media_sources_names_them_and_one_without_leaves_media_to_default_src() -> None:
    with_media = Policy(connect_origins=("https://s3.example",), media_src=("'self'", "blob:")).header("n")
    assert "connect-src 'self' https://s3.example;" in with_media and "media-src 'self' blob:;" in with_media
    assert "media-src" not in Policy().header("n")
