"""``mediactl upload FILE...``: send lecture recordings, then follow them to ready."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mediactl import config
from mediactl.commands.common import CourseOption, JsonOption, example, signed_in
from mediactl.commands.videos import patch_video
from mediactl.output import error, print_json, reporter, short_status
from mediactl.resume import ResumeRecords
from mediactl.upload import Engine, Options, Stopped


def upload(
    files: Annotated[
        list[Path],
        typer.Argument(help="Video files to upload.", exists=True, dir_okay=False, readable=True, show_default=False),
    ],
    course: CourseOption = "",
    title: Annotated[str, typer.Option("--title", help="Title (default: the file name without extension).")] = "",
    publish: Annotated[bool, typer.Option("--publish", help="Publish each video once it is ready.")] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return once the bytes are sent; do not follow transcoding.")
    ] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=16, help="Parts sent at once.")] = 4,
    as_json: JsonOption = False,
) -> None:
    """Upload video files; large ones go in parts, in parallel, and resume after Ctrl-C."""
    if title and len(files) > 1:
        raise typer.BadParameter("--title names one file; give one file or leave the titles to the file names")
    report = reporter(stderr=as_json)
    results: list[dict[str, Any]] = []
    failed = False
    with signed_in() as api:
        engine = Engine(api, ResumeRecords(config.state_dir() / "uploads.json"), report, Options(course, title, jobs))
        try:
            for path in files:
                sent = engine.upload(path)
                video: dict[str, Any] = {"video_id": sent.video_id, "upload_id": sent.upload_id}
                if not no_wait:
                    video = engine.follow(sent)
                    status = str(video.get("status"))
                    report.line(f"{path.name}: {short_status(status)}")
                    if status != "VIDEO_STATUS_READY":
                        failed = True
                        error(
                            f"{path.name}: transcoding ended {short_status(status)}; "
                            f"`mediactl videos show {sent.video_id}` says more, and uploading the file again retries."
                        )
                    elif publish:
                        video = patch_video(api, sent.video_id, {"published": True}, "published")
                        report.line(f"{path.name}: published")
                elif publish:
                    video = patch_video(api, sent.video_id, {"published": True}, "published")
                    report.line(f"{path.name}: published (learners see it once it is ready)")
                results.append({"file": str(path), **video})
        except (KeyboardInterrupt, Stopped):
            report.done()
            error("Interrupted. Run the same command again: the upload continues where it stopped.")
            raise typer.Exit(130) from None
        finally:
            report.done()
            engine.close()
    if as_json:
        print_json(results)
    if failed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command(
        "upload",
        epilog=example(
            "mediactl upload lecture-01.mp4 lecture-02.mp4",
            "mediactl upload week3.mov --title 'Week 3: recursion' --publish --no-wait",
        ),
    )(upload)
