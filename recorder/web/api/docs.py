"""GET /api/docs: the OpenAPI document rendered by Redoc, from files shipped inside the package (the service
may run without internet). The page has no inline script: Redoc starts from its ``<redoc spec-url>`` tag."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from recorder.web.responses import error

ASSETS = {
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "LICENSE": "text/plain; charset=utf-8",
    "redoc.standalone.js.LICENSE.txt": "text/plain; charset=utf-8",
}
# Redoc styles itself inline (styled-components), and its search runs in a worker made from a blob: URL.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'"
)
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>recorder API reference</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="openapi.json" hide-download-button="false"></redoc>
<script src="docs/redoc.standalone.js"></script>
</body>
</html>
"""


def _asset_bytes(name: str) -> bytes:
    return (resources.files("recorder.web.api") / "static" / "vendor" / "redoc" / name).read_bytes()


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": DOCS_CSP})


async def asset(request: Request) -> Response:
    name = request.path_params["asset"]
    if name not in ASSETS:
        return error(404, "not_found", "no such file")
    headers = {"Cache-Control": "public, max-age=3600", "Content-Security-Policy": DOCS_CSP}
    return Response(_asset_bytes(name), media_type=ASSETS[name], headers=headers)


def routes() -> list[Route]:
    return [
        Route("/api/docs", page, methods=["GET"]),
        Route("/api/docs/{asset}", asset, methods=["GET"]),
    ]
