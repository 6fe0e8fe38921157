"""Secured HLS: the variant playlist of a 1-hour video through the edge, versus nginx secure_link.

The stack is real: SeaweedFS holds an hour-long 720p variant playlist (600 six-second
segments) at the transcoder's layout, ``python -m playback_svc`` (HLS_SEGMENT_DELIVERY=s3)
and ``python -m edge`` serve it. ``wrk -t2 -c64 -d10s --latency`` asks for it with one
access token, four ways, in the same run:

- **edge (cache)**: the shipped path, edge/hls.py: token check in the edge, the rewritten
  playlist (600 presigned S3 URLs, ~250 kB) from the edge's in-process cache.
- **edge (cache, gzip)**: the same, asked with ``Accept-Encoding: gzip`` as browsers,
  hls.js and AVPlayer ask: the body compressed once per cache entry.
- **edge (gRPC each time)**: the same edge built without the HLS overrides, so the generic
  gateway calls playback_svc's GetPlaylist per request (playback_svc's own cache still
  spares the rewrite): the measurement behind serving playlists from the edge.
- **nginx secure_link**: what an operator would otherwise pick: nginx checks an
  expiring ``secure_link_md5`` and serves the same stored playlist file (not rewritten,
  ~20 kB: its segment URIs stay relative and unsigned).

Reported: requests/s, p50 and p99 of each, and the edge's ratio to nginx. The target is
at least 0.10 of nginx's throughput and a p99 of at most 25 ms at 64 connections.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench._support import (
    HOST,
    RESULTS_DIR,
    ROOT,
    free_port,
    load_ratio,
    load_row,
    spawned,
    table,
    wait_for_http,
    wait_for_port,
    write_result,
)
from bench.gateway import parse_wrk

NAME = "playback"
CONNECTIONS = 64
DURATION_SECONDS = 10
STARTUP_SECONDS = 60.0
SEGMENTS = 600
SEGMENT_SECONDS = 6
RENDITION = "720p"
NGINX_SECRET = secrets.token_urlsafe(16)
TARGET_RATIO = 0.10
TARGET_P99_MS = 25.0


def variant_playlist() -> str:
    """An hour of 720p as the transcoder finishes it: VOD, 600 six-second segments."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for n in range(SEGMENTS):
        lines += [f"#EXTINF:{SEGMENT_SECONDS}.000000,", f"seg_{n:05d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\n'
    f"{RENDITION}/index.m3u8\n"
)


def store_playlists(env: dict[str, str], video_id: str) -> None:
    from service_kit.object_store import s3_client
    from service_kit.settings import load_settings

    client = s3_client(load_settings(env, dotenv_path=Path("/nonexistent/.env")))
    for key, text in (
        (f"hls/{video_id}/master.m3u8", MASTER),
        (f"hls/{video_id}/{RENDITION}/index.m3u8", variant_playlist()),
    ):
        client.put_object(
            Bucket=env["S3_BUCKET"], Key=key, Body=text.encode(), ContentType="application/vnd.apple.mpegurl"
        )


# ---- nginx ------------------------------------------------------------------------------------


def nginx_config(root: Path, www: Path, port: int) -> str:
    """nginx on one port: ``secure_link_md5`` over expiry and URI, the playlist as a static file."""
    temp = {name: root / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    return f"""
worker_processes {os.cpu_count() or 1};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    types {{ application/vnd.apple.mpegurl m3u8; }}
    server {{
        listen {HOST}:{port};
        root {www};
        location /hls/ {{
            secure_link $arg_md5,$arg_expires;
            secure_link_md5 "$secure_link_expires$uri {NGINX_SECRET}";
            if ($secure_link = "") {{ return 403; }}
            if ($secure_link = "0") {{ return 410; }}
            add_header Cache-Control private;
            add_header Access-Control-Allow-Origin *;
        }}
    }}
}}
"""


def nginx_link(path: str, expires: int) -> str:
    """The query nginx's secure_link_md5 above expects: base64url(md5(expires + uri + secret))."""
    digest = hashlib.md5(f"{expires}{path} {NGINX_SECRET}".encode()).digest()
    md5 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{path}?md5={md5}&expires={expires}"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx is not installed (make bench installs it: scripts/bootstrap.sh)")
    return found


# ---- measuring --------------------------------------------------------------------------------


def run_wrk(url: str, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION_SECONDS}s", "--latency", url]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run(command, capture_output=True, text=True, timeout=DURATION_SECONDS + 30, check=True)
    return parse_wrk(done.stdout)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def gzipped_playlist(url: str) -> bytes:
    """The body as a browser-based player gets it (Accept-Encoding: gzip), still compressed."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        if reply.headers.get("Content-Encoding") != "gzip":
            raise RuntimeError("the edge did not gzip the playlist for a client that accepts it")
        body: bytes = reply.read()
    return body


def check_playlist(url: str, *, rewritten: bool) -> int:
    """One request first (retried while the services start): the numbers mean nothing on errors."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        status, body = fetch(url)
        if status == 200:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} answered {status}: {body[:300]!r}")
        time.sleep(0.3)
    text = body.decode()
    uris = [line for line in text.splitlines() if line and not line.startswith("#")]
    if len(uris) != SEGMENTS or "#EXT-X-ENDLIST" not in text:
        raise RuntimeError(f"unexpected playlist from {url}: {len(uris)} segments: {text[:300]!r}")
    if rewritten and not all("X-Amz-Signature=" in uri for uri in uris):
        raise RuntimeError("the edge's playlist does not carry presigned segment URLs")
    return len(body)


def generic_edge_main() -> None:
    """``python -m bench.playback --generic-edge``: the edge calling GetPlaylist on every request.

    A handler that only translates (query → GetPlaylistRequest → raw HttpBody), as the
    generic gateway would: playback_svc checks the token and answers from its own cache,
    so what this measures is the gRPC hop and the copy of the playlist across it.
    """
    from aiohttp import web

    from edge.app import create_app, default_backend_services
    from edge.gateway import call_unary, operation_of
    from edge.hls import VARIANT_ROUTE
    from edge.keys import MATCH
    from media.playback.v1 import playback_pb2
    from service_kit.logging import configure_logging
    from service_kit.settings import load_settings_or_exit

    async def per_request(request: web.Request) -> web.StreamResponse:
        params = request[MATCH].params
        message = playback_pb2.GetPlaylistRequest(
            video_id=params["video_id"], rendition=params["rendition"], token=request.query.get("token", "")
        )
        reply: Any = await call_unary(request, operation_of(request), message, ())
        return web.Response(body=bytes(reply.body.data), headers={"Content-Type": reply.body.content_type})

    settings = load_settings_or_exit()
    configure_logging("edge", settings.log_level)
    app = create_app(settings, default_backend_services(settings), overrides={VARIANT_ROUTE: per_request})
    web.run_app(app, host=HOST, port=settings.edge_port, access_log=None, print=None, shutdown_timeout=1)


def main() -> dict[str, Any]:
    from bench.stack import environment, infrastructure, service_ports
    from playback_svc.domain import mint_token

    logs = RESULTS_DIR / "logs"
    with tempfile.TemporaryDirectory(prefix="bench-playback-") as scratch_name:
        scratch = Path(scratch_name)
        scratch.chmod(0o755)  # nginx's workers (nobody) read the playlist file from here
        video_id = str(uuid.uuid4())
        www = scratch / "www"
        (www / "hls" / video_id / RENDITION).mkdir(parents=True)
        (www / "hls" / video_id / RENDITION / "index.m3u8").write_text(variant_playlist())
        for item in [www, *www.rglob("*")]:
            item.chmod(0o755 if item.is_dir() else 0o644)
        nginx_port = free_port()
        (scratch / "nginx.conf").write_text(nginx_config(scratch, www, nginx_port))
        with infrastructure(scratch, schemas=[], redis_db=14, object_store=True) as env:
            generic_port = free_port()
            service_ports(env, "playback_svc")
            env["HLS_SEGMENT_DELIVERY"] = "s3"
            store_playlists(env, video_id)
            expires = int(time.time()) + 3600
            token = mint_token(env["HLS_PROXY_SECRET"], user_id="bench-learner", video_id=video_id, expires_at=expires)
            path = f"/api/v1/media/hls/{video_id}/{RENDITION}/index.m3u8?token={token}"
            with environment(env), spawned([sys.executable, "-m", "playback_svc"], logs / "playback_svc.log"):
                with spawned([sys.executable, "-m", "edge"], logs / "playback_edge.log") as edge:
                    edge_url = f"http://{HOST}:{env['EDGE_PORT']}"
                    wait_for_http(f"{edge_url}/openapi.json", edge, STARTUP_SECONDS)
                    edge_bytes = check_playlist(edge_url + path, rewritten=True)
                    cached = run_wrk(edge_url + path)
                    gzip_bytes = len(gzipped_playlist(edge_url + path))
                    cached_gzip = run_wrk(edge_url + path, ("Accept-Encoding: gzip",))
                with (
                    environment({"EDGE_PORT": str(generic_port)}),
                    spawned(
                        [sys.executable, "-m", "bench.playback", "--generic-edge"], logs / "playback_generic.log"
                    ) as generic,
                ):
                    generic_url = f"http://{HOST}:{generic_port}"
                    wait_for_http(f"{generic_url}/openapi.json", generic, STARTUP_SECONDS)
                    check_playlist(generic_url + path, rewritten=True)
                    per_request = run_wrk(generic_url + path)
        with spawned([nginx_binary(), "-c", str(scratch / "nginx.conf"), "-p", str(scratch)], logs / "nginx.log") as nx:
            wait_for_port(nginx_port, nx, STARTUP_SECONDS)
            nginx_url = f"http://{HOST}:{nginx_port}" + nginx_link(f"/hls/{video_id}/{RENDITION}/index.m3u8", expires)
            nginx_bytes = check_playlist(nginx_url, rewritten=False)
            refused, _ = fetch(nginx_url.replace("md5=", "md5=x"))
            if refused != 403:
                raise RuntimeError(f"nginx's secure_link let a forged link through ({refused})")
            nginx = run_wrk(nginx_url)
    result = {
        "benchmark": NAME,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "connections": CONNECTIONS,
        "duration_seconds": DURATION_SECONDS,
        "segments": SEGMENTS,
        "edge_playlist_bytes": edge_bytes,
        "nginx_playlist_bytes": nginx_bytes,
        "edge_cached": cached,
        "edge_cached_gzip": cached_gzip,
        "edge_playlist_gzip_bytes": gzip_bytes,
        "edge_grpc_per_request": per_request,
        "nginx_secure_link": nginx,
        "ratio_edge_over_nginx": load_ratio(cached, nginx),
        "ratio_grpc_per_request_over_nginx": {"rps": per_request["rps"] / nginx["rps"]},
        "target": {"rps_ratio_at_least": TARGET_RATIO, "p99_ms_at_most": TARGET_P99_MS},
        "meets_target": cached["rps"] / nginx["rps"] >= TARGET_RATIO and cached["p99_ms"] <= TARGET_P99_MS,
        "note": (
            f"{os.cpu_count()} CPUs shared by wrk, the edge, playback_svc and nginx (each measured alone). The edge "
            "answers a rewritten playlist with 600 presigned URLs; nginx the stored file with relative URIs."
        ),
    }
    path_written = write_result(NAME, result)
    print(report(result))
    print(f"written to {path_written.relative_to(ROOT)}")
    return result


def report(result: dict[str, Any]) -> str:
    ratio = result["ratio_edge_over_nginx"]
    rows = [
        load_row(f"edge, cached ({result['edge_playlist_bytes'] // 1024} kB)", result["edge_cached"]),
        load_row(f"edge, cached, gzip ({result['edge_playlist_gzip_bytes'] // 1024} kB)", result["edge_cached_gzip"]),
        load_row("edge, gRPC GetPlaylist per request", result["edge_grpc_per_request"]),
        load_row(f"nginx secure_link ({result['nginx_playlist_bytes'] // 1024} kB)", result["nginx_secure_link"]),
        ["edge cached / nginx", f"{ratio['rps']:.3f}x", f"{ratio['p50']:.1f}x", f"{ratio['p99']:.1f}x", ""],
    ]
    heading = (
        f"playback: variant playlist of a 1-hour video ({result['segments']} segments), "
        f"{result['connections']} in flight, {result['duration_seconds']} s each"
    )
    verdict = "meets" if result["meets_target"] else "MISSES"
    target = result["target"]
    lines = [
        heading,
        table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows),
        f"target: >= {target['rps_ratio_at_least']:.2f} of nginx and p99 <= {target['p99_ms_at_most']:g} ms: {verdict}",
        f"note: {result['note']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--generic-edge"]:
        generic_edge_main()
    else:
        main()
    sys.exit(0)
