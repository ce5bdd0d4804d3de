"""brandcrawl: find brand-named handles and domains for sale on auction and marketplace sites."""

__version__ = "0.1.0"
