"""What the playback tests share: real HLS files, videos in the real catalog, players' HTTP.

HLS fixtures are made here with FFmpeg (lavfi test pattern and tone → the hls muxer, two
rungs, 1-second segments) in the transcoder's layout and master format, and stored in
SeaweedFS at ``hls/{video_id}/...``. The video itself is registered through upload_svc's
real API (upload, complete), so the catalog's access rules are the real ones.

Besides the session ``stack`` (HLS_SEGMENT_DELIVERY=s3), a proxy-mode and a CDN-mode
playback_svc, each with its own edge, run over the same infrastructure.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack import free_port
from service_kit.auth import INSTRUCTOR
from service_kit.object_store import s3_client
from tests.support.callers import Caller, learner_of, mint_caller
from tests.support.processes import Infra, Stack, spawn, wait_for_grpc_health, wait_for_http

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RENDITIONS = (("240p", 320, 240, 400_000), ("360p", 480, 360, 800_000))
SECONDS = 4
CDN_URL = "https://d111111abcdef8.cloudfront.net"
CDN_KEY_PAIR_ID = "K2JCJMDEHXQW5F"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer as a player or browser sees it."""

    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.text)


class Client:
    """The edge as a browser (JSON API with a session) and a player (plain GETs) use it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, jwt_secret: str) -> None:
        self.session = session
        self.base_url = base_url
        self._secret = jwt_secret

    def caller(
        self,
        *,
        roles: tuple[str, ...] = (INSTRUCTOR,),
        organization_id: str | None = None,
        course_id: str | None = None,
    ) -> Caller:
        return mint_caller(self._secret, roles=roles, organization_id=organization_id, course_id=course_id)

    def learner_of(self, instructor: Caller) -> Caller:
        return learner_of(self._secret, instructor)

    async def call(self, method: str, path: str, caller: Caller | None = None, body: Any = None) -> Reply:
        headers = {"Authorization": f"Bearer {caller.token}"} if caller else {}
        async with self.session.request(method, self.base_url + path, json=body, headers=headers) as response:
            return Reply(response.status, await response.text(), dict(response.headers))

    async def get(self, url: str, headers: dict[str, str] | None = None) -> Reply:
        """A player's GET: no session, redirects not followed (so a 302 shows)."""
        target = url if url.startswith("http") else self.base_url + url
        async with self.session.get(target, headers=headers or {}, allow_redirects=False) as response:
            return Reply(response.status, await response.text(errors="replace"), dict(response.headers))

    async def access_token(self, video_id: str, caller: Caller, user_id: str | None = None) -> Reply:
        query = f"?user_id={user_id}" if user_id is not None else ""
        return await self.call("GET", f"/api/v1/media/hls/{video_id}/access-token{query}", caller)

    async def register_video(self, instructor: Caller, source: bytes, *, published: bool = True) -> str:
        """A video in the real catalog: presigned upload, the bytes, complete, and publish."""
        created = await self.call(
            "POST",
            "/api/v1/media/presigned-upload",
            instructor,
            {"filename": "Lecture.mp4", "content_type": "video/mp4", "file_size": len(source)},
        )
        assert created.status == 200, created.text
        upload = created.json
        form = aiohttp.FormData()
        for name, value in upload["fields"].items():
            form.add_field(name, value)
        form.add_field("file", source, filename="upload.bin", content_type="video/mp4")
        async with self.session.post(upload["url"], data=form) as stored:
            assert stored.status == 204, await stored.text()
        done = await self.call("POST", f"/api/v1/media/uploads/{upload['upload_id']}/complete", instructor, {})
        assert done.status == 200, done.text
        if published:
            reply = await self.call(
                "PATCH",
                f"/api/v1/media/videos/{upload['video_id']}?update_mask=published",
                instructor,
                {"published": True},
            )
            assert reply.status == 200, reply.text
        return str(upload["video_id"])


@dataclass(frozen=True)
class HlsLadder:
    """Every file of a finished two-rung HLS output, by path relative to ``hls/{video_id}/``."""

    files: dict[str, bytes]

    def segments(self, rendition: str) -> list[str]:
        return sorted(p.split("/")[1] for p in self.files if p.startswith(rendition + "/seg_"))

    def event_playlist(self, rendition: str, segment_count: int) -> bytes:
        """The rung's playlist as the transcoder publishes it while running: EVENT, first segments only."""
        lines = self.files[f"{rendition}/index.m3u8"].decode().splitlines()
        kept: list[str] = []
        seen = 0
        for line in lines:
            if line == "#EXT-X-ENDLIST":
                continue
            if line.startswith("#EXT-X-PLAYLIST-TYPE"):
                line = "#EXT-X-PLAYLIST-TYPE:EVENT"
            if line.startswith("#EXTINF") and seen == segment_count:
                break
            if line and not line.startswith("#"):
                seen += 1
            kept.append(line)
        return ("\n".join(kept) + "\n").encode()


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("playback-media")


@pytest.fixture(scope="session")
def source_video(media_dir: Path) -> bytes:
    """A 2-second clip to register in the catalog (upload_svc probes it for real)."""
    path = media_dir / "source.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path),
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="session")
def ladder(media_dir: Path) -> HlsLadder:
    """A 4-second, two-rung VOD ladder with 1-second segments, in the transcoder's layout."""
    out = media_dir / "hls"
    master = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for name, width, height, bandwidth in RENDITIONS:
        (out / name).mkdir(parents=True)
        _ffmpeg(
            "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=25",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
            "-t", str(SECONDS), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25",
            "-sc_threshold", "0", "-c:a", "aac", "-ac", "2", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            "-hls_playlist_type", "vod", "-start_number", "0",
            "-hls_segment_filename", str(out / name / "seg_%05d.ts"), str(out / name / "index.m3u8"),
        )  # fmt: skip
        master.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},AVERAGE-BANDWIDTH={bandwidth},RESOLUTION={width}x{height},"
            f'CODECS="avc1.42c01e,mp4a.40.2",FRAME-RATE=25.000'
        )
        master.append(f"{name}/index.m3u8")
    (out / "master.m3u8").write_text("\n".join(master) + "\n")
    files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    return HlsLadder(files)


DEMUXED_SECONDS = 6
DEMUXED_RUNGS = (("240p", 320, 240, 300_000), ("360p", 480, 360, 600_000))
AUDIO_BANDWIDTH = 96_000
AUDIO_MEDIA_TAG = (
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",'
    'URI="audio/index.m3u8"'
)
"""The demuxed master's audio line, attribute for attribute as issue 17's transcoder writes it."""


def make_demuxed_ladder(out: Path, seconds: int = DEMUXED_SECONDS) -> HlsLadder:
    """A demuxed VOD output (6 seconds unless told) in issue 17's layout, made by FFmpeg into ``out``.

    One source (test pattern and a 440 Hz tone, H.264 in yuv420p so browsers decode it)
    is cut twice: ``-map 0:v -an`` into each video-only rung, ``-map 0:a -vn`` once into
    ``audio/`` (AAC-LC stereo), all as MPEG-TS with 1-second segments. The master lists
    the audio rendition by EXT-X-MEDIA and every rung with ``AUDIO="audio"``, its CODECS
    naming both the video and the audio codec (RFC 8216 4.3.4.2).
    """
    source = out / "source.mp4"
    out.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=480x360:rate=25",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-ac", "2", str(source),
    )  # fmt: skip
    hls = ("-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_playlist_type", "vod", "-start_number", "0")
    master = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS", AUDIO_MEDIA_TAG]
    for name, width, height, bandwidth in DEMUXED_RUNGS:
        (out / "hls" / name).mkdir(parents=True)
        _ffmpeg(
            "-i", str(source), "-map", "0:v", "-an", "-vf", f"scale={width}:{height}",
            "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
            "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", *hls,
            "-hls_segment_filename", str(out / "hls" / name / "seg_%05d.ts"), str(out / "hls" / name / "index.m3u8"),
        )  # fmt: skip
        master.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth + AUDIO_BANDWIDTH},AVERAGE-BANDWIDTH={bandwidth},"
            f'RESOLUTION={width}x{height},CODECS="avc1.42c01e,mp4a.40.2",FRAME-RATE=25.000,AUDIO="audio"'
        )
        master.append(f"{name}/index.m3u8")
    (out / "hls" / "audio").mkdir(parents=True)
    _ffmpeg(
        "-i", str(source), "-map", "0:a", "-vn", "-c:a", "aac", "-ac", "2", "-b:a", "96k", *hls,
        "-hls_segment_filename", str(out / "hls" / "audio" / "seg_%05d.ts"), str(out / "hls" / "audio" / "index.m3u8"),
    )  # fmt: skip
    (out / "hls" / "master.m3u8").write_text("\n".join(master) + "\n")
    root = out / "hls"
    return HlsLadder({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})


@pytest.fixture(scope="session")
def demuxed_ladder(media_dir: Path) -> HlsLadder:
    """A demuxed video's HLS files: video-only rungs and one audio rendition (see :func:`make_demuxed_ladder`)."""
    return make_demuxed_ladder(media_dir / "demuxed")


@pytest.fixture(scope="session")
def s3(infra: Infra) -> S3Client:
    return s3_client(infra.settings)


def publish_hls(s3: S3Client, bucket: str, video_id: str, files: dict[str, bytes]) -> None:
    """Store HLS files as the transcoder does (playlists with their content type)."""
    for path, data in files.items():
        content_type = "application/vnd.apple.mpegurl" if path.endswith(".m3u8") else "video/mp2t"
        s3.put_object(Bucket=bucket, Key=f"hls/{video_id}/{path}", Body=data, ContentType=content_type)


@dataclass(frozen=True)
class Rig:
    """One edge to play through, and what a test needs to make videos behind it."""

    client: Client
    s3: S3Client
    bucket: str
    ladder: HlsLadder
    source: bytes
    hls_secret: str

    async def ready_video(self, instructor: Caller, *, published: bool = True) -> str:
        video_id = await self.client.register_video(instructor, self.source, published=published)
        publish_hls(self.s3, self.bucket, video_id, self.ladder.files)
        return video_id

    async def master_url(self, video_id: str, caller: Caller) -> str:
        reply = await self.client.access_token(video_id, caller)
        assert reply.status == 200, reply.text
        return str(reply.json["master_url"])


def _private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def cdn_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _start_playback_and_edge(stack: Stack, name: str, extra: dict[str, str]) -> Iterator[str]:
    """A playback_svc with ``extra`` settings and an edge in front of it; yields the edge's URL."""
    infra = stack.infra
    port, metrics_port, edge_port = free_port(), free_port(), free_port()
    env = {
        "PLAYBACK_SVC_PORT": str(port),
        "PLAYBACK_SVC_ADDR": f"127.0.0.1:{port}",
        "PLAYBACK_SVC_METRICS_PORT": str(metrics_port),
        **extra,
    }
    playback = spawn(f"playback-{name}", "playback_svc", infra, env)
    edge = None
    try:
        wait_for_grpc_health(playback, f"127.0.0.1:{port}", deadline=time.monotonic() + 60)
        edge = spawn(f"edge-{name}", "edge", infra, {**env, "EDGE_PORT": str(edge_port)})
        url = f"http://127.0.0.1:{edge_port}"
        wait_for_http(edge, f"{url}/health", deadline=time.monotonic() + 60)
        yield url
    finally:
        if edge is not None:
            edge.stop()
        playback.stop()


@pytest.fixture(scope="session")
def proxy_edge(stack: Stack) -> Iterator[str]:
    yield from _start_playback_and_edge(stack, "proxy", {"HLS_SEGMENT_DELIVERY": "proxy"})


@pytest.fixture(scope="session")
def cdn_edge(stack: Stack, cdn_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    key_file = tmp_path_factory.mktemp("cdn") / "cloudfront.pem"
    key_file.write_text(_private_key_pem(cdn_key))
    yield from _start_playback_and_edge(
        stack,
        "cdn",
        {
            "HLS_SEGMENT_DELIVERY": "cdn",
            "S3_CDN_URL": CDN_URL,
            "CLOUDFRONT_KEY_PAIR_ID": CDN_KEY_PAIR_ID,
            "CLOUDFRONT_PRIVATE_KEY": str(key_file),
        },
    )


async def _rig(stack: Stack, base_url: str, s3: S3Client, ladder: HlsLadder, source: bytes) -> AsyncIterator[Rig]:
    settings = stack.infra.settings
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield Rig(
            Client(session, base_url, settings.jwt_secret_key),
            s3,
            settings.s3_bucket,
            ladder,
            source,
            settings.hls_proxy_secret,
        )


@pytest.fixture
async def rig(stack: Stack, s3: S3Client, ladder: HlsLadder, source_video: bytes) -> AsyncIterator[Rig]:
    async for made in _rig(stack, stack.edge_url, s3, ladder, source_video):
        yield made


@pytest.fixture
async def proxy_rig(
    stack: Stack, proxy_edge: str, s3: S3Client, ladder: HlsLadder, source_video: bytes
) -> AsyncIterator[Rig]:
    async for made in _rig(stack, proxy_edge, s3, ladder, source_video):
        yield made


@pytest.fixture
async def cdn_rig(
    stack: Stack, cdn_edge: str, s3: S3Client, ladder: HlsLadder, source_video: bytes
) -> AsyncIterator[Rig]:
    async for made in _rig(stack, cdn_edge, s3, ladder, source_video):
        yield made
