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
