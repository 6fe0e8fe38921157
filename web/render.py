"""Rendering a page: the Jinja2 environment (autoescape on), its helpers, and the page's headers.

Each response gets a fresh CSP nonce; the page's own bundles and its JSON data blocks carry
it, and nothing else may run (no inline handlers, no eval, no third-party origin). JSON
handed to scripts goes through :func:`script_json`, so no value can close its ``<script>``
element early, whatever the LMS put in a course title.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from web.assets import Assets
from web.i18n import Catalogue, Catalogues


@dataclass(frozen=True)
class Pages:
    """What every page needs, made once at start: the catalogues and the built assets."""

    catalogues: Catalogues
    assets: Assets


PAGES = web.AppKey("pages", Pages)


@dataclass(frozen=True)
class Policy:
    """The parts of a page's Content-Security-Policy that differ between pages.

    ``form_action`` is where the page's forms may post (the deep-linking return URL for the
    auto-posted response; nowhere for the library); ``frame_ancestors`` which origin may
    frame it (the LMS that launched it); ``connect_origins`` other origins its scripts may
    call (object storage, for uploads; the edge's HLS routes and the segments' origin, for
    the player); ``media_src`` where its <video> may load from (``blob:`` for the player's
    MediaSource), none when empty; ``img_origins`` other origins its images may load from
    (object storage, for posters).
    """

    form_action: str = "'self'"
    frame_ancestors: str = "*"
    connect_origins: Sequence[str] = field(default_factory=tuple)
    media_src: Sequence[str] = field(default_factory=tuple)
    img_origins: Sequence[str] = field(default_factory=tuple)

    def header(self, nonce: str) -> str:
        connect = " ".join(("'self'", *self.connect_origins))
        media = f" media-src {' '.join(self.media_src)};" if self.media_src else ""
        img = " ".join(("'self'", "data:", *self.img_origins))
        return (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src {img};"
            f" connect-src {connect};{media} form-action {self.form_action}; base-uri 'none';"
            f" frame-ancestors {self.frame_ancestors}"
        )


def script_json(value: Any) -> Markup:
    """JSON safe inside a ``<script type="application/json">``: '<', '>' and '&' are escaped as \\u00XX."""
    text = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # escaped for the script context above: HTML escaping would corrupt the JSON


def install(app: web.Application, pages: Pages) -> None:
    """Give ``app`` the templates of ``web/templates`` (autoescaped) and the pages' data."""
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["script_json"] = script_json
    environment.globals["asset"] = pages.assets.url
    app[PAGES] = pages


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    catalogue: Catalogue,
    status: int = 200,
    policy: Policy | None = None,
) -> web.Response:
    """The page as a response: ``t`` and ``lang`` from ``catalogue``, a nonce, and the security headers."""
    nonce = secrets.token_urlsafe(16)
    response = aiohttp_jinja2.render_template(
        template,
        request,
        {**context, "t": catalogue.t, "lang": catalogue.language, "messages": catalogue.messages, "nonce": nonce},
        status=status,
    )
    response.headers.update(
        {
            "Content-Security-Policy": (policy or Policy()).header(nonce),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        }
    )
    return response


def pages_of(request: web.Request) -> Pages:
    return request.app[PAGES]
