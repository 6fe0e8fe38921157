"""Rosters, gradebook columns and scores against fakes of the store, the token endpoint and the platform."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lti_svc import domain, errors
from lti_svc.use_cases.advantage import CourseServices, NewScore
from tests.lti.fakes import (
    FakeAccessTokens,
    FakeGradebook,
    FakeRosters,
    FakeStore,
    StoreDown,
    a_registration_record,
    caller,
)

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ISSUER = "https://lms.example.edu"
NRPS = f"{ISSUER}/nrps/course-1"
LINEITEMS = f"{ISSUER}/lineitems/course-1"
INSTRUCTOR = caller("Instructor", user_id="teacher", course_id="course-1")


def member(user_id: str, *roles: str) -> domain.Member:
    return domain.Member(user_id, user_id.title(), "", "", f"{user_id}@example.edu", tuple(roles), "Active")


class Setup:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.tokens = FakeAccessTokens()
        self.rosters = FakeRosters()
        self.gradebook = FakeGradebook()
        self.services = CourseServices(
            uow=self.store.units(),
            tokens=self.tokens,
            rosters=self.rosters,
            gradebook=self.gradebook,
            clock=NOW.timestamp,
        )

    def link_course(
        self,
        organization_id: str = "org1",
        course_id: str = "course-1",
        *,
        nrps_url: str = NRPS,
        lineitems_url: str = LINEITEMS,
        scopes: tuple[str, ...] = (domain.SCOPE_AGS_LINEITEM, domain.SCOPE_AGS_SCORE),
    ) -> domain.RegistrationRecord:
        record = a_registration_record(issuer=f"{ISSUER}/{organization_id}", at=NOW, organization_id=organization_id)
        self.store.records[record.id] = record
        self.store.deployments[record.id] = ["dep-1"]
        self.store.courses[(organization_id, course_id)] = domain.CourseLink(
            organization_id, course_id, record.id, nrps_url, lineitems_url, scopes
        )
        return record

    async def column(self, live_session_id: str = "live-1") -> domain.LineItemRecord:
        return await self.services.create_line_item(
            INSTRUCTOR, "course-1", live_session_id, label="Week 1", score_maximum=0
        )


# ---- roster -------------------------------------------------------------------------------------


async def test_the_roster_is_paged_and_filtered_by_role_with_a_bearer_for_names_and_roles() -> None:
    setup = Setup()
    registration = setup.link_course()
    setup.rosters.rosters[NRPS] = [member("ada", "Learner"), member("bob", "Instructor"), member("cy", "Learner")]
    first = await setup.services.members(INSTRUCTOR, "course-1", role="Learner", page_size=1, page_token="")
    second = await setup.services.members(
        INSTRUCTOR, "course-1", role="Learner", page_size=1, page_token=first.next_page_token
    )
    assert [m.user_id for m in first.members + second.members] == ["ada", "cy"] and second.next_page_token == ""
    assert setup.tokens.asked[0] == (str(registration.id), (domain.SCOPE_NRPS,))


async def test_a_learner_cannot_read_the_roster_and_no_platform_is_asked() -> None:
    setup = Setup()
    setup.link_course()
    learner = caller("Learner", user_id="ada", course_id="course-1")
    with pytest.raises(errors.NotCourseStaff):
        await setup.services.members(learner, "course-1", role="", page_size=0, page_token="")
    assert setup.tokens.asked == [] and setup.rosters.bearers == []


async def test_a_course_never_launched_says_to_launch_it_once() -> None:
    setup = Setup()
    with pytest.raises(errors.CourseNotLinked, match="launch the tool from the course once"):
        await setup.services.members(INSTRUCTOR, "course-1", role="", page_size=0, page_token="")


async def test_a_course_whose_platform_offers_no_roster_says_what_to_enable() -> None:
    setup = Setup()
    setup.link_course(nrps_url="")
    with pytest.raises(errors.ServiceNotOffered, match="roster access"):
        await setup.services.members(INSTRUCTOR, "course-1", role="", page_size=0, page_token="")
    assert setup.tokens.asked == []


async def test_a_platform_that_refuses_the_token_request_gives_its_own_words() -> None:
    setup = Setup()
    setup.link_course()
    setup.rosters.rosters[NRPS] = [member("ada", "Learner")]
    setup.tokens.refusal = errors.PlatformRefused(
        "the platform refused the access token request (HTTP 401): invalid_client"
    )
    with pytest.raises(errors.PlatformRefused, match="invalid_client"):
        await setup.services.members(INSTRUCTOR, "course-1", role="", page_size=0, page_token="")


# ---- line items ---------------------------------------------------------------------------------


async def test_a_live_session_gets_one_gradebook_column_made_once() -> None:
    setup = Setup()
    registration = setup.link_course()
    made = await setup.column()
    again = await setup.column()
    assert again == made and setup.gradebook.created == 1 and setup.store.line_items == {made.id: made}
    assert (made.score_maximum, made.registration_id, made.label) == (100.0, registration.id, "Week 1")
    assert setup.gradebook.items[made.platform_url]["resourceId"] == "live-session:live-1"


async def test_a_column_made_on_the_platform_by_an_earlier_attempt_is_found_not_made_twice() -> None:
    setup = Setup()
    setup.link_course()
    setup.store.refuse_commits = True
    with pytest.raises(StoreDown):
        await setup.column()
    assert setup.store.line_items == {} and setup.gradebook.created == 1
    setup.store.refuse_commits = False
    made = await setup.column()
    assert setup.gradebook.created == 1 and made.platform_url == next(iter(setup.gradebook.items))


async def test_a_learner_cannot_create_line_items() -> None:
    setup = Setup()
    setup.link_course()
    learner = caller("Learner", user_id="ada", course_id="course-1")
    with pytest.raises(errors.NotCourseStaff):
        await setup.services.create_line_item(learner, "course-1", "live-1", label="x", score_maximum=10)
    assert setup.gradebook.items == {} and setup.tokens.asked == [] and setup.store.line_items == {}


async def test_a_line_item_needs_a_live_session_and_a_platform_that_offers_columns() -> None:
    setup = Setup()
    setup.link_course(scopes=(domain.SCOPE_AGS_SCORE,))
    with pytest.raises(errors.InvalidScore, match="live_session_id is required"):
        await setup.column("")
    with pytest.raises(errors.ServiceNotOffered, match="grade passback"):
        await setup.column()
    assert setup.tokens.asked == []


class RacingGradebook(FakeGradebook):
    """While this request talks to the platform, another one stores its column for the same live session."""

    def __init__(self, store: FakeStore, theirs: domain.LineItemRecord) -> None:
        super().__init__()
        self.items = {theirs.platform_url: {"resourceId": "live-session:live-1"}}
        self._store = store
        self._theirs = theirs

    async def find_line_item(self, lineitems_url: str, resource_id: str, bearer: str) -> str | None:
        self._store.line_items[self._theirs.id] = self._theirs
        return await super().find_line_item(lineitems_url, resource_id, bearer)


async def test_two_requests_at_once_end_with_the_same_column() -> None:
    setup = Setup()
    setup.link_course()
    theirs = await setup.column()
    setup.store.line_items.clear()  # not stored yet when this request looks
    setup.services = CourseServices(
        uow=setup.store.units(),
        tokens=setup.tokens,
        rosters=setup.rosters,
        gradebook=RacingGradebook(setup.store, theirs),
        clock=NOW.timestamp,
    )
    mine = await setup.column()
    assert mine == theirs and list(setup.store.line_items) == [theirs.id]


# ---- scores -------------------------------------------------------------------------------------


def score(user_id: str, given: float = 8.0) -> NewScore:
    return NewScore(user_id, given, 0, "", "Completed", "FullyGraded", None)


async def test_scores_are_posted_and_a_refused_one_is_reported_without_stopping_the_others() -> None:
    setup = Setup()
    setup.link_course()
    column = await setup.column()
    setup.gradebook.refused_users = {"bob"}
    published = await setup.services.publish_scores(
        INSTRUCTOR, str(column.id), [score("ada"), score("bob"), score("cy", 5)]
    )
    assert published.accepted_count == 2
    assert [(f.user_id, "unknown user" in f.reason) for f in published.failures] == [("bob", True)]
    posted = {doc["userId"]: doc for _, doc in setup.gradebook.scores}
    assert set(posted) == {"ada", "cy"} and posted["cy"]["scoreMaximum"] == 100.0
    assert posted["ada"]["timestamp"].startswith("2026-03-02T14:00:00")


async def test_scores_for_a_line_item_of_another_organization_answer_not_found() -> None:
    setup = Setup()
    setup.link_course()
    column = await setup.column()
    setup.link_course("org2")
    stranger = caller("Instructor", organization_id="org2", user_id="teacher", course_id="course-1")
    with pytest.raises(errors.LineItemNotFound):
        await setup.services.publish_scores(stranger, str(column.id), [score("ada")])
    with pytest.raises(errors.LineItemNotFound):
        await setup.services.publish_scores(INSTRUCTOR, "not-a-uuid", [score("ada")])
    assert setup.gradebook.scores == []


async def test_a_learner_cannot_publish_scores_even_for_their_course() -> None:
    setup = Setup()
    setup.link_course()
    column = await setup.column()
    learner = caller("Learner", user_id="ada", course_id="course-1")
    with pytest.raises(errors.NotCourseStaff):
        await setup.services.publish_scores(learner, str(column.id), [score("ada", 10)])
    assert setup.gradebook.scores == []


async def test_a_token_refused_when_publishing_posts_no_score() -> None:
    setup = Setup()
    setup.link_course()
    column = await setup.column()
    setup.tokens.refusal = errors.PlatformUnavailable("the platform did not answer the access token request")
    with pytest.raises(errors.PlatformUnavailable, match="access token"):
        await setup.services.publish_scores(INSTRUCTOR, str(column.id), [score("ada")])
    assert setup.gradebook.scores == []
