"""LTI Advantage for a course's staff: its roster (Names and Roles), gradebook columns and scores (AGS).

Each method checks, in this order, that the caller is staff of the course (or a service
of the organization), that the course was launched from its platform (which is how the
tool learns the course's service URLs), that the platform offered the service, and only
then asks the platform for an access token and calls it. A line item of another
organization answers exactly like a missing one. Refusals of the platform keep its own
words, so an administrator sees what to change in the LMS.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from lti_svc import domain, errors
from lti_svc.use_cases.ports import AccessTokens, BearerSource, Clock, Conflict, Gradebook, Rosters, UnitOfWorkFactory
from service_kit.auth import SessionClaims

log = logging.getLogger(__name__)

DEFAULT_ROSTER_PAGE = 100
MAX_ROSTER_PAGE = 1000
DEFAULT_SCORE_MAXIMUM = 100.0
GRADE_SCOPES = (domain.SCOPE_AGS_LINEITEM, domain.SCOPE_AGS_SCORE)


@dataclass(frozen=True)
class MemberPage:
    members: list[domain.Member]
    next_page_token: str


@dataclass(frozen=True)
class NewScore:
    """One learner's score as the request gives it; progress in the AGS words, ``timestamp`` None for now."""

    user_id: str
    score_given: float
    score_maximum: float
    """0 takes the line item's maximum."""
    comment: str
    activity_progress: str
    grading_progress: str
    timestamp: datetime | None


@dataclass(frozen=True)
class ScoreFailure:
    user_id: str
    reason: str


@dataclass(frozen=True)
class PublishedScores:
    accepted_count: int
    failures: list[ScoreFailure]


class CourseServices:
    """The roster and grade use cases over their ports; one per process, shared by every RPC."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        tokens: AccessTokens,
        rosters: Rosters,
        gradebook: Gradebook,
        clock: Clock = time.time,
    ) -> None:
        self._uow = uow
        self._tokens = tokens
        self._rosters = rosters
        self._gradebook = gradebook
        self._clock = clock

    async def _course(self, caller: SessionClaims, course_id: str) -> tuple[domain.CourseLink, domain.Registration]:
        """The course's link and registration, for its staff only; CourseNotLinked before its first launch."""
        if not course_id:
            raise errors.CourseNotLinked("course_id is required")
        domain.require_course_staff(caller, course_id)
        async with self._uow() as work:
            link = await work.courses.link(caller.organization_id, course_id)
            record = await work.registrations.get(link.registration_id) if link is not None else None
            if link is None or record is None:
                raise errors.CourseNotLinked(
                    f"course {course_id!r} has not been launched from its LMS yet: launch the tool from the course once"
                )
            deployments = await work.registrations.deployments([record.id])
        return link, domain.launch_registration(record, deployments[record.id])

    def _bearer(self, registration: domain.Registration, scopes: list[str]) -> BearerSource:
        async def fetch() -> str:
            return await self._tokens.token(registration, scopes, now=int(self._clock()))

        return fetch

    async def members(
        self, caller: SessionClaims, course_id: str, *, role: str, page_size: int, page_token: str
    ) -> MemberPage:
        """The course's roster (optionally those with one role), a page at a time."""
        size = domain.page_size(page_size, default=DEFAULT_ROSTER_PAGE, maximum=MAX_ROSTER_PAGE)
        offset = domain.decode_offset(page_token) if page_token else 0
        link, registration = await self._course(caller, course_id)
        if not link.nrps_url:
            raise errors.ServiceNotOffered(
                "the platform did not offer Names and Roles for this course: enable the tool's roster access in the LMS"
            )
        members = await self._rosters.members(link.nrps_url, self._bearer(registration, [domain.SCOPE_NRPS]))
        if role:
            members = [m for m in members if role in m.roles]
        page = members[offset : offset + size]
        next_token = domain.encode_offset(offset + size) if offset + size < len(members) else ""
        return MemberPage(page, next_token)

    async def create_line_item(
        self, caller: SessionClaims, course_id: str, live_session_id: str, *, label: str, score_maximum: float
    ) -> domain.LineItemRecord:
        """The live session's gradebook column: the one made already, or one found or made on the platform.

        A column an earlier attempt made on the platform (tagged with the live session) is
        found rather than made twice; two requests at once end with the same column.
        """
        if not live_session_id:
            raise errors.InvalidScore("live_session_id is required: one gradebook column per live session")
        maximum = score_maximum or DEFAULT_SCORE_MAXIMUM
        resource_id = f"live-session:{live_session_id}"
        document = domain.line_item_document(
            label=label, score_maximum=maximum, resource_id=resource_id, tag="attendance"
        )
        link, registration = await self._course(caller, course_id)
        async with self._uow() as work:
            existing = await work.line_items.for_session(caller.organization_id, course_id, live_session_id)
        if existing is not None:
            return existing
        if not link.ags_lineitems_url or domain.SCOPE_AGS_LINEITEM not in link.ags_scopes:
            raise errors.ServiceNotOffered(
                "the platform did not offer gradebook columns (AGS line items) for this course: enable grade"
                " passback for the tool in the LMS"
            )
        bearer = await self._bearer(registration, list(GRADE_SCOPES))()
        url = await self._gradebook.find_line_item(link.ags_lineitems_url, resource_id, bearer)
        if url is None:
            url = await self._gradebook.create_line_item(link.ags_lineitems_url, document, bearer)
        record = domain.LineItemRecord(
            id=uuid.uuid4(),
            organization_id=caller.organization_id,
            course_id=course_id,
            live_session_id=live_session_id,
            registration_id=uuid.UUID(registration.config_id),
            platform_url=url,
            label=document["label"],
            score_maximum=maximum,
            created_at=datetime.fromtimestamp(self._clock(), UTC),
        )
        try:
            async with self._uow() as work:
                await work.line_items.add(record)
                await work.commit()
        except Conflict:
            async with self._uow() as work:
                found = await work.line_items.for_session(caller.organization_id, course_id, live_session_id)
            assert found is not None, "a conflicting line item was stored"
            return found
        return record

    async def publish_scores(self, caller: SessionClaims, line_item_id: str, scores: list[NewScore]) -> PublishedScores:
        """Post each score to the platform; one refused score is reported and does not stop the others."""
        parsed = _line_item_id(line_item_id)
        async with self._uow() as work:
            item = await work.line_items.get(parsed) if parsed else None
        if item is None or item.organization_id != caller.organization_id:
            raise errors.LineItemNotFound("no such line item: create it with CreateLineItem first")
        _, registration = await self._course(caller, item.course_id)
        now = datetime.fromtimestamp(self._clock(), UTC)
        documents = [
            domain.score_document(
                user_id=score.user_id,
                score_given=score.score_given,
                score_maximum=score.score_maximum or item.score_maximum,
                comment=score.comment,
                activity_progress=score.activity_progress,
                grading_progress=score.grading_progress,
                timestamp=score.timestamp or now,
            )
            for score in scores
        ]
        bearer = await self._bearer(registration, list(GRADE_SCOPES))()
        accepted = 0
        failures: list[ScoreFailure] = []
        for document in documents:
            try:
                await self._gradebook.post_score(item.platform_url, document, bearer)
                accepted += 1
            except (errors.PlatformRefused, errors.PlatformUnavailable) as refused:
                failures.append(ScoreFailure(document["userId"], refused.message))
        log.info("scores published", extra={"line_item_id": str(item.id), "accepted": accepted})
        return PublishedScores(accepted, failures)


def _line_item_id(value: str) -> uuid.UUID | None:
    """A malformed id names nothing, like an unknown one."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None
