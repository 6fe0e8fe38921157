"""The upload engine: one local file into one video, as the pages do it, resumable.

Small files go with the presigned POST the server answers; large ones as a multipart upload
whose part URLs are presigned on demand (``POST .../uploads/{id}/parts``), sent straight to
the object store by a few threads at once, each part retried with backoff. The multipart
upload's id is kept in a resume record (:mod:`mediactl.resume`) until it completes, so after
Ctrl-C the same command asks the store what it holds (``GET .../parts``, ListParts) and sends
only the rest. Which method, the part size and the threshold are the server's choice.
"""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import httpx

from mediactl.client import Api, NetworkDown, Refused
from mediactl.output import Reporter, short_status
from mediactl.plan import Part, backoff_delays, missing_parts, parts_of, resume_key, stored_bytes
from mediactl.resume import ResumeRecords

API = "/api/v1/media"
MULTIPART = "UPLOAD_METHOD_MULTIPART"
CHUNK = 256 * 1024
PART_ATTEMPTS = 5
STORE_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
FINAL = {"VIDEO_STATUS_READY", "VIDEO_STATUS_FAILED", "VIDEO_STATUS_CANCELLED"}


class Stopped(Exception):
    """The run is being interrupted: part threads stop at their next chunk."""


class StoreFailed(Exception):
    """The object store refused a part or the form after every retry."""


@dataclass(frozen=True)
class Options:
    course: str = ""
    title: str = ""
    jobs: int = 4


@dataclass
class Uploaded:
    """What one file became: its video and upload ids."""

    path: Path
    video_id: str
    upload_id: str


def upload_path(upload_id: str, tail: str = "") -> str:
    return f"{API}/uploads/{quote(upload_id, safe='')}{tail}"


class Engine:
    """Uploads files through one :class:`Api`; ``stop`` is set when the person presses Ctrl-C."""

    def __init__(self, api: Api, records: ResumeRecords, report: Reporter, options: Options) -> None:
        self.api = api
        self.records = records
        self.report = report
        self.options = options
        self.stop = threading.Event()
        self.store = httpx.Client(timeout=STORE_TIMEOUT)

    def close(self) -> None:
        self.store.close()

    # ---- one file ---------------------------------------------------------------------------

    def upload(self, path: Path) -> Uploaded:
        info = path.stat()
        key = resume_key(str(path.resolve()), info.st_size, info.st_mtime_ns)
        record = self.records.get(key)
        if record:
            earlier = self._earlier(record)
            if earlier is not None:
                if earlier.get("status") != "VIDEO_STATUS_PENDING_UPLOAD":
                    self.records.drop(key)
                    return Uploaded(path, str(record["video_id"]), str(record["upload_id"]))
                self._send_parts(path, str(record["upload_id"]), int(earlier["part_size"]), info.st_size)
                return self._complete(path, key, str(record["upload_id"]), str(record["video_id"]))
            self.records.drop(key)
        created = self.api.call(
            "POST",
            f"{API}/presigned-upload",
            body={
                "filename": path.name,
                "content_type": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                "file_size": info.st_size,
                "course_id": self.options.course,
                "title": self.options.title or path.stem,
            },
        )
        upload_id, video_id = str(created["upload_id"]), str(created["video_id"])
        if created.get("method") == MULTIPART:
            self.records.put(
                key,
                {
                    "upload_id": upload_id,
                    "video_id": video_id,
                    "path": str(path.resolve()),
                    "size": info.st_size,
                    "mtime_ns": info.st_mtime_ns,
                },
            )
            self._send_parts(path, upload_id, int(created["part_size"]), info.st_size)
        else:
            self._send_form(path, created, info.st_size)
        return self._complete(path, key, upload_id, video_id)

    def _earlier(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The recorded upload as the server sees it now; None when it is gone or cannot continue."""
        try:
            upload: dict[str, Any] = self.api.call("GET", upload_path(str(record["upload_id"])))
        except Refused as refused:
            if refused.status in (403, 404, 410):
                return None
            raise
        if upload.get("status") == "VIDEO_STATUS_PENDING_UPLOAD" and upload.get("method") != MULTIPART:
            return None
        if upload.get("status") in ("VIDEO_STATUS_FAILED", "VIDEO_STATUS_CANCELLED"):
            return None
        return upload

    def _complete(self, path: Path, key: str, upload_id: str, video_id: str) -> Uploaded:
        reply = self.api.call("POST", upload_path(upload_id, "/complete"), body={})
        self.records.drop(key)
        if reply.get("status") in ("VIDEO_STATUS_FAILED", "VIDEO_STATUS_PENDING_UPLOAD"):
            upload = self.api.call("GET", upload_path(upload_id))
            raise Refused(422, str(upload.get("error_reason") or short_status(reply.get("status"))))
        self.report.uploaded(path.name, video_id)
        return Uploaded(path, video_id, upload_id)

    # ---- presigned POST ---------------------------------------------------------------------

    def _send_form(self, path: Path, created: dict[str, Any], size: int) -> None:
        self.report.sending(path.name, size, 0, 1, 1)
        for attempt, delay in enumerate([*backoff_delays(PART_ATTEMPTS), None], start=1):
            sent = Counter(self.report)
            try:
                with path.open("rb") as source:
                    response = self.store.post(
                        str(created["url"]),
                        data=dict(created.get("fields") or {}),
                        files={
                            "file": (
                                path.name,
                                cast(BinaryIO, Counting(source, sent, self.stop)),
                                "application/octet-stream",
                            )
                        },
                    )
                if response.is_success:
                    return
                why = f"HTTP {response.status_code}"
            except httpx.TransportError as error:
                why = type(error).__name__
            sent.undo()
            if delay is None:
                raise StoreFailed(f"{path.name}: the object store refused the file ({why}) after {attempt} tries")
            self.report.retrying(path.name, 1, delay, why)
            self._sleep(delay)

    # ---- multipart --------------------------------------------------------------------------

    def _stored_parts(self, upload_id: str) -> dict[int, int]:
        """ListParts, every page: part number → size of what the store holds."""
        stored: dict[int, int] = {}
        token = ""
        while True:
            page = self.api.call(
                "GET", upload_path(upload_id, "/parts"), query={"page_size": 1000, "page_token": token}
            )
            for part in page.get("parts") or []:
                stored[int(part["part_number"])] = int(part.get("size") or 0)
            token = page.get("next_page_token") or ""
            if not token:
                return stored

    def _send_parts(self, path: Path, upload_id: str, part_size: int, size: int) -> None:
        planned = parts_of(size, part_size)
        stored = self._stored_parts(upload_id)
        todo = missing_parts(planned, stored)
        self.report.sending(path.name, size, stored_bytes(planned, stored), len(planned), len(todo))
        if not todo:
            return
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.jobs), thread_name_prefix="part")
        futures: list[Future[None]] = []
        try:
            futures = [pool.submit(self._send_part, path, upload_id, part, len(planned)) for part in todo]
            while True:
                finished, pending = wait(futures, timeout=0.2, return_when=FIRST_EXCEPTION)
                for future in finished:
                    future.result()
                if not pending:
                    return
        except BaseException:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)

    def _send_part(self, path: Path, upload_id: str, part: Part, parts: int) -> None:
        for attempt, delay in enumerate([*backoff_delays(PART_ATTEMPTS), None], start=1):
            if self.stop.is_set():
                raise Stopped()
            signed = self.api.call("POST", upload_path(upload_id, "/parts"), body={"part_numbers": [part.number]})
            url = next(p["url"] for p in signed["parts"] if int(p["part_number"]) == part.number)
            sent = Counter(self.report)
            try:
                with path.open("rb") as source:
                    response = self.store.put(
                        url,
                        content=chunks(source, part, sent, self.stop),
                        headers={"Content-Length": str(part.size)},
                    )
                if response.is_success:
                    self.report.part_sent(path.name, part.number, parts)
                    return
                why = f"HTTP {response.status_code}"
            except httpx.TransportError as error:
                why = type(error).__name__
            sent.undo()
            if delay is None:
                raise StoreFailed(f"{path.name}: part {part.number} failed ({why}) after {attempt} tries")
            self.report.retrying(path.name, part.number, delay, why)
            self._sleep(delay)

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped()

    # ---- transcoding ------------------------------------------------------------------------

    def follow(self, uploaded: Uploaded) -> dict[str, Any]:
        """Follow the upload's server-sent events to a final status; the video as it ends."""
        name = uploaded.path.name
        self.report.transcoding(name)
        try:
            for event, data in self.api.events(upload_path(uploaded.upload_id, "/events")):
                if event == "progress" and isinstance(data, dict) and data.get("job"):
                    job = data["job"]
                    self.report.transcode_progress(
                        int(job.get("progress_percent") or 0), short_status(job.get("status"))
                    )
                elif event == "error":
                    message = (data.get("error") or {}).get("message") if isinstance(data, dict) else ""
                    raise Refused(502, str(message or "the progress stream failed"))
                elif event == "end":
                    break
        finally:
            self.report.done()
        video: dict[str, Any] = self.api.call("GET", f"{API}/videos/{quote(uploaded.video_id, safe='')}")["video"]
        return video


class Counter:
    """Bytes of one attempt, reported as they go and taken back if the attempt fails."""

    def __init__(self, report: Reporter) -> None:
        self.report = report
        self.total = 0

    def add(self, count: int) -> None:
        self.total += count
        self.report.sent_bytes(count)

    def undo(self) -> None:
        if self.total:
            self.report.sent_bytes(-self.total)
            self.total = 0


def chunks(source: BinaryIO, part: Part, sent: Counter, stop: threading.Event) -> Iterator[bytes]:
    """The part's bytes in :data:`CHUNK` pieces, counted, stopping when the run is interrupted."""
    source.seek(part.offset)
    left = part.size
    while left > 0:
        if stop.is_set():
            raise Stopped()
        piece = source.read(min(CHUNK, left))
        if not piece:
            raise OSError("the file got shorter while it was being uploaded")
        left -= len(piece)
        sent.add(len(piece))
        yield piece


class Counting:
    """A file object whose reads are counted (httpx reads the form's file through ``read``)."""

    def __init__(self, source: BinaryIO, sent: Counter, stop: threading.Event) -> None:
        self.source = source
        self.sent = sent
        self.stop = stop

    def read(self, size: int = -1) -> bytes:
        if self.stop.is_set():
            raise Stopped()
        piece = self.source.read(size)
        self.sent.add(len(piece))
        return piece

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.source.seek(offset, whence)

    def tell(self) -> int:
        return self.source.tell()


__all__ = ["Engine", "NetworkDown", "Options", "StoreFailed", "Uploaded"]
