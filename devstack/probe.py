"""Readiness probes for container health checks: ``python -m devstack probe URL``.

``http://host:port/path`` passes on a 200 answer; ``grpc://host:port`` passes when the
standard gRPC health service reports SERVING for the server as a whole.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit


def probe(url: str, timeout: float = 3.0) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False
    if parts.scheme == "grpc":
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(parts.netloc) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    raise ValueError(f"cannot probe {url!r}: expected http://, https:// or grpc://")


def listening_sockets(port: int) -> int:
    """How many IPv4 sockets listen on ``port`` on this machine (Linux ``/proc/net/tcp``, state 0A).

    With SO_REUSEPORT each edge process has its own listening socket; the kernel spreads
    new connections only over the ones that exist, so a process that binds late gets none
    of the connections opened before it: benchmarks and tests wait for all of them.
    """
    wanted = f":{port:04X}"
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[1].endswith(wanted) and row[3] == "0A")
