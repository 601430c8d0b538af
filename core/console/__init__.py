"""The operator console: a single page served at `/console`, its assets at `/console/<name>`.

The page and its assets hold no data, so the routes are public; every API call the page makes
carries the key the user pasted (kept in the tab's sessionStorage) in `x-api-key`. The assets
are plain ES modules and CSS shipped inside this package (no CDN, no build step). They are read
once when the routes are built; a Content-Security-Policy keeps the page to its own origin.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response

from kernel.http import error
from kernel.routing import PUBLIC, Call, Handler, RouteSpec

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
Asset = tuple[bytes, str]


def load_assets(folder: Path = STATIC) -> dict[str, Asset]:
    """File name → (content, media type), for the files of known types in `folder`."""
    return {path.name: (path.read_bytes(), MEDIA_TYPES[path.suffix])
            for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix in MEDIA_TYPES}


def serve(asset: Asset) -> Response:
    content, media_type = asset
    return Response(content, media_type=media_type, headers=HEADERS)


def console_routes(folder: Path = STATIC) -> list[RouteSpec]:
    assets = load_assets(folder)
    page = assets["index.html"]

    async def index(_call: Call) -> Response:
        return serve(page)

    async def asset(call: Call) -> Response:
        found = assets.get(call.params["name"])
        if found is None:
            return error(404, "not_found", path=call.request.url.path, method="GET")
        return serve(found)

    handlers: list[tuple[str, Handler]] = [
        ("/console", index), ("/console/", index), ("/console/{name}", asset)]
    return [RouteSpec("GET", path, handler, PUBLIC) for path, handler in handlers]
