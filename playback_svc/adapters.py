"""What playback_svc talks to: object storage, URL signers, and upload_svc's catalog.

Vendor errors become :mod:`playback_svc.errors` here, so the servicer sees only its
own exception tree.

Signing is on the playlist cache's fill path (600 segments for an hour of video), so
both signers are built for many URLs at once:

- :class:`SigV4Presigner` writes S3 query-string signatures (AWS SigV4, "UNSIGNED-PAYLOAD")
  itself: the signing key is derived once per day and region, and each URL costs one
  SHA-256 and one HMAC (a few microseconds), where botocore's generate_presigned_url
  spends ~80 µs rebuilding a request object per URL. Its output is byte-identical to
  botocore's (tested) and SeaweedFS accepts it (tested with ffmpeg).
- :class:`CloudFrontSigner` writes CloudFront canned-policy signed URLs: an RSA-SHA1
  signature per URL (about a millisecond each), memoized per (URL, expiry) so a
  growing EVENT playlist re-signs only its new segments and each expiry window signs
  each segment once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import grpc
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from media.upload.v1 import upload_pb2, upload_pb2_grpc
from playback_svc import errors
from playback_svc.domain import CatalogStatus, CatalogVideo
from service_kit.auth import InvalidSessionToken
from service_kit.object_store import s3_client
from service_kit.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

Metadata = tuple[tuple[str, str], ...]
SIGV4_MAX_EXPIRES_SECONDS = 7 * 24 * 3600
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


# ---- S3 SigV4 query-string signing -----------------------------------------------------------


class SigV4Presigner:
    """Presigned GET URLs for one bucket on one endpoint (path-style, as service_kit's client)."""

    def __init__(self, *, endpoint_url: str, bucket: str, access_key_id: str, secret_access_key: str, region: str):
        parts = urlsplit(endpoint_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.netloc
        self._bucket_path = parts.path.rstrip("/") + "/" + quote(bucket, safe="~")
        self._access_key_id = access_key_id
        self._secret = ("AWS4" + secret_access_key).encode()
        self._region = region
        self._keys: dict[str, bytes] = {}

    def _signing_key(self, datestamp: str) -> bytes:
        """The day's derived key (kDate → kRegion → kService → kSigning), computed once a day."""
        key = self._keys.get(datestamp)
        if key is None:
            key = self._secret
            for part in (datestamp, self._region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {datestamp: key}
        return key

    def signer(self, expires_at: int, now: float) -> Callable[[str], str]:
        """A function from object key to a GET URL valid from ``now`` until ``expires_at``.

        Everything but the path is the same for every URL of one call, so it is built once.
        """
        signed_at = int(now)
        expires_in = max(1, min(SIGV4_MAX_EXPIRES_SECONDS, expires_at - signed_at))
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(signed_at))
        scope = f"{amz_date[:8]}/{self._region}/s3/aws4_request"
        query = (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={quote(self._access_key_id + '/' + scope, safe='~')}"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={expires_in}&X-Amz-SignedHeaders=host"
        )
        tail = f"\n{query}\nhost:{self._host}\n\nhost\nUNSIGNED-PAYLOAD".encode()
        head = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n".encode()
        key = self._signing_key(amz_date[:8])
        prefix = self._origin
        bucket_path = self._bucket_path

        def sign(object_key: str) -> str:
            path = bucket_path + "/" + quote(object_key, safe="/~")
            digest = hashlib.sha256(b"GET\n" + path.encode() + tail).hexdigest()
            signature = hmac.new(key, head + digest.encode(), hashlib.sha256).hexdigest()
            return f"{prefix}{path}?{query}&X-Amz-Signature={signature}"

        return sign


# ---- CloudFront canned-policy signed URLs ----------------------------------------------------

_CLOUDFRONT_BASE64 = str.maketrans("+=/", "-_~")


def load_rsa_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The CloudFront key from PEM text; a key of another kind is a configuration error."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("CLOUDFRONT_PRIVATE_KEY must be an RSA private key (CloudFront signs with RSA-SHA1)")
    return key


def canned_policy(url: str, expires_at: int) -> bytes:
    """CloudFront's canned policy for ``url``, exactly as CloudFront rebuilds it (no whitespace)."""
    return (
        '{"Statement":[{"Resource":"'
        + url
        + '","Condition":{"DateLessThan":{"AWS:EpochTime":'
        + str(expires_at)
        + "}}}]}"
    ).encode()


class CloudFrontSigner:
    """Signed URLs under S3_CDN_URL, one RSA signature per (URL, expiry), memoized."""

    MEMO_ENTRIES = 200_000

    def __init__(self, *, cdn_url: str, key_pair_id: str, private_key: rsa.RSAPrivateKey) -> None:
        self._cdn_url = cdn_url.rstrip("/")
        self._key_pair_id = key_pair_id
        self._key = private_key
        self._memo: dict[tuple[str, int], str] = {}

    def sign_url(self, url: str, expires_at: int) -> str:
        memo_key = (url, expires_at)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        signature = self._key.sign(canned_policy(url, expires_at), padding.PKCS1v15(), hashes.SHA1())
        encoded = base64.b64encode(signature).decode("ascii").translate(_CLOUDFRONT_BASE64)
        signed = f"{url}?Expires={expires_at}&Signature={encoded}&Key-Pair-Id={self._key_pair_id}"
        if len(self._memo) >= self.MEMO_ENTRIES:
            self._memo = {}  # whole windows expire together; starting over is simpler than LRU
        self._memo[memo_key] = signed
        return signed

    def signer(self, expires_at: int, now: float) -> Callable[[str], str]:
        """A function from object key to its CDN URL signed until ``expires_at``."""
        base = self._cdn_url
        return lambda object_key: self.sign_url(f"{base}/{quote(object_key, safe='/~')}", expires_at)


# ---- object storage -------------------------------------------------------------------------


class HlsStore:
    """Reads the transcoder's playlists from the bucket (server-side endpoint)."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._client: S3Client = s3_client(settings, timeout_seconds=10, max_pool_connections=32)

    async def read_text(self, key: str) -> str | None:
        """The object's text, or None when there is no such object."""

        def call() -> str | None:
            try:
                reply = self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING:
                    return None
                raise
            body: bytes = reply["Body"].read()
            return body.decode("utf-8", errors="replace")

        try:
            return await asyncio.to_thread(call)
        except (ClientError, BotoCoreError) as exc:
            log.warning("object storage read failed", extra={"error": str(exc)})
            raise errors.StorageUnavailable("object storage could not read the playlist: try again shortly") from exc


def s3_presigner(settings: Settings, endpoint_url: str | None) -> SigV4Presigner:
    """A presigner for ``endpoint_url`` (falling back to AWS's regional endpoint, path-style)."""
    endpoint = endpoint_url or f"https://s3.{settings.aws_region}.amazonaws.com"
    return SigV4Presigner(
        endpoint_url=endpoint,
        bucket=settings.s3_bucket,
        access_key_id=settings.aws_access_key_id,
        secret_access_key=settings.aws_secret_access_key,
        region=settings.aws_region,
    )


# ---- upload_svc: the catalog ------------------------------------------------------------------


_PLAYABLE_SOON = frozenset(
    {
        upload_pb2.VIDEO_STATUS_UPLOADED,
        upload_pb2.VIDEO_STATUS_QUEUED,
        upload_pb2.VIDEO_STATUS_TRANSCODING,
        upload_pb2.VIDEO_STATUS_READY,
    }
)
"""Uploaded and queued are included: upload_svc refreshes a video's status only when asked
about its upload, so the catalog may still say queued while the transcoder already
publishes segments. Whether there is something to play is decided by the master playlist."""

_NOT_FOUND_CODES = frozenset({grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT})


class Catalog:
    """upload_svc's GetVideo, called with the caller's own session token (it checks access itself)."""

    def __init__(self, address: str, timeout_seconds: float) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = upload_pb2_grpc.UploadServiceStub(self._channel)
        self._timeout = timeout_seconds

    async def video(self, video_id: str, metadata: Metadata) -> CatalogVideo:
        """The video as the caller may see it; VideoNotFound also for one the caller may not know of."""
        try:
            reply: Any = await self._stub.GetVideo(
                upload_pb2.GetVideoRequest(video_id=video_id), timeout=self._timeout, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code in _NOT_FOUND_CODES or code == grpc.StatusCode.PERMISSION_DENIED:
                raise errors.VideoNotFound("no such video: check the video_id") from None
            if code == grpc.StatusCode.UNAUTHENTICATED:
                raise InvalidSessionToken(exc.details() or "the session token is not valid") from None
            log.warning("catalog call failed", extra={"code": code.name, "error": exc.details()})
            raise errors.CatalogUnavailable("the video catalog did not answer: try again shortly") from None
        video = reply.video
        status = CatalogStatus.PLAYABLE_SOON if video.status in _PLAYABLE_SOON else CatalogStatus.NOT_PLAYABLE
        return CatalogVideo(str(video.video_id), str(video.organization_id), str(video.course_id), status)

    async def close(self) -> None:
        await self._channel.close(None)
