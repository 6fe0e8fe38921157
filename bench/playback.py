"""Secured HLS: the variant playlists of a short clip and of a 1-hour video through the edge, versus nginx secure_link.

The stack is real: SeaweedFS holds two 720p variant playlists at the transcoder's layout,
a short clip's (3 six-second segments, ~1.3 kB once rewritten) and an hour-long one's
(600 segments), ``python -m playback_svc`` (HLS_SEGMENT_DELIVERY=s3) and the edge serve
them. The edge runs as it ships under supervisord: ``EDGE_PROCESSES`` (default here: one
per CPU) copies of ``python -m edge`` sharing the port (SO_REUSEPORT) and one
``PROMETHEUS_MULTIPROC_DIR``, with ``EDGE_ACCESS_LOG_SAMPLE`` (default here: 100) on the
playlist routes; set either in the environment to measure another choice.
``wrk -t2 -c64 -d10s --latency`` asks for each with one access token:

- **edge (cache)**: the shipped path, edge/hls.py: token check in the edge, the rewritten
  playlist (3 or 600 presigned S3 URLs) from the edge's in-process cache; both sizes.
- **edge (cache, gzip)**: the same, asked with ``Accept-Encoding: gzip`` as browsers,
  hls.js and AVPlayer ask: the body compressed once per cache entry.
- **edge (gRPC each time)**: the same edge built without the HLS overrides, so the generic
  gateway calls playback_svc's GetPlaylist per request (playback_svc's own cache still
  spares the rewrite): the measurement behind serving playlists from the edge.
- **nginx secure_link**: what an operator would otherwise pick: nginx checks an
  expiring ``secure_link_md5`` and serves the same stored playlist file (not rewritten,
  its segment URIs stay relative and unsigned); both sizes.

Reported: requests/s, p50 and p99 of each, and the edge's ratio to nginx for each size,
with the load average before the runs. The target, for both sizes: at least 0.10 of
nginx's throughput and a p99 of at most 25 ms at 64 connections.

``python -m bench.playback --profile`` also samples one edge process with py-spy during
the short clip's run and writes its hottest functions to bench/results/playback-profile.txt.
"""

from __future__ import annotations

import base64
import contextlib
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
from collections.abc import Iterator
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
from devstack.probe import listening_sockets

NAME = "playback"
CONNECTIONS = 64
DURATION_SECONDS = 10
STARTUP_SECONDS = 60.0
SEGMENTS = 600
SHORT_SEGMENTS = 3
SEGMENT_SECONDS = 6
SHORT_RENDITION_DIR = "short"
PROFILE_TOP = 25
RENDITION = "720p"
NGINX_SECRET = secrets.token_urlsafe(16)
TARGET_RATIO = 0.10
TARGET_P99_MS = 25.0


def variant_playlist(segments: int = SEGMENTS) -> str:
    """``segments`` six-second segments of 720p as the transcoder finishes them: VOD (default: an hour)."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for n in range(segments):
        lines += [f"#EXTINF:{SEGMENT_SECONDS}.000000,", f"seg_{n:05d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\n'
    f"{RENDITION}/index.m3u8\n"
)


def store_playlists(env: dict[str, str], video_id: str, segments: int = SEGMENTS) -> None:
    from service_kit.object_store import s3_client
    from service_kit.settings import load_settings

    client = s3_client(load_settings(env, dotenv_path=Path("/nonexistent/.env")))
    for key, text in (
        (f"hls/{video_id}/master.m3u8", MASTER),
        (f"hls/{video_id}/{RENDITION}/index.m3u8", variant_playlist(segments)),
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


def check_playlist(url: str, *, rewritten: bool, segments: int = SEGMENTS) -> int:
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
    if len(uris) != segments or "#EXT-X-ENDLIST" not in text:
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


def edge_processes() -> int:
    """How many edge processes share the port: ``EDGE_PROCESSES``, else one per CPU."""
    return int(os.environ.get("EDGE_PROCESSES") or os.cpu_count() or 1)


@contextlib.contextmanager
def edges(count: int, logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` copies of ``python -m edge`` on one port, as supervisord's numprocs starts them."""
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(spawned([sys.executable, "-m", "edge"], logs / f"playback_edge_{n}.log"))
            for n in range(count)
        ]


def wait_for_listeners(port: int, count: int, deadline_seconds: float = STARTUP_SECONDS) -> None:
    """Until ``count`` sockets listen on ``port`` (one per edge process with SO_REUSEPORT).

    wrk keeps its connections for the whole run, so a process that binds late would get none.
    """
    deadline = time.monotonic() + deadline_seconds
    while True:
        listening = listening_sockets(port)
        if listening >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{listening} of {count} edge processes listen on {port} after {deadline_seconds} s")
        time.sleep(0.1)


def profiled_wrk(url: str, pid: int, out: Path) -> dict[str, Any]:
    """wrk while py-spy samples one edge process; its hottest functions (own time) to ``out``."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = out.with_suffix(".folded")
    sampler = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(DURATION_SECONDS),
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        measured = run_wrk(url)
    finally:
        sampler.wait(timeout=DURATION_SECONDS + 30)
    out.write_text(summarize_profile(raw.read_text()))
    return measured


PROFILE_COSTS = (
    ("access log: writer thread waiting (idle)", ("QueueListener.dequeue",)),
    ("access log: JSON lines written (writer thread)", ("QueueListener._monitor",)),
    ("access log: records made and queued (event loop)", ("Logger._log", "Logger.info")),
    ("metrics (counter and histogram)", ("EdgeMetrics.observe_request",)),
    ("token check", ("verify_token", "VerifiedTokens.verify")),
    ("routing (edge/routes.py)", ("Router.resolve",)),
    ("request id, context, header hooks", ("accept_request_id", "security_headers", "echo_request_id")),
    ("playlist handler, the rest (cache, headers)", ("HlsEdge.playlist",)),
    ("socket writes", ("_SelectorSocketTransport.write", "StreamWriter._writelines", "StreamWriter._write")),
    ("aiohttp: parse, dispatch, respond", ("RequestHandler", "Application._handle", "web_protocol.py")),
)
"""Where a sample's time goes: the first cost any of whose functions is on its stack."""


def summarize_profile(folded: str, top: int = PROFILE_TOP) -> str:
    """py-spy's folded stacks as two tables: the costs above, and the functions with the most own time."""
    own: dict[str, int] = {}
    costs: dict[str, int] = {}
    total = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [
            frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for frame in stack.split(";")
        ]
        own[frames[-1]] = own.get(frames[-1], 0) + count
        cost = next(
            (name for name, markers in PROFILE_COSTS if any(m in frame for frame in frames for m in markers)),
            "event loop and the rest",
        )
        costs[cost] = costs.get(cost, 0) + count
    idle = costs.pop(PROFILE_COSTS[0][0], 0)  # a blocked queue read, not work: out of the shares
    busy = max(total - idle, 1)
    lines = [f"{total} samples, {idle} of them the log writer waiting", "", "costs (share of the busy samples):"]
    for name, count in sorted(costs.items(), key=lambda item: -item[1]):
        lines.append(f"{100 * count / busy:5.1f}%  {name}")
    lines += ["", "own time:"]
    for frame, count in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"{100 * count / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, reported with the numbers they colour."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(*, profile: bool = False) -> dict[str, Any]:
    from bench.stack import environment, infrastructure, service_ports
    from playback_svc.domain import mint_token

    logs = RESULTS_DIR / "logs"
    processes = edge_processes()
    sample = os.environ.get("EDGE_ACCESS_LOG_SAMPLE", "100")
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-playback-") as scratch_name:
        scratch = Path(scratch_name)
        scratch.chmod(0o755)  # nginx's workers (nobody) read the playlist file from here
        videos = {"hour": (str(uuid.uuid4()), SEGMENTS), "short": (str(uuid.uuid4()), SHORT_SEGMENTS)}
        www = scratch / "www"
        for video_id, segments in videos.values():
            (www / "hls" / video_id / RENDITION).mkdir(parents=True)
            (www / "hls" / video_id / RENDITION / "index.m3u8").write_text(variant_playlist(segments))
        for item in [www, *www.rglob("*")]:
            item.chmod(0o755 if item.is_dir() else 0o644)
        nginx_port = free_port()
        (scratch / "nginx.conf").write_text(nginx_config(scratch, www, nginx_port))
        metrics_dir = scratch / "edge-metrics"
        metrics_dir.mkdir()
        with infrastructure(scratch, schemas=[], redis_db=14, object_store=True) as env:
            generic_port = free_port()
            service_ports(env, "playback_svc")
            env["HLS_SEGMENT_DELIVERY"] = "s3"
            for video_id, segments in videos.values():
                store_playlists(env, video_id, segments)
            expires = int(time.time()) + 3600
            paths = {
                name: f"/api/v1/media/hls/{video_id}/{RENDITION}/index.m3u8?token="
                + mint_token(env["HLS_PROXY_SECRET"], user_id="bench-learner", video_id=video_id, expires_at=expires)
                for name, (video_id, _) in videos.items()
            }
            edge_env = {
                "EDGE_PROCESSES": str(processes),
                "EDGE_ACCESS_LOG_SAMPLE": sample,
                "LOG_LEVEL": "INFO",  # the access log is part of what is measured
            }
            if processes > 1:  # /metrics adds up every process's counts (edge/metrics.py)
                edge_env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            with environment(env), spawned([sys.executable, "-m", "playback_svc"], logs / "playback_svc.log"):
                with environment(edge_env), edges(processes, logs) as edge_group:
                    edge_url = f"http://{HOST}:{env['EDGE_PORT']}"
                    for edge in edge_group:
                        wait_for_http(f"{edge_url}/openapi.json", edge, STARTUP_SECONDS)
                    wait_for_listeners(int(env["EDGE_PORT"]), processes)
                    edge_bytes = {
                        name: check_playlist(edge_url + path, rewritten=True, segments=videos[name][1])
                        for name, path in paths.items()
                    }
                    cached_short = (
                        profiled_wrk(edge_url + paths["short"], edge_group[0].pid, RESULTS_DIR / "playback-profile.txt")
                        if profile
                        else run_wrk(edge_url + paths["short"])
                    )
                    cached = run_wrk(edge_url + paths["hour"])
                    gzip_bytes = len(gzipped_playlist(edge_url + paths["hour"]))
                    cached_gzip = run_wrk(edge_url + paths["hour"], ("Accept-Encoding: gzip",))
                with (
                    environment({"EDGE_PORT": str(generic_port)}),
                    spawned(
                        [sys.executable, "-m", "bench.playback", "--generic-edge"], logs / "playback_generic.log"
                    ) as generic,
                ):
                    generic_url = f"http://{HOST}:{generic_port}"
                    wait_for_http(f"{generic_url}/openapi.json", generic, STARTUP_SECONDS)
                    check_playlist(generic_url + paths["hour"], rewritten=True)
                    per_request = run_wrk(generic_url + paths["hour"])
        with spawned([nginx_binary(), "-c", str(scratch / "nginx.conf"), "-p", str(scratch)], logs / "nginx.log") as nx:
            wait_for_port(nginx_port, nx, STARTUP_SECONDS)
            nginx_urls = {
                name: f"http://{HOST}:{nginx_port}" + nginx_link(f"/hls/{video_id}/{RENDITION}/index.m3u8", expires)
                for name, (video_id, _) in videos.items()
            }
            nginx_bytes = {
                name: check_playlist(url, rewritten=False, segments=videos[name][1]) for name, url in nginx_urls.items()
            }
            refused, _ = fetch(nginx_urls["hour"].replace("md5=", "md5=x"))
            if refused != 403:
                raise RuntimeError(f"nginx's secure_link let a forged link through ({refused})")
            nginx_short = run_wrk(nginx_urls["short"])
            nginx = run_wrk(nginx_urls["hour"])
    meets = {
        name: measured["rps"] / reference["rps"] >= TARGET_RATIO and measured["p99_ms"] <= TARGET_P99_MS
        for name, measured, reference in (("short", cached_short, nginx_short), ("hour", cached, nginx))
    }
    result = {
        "benchmark": NAME,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "edge_processes": processes,
        "edge_access_log_sample": int(sample),
        "connections": CONNECTIONS,
        "duration_seconds": DURATION_SECONDS,
        "segments": SEGMENTS,
        "short_segments": SHORT_SEGMENTS,
        "edge_playlist_bytes": edge_bytes["hour"],
        "edge_short_playlist_bytes": edge_bytes["short"],
        "nginx_playlist_bytes": nginx_bytes["hour"],
        "nginx_short_playlist_bytes": nginx_bytes["short"],
        "edge_cached": cached,
        "edge_cached_short": cached_short,
        "edge_cached_gzip": cached_gzip,
        "edge_playlist_gzip_bytes": gzip_bytes,
        "edge_grpc_per_request": per_request,
        "nginx_secure_link": nginx,
        "nginx_secure_link_short": nginx_short,
        "ratio_edge_over_nginx": load_ratio(cached, nginx),
        "ratio_edge_short_over_nginx_short": load_ratio(cached_short, nginx_short),
        "ratio_grpc_per_request_over_nginx": {"rps": per_request["rps"] / nginx["rps"]},
        "target": {"rps_ratio_at_least": TARGET_RATIO, "p99_ms_at_most": TARGET_P99_MS},
        "meets_target_short": meets["short"],
        "meets_target_hour": meets["hour"],
        "meets_target": meets["short"] and meets["hour"],
        "note": (
            f"{os.cpu_count()} CPUs shared by wrk, the edge ({processes} processes, access log 1 in {sample} "
            "playlist successes), playback_svc and nginx (each measured alone). The edge answers rewritten "
            "playlists with presigned URLs; nginx the stored files with relative URIs."
        ),
    }
    path_written = write_result(NAME, result)
    print(report(result))
    print(f"written to {path_written.relative_to(ROOT)}")
    return result


def report(result: dict[str, Any]) -> str:
    ratio = result["ratio_edge_over_nginx"]
    short_ratio = result["ratio_edge_short_over_nginx_short"]
    short = f"{result['short_segments']} segments, {result['edge_short_playlist_bytes'] / 1024:.1f} kB"
    rows = [
        load_row(f"edge, cached, short clip ({short})", result["edge_cached_short"]),
        load_row(
            f"nginx secure_link, short clip ({result['nginx_short_playlist_bytes']} B)",
            result["nginx_secure_link_short"],
        ),
        [
            "edge / nginx, short clip",
            f"{short_ratio['rps']:.3f}x",
            f"{short_ratio['p50']:.1f}x",
            f"{short_ratio['p99']:.1f}x",
            "",
        ],
        load_row(f"edge, cached, 1 hour ({result['edge_playlist_bytes'] // 1024} kB)", result["edge_cached"]),
        load_row(f"edge, cached, gzip ({result['edge_playlist_gzip_bytes'] // 1024} kB)", result["edge_cached_gzip"]),
        load_row("edge, gRPC GetPlaylist per request", result["edge_grpc_per_request"]),
        load_row(
            f"nginx secure_link, 1 hour ({result['nginx_playlist_bytes'] // 1024} kB)", result["nginx_secure_link"]
        ),
        ["edge cached / nginx, 1 hour", f"{ratio['rps']:.3f}x", f"{ratio['p50']:.1f}x", f"{ratio['p99']:.1f}x", ""],
    ]
    heading = (
        f"playback: variant playlists of a short clip and a 1-hour video ({result['segments']} segments), "
        f"{result['connections']} in flight, {result['duration_seconds']} s each; "
        f"edge: {result['edge_processes']} processes, access log 1 in {result['edge_access_log_sample']}"
    )
    target = result["target"]
    verdicts = ", ".join(
        f"{name}: {'meets' if result[f'meets_target_{name}'] else 'MISSES'}" for name in ("short", "hour")
    )
    lines = [
        heading,
        table(["path", "req/s", "p50 ms", "p99 ms", "errors"], rows),
        f"target: >= {target['rps_ratio_at_least']:.2f} of nginx, p99 <= {target['p99_ms_at_most']:g} ms: {verdicts}",
        f"load average (1, 5, 15 min): {result['load_average_before']} before, {result['load_average_after']} after",
        f"note: {result['note']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--generic-edge"]:
        generic_edge_main()
    else:
        main(profile=sys.argv[1:] == ["--profile"])
    sys.exit(0)
