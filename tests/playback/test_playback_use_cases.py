"""Playback's use cases without a server: tokens, playlists, segments and resume positions.

The ports are fakes of a few lines (a dict of stored objects, a catalog that knows which
videos a caller sees, a signer that writes its inputs into the URL, an in-memory unit of
work); the rules they exercise are the ones the servicer runs. The database translation
of the real unit of work is checked against a PostgreSQL address nobody listens on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

import pytest

from playback_svc import domain, errors
from playback_svc.domain import CatalogStatus, CatalogVideo, Delivery, ViewingPosition
from playback_svc.store import SqlUnitOfWork
from playback_svc.use_cases.access_tokens import AccessTokens
from playback_svc.use_cases.playlists import Playlists
from playback_svc.use_cases.ports import Forwarded
from playback_svc.use_cases.progress import ViewingProgress
from service_kit.auth import INSTRUCTOR, LEARNER, SessionClaims
from service_kit.db import create_engine, session_factory

SECRET = "playback use cases: a secret of thirty-two bytes or more"
NOW = 1_800_000_000.0
TTL = 3600
MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:3\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=320x240,CODECS="avc1.42c01e"\n240p/index.m3u8\n'
)
GROWING = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nseg_00000.ts\n"
FINISHED = GROWING + "#EXTINF:6.0,\nseg_00001.ts\n#EXT-X-ENDLIST\n"


def claims(*roles: str, user_id: str = "learner-1") -> SessionClaims:
    return SessionClaims(user_id, "org1", "c1", frozenset(roles), issued_at=0, expires_at=2**31)


class FakeCatalog:
    """upload_svc's GetVideo: the videos the caller sees, by id."""

    def __init__(self, *videos: CatalogVideo) -> None:
        self.videos = {video.video_id: video for video in videos}
        self.forwarded: list[Forwarded] = []

    async def video(self, video_id: str, metadata: Forwarded) -> CatalogVideo:
        self.forwarded.append(metadata)
        if video_id not in self.videos:
            raise errors.VideoNotFound("no such video")
        return self.videos[video_id]


class FakeObjects:
    def __init__(self, objects: dict[str, str]) -> None:
        self.objects = objects
        self.reads = 0

    async def read_text(self, key: str) -> str | None:
        self.reads += 1
        return self.objects.get(key)


class FakeSigner:
    """Writes what it was asked into the URL, so a test reads the expiry back."""

    def __init__(self, host: str) -> None:
        self.host = host

    def signer(self, expires_at: int, now: float) -> Callable[[str], str]:
        return lambda key: f"https://{self.host}/{key}?expires={expires_at}"


@dataclasses.dataclass
class FakePositions:
    rows: dict[tuple[str, str, str], ViewingPosition] = dataclasses.field(default_factory=dict)

    async def record(
        self, organization_id: str, user_id: str, video_id: str, position: float, duration: float
    ) -> ViewingPosition:
        stored = ViewingPosition(position, duration, datetime.fromtimestamp(NOW, UTC))
        self.rows[(organization_id, user_id, video_id)] = stored
        return stored

    async def of(self, organization_id: str, user_id: str, video_id: str) -> ViewingPosition | None:
        return self.rows.get((organization_id, user_id, video_id))


class FakeUnitOfWork:
    def __init__(self, positions: FakePositions) -> None:
        self.positions = positions

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        return None


def video(video_id: str = "v1", status: CatalogStatus = CatalogStatus.PLAYABLE_SOON) -> CatalogVideo:
    return CatalogVideo(video_id, "org1", "c1", status)


def stored(video_id: str = "v1", variant: str = FINISHED) -> dict[str, str]:
    return {
        domain.hls_key(video_id, domain.MASTER_PLAYLIST): MASTER,
        domain.hls_key(video_id, "240p/index.m3u8"): variant,
    }


def playlists(objects: FakeObjects, delivery: Delivery = Delivery.S3) -> Playlists:
    return Playlists(
        secret=SECRET,
        delivery=delivery,
        token_ttl_seconds=TTL,
        objects=objects,
        links=None if delivery is Delivery.PROXY else FakeSigner("store.example"),
        internal=FakeSigner("internal.example"),
    )


def tokens(catalog: FakeCatalog, objects: FakeObjects) -> AccessTokens:
    return AccessTokens(
        secret=SECRET,
        token_ttl_seconds=TTL,
        public_base_url="https://media.example",
        catalog=catalog,
        playlists=playlists(objects),
        clock=lambda: NOW,
    )


def token_for(video_id: str = "v1", user_id: str = "learner-1") -> str:
    return domain.mint_token(SECRET, user_id=user_id, video_id=video_id, expires_at=int(NOW) + TTL)


# ---- access tokens ---------------------------------------------------------------------------


async def test_a_learner_gets_a_token_for_themselves_and_a_master_url_carrying_it() -> None:
    catalog = FakeCatalog(video())
    issued = await tokens(catalog, FakeObjects(stored())).mint(claims(LEARNER), "v1", "", (("authorization", "x"),))

    assert issued.expires_at == int(NOW) + TTL
    assert issued.master_url == f"https://media.example/api/v1/media/hls/v1/master.m3u8?token={issued.token}"
    assert domain.verify_token(SECRET, issued.token, video_id="v1", now=NOW).user_id == "learner-1"
    assert catalog.forwarded == [(("authorization", "x"),)], "the catalog is asked with the caller's own session"


async def test_a_learner_may_not_mint_for_someone_else_but_an_instructor_may() -> None:
    use = tokens(FakeCatalog(video()), FakeObjects(stored()))

    with pytest.raises(errors.MayNotWatchForOthers):
        await use.mint(claims(LEARNER), "v1", "learner-2", ())
    issued = await use.mint(claims(INSTRUCTOR, user_id="teacher"), "v1", "learner-2", ())
    assert domain.verify_token(SECRET, issued.token, video_id="v1", now=NOW).user_id == "learner-2"


async def test_nothing_to_play_is_refused_with_the_reason() -> None:
    failed = tokens(FakeCatalog(video(status=CatalogStatus.NOT_PLAYABLE)), FakeObjects(stored()))
    with pytest.raises(errors.VideoNotPlayable, match="unfinished, failed or cancelled"):
        await failed.mint(claims(LEARNER), "v1", "", ())

    objects = FakeObjects({})
    not_yet = tokens(FakeCatalog(video()), objects)
    with pytest.raises(errors.VideoNotPlayable, match="not playable yet"):
        await not_yet.mint(claims(LEARNER), "v1", "", ())
    objects.objects.update(stored())
    assert (await not_yet.mint(claims(LEARNER), "v1", "", ())).token, "a missing master is not remembered"


async def test_a_video_the_catalog_hides_is_not_found() -> None:
    with pytest.raises(errors.VideoNotFound):
        await tokens(FakeCatalog(), FakeObjects(stored())).mint(claims(LEARNER), "v1", "", ())


# ---- playlists and segments ------------------------------------------------------------------


async def test_the_master_carries_the_token_and_the_variant_links_expire_with_a_window() -> None:
    use = playlists(FakeObjects(stored()))
    token = token_for()

    master = await use.playlist(token, "v1", "", NOW)
    variant = await use.playlist(token, "v1", "240p", NOW)

    assert f"240p/index.m3u8?token={token}" in master.text and master.links_expire_at is None
    assert variant.links_expire_at is not None and NOW < variant.links_expire_at <= NOW + TTL
    assert f"https://store.example/hls/v1/240p/seg_00000.ts?expires={variant.links_expire_at}" in variant.text


async def test_proxy_mode_keeps_segments_behind_the_edge() -> None:
    use = playlists(FakeObjects(stored()), Delivery.PROXY)
    token = token_for()

    variant = await use.playlist(token, "v1", "240p", NOW)
    location = await use.segment(token, "v1", "240p", "seg_00001.ts", NOW)

    assert f"seg_00001.ts?token={token}" in variant.text and variant.links_expire_at is None
    assert location.redirect_url is None
    assert location.upstream_url is not None and location.upstream_url.startswith("https://internal.example/")


async def test_a_token_opens_only_its_own_video_and_listed_renditions() -> None:
    use = playlists(FakeObjects({**stored("v1"), **stored("v2")}))

    with pytest.raises(errors.TokenForAnotherVideo):
        await use.playlist(token_for("v1"), "v2", "", NOW)
    with pytest.raises(errors.PlaylistNotFound):
        await use.playlist(token_for(), "v1", "1080p", NOW)
    with pytest.raises(errors.PlaylistNotFound):
        await use.segment(token_for(), "v1", "240p", "seg_00009.ts", NOW)


async def test_a_segment_published_after_the_variant_was_cached_is_found() -> None:
    objects = FakeObjects(stored(variant=GROWING))
    use = playlists(objects)
    token = token_for()
    await use.playlist(token, "v1", "240p", NOW)

    objects.objects[domain.hls_key("v1", "240p/index.m3u8")] = FINISHED
    location = await use.segment(token, "v1", "240p", "seg_00001.ts", NOW)

    assert location.redirect_url is not None and location.redirect_url.startswith("https://store.example/hls/v1/240p/")


# ---- resume positions ------------------------------------------------------------------------


async def test_a_position_is_kept_per_viewer_and_read_back() -> None:
    positions = FakePositions()
    use = ViewingProgress(catalog=FakeCatalog(video()), uow=lambda: FakeUnitOfWork(positions))

    await use.record(claims(LEARNER), "v1", 42.0, 600.0, ())
    mine = await use.get(claims(LEARNER), "v1", ())
    theirs = await use.get(claims(LEARNER, user_id="learner-2"), "v1", ())

    assert mine.position is not None and mine.position.position_seconds == 42.0
    assert theirs.position is None


async def test_a_position_is_refused_for_a_hidden_video_or_a_bad_value() -> None:
    positions = FakePositions()
    use = ViewingProgress(catalog=FakeCatalog(video()), uow=lambda: FakeUnitOfWork(positions))

    with pytest.raises(errors.VideoNotFound):
        await use.record(claims(LEARNER), "v2", 1.0, 10.0, ())
    with pytest.raises(errors.InvalidPlaybackRequest):
        await use.record(claims(LEARNER), "v1", -1.0, 10.0, ())
    assert positions.rows == {}


async def test_an_unreachable_database_is_a_503_that_says_to_retry() -> None:
    sessions = session_factory(create_engine("postgresql+psycopg://root@127.0.0.1:1/nowhere", pool_size=1))
    use = ViewingProgress(catalog=FakeCatalog(video()), uow=lambda: SqlUnitOfWork(sessions))
    try:
        with pytest.raises(errors.StorageUnavailable, match="try again shortly"):
            await use.record(claims(LEARNER), "v1", 1.0, 10.0, ())
        with pytest.raises(errors.StorageUnavailable):
            await use.get(claims(LEARNER), "v1", ())
    finally:
        await sessions.kw["bind"].dispose()
