"""Scrapy settings for brandcrawl.

Scrapy's own settings carry ``# default X`` where we change them. Our settings start with
``BRANDCRAWL_``; each says which component reads it and its default. README "Settings" lists them.
"""

import os

BOT_NAME = "brandcrawl"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# --- Polite crawling -----------------------------------------------------------------------------
ROBOTSTXT_OBEY = True  # default False, template True
# default None (then the USER_AGENT setting): the rules a site writes for us, not for "Scrapy".
ROBOTSTXT_USER_AGENT = "brandcrawl"
CONCURRENT_REQUESTS_PER_DOMAIN = 1  # default 8, template 1
DOWNLOAD_DELAY = 2  # default 0, template 1
AUTOTHROTTLE_ENABLED = True  # default False
AUTOTHROTTLE_START_DELAY = 2  # default 5
AUTOTHROTTLE_MAX_DELAY = 120  # default 60
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0  # default 1.0
RETRY_TIMES = 3  # default 2
# 403 is left out: repeated 403s mean we are blocked, which the run records instead of hammering.
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]  # default the same list
DOWNLOAD_TIMEOUT = 60  # default 180
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024  # default 1 GiB: search pages are ~3 MB
COOKIES_ENABLED = False  # default True: searches need no session, and cookies invite tracking
TELNETCONSOLE_ENABLED = False  # default True

# Used by ContactUserAgentMiddleware: how site operators reach whoever runs this crawler.
# Default: BRANDCRAWL_CONTACT from the environment, else the project's issue tracker.
BRANDCRAWL_CONTACT = os.environ.get("BRANDCRAWL_CONTACT", "https://github.com/brandcrawl/brandcrawl/issues")
# Used by BackoffMiddleware: slow a site down on 429/503, honouring Retry-After, up to this many
# seconds of delay between its requests. Default 300.
BRANDCRAWL_BACKOFF_MAX_DELAY = 300

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    # Same place as Scrapy's; fixes requests slipping past a robots.txt still downloading.
    "brandcrawl.middlewares.SharedRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    "brandcrawl.middlewares.ContactUserAgentMiddleware": 500,
    # Sees 429/503 responses before RetryMiddleware (550) schedules the retry.
    "brandcrawl.middlewares.BackoffMiddleware": 560,
}

# --- The watch, the database and the runs -------------------------------------------------------
# Used by spiders and pipelines: the watch file (TOML) naming the brands and marketplaces.
# Default: BRANDCRAWL_WATCH from the environment, else none (spiders then refuse to start).
BRANDCRAWL_WATCH = os.environ.get("BRANDCRAWL_WATCH")
# Used by StorePipeline and RunRecorder: SQLAlchemy URL. Default BRANDCRAWL_DB_URL from the
# environment, else sqlite:///brandcrawl.db in the current folder.
BRANDCRAWL_DB_URL = os.environ.get("BRANDCRAWL_DB_URL", "sqlite:///brandcrawl.db")
# Used by StorePipeline: listings buffered before one batched write. Default 500.
BRANDCRAWL_DB_BATCH_SIZE = 500
# Used by RunRecorder: this many 403/429 answers, making up at least half of all answers, mean the
# site is blocking us. Default 3.
BRANDCRAWL_BLOCKED_STATUS_MIN = 3

# Used by RevisitExtension: after the searches, how many of a marketplace's active hits that they no
# longer showed are looked at again (sold, ended, gone?), the longest unseen first. 0 turns it off.
# Default 200.
BRANDCRAWL_REVISIT_MAX = 200

# Used by RunRecorder, on PostgreSQL only: how many seconds a crawl waits for another crawl of the
# same marketplace (from any machine) to end before closing as "marketplace_busy". Default 3600.
BRANDCRAWL_CRAWL_LOCK_WAIT = 3600

# Used by EvidenceExtension: keep the listing page of each new hit as evidence for takedown requests.
# Default True; False (or an empty BRANDCRAWL_EVIDENCE_DIR) turns it off.
BRANDCRAWL_EVIDENCE_ENABLED = True
# Used by EvidenceExtension and `brandcrawl evidence`: the folder where the pages are kept, compressed
# and named by their sha256 (the database refers to them relative to it; nothing there is replaced).
# Default: BRANDCRAWL_EVIDENCE_DIR from the environment, else "evidence" in the current folder.
BRANDCRAWL_EVIDENCE_DIR = os.environ.get("BRANDCRAWL_EVIDENCE_DIR") or "evidence"
# Used by EvidenceExtension: listing pages fetched as evidence per run at most, new hits first; the
# others are fetched on a later run that sees them again. Default 200.
BRANDCRAWL_EVIDENCE_MAX = 200

ITEM_PIPELINES = {
    "brandcrawl.pipelines.NormalizePipeline": 100,
    "brandcrawl.pipelines.MatchPipeline": 200,
    "brandcrawl.pipelines.StorePipeline": 300,
}
EXTENSIONS = {
    "brandcrawl.runs.RunRecorder": 500,
    "brandcrawl.revisit.RevisitExtension": 510,
    "brandcrawl.evidence.EvidenceExtension": 520,
}

LOG_LEVEL = "INFO"  # default DEBUG
FEED_EXPORT_ENCODING = "utf-8"  # default None, template utf-8
