"""One spider per marketplace (Scrapy's SPIDER_MODULES); the shared machinery is in _base."""
