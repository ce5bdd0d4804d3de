"""What the replica's feed marketplaces share: whole files served from their seed, and the ways real
feed downloads go wrong (a challenge page, an HTML error page, a truncated zip)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import ClassVar

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import render, template

#: Cloudflare's managed challenge, as feed hosts behind it serve it (403, cf-mitigated: challenge).
CHALLENGE_TEMPLATE = "feeds/challenge.html"
#: A web server's error page, served with 200 where the file should be (a changed or moved feed).
ERROR_PAGE_TEMPLATE = "feeds/error_page.html"


def zipped(name: str, data: bytes) -> bytes:
    """``data`` as the one member ``name`` of a zip archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


class FeedApp(SiteApp):
    """A marketplace publishing files: subclasses fill ``files`` (path → content type and a builder of
    the file's bytes from the current seed) in ``__init__``.

    ``layout_changed`` serves an HTML error page instead of each file; ``truncated`` cuts each file
    in half, as an interrupted download or a partly written file on the server."""

    #: Read by respond(): the path prefix robots.txt and the files live under (the site's root).
    files: dict[str, tuple[str, Callable[[], bytes]]]
    content_types: ClassVar[dict[str, str]] = {
        "csv": "text/csv; charset=utf-8",
        "zip": "application/zip",
        "json": "application/json",
        "txt": "text/plain; charset=utf-8",
    }

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self.files = {}
        self.truncated = False

    def serve(self, path: str, kind: str, build: Callable[[], bytes]) -> None:
        """Publish a file at ``path``; ``kind`` is csv, zip, json or txt (or a full content type)."""
        self.files[path] = (self.content_types.get(kind, kind), build)

    def respond(self, request: ReplicaRequest) -> Reply | None:
        if request.path not in self.files:
            return None
        if self.replica.layout_changed:
            return 200, {}, template(ERROR_PAGE_TEMPLATE)
        content_type, build = self.files[request.path]
        data = build()
        if self.truncated:
            data = data[: len(data) // 2]
        return 200, {"Content-Type": content_type}, data

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        body = render(CHALLENGE_TEMPLATE, domain=request.site, path=request.path)
        return 403, {"cf-mitigated": "challenge", "Server": "cloudflare"}, body
