"""Local replica of the marketplaces' real pages and APIs, for the demo and the tests."""

from brandcrawl.replica.ebay import SeedListing, load_seed
from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, SiteApp

__all__ = ["ReplicaMarketplace", "ReplicaRequest", "SeedListing", "SiteApp", "load_seed"]
