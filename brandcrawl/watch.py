"""The watch file named by the BRANDCRAWL_WATCH setting, loaded once per crawl process."""

from __future__ import annotations

import os
from functools import lru_cache

from scrapy.settings import BaseSettings

from brandcrawl.config import WatchConfig, load_watch


class WatchNotSet(ValueError):
    def __init__(self) -> None:
        super().__init__(
            "no watch file: set BRANDCRAWL_WATCH (e.g. scrapy crawl ebay -s BRANDCRAWL_WATCH=watch.toml)"
        )


def watch_from_settings(settings: BaseSettings, *, required: bool = True) -> WatchConfig | None:
    path = settings.get("BRANDCRAWL_WATCH")
    if not path:
        if required:
            raise WatchNotSet
        return None
    resolved = os.path.abspath(path)
    return _load(resolved, os.stat(resolved).st_mtime_ns if os.path.exists(resolved) else 0)


@lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int) -> WatchConfig:
    return load_watch(path)
