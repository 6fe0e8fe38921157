"""Reconciliation: Zoom's participants report fills in what webhooks missed.

Zoom drops a webhook after three failed retries, so the report is the record of last
resort. Each meeting instance owes one reconciliation after ``meeting.ended`` (a row
in ``reconcile_jobs``, written in the same transaction as the event), and staff may
ask for one at any time. Report records become join and leave events keyed exactly
as the webhooks' (see :func:`attendance_svc.domain.events_from_report`), so what was
already known is not counted twice.

The report API is in Zoom's Heavy rate-limit category, with a daily cap. A 429 pauses
the job until its Retry-After (the next day for the daily cap) with the page token
saved, and the background loop resumes it from that page: work is paused, never lost.
A job is claimed by moving its due time forward (a lease), so two processes never
read the same report at once, and a process that dies mid-job leaves it to be resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attendance_svc import adapters, domain, errors, store

log = logging.getLogger(__name__)

LEASE_SECONDS = 300
MAX_ATTEMPTS = 12
MAX_PAGES = 1000
RATE_LIMITED = "rate limited:"
"""Prefix of a job's last_error while Zoom's rate limit pauses it (a scheduled delay is not a pause)."""


Outcome = domain.ReconcileOutcome


class Reconciler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        zoom: adapters.Zoom,
        lti: adapters.Lti,
        *,
        poll_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._zoom = zoom
        self._lti = lti
        self._poll = poll_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="reconciler")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                while await self.run_one_due():
                    pass
            except Exception:  # the loop must outlive any one job's surprise
                log.exception("reconciliation loop failed; trying again later")
            await asyncio.sleep(self._poll)

    async def run_one_due(self) -> bool:
        """Claim and run one due job; False when none is due."""
        now = store.utcnow()
        async with self._sessions() as session, session.begin():
            job = await store.claim_due_job(session, now)
            if job is None:
                return False
            job.due_at = now + timedelta(seconds=LEASE_SECONDS)
            job.attempts += 1
            meeting_uuid, meeting_id, token = job.meeting_uuid, job.meeting_id, job.next_page_token
        async with self._sessions() as session:
            row = await store.session_by_meeting(session, meeting_id)
        if row is None:
            async with self._sessions() as session, session.begin():
                await store.mark_job(session, meeting_uuid, done_at=now, last_error="no live session has this meeting")
            return True
        await self._run(row, meeting_uuid, token, interactive=False)
        return True

    async def reconcile_session(self, row: domain.LiveSession) -> Outcome:
        """On demand: every instance of the session's meeting, now (waiting out short 429s)."""
        async with self._sessions() as session:
            instances = set(await store.meeting_instances(session, row.zoom_meeting_id))
        if row.zoom_meeting_uuid:
            instances.add(row.zoom_meeting_uuid)
        outcome = Outcome()
        now = store.utcnow()
        for meeting_uuid in sorted(instances):
            async with self._sessions() as session, session.begin():
                await store.ensure_reconcile_job(session, meeting_uuid, row.zoom_meeting_id, now)
                job = await store.lock_job(session, meeting_uuid)
                token = job.next_page_token if job is not None else ""
                if job is not None and job.due_at > now and job.last_error.startswith(RATE_LIMITED):
                    # Paused by a rate limit: it resumes by itself, asking again now would only spend quota.
                    outcome.resume_at = max(outcome.resume_at or job.due_at, job.due_at)
                    continue
                if job is not None:
                    job.due_at = now + timedelta(seconds=LEASE_SECONDS)
            part = await self._run(row, meeting_uuid, token, interactive=True)
            outcome.intervals_added += part.intervals_added
            if part.resume_at is not None:
                outcome.resume_at = max(outcome.resume_at or part.resume_at, part.resume_at)
        return outcome

    async def _run(self, row: domain.LiveSession, meeting_uuid: str, token: str, *, interactive: bool) -> Outcome:
        """Read the report from ``token`` on, storing each page before asking for the next."""
        outcome = Outcome()
        try:
            credentials = await self._lti.zoom_credentials(row.organization_id, row.lti_config_id)
            for _ in range(MAX_PAGES):
                records, next_token = await self._zoom.participants_page(
                    credentials, meeting_uuid, token, interactive=interactive
                )
                items = domain.events_from_report(
                    row.zoom_meeting_id, meeting_uuid, records, received_at=store.utcnow()
                )
                async with self._sessions() as session, session.begin():
                    inserted = await store.insert_events(session, items, reconcile_delay_seconds=0)
                    outcome.intervals_added += sum(
                        1 for i in items if i.key in inserted and i.event == domain.PARTICIPANT_JOINED
                    )
                    done = not next_token
                    await store.mark_job(
                        session,
                        meeting_uuid,
                        next_page_token=next_token,
                        last_error="",
                        **({"done_at": store.utcnow()} if done else {}),
                    )
                if done:
                    break
                token = next_token
        except errors.ZoomRateLimited as exc:
            wait = float(exc.metadata.get("retry_after_seconds", "60"))
            resume = store.utcnow() + timedelta(seconds=wait)
            async with self._sessions() as session, session.begin():
                await store.mark_job(session, meeting_uuid, due_at=resume, last_error=f"{RATE_LIMITED} {exc.message}")
            log.info("reconciliation paused by Zoom's rate limit", extra={"resume_at": resume.isoformat()})
            outcome.resume_at = resume
        except errors.AttendanceError as exc:
            async with self._sessions() as session, session.begin():
                job = await store.lock_job(session, meeting_uuid)
                attempts = job.attempts if job is not None else 1
                values: dict[str, object] = {"last_error": exc.message[:500]}
                if attempts >= MAX_ATTEMPTS:
                    values["done_at"] = store.utcnow()
                else:
                    values["due_at"] = store.utcnow() + timedelta(seconds=min(3600, 30 * 2**attempts))
                await store.mark_job(session, meeting_uuid, **values)
            log.warning("reconciliation failed", extra={"meeting_uuid": meeting_uuid, "error": exc.message})
            # An instance Zoom has no report for (never held, or not over yet) does not spoil
            # the others; its job retries in the background.
            no_report = isinstance(exc, errors.ZoomRefused) and "(404)" in exc.message
            if interactive and not no_report:
                raise
        log.info("reconciled", extra={"meeting_uuid": meeting_uuid, "intervals_added": outcome.intervals_added})
        return outcome
