"""What the replica's feed marketplaces share: whole files served from their seed, and the ways real
feed downloads go wrong (a challenge page, an HTML error page, a truncated zip)."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable
from typing import ClassVar

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import render, template

#: Cloudflare's managed challenge, as feed hosts behind it serve it (403, cf-mitigated: challenge).
CHALLENGE_TEMPLATE = "feeds/challenge.html"
#: A web server's error page, served with 200 where the file should be (a changed or moved feed).
ERROR_PAGE_TEMPLATE = "feeds/error_page.html"
BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


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
    in half, as an interrupted download or a partly written file on the server. Files are served as
    static file servers and CDNs do: a strong ETag, and one byte range when asked (``If-Range``
    honoured), which the feed spiders use to download big files in parts."""

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
        self.ignores_ranges = False
        self._etags: dict[str, tuple[bytes, str]] = {}

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
        headers = {"Content-Type": content_type, "ETag": self._etag(request.path, data)}
        wanted = BYTE_RANGE.fullmatch(request.headers.get("Range", ""))
        if (
            self.ignores_ranges
            or wanted is None
            or request.headers.get("If-Range", headers["ETag"]) != headers["ETag"]
        ):
            return 200, headers, data
        first, last = wanted.groups()
        if not first:  # the last N bytes
            start, end = max(len(data) - int(last or 0), 0), len(data) - 1
        else:
            start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
        if start >= len(data) or start > end:
            return 416, {"Content-Range": f"bytes */{len(data)}"}, b""
        return 206, {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}, data[start : end + 1]

    def _etag(self, path: str, data: bytes) -> str:
        """A strong ETag, computed once per version of the file."""
        known = self._etags.get(path)
        if known is None or known[0] is not data:
            known = (data, f'"{zlib.crc32(data):08x}-{len(data):x}"')
            self._etags[path] = known
        return known[1]

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        body = render(CHALLENGE_TEMPLATE, domain=request.site, path=request.path)
        return 403, {"cf-mitigated": "challenge", "Server": "cloudflare"}, body
