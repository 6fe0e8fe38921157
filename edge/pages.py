"""The pages' HTTP side that is not LTI: the built scripts and styles under ``/static/``.

Files come from memory (``web.assets.Assets``, read at start), named by content hash, so
they are sent with a year-long ``immutable`` cache; a name the build did not produce is
the same JSON 404 as any unknown route.
"""

from __future__ import annotations

from aiohttp import web

from edge.errors import from_service_error
from edge.keys import MATCH
from service_kit import errors as kit_errors
from web.assets import IMMUTABLE, accepts_gzip
from web.render import pages_of

STATIC_ROUTE = "/static/{name}"


async def static_file(request: web.Request) -> web.StreamResponse:
    """One built file, gzipped when the browser accepts it; ETag-free, since its name is its version."""
    name = request[MATCH].params["name"]
    found = pages_of(request).assets.files.get(name)
    if found is None:
        raise from_service_error(
            kit_errors.NotFound(f"no static file {name!r}: the page may be older than this server"), token_sent=False
        )
    headers = {
        "Content-Type": found.content_type,
        "Cache-Control": IMMUTABLE,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if found.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding")):
        return web.Response(body=found.gzipped, headers={**headers, "Content-Encoding": "gzip"})
    return web.Response(body=found.body, headers=headers)


PAGE_ROUTES = (("GET", STATIC_ROUTE, static_file),)
"""(method, path template, handler) of the pages' own routes, added to the edge's router."""
