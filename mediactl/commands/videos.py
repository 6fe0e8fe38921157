"""``mediactl videos ...`` and ``mediactl play``: the course's videos, as the library page shows them."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urljoin

import typer

from mediactl.client import Api, pages
from mediactl.commands.common import CourseOption, JsonOption, LimitOption, example, signed_in
from mediactl.output import Column, fields, print_json, say, short_status, table

API = "/api/v1/media"
VideoArgument = Annotated[str, typer.Argument(help="The video's id (see `mediactl videos list`).", show_default=False)]


def duration(video: dict[str, Any]) -> str:
    seconds = int(float((video.get("probe") or {}).get("duration_seconds") or 0))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds else ""


COLUMNS: list[Column] = [
    ("ID", lambda v: v.get("video_id")),
    ("Title", lambda v: v.get("title")),
    ("Status", lambda v: short_status(v.get("status"))),
    ("Published", lambda v: bool(v.get("published"))),
    ("Duration", duration),
    ("Created", lambda v: v.get("created_at")),
]
DETAIL: list[Column] = [
    *COLUMNS[:5],
    ("Course", lambda v: v.get("course_id")),
    ("Owner", lambda v: v.get("owner_id")),
    ("Renditions", lambda v: ", ".join(str(r.get("name") or r.get("height") or "") for r in v.get("renditions") or [])),
    ("Created", lambda v: v.get("created_at")),
    ("Updated", lambda v: v.get("updated_at")),
]

videos = typer.Typer(help="List, inspect, publish, rename and delete videos.", no_args_is_help=True)


def video_path(video_id: str) -> str:
    return f"{API}/videos/{quote(video_id, safe='')}"


def get_video(api: Api, video_id: str) -> dict[str, Any]:
    video: dict[str, Any] = api.call("GET", video_path(video_id))["video"]
    return video


@videos.command("list", epilog=example("mediactl videos list", "mediactl videos list --json | jq '.[].title'"))
def list_videos(course: CourseOption = "", limit: LimitOption = 100, as_json: JsonOption = False) -> None:
    """List the videos of a course, newest first."""
    with signed_in() as api:
        found = pages(api, f"{API}/videos", "videos", {"course_id": course}, limit)
    if as_json:
        print_json(found)
    else:
        table(found, COLUMNS, title="Videos")


@videos.command("show", epilog=example("mediactl videos show 3f2a9c1e-..."))
def show(video: VideoArgument, as_json: JsonOption = False) -> None:
    """Show one video: status, publication, duration, renditions."""
    with signed_in() as api:
        found = get_video(api, video)
    if as_json:
        print_json(found)
    else:
        fields(found, DETAIL)


def patch_video(api: Api, video_id: str, body: dict[str, Any], mask: str) -> dict[str, Any]:
    """UpdateVideo: the fields named in ``mask`` (``title``, ``published``) take ``body``'s values."""
    updated: dict[str, Any] = api.call("PATCH", video_path(video_id), query={"update_mask": mask}, body=body)["video"]
    return updated


def update(video_id: str, body: dict[str, Any], mask: str) -> dict[str, Any]:
    with signed_in() as api:
        return patch_video(api, video_id, body, mask)


@videos.command("publish", epilog=example("mediactl videos publish 3f2a9c1e-..."))
def publish(video: VideoArgument) -> None:
    """Make a video visible to the course's learners."""
    updated = update(video, {"published": True}, "published")
    say(f"Published “{updated.get('title')}” ({updated.get('video_id')}).")


@videos.command("unpublish", epilog=example("mediactl videos unpublish 3f2a9c1e-..."))
def unpublish(video: VideoArgument) -> None:
    """Hide a video from learners again (staff still see it)."""
    updated = update(video, {"published": False}, "published")
    say(f"Unpublished “{updated.get('title')}” ({updated.get('video_id')}).")


@videos.command("rename", epilog=example("mediactl videos rename 3f2a9c1e-... 'Week 3: recursion'"))
def rename(video: VideoArgument, title: Annotated[str, typer.Argument(help="The new title.")]) -> None:
    """Give a video a new title."""
    if not title.strip():
        raise typer.BadParameter("the title cannot be empty", param_hint="TITLE")
    updated = update(video, {"title": title}, "title")
    say(f"Renamed {updated.get('video_id')} to “{updated.get('title')}”.")


@videos.command("delete", epilog=example("mediactl videos delete 3f2a9c1e-... --yes"))
def delete(
    video: VideoArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a video and its files for good."""
    with signed_in() as api:
        if not yes:
            title = get_video(api, video).get("title")
            typer.confirm(f"Delete “{title}” ({video}) for good?", abort=True)
        api.call("DELETE", video_path(video))
    say(f"Deleted {video}.")


def play(video: VideoArgument, as_json: JsonOption = False) -> None:
    """Print a playable HLS master playlist URL (it carries a short-lived access token)."""
    with signed_in() as api:
        reply = api.call("GET", f"{API}/hls/{quote(video, safe='')}/access-token")
        base = api.base_url
    url = urljoin(base + "/", str(reply.get("master_url") or ""))
    if as_json:
        print_json({**reply, "master_url": url})
    else:
        typer.echo(url)


def register(app: typer.Typer) -> None:
    app.add_typer(videos, name="videos")
    app.command("play", epilog=example("mediactl play 3f2a9c1e-...", 'mpv "$(mediactl play 3f2a9c1e-...)"'))(play)
