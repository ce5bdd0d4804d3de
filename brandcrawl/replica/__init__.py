"""Local replica of the eBay search pages, for the demo and the tests."""

from brandcrawl.replica.server import ReplicaMarketplace, SeedListing, load_seed

__all__ = ["ReplicaMarketplace", "SeedListing", "load_seed"]
