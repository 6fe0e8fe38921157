"""``python -m bench.edge_runner --port P --backend host:port``: the edge, wired to one backend.

It calls the same ``create_app`` as ``python -m edge``, with the test-only EchoService
as its only BackendService: the edge serves the benchmark's route without a line of
edge code knowing about it. Settings are built in memory with throwaway secrets.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from aiohttp import web

from bench._support import HOST, use_test_protos
from edge.app import create_app
from edge.backends import BackendService
from service_kit.logging import configure_logging
from service_kit.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", required=True, help="host:port of bench.echo_backend")
    args = parser.parse_args()
    use_test_protos()
    from edgetest.v1 import echo_pb2

    settings = load_settings(
        env={
            "MEDIA_ENV": "test",
            "EDGE_HOST": HOST,
            "EDGE_PORT": str(args.port),
            "JWT_SECRET_KEY": secrets.token_urlsafe(40),
            "HLS_PROXY_SECRET": secrets.token_urlsafe(40),
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(20),
            "ZOOM_WEBHOOK_SECRET": "bench",
            "SHUTDOWN_GRACE_SECONDS": "1",
        },
        dotenv_path=Path("/nonexistent"),
    )
    configure_logging("edge", settings.log_level)
    service = BackendService(echo_pb2.DESCRIPTOR.services_by_name["EchoService"], args.backend, short_name="echo")
    app = create_app(settings, [service])
    web.run_app(app, host=HOST, port=args.port, access_log=None, print=None, shutdown_timeout=1)


if __name__ == "__main__":
    main()
