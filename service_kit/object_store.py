"""The one way every process builds its S3 client.

SigV4 and path-style addressing are what SeaweedFS and MinIO expect and what AWS
accepts; the endpoint is a choice because presigned URLs must be signed for the host
browsers use (S3_PUBLIC_ENDPOINT_URL) while server-side calls go to S3_ENDPOINT_URL.
boto3 clients are thread-safe: make one at start and use it from ``asyncio.to_thread``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from service_kit.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def s3_client(
    settings: Settings,
    *,
    endpoint_url: str | None = None,
    timeout_seconds: float | None = None,
    max_attempts: int = 3,
    max_pool_connections: int = 16,
) -> S3Client:
    """A client for ``endpoint_url`` (default: S3_ENDPOINT_URL) with the settings' credentials."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": max_attempts, "mode": "standard"},
        max_pool_connections=max_pool_connections,
    )
    if timeout_seconds is not None:
        config = config.merge(Config(connect_timeout=timeout_seconds, read_timeout=timeout_seconds))
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or settings.s3_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        region_name=settings.aws_region,
        config=config,
    )
