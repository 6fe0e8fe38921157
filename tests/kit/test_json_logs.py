"""Logs: one JSON object per line, carrying the request context and any traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging
    from service_kit import context
    from service_kit.logging import configure_logging

    configure_logging("probe")
    log = logging.getLogger("probe")

    async def handle(request_id):
        context.request_id_var.set(request_id)
        await asyncio.sleep(0)
        log.info("handled %s", "upload", extra={"video_id": "v1"})

    async def main():
        await asyncio.gather(handle("req-a"), handle("req-b"))
        try:
            raise ValueError("bad frame rate")
        except ValueError:
            log.exception("probe failed")

    asyncio.run(main())
    """
)


def run_probe() -> list[dict[str, object]]:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_each_line_carries_the_request_id_of_the_task_that_logged_it() -> None:
    lines = run_probe()
    handled = [line for line in lines if line["msg"] == "handled upload"]
    assert sorted(str(line["request_id"]) for line in handled) == ["req-a", "req-b"]
    assert all(line["video_id"] == "v1" and line["process"] == "probe" for line in handled)


def test_an_exception_is_logged_with_its_traceback_in_one_line() -> None:
    failure = run_probe()[-1]
    assert failure["msg"] == "probe failed"
    assert failure["level"] == "error"
    assert "ValueError: bad frame rate" in str(failure["exc"])


FORKED_CHILD_SCRIPT = textwrap.dedent(
    """
    import logging, os, sys
    from service_kit import context
    from service_kit.logging import configure_logging

    configure_logging("worker")
    log = logging.getLogger("job")
    sys.stdout.flush()
    child = os.fork()
    if child == 0:
        # As RQ's work horse: log from the job, then leave without running atexit hooks.
        context.job_id_var.set("job-7")
        log.info("transcode started", extra={"video_id": "v9"})
        os._exit(0)
    os.waitpid(child, 0)
    log.info("worker idle")
    """
)


def test_a_forked_work_horse_logs_reach_stdout_as_json() -> None:
    result = subprocess.run(
        [sys.executable, "-c", FORKED_CHILD_SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    started = [line for line in lines if line["msg"] == "transcode started"]
    assert started == [
        {**started[0], "process": "worker", "logger": "job", "job_id": "job-7", "video_id": "v9", "level": "info"}
    ]
    assert any(line["msg"] == "worker idle" for line in lines)
