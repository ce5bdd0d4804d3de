"""Jinja templates of the digest (HTML and plain text), shipped as package data."""
