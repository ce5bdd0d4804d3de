"""Feeds published as one CSV file with a header row (Namecheap, Dynadot).

A row is read as far as its domain and no further: the line is split at its commas up to the domain
column, and parsed whole as CSV only when it carries a brand (``row_listing``) or holds a quote.
Measured on a 300,000-row Namecheap file (25 columns) read in FeedSpider's chunks of 20,000 rows:
``csv.reader`` lists 4.7 µs a row (DictReader more), most of it allocating and garbage-collecting
the chunk's 500,000 field strings, where the lines cost 1.0 µs; with the matcher's ~4 µs a row, only
the lines leave a run above 150,000 rows/s.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scrapy.http import Response

from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site
from spiders._feeds import Feed, FeedSpider, file_in


@dataclass(frozen=True)
class CsvFeed(Feed):
    """A CSV file, and what its header must name: a header without one of these columns is a
    changed format (the whole file unreadable), not a file of malformed rows."""

    domain_column: str
    columns: tuple[str, ...] = ()  # the others its hits are read from


@dataclass(frozen=True)
class Header:
    """One downloaded file's header: column names as written (surrounding spaces dropped)."""

    names: tuple[str, ...]
    domain: int  # the domain column's position

    @classmethod
    def read(cls, line: str, feed: CsvFeed) -> Header:
        names = tuple(name.strip() for name in next(csv.reader([line])))
        if missing := [c for c in (feed.domain_column, *feed.columns) if c not in names]:
            raise PageFormatError(f"the {feed.name} header lacks {', '.join(missing)}: {names!r:.300}")
        return cls(names, names.index(feed.domain_column))

    def fields(self, line: str) -> list[str]:
        """A row's fields, parsed as CSV (quotes honoured); a row of another width is malformed."""
        fields = next(csv.reader([line]), [])
        if len(fields) != len(self.names):
            raise PageFormatError(f"{len(fields)} fields where the header names {len(self.names)}")
        return fields


class CsvFeedSpider(FeedSpider):
    """Subclasses list ``CsvFeed``s in ``feeds`` and implement ``hit_listing`` (a hit row, as a dict by
    column name) and ``listing_url``."""

    #: Read by rows(): the files' encoding. "utf-8-sig" is UTF-8 with a BOM dropped if there is one.
    encoding = "utf-8-sig"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per feed name, the header of the file being read.
        self.headers: dict[str, Header] = {}

    def rows(self, response: Response, feed: Feed) -> Iterator[str]:
        """The file's lines after the header, line ends kept (no per-line work before row_domain)."""
        assert isinstance(feed, CsvFeed)
        with io.TextIOWrapper(file_in(response), encoding=self.encoding, newline="") as lines:
            header = next(lines, None)
            if header is None:
                return  # an empty file: FeedSpider reports it as unexpectedly empty
            self.headers[feed.name] = Header.read(header, feed)
            yield from lines

    def row_domain(self, row: str, feed: Feed) -> str:
        header = self.headers[feed.name]
        if '"' in row:
            domain = header.fields(row)[header.domain]  # quoted fields may hold commas
        elif row.count(",") == len(header.names) - 1:
            domain = row.split(",", header.domain + 1)[header.domain]
        elif row.isspace():
            return ""  # a blank line: no row, and nothing to match
        else:
            # Also what keeps a comma inside an unquoted field from shifting every column.
            raise PageFormatError(f"{row.count(',') + 1} fields where the header names {len(header.names)}")
        if "." not in domain:
            raise PageFormatError("not a domain name")
        return domain

    def row_listing(self, row: str, site: Site, feed: Feed, seen_at: datetime) -> Listing:
        assert isinstance(feed, CsvFeed)
        header = self.headers[feed.name]
        return self.hit_listing(dict(zip(header.names, header.fields(row), strict=True)), site, feed, seen_at)

    def hit_listing(self, fields: dict[str, str], site: Site, feed: CsvFeed, seen_at: datetime) -> Listing:
        """A row carrying a watched brand, by column name: the listing (``feed_listing``)."""
        raise NotImplementedError
