"""For scrapyd-deploy only, which builds its egg with ``setup.py bdist_egg``: everything is in pyproject.toml.

Without this file, scrapyd-deploy writes a setup.py of its own into the checkout.
"""

from setuptools import setup

setup()
