"""SQLAlchemy storage: listings unique per marketplace, their history, hits, crawl runs and digests."""

from brandcrawl.storage.store import DEFAULT_DB_URL, SaveResult, Store

__all__ = ["DEFAULT_DB_URL", "SaveResult", "Store"]
