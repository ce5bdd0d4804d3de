"""``brandcrawl`` subcommands beyond the daily job: each module adds its parser with ``add_parser``."""
