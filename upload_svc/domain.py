"""The upload service's rules, as plain data and functions with no I/O.

What a browser may declare and how it must send it (types, sizes, names, single request
or S3 multipart and the part plan), who may touch which upload or video, how statuses
move, what makes a probed file a video (ffprobe's output itself is read by
:mod:`service_kit.ffprobe`, the one reader transcode_svc uses too), and how list pages
are tokened. The servicer feeds these from the request, the store and the adapters, so
every rule is tested as a plain call.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from service_kit import ffprobe
from service_kit.auth import SessionClaims
from service_kit.errors import FieldViolation
from upload_svc import errors

MIB = 1024 * 1024
GIB = 1024 * MIB
S3_MIN_PART_BYTES = 5 * MIB
"""Every part but the last must be at least this big, or S3 refuses to assemble them."""
S3_MAX_PART_BYTES = 5 * GIB
S3_MAX_PARTS = 10_000
MAX_PARTS_PER_PRESIGN = 100
"""A browser asks for the next few part URLs as it goes; a 5 TB file never needs 10,000 at once."""
MAX_FILENAME_LENGTH = 200
MAX_TITLE_LENGTH = 200
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PARTS_PAGE_SIZE = 1000
UNTITLED = "Untitled video"

VIDEO_TYPE_BY_EXTENSION: Mapping[str, str] = {
    ".3g2": "video/3gpp2",
    ".3gp": "video/3gpp",
    ".asf": "video/x-ms-asf",
    ".avi": "video/x-msvideo",
    ".flv": "video/x-flv",
    ".m2ts": "video/mp2t",
    ".m4v": "video/x-m4v",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".mp4": "video/mp4",
    ".mpeg": "video/mpeg",
    ".mpg": "video/mpeg",
    ".mts": "video/mp2t",
    ".ogv": "video/ogg",
    ".qt": "video/quicktime",
    ".ts": "video/mp2t",
    ".vob": "video/mpeg",
    ".webm": "video/webm",
    ".wmv": "video/x-ms-wmv",
}
"""Extensions of the containers FFmpeg reads that cameras, phones, screen recorders and
browsers write, each with its registered (or customary) media type. The extension decides
whether a declaration is accepted; ffprobe decides, at complete, whether the bytes are video."""

ALLOWED_EXTENSIONS = frozenset(VIDEO_TYPE_BY_EXTENSION)

_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
"""RFC 6838 4.2: ``type/subtype`` of restricted names (after lowercasing)."""


class VideoStatus(StrEnum):
    """Where a video stands; the values are the words of the public contract."""

    PENDING_UPLOAD = "pending_upload"
    UPLOADED = "uploaded"
    QUEUED = "queued"
    TRANSCODING = "transcoding"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"


class UploadMethod(StrEnum):
    """How the browser sends the source: one presigned POST form, or S3 multipart."""

    POST = "post"
    MULTIPART = "multipart"


TRANSITIONS: Mapping[VideoStatus, frozenset[VideoStatus]] = {
    VideoStatus.PENDING_UPLOAD: frozenset({VideoStatus.UPLOADED, VideoStatus.FAILED, VideoStatus.CANCELLED}),
    VideoStatus.UPLOADED: frozenset({VideoStatus.QUEUED, VideoStatus.TRANSCODING, VideoStatus.FAILED}),
    VideoStatus.QUEUED: frozenset(
        {VideoStatus.TRANSCODING, VideoStatus.READY, VideoStatus.FAILED, VideoStatus.CANCELLED}
    ),
    VideoStatus.TRANSCODING: frozenset({VideoStatus.READY, VideoStatus.FAILED, VideoStatus.CANCELLED}),
    VideoStatus.READY: frozenset(),
    VideoStatus.FAILED: frozenset(),
    VideoStatus.CANCELLED: frozenset(),
}
"""Statuses only move forward; READY, FAILED and CANCELLED are final."""


def can_transition(current: VideoStatus, target: VideoStatus) -> bool:
    """Whether a video may move from ``current`` to ``target`` (staying put always may)."""
    return target == current or target in TRANSITIONS[current]


@dataclass(frozen=True)
class TranscodeState:
    """transcode_svc's job for a video, and the video status that job implies."""

    job_id: str
    status: VideoStatus
    progress: int


def refuse_unless_pending(status: VideoStatus, error_reason: str | None) -> None:
    """Raise the error a caller of a pending-only call (presign, list parts, complete) should see."""
    if status == VideoStatus.PENDING_UPLOAD:
        return
    if status == VideoStatus.CANCELLED:
        raise errors.UploadCancelled("the upload was cancelled or expired: start a new upload")
    if status == VideoStatus.FAILED:
        raise errors.UploadRejected(error_reason or "the upload failed: start a new upload")
    raise errors.UploadNotPending(f"the upload is already complete (status {status.value}): it takes no more bytes")


def progress_percent(status: VideoStatus, transcode_progress: int = 0) -> int:
    """0-100 for a progress bar: transcoding progress while it runs, 100 once playable."""
    if status == VideoStatus.READY:
        return 100
    if status == VideoStatus.TRANSCODING:
        return max(0, min(99, transcode_progress))
    return 0


# ---- what the browser declares -------------------------------------------------------------


@dataclass(frozen=True)
class UploadLimits:
    """Sizes from settings: the largest file, where multipart starts, and the preferred part."""

    max_upload_bytes: int
    multipart_threshold_bytes: int
    multipart_part_bytes: int


@dataclass(frozen=True)
class DeclaredFile:
    """A declaration that passed every check: a clean name, a plain media type, a size, a title."""

    filename: str
    content_type: str
    file_size: int
    title: str


_UNSAFE_FILENAME_CHARACTERS = re.compile(r'[<>:"|?*]')
_WHITESPACE = re.compile(r"\s+")


def sanitize_filename(raw: str) -> str:
    """The file's own name, safe to store, show and put in a header; "" when nothing is left.

    Drops any directory part (browsers on Windows send ``C:\\...``), control and
    formatting characters (a right-to-left override can disguise ``exe.mp4``),
    characters Windows forbids, runs of whitespace and leading dots, and shortens long
    names while keeping the extension.
    """
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = _UNSAFE_FILENAME_CHARACTERS.sub("_", name)
    name = _WHITESPACE.sub(" ", name).strip().lstrip(".").strip()
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_FILENAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:MAX_FILENAME_LENGTH].rstrip()
    return name


def extension_of(filename: str) -> str:
    """The lowercased extension with its dot, or "" when the name has none."""
    stem, dot, extension = filename.rpartition(".")
    return f".{extension.lower()}" if dot and stem and extension else ""


def title_from_filename(filename: str) -> str:
    """A readable default title: the name without its extension, underscores as spaces."""
    stem = filename[: -len(extension_of(filename))] if extension_of(filename) else filename
    return clean_title(stem.replace("_", " ")) or UNTITLED


def clean_title(title: str) -> str:
    """A title on one line, without control characters, at most MAX_TITLE_LENGTH characters."""
    spaced = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", title))
    text = "".join(ch for ch in spaced if unicodedata.category(ch) not in ("Cc", "Cf"))
    return _WHITESPACE.sub(" ", text).strip()[:MAX_TITLE_LENGTH].rstrip()


def normalize_content_type(raw: str) -> str:
    """The bare media type, lowercased: ``Video/MP4; codecs=avc1`` is ``video/mp4``."""
    return raw.split(";", 1)[0].strip().lower()


def declared_media_type(filename: str, content_type: str) -> str | None:
    """The media type an upload is recorded, presigned and stored with; None if it is not one.

    A browser's ``File.type`` is its guess from the extension (its own table, then the
    operating system's registry), so it says nothing the extension does not, and where
    the two disagree the registry is what is wrong: ``video/avi`` and ``video/mov`` for
    what IANA calls ``video/x-msvideo`` and ``video/quicktime``, an empty type for
    ``.mkv`` on a machine without a Matroska player, Qt Linguist's ``text/...`` for
    ``.ts``. So any well-formed type is kept as the browser sent it (lowercased, without
    parameters), because the browser will POST that same type and the presigned
    policy pins it; an empty one becomes the extension's type
    (:data:`VIDEO_TYPE_BY_EXTENSION`). Whether the bytes are video is ffprobe's call.
    """
    media_type = normalize_content_type(content_type)
    if not media_type:
        return VIDEO_TYPE_BY_EXTENSION.get(extension_of(filename), "application/octet-stream")
    return media_type if _MEDIA_TYPE.fullmatch(media_type) else None


def validate_declaration(
    *, filename: str, content_type: str, file_size: int, limits: UploadLimits, title: str = ""
) -> DeclaredFile:
    """Check every declared field at once and say, per field, what to fix."""
    violations: list[FieldViolation] = []
    clean_name = sanitize_filename(filename)
    if not clean_name:
        violations.append(FieldViolation("filename", "give the file's name, e.g. lecture-1.mp4"))
    elif extension_of(clean_name) not in ALLOWED_EXTENSIONS:
        violations.append(
            FieldViolation(
                "filename",
                f"{clean_name!r} does not end in a video extension: use one of {', '.join(sorted(ALLOWED_EXTENSIONS))}",
            )
        )
    media_type = declared_media_type(clean_name, content_type)
    if media_type is None:
        violations.append(
            FieldViolation(
                "content_type",
                f"{normalize_content_type(content_type)!r} is not a media type: send the file's type as the "
                "browser reports it (e.g. video/mp4), or leave it empty",
            )
        )
    if file_size <= 0:
        violations.append(FieldViolation("file_size", "the file is empty: choose a video file with content"))
    elif file_size > limits.max_upload_bytes:
        violations.append(
            FieldViolation(
                "file_size",
                f"{file_size} bytes is more than the largest upload allowed, {limits.max_upload_bytes} bytes "
                f"({_human_bytes(limits.max_upload_bytes)}): compress or split the video",
            )
        )
    if violations:
        detail = "; ".join(f"{v.field}: {v.description}" for v in violations)
        raise errors.InvalidUpload(f"the upload cannot be accepted: {detail}", violations=tuple(violations))
    chosen_title = clean_title(title) or title_from_filename(clean_name)
    assert media_type is not None
    return DeclaredFile(filename=clean_name, content_type=media_type, file_size=file_size, title=chosen_title)


def _human_bytes(size: int) -> str:
    for unit, factor in (("GiB", GIB), ("MiB", MIB)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


# ---- how the browser sends it ---------------------------------------------------------------


@dataclass(frozen=True)
class UploadPlan:
    """One request for small files; otherwise parts of ``part_size`` (the last one shorter)."""

    method: UploadMethod
    file_size: int
    part_size: int = 0
    part_count: int = 0

    def part_bytes(self, part_number: int) -> int:
        """Exact size of one part: every part is ``part_size`` but the last, which holds the rest."""
        if not 1 <= part_number <= self.part_count:
            raise ValueError(f"part {part_number} is outside 1..{self.part_count}")
        if part_number < self.part_count:
            return self.part_size
        return self.file_size - self.part_size * (self.part_count - 1)


def plan_upload(file_size: int, limits: UploadLimits) -> UploadPlan:
    """Choose single or multipart, and for multipart the part size within S3's limits.

    The preferred part size is used unless 10,000 parts of it cannot hold the file;
    then parts grow, in whole MiB, just enough. Parts stay at least 5 MiB (S3's minimum
    for all but the last) and at most 5 GiB.
    """
    if file_size <= limits.multipart_threshold_bytes:
        return UploadPlan(UploadMethod.POST, file_size)
    needed = math.ceil(math.ceil(file_size / S3_MAX_PARTS) / MIB) * MIB
    part_size = max(S3_MIN_PART_BYTES, limits.multipart_part_bytes, needed)
    if part_size > S3_MAX_PART_BYTES:
        raise errors.InvalidUpload(
            f"{file_size} bytes needs parts larger than S3's 5 GiB limit: the file is too large",
            violations=(FieldViolation("file_size", "the file is larger than object storage can hold"),),
        )
    return UploadPlan(UploadMethod.MULTIPART, file_size, part_size, math.ceil(file_size / part_size))


def check_part_numbers(numbers: Sequence[int], plan: UploadPlan) -> tuple[int, ...]:
    """The requested part numbers, each in 1..part_count, without repeats, at most 100."""
    if not numbers:
        raise errors.InvalidPartNumbers(
            "part_numbers is empty: name the parts to presign, e.g. [1, 2, 3]",
            violations=(FieldViolation("part_numbers", "name at least one part"),),
        )
    if len(numbers) > MAX_PARTS_PER_PRESIGN:
        raise errors.InvalidPartNumbers(
            f"{len(numbers)} parts in one request: ask for at most {MAX_PARTS_PER_PRESIGN} at a time",
            violations=(FieldViolation("part_numbers", f"at most {MAX_PARTS_PER_PRESIGN} parts per request"),),
        )
    outside = sorted({n for n in numbers if not 1 <= n <= plan.part_count})
    if outside:
        raise errors.InvalidPartNumbers(
            f"part numbers {_number_list(outside)} are outside 1..{plan.part_count}",
            violations=(FieldViolation("part_numbers", f"use numbers from 1 to {plan.part_count}"),),
        )
    if len(set(numbers)) != len(numbers):
        raise errors.InvalidPartNumbers(
            "part_numbers repeats a part: name each part once",
            violations=(FieldViolation("part_numbers", "name each part once"),),
        )
    return tuple(numbers)


@dataclass(frozen=True)
class StoredPart:
    """A part object storage holds, as ListParts reports it."""

    part_number: int
    size: int
    etag: str


def check_parts_complete(stored: Sequence[StoredPart], plan: UploadPlan, claimed: Mapping[int, str]) -> None:
    """Before assembling: every part present, each of its planned size, matching any claimed ETags.

    Nothing here is final: the browser re-sends the named parts and completes again.
    """
    if not stored:
        raise errors.SourceNotUploaded(
            "no part of the file has been uploaded yet: PUT the parts to their presigned URLs, then complete"
        )
    by_number = {part.part_number: part for part in stored}
    missing = [n for n in range(1, plan.part_count + 1) if n not in by_number]
    if missing:
        raise errors.SourceNotUploaded(
            f"parts {_number_list(missing)} of {plan.part_count} are not uploaded yet: PUT them, then complete again",
            metadata={"missing_parts": ",".join(map(str, missing))},
        )
    wrong = [n for n in range(1, plan.part_count + 1) if by_number[n].size != plan.part_bytes(n)]
    if wrong:
        raise errors.PartsMismatch(
            f"parts {_number_list(wrong)} do not have their planned size: upload them again from the file",
            metadata={"wrong_parts": ",".join(map(str, wrong))},
        )
    differing = [
        n for n, etag in sorted(claimed.items()) if n not in by_number or _etag(by_number[n].etag) != _etag(etag)
    ]
    if differing:
        raise errors.PartsMismatch(
            f"parts {_number_list(differing)} differ from what object storage holds: upload them again, "
            "or complete without listing parts"
        )


def _etag(value: str) -> str:
    return value.strip().strip('"')


def _number_list(numbers: Iterable[int]) -> str:
    shown = list(numbers)
    text = ", ".join(map(str, shown[:20]))
    return text + (f" and {len(shown) - 20} more" if len(shown) > 20 else "")


def check_stored_object(size: int, content_type: str, declared_size: int, declared_type: str) -> None:
    """After assembling: the object is the declared size and type, or the upload fails for good."""
    if size != declared_size:
        raise errors.UploadRejected(
            f"the stored file has {size} bytes but {declared_size} were declared: "
            "start a new upload with the right file"
        )
    if normalize_content_type(content_type) != declared_type:
        raise errors.UploadRejected(
            f"the stored file's type is {content_type!r} but {declared_type!r} was declared: "
            "start a new upload with the right type"
        )


# ---- who may do what ------------------------------------------------------------------------


def course_for_new_upload(caller: SessionClaims, requested_course: str) -> str:
    """The course a new upload goes to: the session's, unless an administrator names another."""
    if not caller.manages_course:
        raise errors.NotCourseStaff("only instructors of the course may upload videos")
    course = requested_course.strip() or caller.course_id
    if not course:
        raise errors.NoCourse(
            "no course: launch the tool from a course, or give course_id",
            violations=(FieldViolation("course_id", "name the course the video belongs to"),),
        )
    if course != caller.course_id and not caller.is_administrator:
        raise errors.NotCourseStaff("you may upload only to the course of your session")
    return course


def ensure_manages(caller: SessionClaims, organization_id: str, course_id: str, *, what: str = "upload") -> None:
    """Instructors of the course (and the organization's administrators) manage its uploads and videos.

    Another organization's resource is reported as missing, so its existence never leaks.
    """
    if organization_id != caller.organization_id:
        raise _not_found(what)
    if caller.is_administrator:
        return
    if not caller.manages_course:
        raise errors.NotCourseStaff(f"only instructors of the course may change this {what}")
    if course_id != caller.course_id:
        raise errors.NotCourseStaff(f"this {what} belongs to another course than your session's")


def may_see_video(caller: SessionClaims, organization_id: str, course_id: str, published: bool) -> bool:
    """Staff see their course's videos; learners only its published ones; nobody another organization's."""
    if organization_id != caller.organization_id:
        return False
    if caller.is_administrator:
        return True
    if course_id != caller.course_id:
        return False
    return caller.manages_course or published


def ensure_sees_video(caller: SessionClaims, organization_id: str, course_id: str, published: bool) -> None:
    if not may_see_video(caller, organization_id, course_id, published):
        raise _not_found("video")


@dataclass(frozen=True)
class VideoListing:
    """Which course to list, and whether only published videos show."""

    course_id: str
    published_only: bool


def listing_for(caller: SessionClaims, requested_course: str) -> VideoListing:
    """The course's videos: all of them for its staff, the published ones for its learners."""
    course = requested_course.strip() or caller.course_id
    if not course:
        raise errors.NoCourse(
            "no course: launch the tool from a course, or give course_id",
            violations=(FieldViolation("course_id", "name the course to list"),),
        )
    if caller.is_administrator:
        return VideoListing(course, published_only=False)
    if course != caller.course_id:
        raise errors.NotCourseStaff("you may list only the videos of your session's course")
    return VideoListing(course, published_only=not caller.manages_course)


def _not_found(what: str) -> errors.UploadError:
    if what == "video":
        return errors.VideoNotFound("no such video: check the video_id")
    return errors.UploadNotFound("no such upload: check the upload_id")


# ---- updates --------------------------------------------------------------------------------

UPDATABLE_FIELDS = frozenset({"title", "published"})


def fields_to_update(mask_paths: Sequence[str], title: str, published: bool) -> dict[str, object]:
    """The changes to apply, from update_mask or, when it is empty, from the populated fields (AIP-134)."""
    paths = list(mask_paths)
    if not paths:
        paths = [name for name, value in (("title", title), ("published", published)) if value]
    if not paths:
        raise errors.InvalidUpdate(
            "nothing to change: send a title or published, and name them in update_mask (e.g. ?update_mask=published)",
            violations=(FieldViolation("update_mask", "name the fields to change: title, published"),),
        )
    refused = sorted(set(paths) - UPDATABLE_FIELDS)
    if refused:
        raise errors.InvalidUpdate(
            f"{', '.join(refused)} cannot be changed: update_mask may name only title and published",
            violations=tuple(FieldViolation("update_mask", f"{path} cannot be changed") for path in refused),
        )
    changes: dict[str, object] = {}
    if "title" in paths:
        cleaned = clean_title(title)
        if not cleaned:
            raise errors.InvalidUpdate(
                "the title is empty: give the video a title",
                violations=(FieldViolation("video.title", "give a non-empty title"),),
            )
        changes["title"] = cleaned
    if "published" in paths:
        changes["published"] = published
    return changes


# ---- probing --------------------------------------------------------------------------------

ProbeFacts = ffprobe.MediaFacts
"""The facts of an accepted video, as stored in ``upload.videos`` and handed to transcode_svc.

They are the reader's facts themselves (:class:`service_kit.ffprobe.MediaFacts`):
accepting a video adds a verdict, not a meaning, so there is nothing of upload_svc's
own to carry beside them."""


def video_facts(report: ffprobe.Report) -> ProbeFacts:
    """The facts of a probed file if we take it as a video; else UploadRejected saying why not.

    A file needs a video stream (cover art, as in an MP3 with an album image, is not
    one: such a file has nothing to play), a length (declared, or measured from its
    packets when it declares none: :attr:`service_kit.ffprobe.Report.needs_measured_duration`)
    and a picture size. Everything else (codecs, rotation, HDR, interlacing) is the
    transcoder's to handle, never a reason to refuse.
    """
    if not report.has_video:
        raise errors.UploadRejected("the file has no video stream (audio only, or not a video): upload a video file")
    facts = report.facts
    if facts.duration_seconds <= 0:
        raise errors.UploadRejected("the video has zero duration: upload a video that plays")
    if facts.width <= 0 or facts.height <= 0:
        raise errors.UploadRejected("the video stream has no picture size: the file may be damaged")
    if report.is_still_image:
        raise errors.UploadRejected("the file is a single still picture, not a video: upload a video that plays")
    if max(facts.width, facts.height) > MAX_PICTURE_SIDE:
        raise errors.UploadRejected(
            f"the picture is {facts.width}x{facts.height}, larger than {MAX_PICTURE_SIDE} pixels on a side: "
            "export the video at 4K (3840x2160) or smaller"
        )
    return facts


MAX_PICTURE_SIDE = 8192
"""The widest or tallest picture taken: 8K cameras write 7680 or 8192, H.264's and HEVC's top levels 8192.

A file declaring more is a decompression bomb (an MJPEG or H.264 header saying
16000x16000 makes each decoded frame 384 MB) or nothing a lecture needs; the
transcoder would decode every frame at that size before scaling it down.
"""

LEAST_BITS_PER_SECOND = 1000
"""Below this average (125 bytes a second), a declared length is checked against the packets.

Even a silent, still slide in H.264 costs more: a file of a few kilobytes that
declares ten hours has had its header altered or damaged, and the transcoder's
timeouts, the catalog and the progress bar would all believe it.
"""

LENGTH_TOLERANCE = 0.5
"""The packets must cover at least this share of a suspiciously small file's declared length."""


def needs_length_check(size: int, declared_seconds: float) -> bool:
    """Whether a file is too small for the length it declares (:data:`LEAST_BITS_PER_SECOND`)."""
    return size > 0 and declared_seconds > 0 and size * 8 / declared_seconds < LEAST_BITS_PER_SECOND


def check_declared_length(declared_seconds: float, measured_seconds: float) -> None:
    """Refuse a file whose packets last far less than its header says; the packets' length is the truth."""
    if measured_seconds < declared_seconds * LENGTH_TOLERANCE:
        raise errors.UploadRejected(
            f"the file declares {_human_seconds(declared_seconds)} but its media lasts "
            f"{_human_seconds(measured_seconds)}: its header is damaged, export the video again"
        )


def _human_seconds(seconds: float) -> str:
    """``10 h 0 min``, ``3 min 20 s``, ``1.0 s``: lengths as a person reads them."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{seconds:.1f} s"


MATROSKA_CLUSTER_ID = b"\x1f\x43\xb6\x75"
"""EBML ID of a Matroska Cluster, the element that holds the packets of a few seconds."""


def matroska_header(head: bytes) -> bytes | None:
    """The bytes before the first Cluster (EBML header, Segment, Info, Tracks); None if ``head`` has no Cluster."""
    at = head.find(MATROSKA_CLUSTER_ID)
    return head[:at] if at > 0 else None


def matroska_clusters(tail: bytes) -> bytes | None:
    """``tail`` from its first Cluster on (the last packets of the file); None if it holds no Cluster start.

    Joined after :func:`matroska_header`, this is a short Matroska file that FFmpeg
    demuxes with the original timestamps (a Cluster's timestamp is absolute), so the
    last packet's end is found by reading the two ends of a file, not all of it. Four
    bytes of compressed data that happen to spell the ID only make the demuxer resync.
    """
    at = tail.find(MATROSKA_CLUSTER_ID)
    return tail[at:] if at >= 0 else None


def unreadable(detail: str) -> errors.UploadRejected:
    """The failure of a file ffprobe cannot open at all (a text file named .mp4, a truncated file)."""
    suffix = f" ({detail})" if detail else ""
    return errors.UploadRejected(f"the file could not be read as a video{suffix}: upload a video file")


# ---- pages ----------------------------------------------------------------------------------


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """0 means the default; above the maximum is capped (AIP-158); negative is refused."""
    if requested < 0:
        raise errors.InvalidPageToken(
            "page_size is negative: give a number from 1 to " + str(maximum),
            violations=(FieldViolation("page_size", f"use 1 to {maximum}, or 0 for {default}"),),
        )
    return min(requested or default, maximum)


@dataclass(frozen=True)
class VideoCursor:
    """Where the previous page of a course's videos ended (newest first: created_at, then id)."""

    course_id: str
    created_at: datetime
    video_id: str


def encode_video_cursor(cursor: VideoCursor) -> str:
    raw = json.dumps({"c": cursor.course_id, "t": cursor.created_at.isoformat(), "v": cursor.video_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_video_cursor(token: str, course_id: str) -> VideoCursor:
    """The cursor in a token this service issued for this same course's listing."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor = VideoCursor(str(data["c"]), datetime.fromisoformat(str(data["t"])), str(data["v"]))
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise _bad_token() from None
    if cursor.course_id != course_id:
        raise _bad_token()
    return cursor


def encode_part_marker(marker: int) -> str:
    return base64.urlsafe_b64encode(f"part:{marker}".encode()).decode().rstrip("=")


def decode_part_marker(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, number = text.partition(":")
        marker = int(number)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_token() from None
    if kind != "part" or marker < 0:
        raise _bad_token()
    return marker


def _bad_token() -> errors.InvalidPageToken:
    return errors.InvalidPageToken(
        "page_token is not one this listing issued: pass next_page_token from the previous page unchanged",
        violations=(FieldViolation("page_token", "use the next_page_token of the previous response"),),
    )


# ---- object keys ----------------------------------------------------------------------------


def source_key(organization_id: str, video_id: str) -> str:
    """``uploads/{org}/{video_id}/source`` (DESIGN.md, Object layout)."""
    return f"uploads/{organization_id}/{video_id}/source"


POSTER_URL_SECONDS = 3600
"""How long a poster URL in a catalog reply stays valid: longer than a page stays open unreloaded, mostly."""


def poster_key(video_id: str) -> str:
    """Where transcoding writes the video's poster (DESIGN.md's object layout: ``hls/{video_id}/poster.jpg``)."""
    return f"hls/{video_id}/poster.jpg"


def video_prefixes(organization_id: str, video_id: str) -> tuple[str, ...]:
    """Every prefix holding objects of one video: its source and its HLS output."""
    return (f"uploads/{organization_id}/{video_id}/", f"hls/{video_id}/")


# ---- the catalog's records ------------------------------------------------------------------


@dataclass
class Video:
    """One catalog entry as the use cases read and change it (the store maps it to ``upload.videos``).

    Mutable on purpose: a use case records a probe, a transcode state or a failure on it
    and hands it back to the unit of work, which writes it when the step commits.
    """

    id: uuid.UUID
    organization_id: str
    course_id: str
    owner_id: str
    title: str
    status: VideoStatus
    published: bool
    source_key: str
    content_type: str
    file_size: int
    created_at: datetime
    updated_at: datetime
    probe: ProbeFacts | None = None
    error_reason: str | None = None
    transcode_job_id: str | None = None
    transcode_progress: int = 0
    uploaded_at: datetime | None = None
    """When the source was verified: the hand-off to transcode_svc is owed from then on."""

    def record_transcode(self, job: TranscodeState | None) -> None:
        """Record transcode_svc's answer; without one the video stays where it is (UPLOADED: hand-off owed)."""
        if job is None or not can_transition(self.status, job.status):
            return
        self.transcode_job_id = job.job_id
        self.status = job.status
        self.transcode_progress = job.progress


@dataclass
class Upload:
    """How one video's source is (or was) sent; multipart uploads carry their plan and S3 upload id."""

    id: uuid.UUID
    video_id: uuid.UUID
    organization_id: str
    owner_id: str
    method: UploadMethod
    filename: str
    content_type: str
    file_size: int
    part_size: int
    part_count: int
    s3_upload_id: str | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None

    @property
    def plan(self) -> UploadPlan:
        return UploadPlan(self.method, self.file_size, self.part_size, self.part_count)


@dataclass(frozen=True)
class PresignedPost:
    """Where and what to POST: the form fields go before the file."""

    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str


@dataclass(frozen=True)
class PartsPage:
    parts: tuple[StoredPart, ...]
    next_marker: int | None
